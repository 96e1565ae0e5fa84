"""Fuzzing in CI: the atheris targets of tools/fuzz.py, fed by hypothesis (a few hundred
examples each), plus a regression test for every bug the fuzzers found.

Longer runs: `make fuzz` (atheris, FUZZ_SECONDS per target).
"""
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fuzz
from coap import codec
from msgin5g import segment, wire

QUICK = settings(max_examples=300, deadline=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
SLOW = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _mutants(seed_list):
    """Seed inputs with a few bytes overwritten, inserted or cut: reaches deeper than noise."""
    @st.composite
    def strat(draw):
        b = bytearray(draw(st.sampled_from(seed_list)))
        for _ in range(draw(st.integers(0, 4))):
            op = draw(st.integers(0, 2))
            i = draw(st.integers(0, len(b)))
            if op == 0 and i < len(b):
                b[i] = draw(st.integers(0, 255))
            elif op == 1:
                b[i:i] = draw(st.binary(max_size=4))
            else:
                del b[i:i + draw(st.integers(1, 8))]
        return bytes(b)
    return strat()


def _inputs(name, max_size=600):
    return st.one_of(st.binary(max_size=max_size), _mutants(fuzz.seeds(name)))


@pytest.mark.parametrize("name", ["coap", "wire", "a2", "a3"])
def test_seeds_decode(name):
    # The seeds are valid messages, so the targets' round-trip properties run on them.
    dec = {"coap": codec.decode, "wire": wire.decode, "a2": fuzz.a2.decode,
           "a3": fuzz.a3.decode}[name]
    for s in fuzz.seeds(name):
        dec(s)
        fuzz.TARGETS[name](s)


@QUICK
@given(_inputs("coap"))
def test_fuzz_coap_codec(data):
    fuzz.fuzz_coap(data)


@QUICK
@given(_inputs("wire", 3000))
def test_fuzz_wire_decode(data):
    fuzz.fuzz_wire(data)


@QUICK
@given(st.binary(max_size=400))
def test_fuzz_wire_structured(data):
    # bytes -> a mostly well-formed MSGin5G JSON document (the client target's generator)
    fuzz.fuzz_wire(fuzz.json_doc(fuzz.Src(data)))


@QUICK
@given(_inputs("a2"))
def test_fuzz_a2_decode(data):
    fuzz.fuzz_a2(data)


@QUICK
@given(_inputs("a3"))
def test_fuzz_a3_decode(data):
    fuzz.fuzz_a3(data)


@SLOW
@given(st.binary(min_size=1, max_size=400))
def test_fuzz_endpoint_received(data):
    fuzz.fuzz_endpoint(data)


@SLOW
@given(st.binary(min_size=1, max_size=400))
def test_fuzz_client_downlink(data):
    fuzz.fuzz_client(data)


# ------------------------------------------------------------------ harness sanity
def test_endpoint_target_detects_a_wedged_peer(monkeypatch):
    # The 'no exchange left' property is not vacuous: a message layer that forgets to give
    # back a peer's NSTART slot is caught.
    from coap.message import MessageLayer

    def leaky(self, tx, now):
        del self.pending[tx.msg.mid]

    monkeypatch.setattr(MessageLayer, "_free", leaky)
    with pytest.raises(AssertionError, match="exchanges left"):
        fuzz.fuzz_endpoint(b"\x06\x00\x00")      # op 6: one CON request to peer 0


def test_client_target_detects_double_outcome(monkeypatch):
    # The exactly-one-outcome property is not vacuous: with bug B2 put back (the overflow
    # drops the message in flight), this shrunk fuzz input is caught.
    from msgin5g.client import FAILED, Client

    def enqueue_b2(self, out):
        if len(self._q) >= self.queue_max:
            self._finish(self._q.pop(0), FAILED, "queue overflow")
        self._q.append(out)
        self._pump(self.ep.clock())
        self.ep.kick()

    monkeypatch.setattr(Client, "_enqueue", enqueue_b2)
    with pytest.raises(AssertionError, match="queue overflow"):
        fuzz.fuzz_client(_OVERFLOW_INPUT)
    monkeypatch.undo()
    fuzz.fuzz_client(_OVERFLOW_INPUT)


_OVERFLOW_INPUT = (
    b"\x00\x00\xfb$xf\x00\x00\xbe-\x00\x00\x00S\xe8\x00\xf4\x00\xef\x00\x00\x00\x00\x00^\x00"
    b"\x97L\x00\x00\x9f\x00\x01\x00\xf8\x00\x00\xb7\x00\x82\x00\x00\xbd\xe0\xea\x01\xf44F\x00"
    b"\x00\x19\x00\x00\x000\x00\x00\x00\x00\x00a\xcbPN\x00\x00\x00\x00\x00\x07\x00J\x1c\x00"
    b"\x00\x00\x00\x00\xd7\x03\x00\x00\x00\xd0\x00\x00\x00\x00\x00\xe3\x00\xdaw\x00\x08\x00"
    b"\x00\x00\x00\x00\x00\x00P\x00\xe31\x00\x00c\x00\x01\x00\xe7\x00\x00\xf6\xe3\xc6\x1e\x00"
    b"\x00\x00\x88\xa0\x01\x00\x00\x00\x00\x00\x00\x00\x00\xef\x00Y\x00\xa6\xa4\x95")


# ------------------------------------------------------------------ regressions
def _world(**kw):
    from test_client import World
    return World(**kw)


def test_b1_segconfir_jumping_the_queue_while_a_request_is_in_flight():
    """Bug B1 (found by the client target, fixed in Client._done): an Out inserted at the
    queue head (SEGCONFIR after a completed reassembly, SEGREC resend, re-subscription, ...)
    while another Out's request was in flight left the finished Out in the queue with
    i == len(bodies); the next _pump raised IndexError out of Endpoint.received (on a device:
    the socket reader task dies) and the queue stayed wedged."""
    w = _world()
    w.register()
    w.c.subscribe(["t"])
    (m, b), = w.requests()
    assert b["msgType"] == "TOPICSUB"
    seg, = segment.segments(wire.addr("AS", "as-1"), wire.addr("UE", "ue-1"),
                            "11111111-2222-4333-8444-555555555555", b"x", 64)
    seg["segInd"] = True                 # a one-segment segmented message completes at once
    assert w.downlink(seg).code == 0x44
    w.answer(m, 0x41)                    # TOPICSUB done; the SEGCONFIR goes next
    (m2, b2), = w.requests()
    assert b2["msgType"] == "SEGCONFIR"
    w.answer(m2, 0x44)                   # raised IndexError before the fix
    assert w.c.queued() == 0 and w.requests() == []
    mid = w.c.send("as-1", b"next", dest_type="AS")
    (m3, b3), = w.requests()
    assert b3["msgId"] == mid


def test_b2_overflow_never_drops_the_message_in_flight():
    """Bug B2 (found by the client target, fixed in Client._enqueue): on overflow the queue
    head was dropped even while its request was in flight, so that message got two outcomes,
    FAILED "queue overflow" and then ACCEPTED."""
    w = _world(queue_max=2)
    w.register()
    a = w.c.send("x1", b"1")
    (m, _), = w.requests()               # a is in flight
    b = w.c.send("x2", b"2")
    w.c.send("x3", b"3")                 # overflow: the oldest *queued* (b) must go
    w.answer(m, 0x44)
    assert [r[:2] for r in w.results if r[0] == a] == [(a, "ACCEPTED")]
    assert (b, "FAILED", "queue overflow") in w.results


def test_wire_decode_never_raises_on_json_values():
    # A structured sweep hypothesis may not reach by bytes: every member with every JSON kind.
    kinds = [None, True, 0, -1, 2 ** 64, 1.5, "", "x", [], [1], {}, {"a": 1}]
    base = json.loads(wire.encode(wire.msg(wire.addr("AS", "a"), wire.addr("UE", "b"), "m",
                                           b"x")))
    for k in list(wire._KIND) + ["payload", "msgs", "reports", "msgType"]:
        for v in kinds:
            d = dict(base, aggrInd=True) if k in ("msgs", "reports") else dict(base)
            d[k] = v
            fuzz.fuzz_wire(json.dumps(d).encode())


def test_b3_request_with_a_token_in_use_still_finishes():
    """Bug B3 (found by the endpoint target with atheris; not fixed): send_request() keeps
    requests in a dict by token, so a second request with the same token silently replaces
    the first, whose callback is then never called (no response, no timeout). Endpoint.request
    draws 4 random octets, so this needs a caller-chosen token (send_request's contract:
    'its token is used as given') or a 1 in 2**32 collision; a caller waiting on the callback
    (the Client's _req) would wait for ever. Fix: refuse a token in use (finish at once with
    an error such as 'busy') or draw a fresh one."""
    from coap.codec import Message
    w = fuzz.EpWorld()
    done = []
    reqs = [w.ep.send_request(fuzz.PEERS[0], Message(fuzz.NON, fuzz.GET, 0, b"\xfe", []),
                              callback=done.append) for _ in range(2)]
    for _ in range(50):
        w.clock.t += 10000
        w.ep.tick()
    assert all(r.done for r in reqs) and len(done) == 2


def _b4_world():
    from coap.codec import Message
    w = fuzz.EpWorld()
    peer = fuzz.PEERS[0]
    r1 = w.ep.request(peer, fuzz.GET, "a")
    r2 = w.ep.request(peer, fuzz.GET, "b")       # NSTART = 1: waits in the backlog
    (d1, _), = w.out
    return w, peer, r1, r2, codec.decode(d1), Message


def test_b4_separate_response_starts_the_backlog():
    """Bug B4 (found by the endpoint target with atheris; not fixed): when a request ends by
    a separate response in a CON or NON (its empty ACK was lost, RFC 7252 5.2.2), the endpoint
    calls MessageLayer.cancel(), which frees the peer's NSTART slot but never calls
    _drain_backlog(); a request queued behind it for the same peer is never sent and, with no
    deadline, never finishes (tick() returns None: idle). The same happens when a request ends
    by Endpoint.cancel() or by its own timeout deadline. A Client whose request sits in that
    backlog (e.g. behind a keep-alive ping or a gateway's request) waits for ever.
    Fix: cancel(tx, now) drains the backlog after _release (the endpoint passes its clock)."""
    w, peer, r1, r2, m1, Message = _b4_world()
    w.ep.received(codec.encode(Message(fuzz.CON, 0x45, 0x4000, m1.token, [], b"x")), peer)
    assert r1.done and r1.response.code == 0x45
    for _ in range(20):
        w.clock.t += 10000
        w.ep.tick()
    sent = [codec.decode(d) for d, a in w.out[1:] if a == peer]
    assert any(m.token == r2.msg.token for m in sent), "queued request never sent"
    assert r2.done


def test_b4b_cancelled_backlogged_request_is_not_sent():
    """Bug B4b (same area): Endpoint.cancel() on a request still in the backlog leaves its Tx
    there; it is sent later although cancelled (its response is then unexpected)."""
    w, peer, r1, r2, m1, Message = _b4_world()
    w.ep.cancel(r2)
    w.ep.received(codec.encode(Message(fuzz.ACK, 0x45, m1.mid, m1.token, [], b"x")), peer)
    assert r1.done
    assert not [d for d, a in w.out[1:] if codec.decode(d).token == r2.msg.token]
