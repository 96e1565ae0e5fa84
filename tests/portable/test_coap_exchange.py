# heapsize: 42k
# board-heapsize: 15k   (unix32, library frozen; measured minimum 11k)
"""CoAP client side driven without sockets (a list collects what is sent, a FakeClock stands in
for ticks_ms): retransmission, random factor, piggybacked responses, ping (RFC 7252 4-5).
Separate responses: test_coap_exchange_separate; limits: test_coap_exchange_limits."""
from coap.codec import Message
from coapnet import A, ACK, B, CON, GET, NON, POST, RST, Net  # noqa: F401


def done_list():
    got = []
    return got, got.append


def test_retransmission_timing_and_give_up():
    n = Net()
    got, cb = done_list()
    r = n.ep.request(A, POST, "x", b"p", callback=cb)
    (m, a), = n.take()
    assert m.mtype == CON and a == A and len(m.token) == 4
    assert n.ep.tick() == 2000                 # rand 0 -> exactly ACK_TIMEOUT
    t = 1000
    for gap in (2000, 4000, 8000, 16000):      # 4 retransmissions, doubling
        assert n.at(t + gap - 1) == 1 and n.take() == []
        t += gap
        n.at(t)
        (m2, _), = n.take()
        assert m2.mid == m.mid and m2.token == m.token
    n.at(t + 31999)
    assert not r.done
    n.at(t + 32000)                            # give up after MAX_TRANSMIT_WAIT-ish
    assert r.done and r.error == "timeout" and got == [r] and r.retransmits == 4
    assert n.ep.ml.retransmitted == 4 and n.ep.ml.timeouts == 1


def test_random_factor_bounds_first_timeout():
    n = Net()
    n.ep.ml.rand = lambda: 0.999
    n.ep.request(A, GET, "x")
    w = n.ep.tick()
    assert 2000 < w <= 3000


def test_piggybacked_response_matched_by_token_and_peer():
    n = Net()
    r = n.ep.request(A, GET, "x")
    (m, _), = n.take()
    n.recv(Message(ACK, 0x45, m.mid, m.token, payload=b"ok"), addr=B)   # wrong peer: ignored
    assert not r.done
    n.recv(Message(ACK, 0x45, m.mid, b"zzzz", payload=b"no"))           # wrong token: ignored
    assert not r.done
    n.recv(Message(ACK, 0x45, m.mid, m.token, payload=b"ok"))
    assert r.done and r.error is None and r.response.payload == b"ok" and r.code == 0x45
    assert n.ep.tick() is None and n.take() == []                       # nothing left


def test_our_ping():
    n = Net()
    r = n.ep.ping(A)
    (m, _), = n.take()
    assert m.code == 0 and m.mtype == CON and m.token == b""
    n.recv(Message(RST, 0, m.mid))
    assert r.done and r.error is None
