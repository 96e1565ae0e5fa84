# heapsize: 192k
# board-heapsize: 46k   (unix32, library frozen; measured minimum 36k)
"""msgin5g.segment: split, SegmentHold, Reassembler with gaps, duplicates, timers (PC-30..32).

Times are built with time.ticks_add from a base just below 2**30, so under the CPython shim
(ticks wrap at 2**30, as on boards) every timer test crosses the wrap.
"""
import time

from msgin5g import segment, wire
from msgin5g.segment import Reassembler, SegmentHold
from tinytest import raises

ME = wire.addr(wire.UE, "ue-me")
PEER = wire.addr(wire.AS, "as-42")
SID = "5f0c6c1e-8d0b-4c53-9d53-3c1f0b2a9e11"
BASE = (1 << 30) - 3000


def T(ms, base=BASE):
    return time.ticks_add(base, ms)


class Ids:
    """Deterministic msgIds: m1, m2, ..."""

    def __init__(self, prefix="m"):
        self.n = 0
        self.prefix = prefix

    def __call__(self):
        self.n += 1
        return "%s%d" % (self.prefix, self.n)


PAYLOAD = bytes(range(256)) * 4  # 1024 octets


def _segs(payload=PAYLOAD, size=300, report=False, ori=PEER, dest=ME, seg_id=SID, app_id=9):
    # As received: encoded then decoded, so payloads are bytes as from the wire.
    return [wire.decode(wire.encode(s)) for s in
            segment.segments(ori, dest, seg_id, payload, size, app_id=app_id, report=report,
                             new_id=Ids("s"))]


def test_eff_segment_size():  # PC-30
    f = segment.eff_segment_size
    assert f(None) == 512 and f(512) == 512 and f(2048) == 512 and f(300) == 300
    assert f(1024, 256) == 256 and f(1024, None, 800) == 400 and f(200, 100, 1000) == 100
    assert f(64) == 64 and f(10) == 64 and f(512, None, 300) == 64  # never below 64
    assert f(0, 0) == 512  # 0 = not known


def test_split():
    p = bytes(range(10))
    assert [bytes(c) for c in segment.split(p, 4)] == [p[0:4], p[4:8], p[8:10]]
    assert [bytes(c) for c in segment.split(p, 5)] == [p[0:5], p[5:10]]
    assert [bytes(c) for c in segment.split(p, 10)] == [p]
    assert [bytes(c) for c in segment.split(b"", 4)] == [b""]
    chunks = segment.split(bytearray(p), 3)
    assert isinstance(chunks[0], memoryview)  # no copies
    assert len(segment.split(bytes(128 * 64), 64)) == 128
    raises(ValueError, segment.split, bytes(128 * 64 + 1), 64)
    raises(ValueError, segment.split, p, 0)


def test_segments_encoding():  # PC-31
    segs = segment.segments(ME, PEER, SID, b"abcdefgh", 3, app_id=5, report=True,
                            priority="LOW", new_id=Ids())
    body = [wire.encode(s) for s in segs]
    head = (b'{"msgType":"MSG","oriAddr":{"addrType":"UE","addr":"ue-me"},"destAddr":'
            b'{"addrType":"AS","addr":"as-42"},"msgId":"m')
    sp = b'"stoAndFwInd":false,"segInd":true,"segParams":{"segId":"' + SID.encode() + b'",'
    assert body[0] == head + b'1","appId":"5","payload":"YWJj","delivStReqInd":true,' \
        b'"priority":"LOW",' + sp + b'"totalSegCount":3,"segNumb":1}}'
    assert body[1] == head + b'2","appId":"5","payload":"ZGVm","priority":"LOW",' + sp + \
        b'"segNumb":2}}'
    assert body[2] == head + b'3","appId":"5","payload":"Z2g=","priority":"LOW",' + sp + \
        b'"segNumb":3,"lastSegFlag":true}}'


def test_segments_built_when_asked_for():  # a held message costs no dict per segment
    segs = segment.Segments(ME, PEER, SID, b"abcdefgh", 3, app_id=5, report=True,
                            priority="LOW", new_id=Ids())
    assert len(segs) == 3 and segs.ids == [None, None, None]
    last = segs[2]
    assert last["msgId"] == "m1" and segs.ids == [None, None, "m1"]
    assert segs[2] == last and segs[2] is not last      # built again: the same message
    assert bytes(segs[0]["payload"]) == b"abc" and segs[0]["segParams"]["totalSegCount"] == 3
    raises(IndexError, segs.__getitem__, 3)
    assert len(segment.Segments(ME, PEER, SID, b"", 4)) == 1
    raises(ValueError, segment.Segments, ME, PEER, SID, bytes(128 * 64 + 1), 64)
    h = SegmentHold()
    h.hold(segs, T(0))
    assert [s["msgId"] for s in h.resend(SID, [1, 3])] == ["m2", "m1"]


def test_single_segment_set_and_store_forward_in_every_segment():
    segs = segment.segments(ME, PEER, SID, b"ab", 8, store_fwd=True, expire="2025-01-01T00:00:00Z",
                            new_id=Ids())
    assert len(segs) == 1
    p = segs[0]["segParams"]
    assert p["totalSegCount"] == 1 and p["segNumb"] == 1 and p["lastSegFlag"] is True
    segs = segment.segments(ME, PEER, SID, b"abcd", 2, store_fwd=True, expire="x", new_id=Ids())
    for s in segs:
        assert s["stoAndFwInd"] is True and s["stoAndFwParams"] == {"exprTime": "x"}
        assert "delivStReqInd" not in s and "appId" not in s


# ---------------------------------------------------------------- SegmentHold

def test_hold_resend_confirm():
    h = SegmentHold()
    segs = segment.segments(ME, PEER, SID, bytes(100), 10, new_id=Ids())
    assert h.hold(segs, T(0)) is None and len(h) == 1
    again = h.resend(SID, [3, 7])
    assert [s["segParams"]["segNumb"] for s in again] == [3, 7]
    assert again[0] is segs[2]  # the same dict: same msgId as the first time
    assert [s["segParams"]["segNumb"] for s in h.resend(SID, [2], 9)] == [2, 9, 10]
    assert [s["segParams"]["segNumb"] for s in h.resend(SID, (), 10)] == [10]
    assert h.resend(SID, []) == [] and h.resend("other", [1]) == []
    assert h.confirm(SID) is True and h.confirm(SID) is False and len(h) == 0
    assert h.resend(SID, [1]) == []


def test_hold_expiry_across_wrap_and_refresh_on_resend():
    h = SegmentHold(t_hold=180000)
    h.hold(segment.segments(ME, PEER, "a", bytes(20), 10, new_id=Ids()), T(0))
    h.hold(segment.segments(ME, PEER, "b", bytes(20), 10, new_id=Ids()), T(1000))
    assert h.expire(T(179999)) == []
    h.resend("a", [1], None, T(100000))  # a SEGREC restarts the hold time
    assert h.expire(T(181000)) == ["b"]
    assert h.expire(T(279999)) == []
    assert h.expire(T(280000)) == ["a"] and len(h) == 0


def test_hold_drops_oldest_beyond_max_sets():
    h = SegmentHold(max_sets=2)
    for i, name in enumerate(("a", "b")):
        h.hold(segment.segments(ME, PEER, name, bytes(4), 2, new_id=Ids()), T(i * 10))
    assert h.hold(segment.segments(ME, PEER, "c", bytes(4), 2, new_id=Ids()), T(50)) == "a"
    assert h.resend("a", [1]) == [] and len(h.resend("c", [1, 2])) == 2
    # holding the same set again replaces it without dropping another
    assert h.hold(segment.segments(ME, PEER, "c", bytes(4), 2, new_id=Ids()), T(60)) is None


# ---------------------------------------------------------------- Reassembler

def test_in_order_completion_and_segconfir():
    r = Reassembler(new_id=Ids("c"))
    segs = _segs(report=True)
    assert len(segs) == 4
    for s in segs[:-1]:
        assert r.add(s, T(0)) == ("partial",)
    res = r.add(segs[-1], T(10))
    assert res[0] == "complete" and res[1] == PAYLOAD
    first = res[2]
    assert "payload" not in first and first["appId"] == "9" and first["delivStReqInd"] is True
    assert first["segParams"]["segNumb"] == 1
    assert wire.encode(res[3]) == (
        b'{"msgType":"SEGCONFIR","oriAddr":{"addrType":"UE","addr":"ue-me"},"destAddr":'
        b'{"addrType":"AS","addr":"as-42"},"msgId":"c1","segId":"' + SID.encode() +
        b'","result":"SUCCESS"}')
    assert len(r) == 0 and r.poll(T(10 ** 6)) == []


def _no_heap(n):
    raise MemoryError


def test_no_heap_for_the_buffer_loses_nothing():
    # The segment that needed the buffer is forgotten (the endpoint answers 5.03): its retry
    # takes the buffer then, and without a retry a SEGREC after T_GAP asks for it.
    r = Reassembler(new_id=Ids("c"))
    segs = _segs()
    buffer = segment._buffer
    segment._buffer = _no_heap
    try:
        raises(MemoryError, r.add, segs[0], T(0))      # in order: segment 1 takes the buffer
        assert len(r) == 0                              # as if it never came
        assert r.add(segs[1], T(5)) == ("partial",)     # out of order: kept as it came
        raises(MemoryError, r.add, segs[0], T(10))
    finally:
        segment._buffer = buffer
    assert len(r) == 1
    out = r.poll(T(10 + segment.T_GAP))
    assert out[0]["msgType"] == "SEGREC" and out[0]["missingSegs"] == [1]
    assert r.add(segs[0], T(20 + segment.T_GAP)) == ("partial",)   # the sender's retry
    for s in segs[2:-1]:
        assert r.add(s, T(30 + segment.T_GAP)) == ("partial",)
    res = r.add(segs[-1], T(40 + segment.T_GAP))
    assert res[0] == "complete" and res[1] == PAYLOAD and len(r) == 0


def test_segments_written_into_one_buffer():
    # Segment k lands at (k - 1) x segment 1's length in one bytearray, cut to the message's
    # length when the shorter last one is in; nothing is copied at the end.
    taken = []

    def buffer(n):
        taken.append(bytearray(n))
        return taken[-1]
    r = Reassembler()
    segs = _segs(size=300)                              # 300 300 300 124
    saved = segment._buffer
    segment._buffer = buffer
    try:
        for s in segs[:-1]:
            assert r.add(s, T(0)) == ("partial",)
        res = r.add(segs[-1], T(0))
    finally:
        segment._buffer = saved
    assert len(taken) == 1 and res[1] is taken[0] and res[1] == PAYLOAD
    assert isinstance(res[1], bytearray)


def test_segment_lengths_must_follow_segment_one():  # PC-31: one segment size
    segs = _segs(size=300)
    for i, cut in ((1, 299), (3, 301)):                 # a middle one short, the last too long
        r = Reassembler()
        assert r.add(segs[0], T(0)) == ("partial",)
        bad = dict(segs[i])
        bad["payload"] = bytes(cut)
        assert r.add(bad, T(0)) == ("reject", wire.BAD_REQUEST)
        for s in segs[1:]:
            res = r.add(s, T(0))
        assert res[0] == "complete" and res[1] == PAYLOAD
    # segments that came before segment 1 are checked when it comes: the set is dropped
    r = Reassembler()
    bad = dict(segs[2])
    bad["payload"] = bytes(10)
    assert r.add(bad, T(0)) == ("partial",)
    assert r.add(segs[0], T(0)) == ("reject", wire.BAD_REQUEST) and len(r) == 0


def test_any_order_with_duplicates():
    segs = _segs(size=100)  # 11 segments
    for order in ([10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0], [3, 0, 10, 5, 1, 9, 2, 8, 4, 7, 6]):
        r = Reassembler()
        res = None
        for k, i in enumerate(order):
            res = r.add(segs[i], T(k))
            if k < len(order) - 1:
                assert res == ("partial",)
                assert r.add(segs[i], T(k)) == ("duplicate",)
        assert res[0] == "complete" and res[1] == PAYLOAD
        # a late copy of a finished set is a duplicate, not a new set
        assert r.add(segs[4], T(20)) == ("duplicate",) and len(r) == 0


def test_own_address_for_answers():
    r = Reassembler(me=wire.addr(wire.UE, "real-me"), new_id=Ids())
    segs = _segs(dest=wire.addr(wire.TOPIC, "news"))
    for s in segs:
        res = r.add(s, T(0))
    assert res[3]["oriAddr"] == {"addrType": "UE", "addr": "real-me"}
    assert res[3]["destAddr"] == PEER


def test_sets_keyed_by_originator_and_limited():  # PC-32: 2 sets, then 5.03
    r = Reassembler(max_sets=2)
    a = _segs(ori=wire.addr(wire.AS, "a"))
    b = _segs(ori=wire.addr(wire.AS, "b"))  # same segId, other originator
    c = _segs(seg_id="other")
    assert r.add(a[0], T(0)) == ("partial",) and r.add(b[0], T(0)) == ("partial",)
    assert r.add(c[0], T(0)) == ("reject", wire.SERVICE_UNAVAILABLE)
    assert r.add(a[1], T(0)) == ("partial",)  # existing sets still accepted
    assert len(r) == 2


def test_too_large_rejected_and_dropped():  # PC-32: total x segment length > max -> 4.13
    r = Reassembler(max_bytes=1000)
    segs = _segs(size=300)  # 4 x 300 > 1000
    assert r.add(segs[0], T(0)) == ("reject", wire.REQUEST_TOO_LARGE) and len(r) == 0
    # count unknown (segment 1 missing): the running byte count still stops it
    r = Reassembler(max_bytes=1000)
    for s in segs[1:3]:
        assert r.add(s, T(0)) == ("partial",)
    assert r.add(segs[0], T(0)) == ("reject", wire.REQUEST_TOO_LARGE) and len(r) == 0
    r = Reassembler(max_bytes=1024)
    for s in _segs(size=256)[:-1]:
        assert r.add(s, T(0))[0] == "partial"  # 4 x 256 = 1024 fits exactly
    r = Reassembler(max_bytes=1024)
    assert r.add(_segs(size=256)[1], T(0)) == ("partial",)


def test_bad_segments_rejected():
    r = Reassembler()
    segs = _segs()
    assert r.add({"msgType": "MSG", "oriAddr": PEER}, T(0)) == ("reject", wire.BAD_REQUEST)
    bad = dict(segs[1])
    bad["segParams"] = {"segId": SID, "segNumb": 0}
    assert r.add(bad, T(0)) == ("reject", wire.BAD_REQUEST)
    assert r.add(segs[0], T(0)) == ("partial",)  # total 4
    bad = dict(segs[1])
    bad["segParams"] = {"segId": SID, "segNumb": 5}
    assert r.add(bad, T(0)) == ("reject", wire.BAD_REQUEST)  # beyond the count
    bad["segParams"] = {"segId": SID, "segNumb": 2, "totalSegCount": 7}
    assert r.add(bad, T(0)) == ("reject", wire.BAD_REQUEST)  # inconsistent count
    bad["segParams"] = {"segId": SID, "segNumb": 3, "lastSegFlag": True}
    assert r.add(bad, T(0)) == ("reject", wire.BAD_REQUEST)  # last flag disagrees
    for s in segs[1:]:
        res = r.add(s, T(0))
    assert res[0] == "complete" and res[1] == PAYLOAD


def test_gap_segrec_at_t_reasm_then_recovery():  # PC-32
    r = Reassembler(new_id=Ids("r"))
    segs = _segs(size=100)  # 11
    for i in (0, 1, 3, 4, 6):
        r.add(segs[i], T(i * 100))
    assert r.poll(T(600 + 59999)) == []  # T_REASM restarts on each new segment
    out = r.poll(T(600 + 60000))
    assert len(out) == 1
    assert wire.encode(out[0]) == (
        b'{"msgType":"SEGREC","oriAddr":{"addrType":"UE","addr":"ue-me"},"destAddr":'
        b'{"addrType":"AS","addr":"as-42"},"msgId":"r1","segId":"' + SID.encode() +
        b'","missingSegs":[3,6,8,9,10,11]}')  # count known from segment 1
    assert r.poll(T(600 + 60001)) == []
    for i in (2, 5, 7, 8, 9):
        assert r.add(segs[i], T(70000))[0] == "partial"
    res = r.add(segs[10], T(70001))
    assert res[0] == "complete" and res[1] == PAYLOAD


def test_unknown_count_uses_from_seg():
    r = Reassembler(new_id=Ids())
    segs = _segs(size=100)
    for i in (1, 2, 4):
        r.add(segs[i], T(0))
    out = r.poll(T(60000))
    assert out[0]["missingSegs"] == [1, 4] and out[0]["fromSeg"] == 6
    assert wire.decode(wire.encode(out[0]))["fromSeg"] == 6


def test_last_segment_then_gap_waits_5s():  # PC-32
    r = Reassembler(new_id=Ids())
    segs = _segs()  # 4; segment 1 carries the count, segment 4 the last flag
    r.add(segs[3], T(0))
    r.add(segs[1], T(1000))
    assert r.poll(T(5999)) == []
    out = r.poll(T(6000))
    assert out[0]["missingSegs"] == [1, 3] and "fromSeg" not in out[0]


def test_two_rounds_then_failure_with_imdn():  # PC-32
    r = Reassembler(new_id=Ids())
    segs = _segs(report=True)
    r.add(segs[0], T(0))
    r.add(segs[2], T(0))
    assert [m["msgType"] for m in r.poll(T(60000))] == ["SEGREC"]
    assert r.poll(T(119999)) == []
    round2 = r.poll(T(120000))
    assert [m["msgType"] for m in round2] == ["SEGREC"]
    assert round2[0]["missingSegs"] == [2, 4]
    assert r.poll(T(179999)) == []
    out = r.poll(T(180000))
    assert [m["msgType"] for m in out] == ["SEGCONFIR", "IMDN"]
    assert out[0]["result"] == "FAILURE" and out[0]["segId"] == SID
    assert out[0]["destAddr"] == PEER and out[0]["oriAddr"] == ME
    im = out[1]
    assert im["msgId"] == SID and im["delivSt"] == "REPT_DELY_FAILED"
    assert im["failureCause"] == "SEGMENTS_MISSING" and im["destAddr"] == PEER
    assert len(r) == 0 and r.poll(T(10 ** 6)) == []
    assert r.add(segs[1], T(180001)) == ("duplicate",)  # the failed set does not restart


def test_failure_without_report_or_segment_one_sends_no_imdn():
    for report, first in ((False, 0), (True, 1)):
        r = Reassembler(new_id=Ids())
        segs = _segs(report=report)
        r.add(segs[first], T(0))
        r.poll(T(60000))
        r.poll(T(120000))
        out = r.poll(T(180000))
        assert [m["msgType"] for m in out] == ["SEGCONFIR"], (report, first)


def test_resent_segment_after_round_restarts_short_wait():
    r = Reassembler(new_id=Ids())
    segs = _segs()
    for i in (0, 1, 3):
        r.add(segs[i], T(0))
    assert len(r.poll(T(5000))) == 1  # last segment in: 5 s
    r.add(segs[1], T(6000))  # duplicate: no timer change
    assert r.poll(T(64999)) == []
    assert r.poll(T(65000))[0]["missingSegs"] == [3]


def test_timers_without_wrap_base_zero():
    r = Reassembler(new_id=Ids(), t_reasm=1000)
    segs = _segs()
    r.add(segs[0], T(0, 0))
    assert r.poll(T(999, 0)) == []
    assert len(r.poll(T(1000, 0))) == 1
    assert len(r.poll(T(2000, 0))) == 1
    assert [m["msgType"] for m in r.poll(T(3000, 0))] == ["SEGCONFIR"]


def test_stores_payloads_not_dicts():
    r = Reassembler()
    segs = _segs()
    r.add(segs[1], T(0))
    s = r._sets[("as-42", SID)]
    assert s.early == {2: segs[1]["payload"]} and s.first is None and s.buf is None
    r.add(segs[0], T(0))
    assert "payload" not in s.first and s.early is None
    assert s.buf[:600] == PAYLOAD[:600]
