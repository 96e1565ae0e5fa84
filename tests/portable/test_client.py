# heapsize: 160k
# board-heapsize: 78k   (unix32, library frozen; measured minimum 62k)
"""MSGin5G Client procedures driven without sockets: an Endpoint with a fake send function and
a FakeClock; the test plays the server (PROTOCOL.md 4, 6, 7, 8)."""
import json

from coap.codec import Message, decode, encode
from coap.endpoint import Endpoint, Params
from msgin5g import wire
from msgin5g.client import Client
from tinytest import FakeClock

SRV = ("10.0.0.9", 5683)
CON, NON, ACK, RST = 0, 1, 2, 3
POST = 2


class World:
    def __init__(self, **kw):
        self.out = []
        self.clock = FakeClock(5000)
        self.ep = Endpoint(self.send, Params(), self.clock, rand=lambda: 0.0)
        self.c = Client(self.ep, SRV, "ue-1", "srv.example", backoff_ms=1000, **kw)
        self.got = []
        self.results = []
        self.reports = []
        self.c.on_message(None, self.got.append)
        self.c.on_result(lambda *a: self.results.append(a))
        self.c.on_report(lambda *a: self.reports.append(a))

    def send(self, data, addr):
        self.out.append(decode(data))

    def take(self):
        o = self.out
        self.out = []
        return o

    def requests(self):
        """Drain, returning the (message, body dict) of each request sent."""
        return [(m, json.loads(m.payload)) for m in self.take() if m.code == POST]

    def answer(self, m, code, body=None, opts=()):
        r = Message(ACK, code, m.mid, m.token, list(opts), wire.encode(body) if body else b"")
        self.ep.received(encode(r), SRV)
        self.c.tick()

    def register(self):
        self.c.start()
        (m, b), = self.requests()
        self.answer(m, 0x41)
        assert self.c.state == "REGISTERED"

    def downlink(self, body, path=("msgin5g", "ue", "ue-1"), cf=50, mid=900, raw=None):
        m = Message(CON, POST, mid, b"dl%d" % mid, [], raw if raw is not None else wire.encode(body))
        m.set_path(list(path))
        if cf is not None:
            m.add(12, cf)
        self.ep.received(encode(m), SRV)
        resp = [x for x in self.out if x.mtype == ACK and x.mid == mid]
        self.out = [x for x in self.out if x not in resp]
        self.c.tick()
        return resp[0] if resp else None

    def advance(self, ms):
        self.clock.advance(ms)
        self.ep.tick()
        return self.c.tick()


def test_register_wire_format_and_states():
    w = World()
    w.c.start()
    (m, b), = w.requests()
    assert m.mtype == CON and m.code == POST and m.path() == ["msgin5g"]
    assert m.opt(3) == b"srv.example" and m.uint(12) == 50
    assert b == {"msgType": "REG", "ueServiceId": "ue-1", "clientProfile": {"maxSegSize": 512}}
    assert w.c.state == "REGISTERING"
    w.answer(m, 0x41)
    assert w.c.state == "REGISTERED"


def test_registration_backoff_forbidden_and_max_age():
    w = World()
    w.c.start()
    (m, _), = w.requests()
    w.answer(m, 0xA0)                        # 5.00: back-off
    assert w.c.state == "BACKOFF"
    wait = w.c.tick()
    assert 800 <= wait <= 1200               # 1 s +/- 20 %
    w.advance(wait)
    (m, _), = w.requests()
    w.answer(m, 0xA3, opts=[(14, b"\x05")])  # 5.03 Max-Age 5
    assert 4999 <= w.c.tick() <= 5000
    w.advance(5000)
    (m, _), = w.requests()
    w.answer(m, 0x8D)                        # 4.13: retry at once without clientProfile
    (m, b), = w.requests()
    assert "clientProfile" not in b
    w.answer(m, 0x83)                        # 4.03: forbidden, stop
    assert w.c.state == "REG_FORBIDDEN"
    w.advance(60000)
    assert w.requests() == []


def test_queue_before_registration_then_flush_in_order():
    w = World()
    ids = [w.c.send("ue-2", b"m%d" % i) for i in range(3)]
    assert w.requests() == [] and w.c.queued() == 3
    w.register()
    for i in range(3):
        (m, b), = w.requests()
        assert b["msgId"] == ids[i] and b["destAddr"] == {"addrType": "UE", "addr": "ue-2"}
        w.answer(m, 0x44)
    assert [r[1] for r in w.results] == ["ACCEPTED"] * 3


def test_queue_overflow_drops_oldest():
    w = World(queue_max=2)
    a = w.c.send("x1", b"1")
    w.c.send("x2", b"2")
    w.c.send("x3", b"3")
    assert w.results == [(a, "FAILED", "queue overflow")] and w.c.queued() == 2


def test_message_body_and_outcomes():
    w = World()
    w.register()
    mid = w.c.send("as-42", b"Hello", dest_type="AS", app_id=7, report=True)
    (m, b), = w.requests()
    assert b == {"msgType": "MSG", "oriAddr": {"addrType": "UE", "addr": "ue-1"},
                 "destAddr": {"addrType": "AS", "addr": "as-42"}, "msgId": mid, "appId": "7",
                 "payload": "SGVsbG8=", "delivStReqInd": True, "stoAndFwInd": False}
    w.answer(m, 0x44)
    mid2 = w.c.send("ue-9", b"x", store_fwd=True)
    (m, _), = w.requests()
    w.answer(m, 0x44, wire.msgresp(wire.addr("UE", "ue-1"), mid2, "DELY_STORED"))
    mid3 = w.c.send("nobody", b"x")
    (m, _), = w.requests()
    w.answer(m, 0x84, wire.msgresp(wire.addr("UE", "ue-1"), mid3, "DELY_FAILED", "unknown UE"))
    mid4 = w.c.send("nobody", b"x")
    (m, _), = w.requests()
    w.answer(m, 0x84)
    assert w.results == [(mid, "ACCEPTED", None), (mid2, "STORED", None),
                         (mid3, "FAILED", "unknown UE"), (mid4, "FAILED", "unknown recipient")]
    # later the stored message expires: downlink MSGRESP
    r = w.downlink(wire.msgresp(wire.addr("UE", "srv"), mid2, "DELY_FAILED", "expired"))
    assert r.code == 0x44 and w.results[-1] == (mid2, "FAILED", "expired")
    # the report for the first message arrives
    r = w.downlink(wire.imdn(wire.addr("AS", "as-42"), wire.addr("UE", "ue-1"), mid,
                             "REPT_DELY_SUCCESS"), mid=901)
    assert r.code == 0x44 and w.reports == [(mid, "REPT_DELY_SUCCESS", None,
                                             {"addrType": "AS", "addr": "as-42"})]


def test_timeout_and_service_unavailable_retry_then_fail():
    w = World()
    w.register()
    mid = w.c.send("ue-2", b"x")
    for i in range(4):
        (m, _), = w.requests()
        w.answer(m, 0xA3, opts=[(14, b"\x01")])    # 5.03, Max-Age 1 s
        if i < 3:
            assert w.results == []
            w.advance(1000)
    assert w.results == [(mid, "FAILED", "service unavailable")]


def test_receive_dispatch_duplicates_and_report():
    w = World()
    w.register()
    by_app = []
    w.c.on_message(7, by_app.append)
    body = wire.msg(wire.addr("AS", "as-1"), wire.addr("UE", "ue-1"),
                    "11111111-2222-4333-8444-555555555555", b"hi", app_id=7, report=True)
    r = w.downlink(body)
    assert r.code == 0x44 and len(by_app) == 1 and by_app[0]["payload"] == b"hi"
    (m, rep), = w.requests()
    assert rep == {"msgType": "IMDN", "oriAddr": {"addrType": "UE", "addr": "ue-1"},
                   "destAddr": {"addrType": "AS", "addr": "as-1"},
                   "msgId": "11111111-2222-4333-8444-555555555555",
                   "delivSt": "REPT_DELY_SUCCESS"}
    w.answer(m, 0x44)
    r = w.downlink(body, mid=902)                # same msgId again: 2.04, not redelivered
    assert r.code == 0x44 and len(by_app) == 1 and w.c.count["duplicates"] == 1
    assert w.requests() == []
    body2 = wire.msg(wire.addr("UE", "ue-3"), wire.addr("UE", "ue-1"),
                     "11111111-2222-4333-8444-555555555556", b"other")
    w.downlink(body2, mid=903)
    assert w.got[0]["payload"] == b"other"       # default handler
    assert w.c.last_messages() == [
        ("11111111-2222-4333-8444-555555555555", "as-1", "7", b"hi"),
        ("11111111-2222-4333-8444-555555555556", "ue-3", None, b"other")]


def test_last_messages_and_reports_for_the_repl():
    w = World()
    w.register()
    big = bytes(range(256)) * 2                  # binary, with 0x1f inside: kept as octets
    for i in range(10):
        w.downlink(wire.msg(wire.addr("UE", "ue-%d" % i), wire.addr("UE", "ue-1"),
                            "11111111-2222-4333-8444-%012d" % i, big if i == 9 else b"m%d" % i),
                   mid=1000 + i)
    last = w.c.last_messages(3)
    assert [m[3] for m in last[:2]] == [b"m7", b"m8"] and last[2][3] == big[:64]
    assert last[2][:3] == ("11111111-2222-4333-8444-000000000009", "ue-9", None)
    assert len(w.c.last_messages(20)) == 8       # bounded
    rep = {"msgType": "IMDN", "oriAddr": {"addrType": "AS", "addr": "as-1"},
           "destAddr": {"addrType": "UE", "addr": "ue-1"}, "msgId": "m-1",
           "delivSt": "REPT_DELY_FAILED", "failureCause": "no route"}
    w.downlink(rep, mid=1100)
    assert w.c.last_reports() == [("m-1", "REPT_DELY_FAILED", "no route", "as-1")]


def test_receive_refusals():
    w = World()
    w.register()
    good = wire.msg(wire.addr("UE", "a"), wire.addr("UE", "ue-1"),
                    "11111111-2222-4333-8444-555555555557", b"x")
    assert w.downlink(good, path=("msgin5g", "ue", "ue-2")).code == 0x84   # not me
    m = Message(CON, POST, 899, b"sp", [], wire.encode(good)).set_path("msgin5g/ue/ue-1")
    m.add(12, 50)
    w.ep.received(encode(m), ("10.6.6.6", 5683))                        # not the server
    (r,) = w.take()
    assert r.code == 0x83
    assert w.downlink(good, cf=0, mid=904).code == 0x8F                   # not JSON
    assert w.downlink(None, raw=b"{not json", mid=905).code == 0x80
    bad = dict(good)
    del bad["destAddr"]
    r = w.downlink(bad, mid=906)
    assert r.code == 0x80 and json.loads(r.payload)["status"] == "DELY_FAILED"
    assert w.downlink({"msgType": "NOPE"}, mid=907).code == 0x80
    big = wire.msg(wire.addr("UE", "a"), wire.addr("UE", "ue-1"),
                   "11111111-2222-4333-8444-555555555558", b"z" * 2049)
    assert w.downlink(big, mid=908).code == 0x8D
    assert w.got == []


def test_application_failure_reported():
    w = World()
    w.register()

    def bad(m):
        raise ValueError("boom")

    w.c.on_message(3, bad)
    w.downlink(wire.msg(wire.addr("UE", "u2"), wire.addr("UE", "ue-1"),
                        "11111111-2222-4333-8444-555555555559", b"x", app_id=3, report=True))
    (m, rep), = w.requests()
    assert rep["delivSt"] == "REPT_DELY_FAILED" and "boom" in rep["failureCause"]


def test_segmented_send_segrec_and_segconfir():
    w = World(seg_size=100)
    w.register()
    payload = bytes(range(256)) + b"tail"
    mid = w.c.send("as-1", payload, dest_type="AS", report=True)
    segs = []
    for _ in range(3):
        (m, b), = w.requests()
        segs.append(b)
        w.answer(m, 0x44)
    assert [s["segParams"]["segNumb"] for s in segs] == [1, 2, 3]
    assert all(s["segParams"]["segId"] == mid and s["msgId"] != mid for s in segs)
    assert segs[0]["segParams"]["totalSegCount"] == 3 and segs[2]["segParams"]["lastSegFlag"]
    assert segs[0]["delivStReqInd"] and "delivStReqInd" not in segs[1]
    assert w.results == [(mid, "ACCEPTED", None)]
    w.downlink(wire.segrec(wire.addr("AS", "as-1"), wire.addr("UE", "ue-1"),
                           "11111111-2222-4333-8444-55555555555a", mid, [2]))
    (m, b), = w.requests()
    assert b == segs[1]                          # same msgId as the first time
    w.answer(m, 0x44)
    w.downlink(wire.segconfir(wire.addr("AS", "as-1"), wire.addr("UE", "ue-1"),
                              "11111111-2222-4333-8444-55555555555b", mid), mid=920)
    assert len(w.c.hold) == 0 and len(w.results) == 1


def test_reassembly_out_of_order_delivers_once_and_confirms():
    w = World()
    w.register()
    from msgin5g import segment
    data = b"0123456789" * 30
    segs = segment.segments(wire.addr("AS", "as-1"), wire.addr("UE", "ue-1"),
                            "11111111-2222-4333-8444-55555555555c", data, 128, report=True)
    assert len(segs) == 3
    for i, s in enumerate((segs[2], segs[0], segs[0], segs[1])):
        r = w.downlink(s, mid=930 + i)
        assert r.code == 0x44
    assert len(w.got) == 1 and w.got[0]["payload"] == data
    bodies = [b for _, b in w.requests()[:1]]
    assert bodies[0]["msgType"] in ("SEGCONFIR", "IMDN")


def test_aggregated_message_each_element_delivered():
    w = World()
    w.register()
    items = [wire.aggr_item("11111111-2222-4333-8444-5555555555%02d" % i, b"p%d" % i)
             for i in range(3)]
    body = wire.msg_aggr(wire.addr("AS", "as-1"), wire.addr("UE", "ue-1"),
                         "11111111-2222-4333-8444-5555555555ff", items)
    assert w.downlink(body).code == 0x44
    assert [g["payload"] for g in w.got] == [b"p0", b"p1", b"p2"]


def test_topics_and_deregistration():
    w = World()
    w.register()
    w.c.subscribe(["temp"])
    (m, b), = w.requests()
    assert b["msgType"] == "TOPICSUB" and b["topics"] == ["temp"]
    w.answer(m, 0x41)
    w.c.unsubscribe(["temp"])
    (m, b), = w.requests()
    assert b["msgType"] == "TOPICUNSUB"
    w.answer(m, 0x84)                            # was not subscribed: success (PC-33)
    w.c.deregister()
    (m, b), = w.requests()
    assert b == {"msgType": "DEREG", "ueServiceId": "ue-1"}
    w.answer(m, 0x44)
    assert w.c.state == "DEREGISTERED"


def test_keepalive_ping_and_reregistration_on_loss():
    w = World(keepalive_ms=10000)
    w.register()
    w.advance(10000)
    (p,) = w.take()
    assert p.code == 0 and p.mtype == CON        # CoAP ping (PC-18)
    w.ep.received(encode(Message(RST, 0, p.mid)), SRV)
    assert w.c.state == "REGISTERED"
    w.advance(10000)
    (p,) = w.take()
    for _ in range(6):                           # no answer: ping times out -> re-register
        w.advance(40000)
    regs = [b for m, b in w.requests() if b["msgType"] == "REG"]
    assert regs and w.c.state == "REGISTERING"


def test_journal_survives_restart_with_same_msg_ids():
    import os
    from msgin5g.journal import Journal
    path = "test_client_journal.bin"
    for f in (path, path + ".tmp"):
        try:
            os.remove(f)
        except OSError:
            pass
    try:
        w = World(journal=Journal(path))
        a = w.c.send("as-1", b"first", dest_type="AS", app_id=3, report=True)
        b = w.c.send("ue-2", b"x" * 700)                 # segmented
        w.register()
        (m, body), = w.requests()
        assert body["msgId"] == a
        w.answer(m, 0x44)                                # a is done; b in flight: "power cut"
        w2 = World(journal=Journal(path))
        assert w2.c.queued() == 1 and w2.c.count["restored"] == 1
        w2.register()
        (m, body), = w2.requests()
        assert body["segParams"]["segId"] == b and body["segParams"]["segNumb"] == 1
        assert len(w2.c._q[0].bodies) == 2
        w2.answer(m, 0x44)
        (m, body), = w2.requests()
        w2.answer(m, 0x44)
        assert w2.results == [(b, "ACCEPTED", None)]
        assert Journal(path).pending() == []
    finally:
        for f in (path, path + ".tmp"):
            try:
                os.remove(f)
            except OSError:
                pass


def test_aggregated_sending_window_and_outcomes():
    w = World(aggr_ms=5000)
    w.register()
    ids = [w.c.send("as-1", b"r%d" % i, dest_type="AS", app_id=4, report=(i == 0))
           for i in range(3)]
    big = w.c.send("as-1", b"x" * 100, dest_type="AS")        # > 64 octets: alone, at once
    urgent = w.c.send("as-1", b"u", dest_type="AS", priority="HIGH")
    (m, b), = w.requests()
    assert b["msgId"] == big and "aggrInd" not in b
    w.answer(m, 0x44)
    (m, b), = w.requests()
    assert b["msgId"] == urgent
    w.answer(m, 0x44)
    assert w.requests() == []
    w.advance(5000)
    (m, b), = w.requests()
    assert b["aggrInd"] is True and [x["msgId"] for x in b["msgs"]] == ids
    assert b["msgs"][0]["delivStReqInd"] is True and b["msgs"][1]["appId"] == "4"
    assert b["destAddr"] == {"addrType": "AS", "addr": "as-1"} and "payload" not in b
    assert len(m.payload) < 1152
    w.answer(m, 0x44)
    assert [r[0] for r in w.results[2:]] == ids and all(r[1] == "ACCEPTED" for r in w.results)


def test_aggregate_flushes_when_full():
    w = World(aggr_ms=60000)
    w.register()
    for i in range(16):
        w.c.send("ue-2", b"%02d" % i)
    sent = []
    for _ in range(2):                         # the size bound splits 16 items in two
        (m, b), = w.requests()
        assert len(m.payload) < 1152 and b["aggrInd"]
        sent += [x["payload"] for x in b["msgs"]]
        w.answer(m, 0x44)
    from binascii import a2b_base64
    assert [a2b_base64(p) for p in sent] == [b"%02d" % i for i in range(16)] and w.c._aggr == {}
    assert len(w.results) == 16
