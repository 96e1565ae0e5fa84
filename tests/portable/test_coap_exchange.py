# heapsize: 48k
"""CoAP message and request layers driven without sockets: a list collects what is sent and a
FakeClock stands in for ticks_ms (RFC 7252 sections 4 and 5)."""
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


def test_separate_response_acked_with_empty_ack():
    n = Net()
    r = n.ep.request(A, GET, "slow")
    (m, _), = n.take()
    n.recv(Message(ACK, 0, m.mid))                                      # empty ACK
    assert not r.done
    n.at(30000)
    assert n.take() == []                                               # no retransmission now
    n.recv(Message(CON, 0x45, 777, m.token, payload=b"late"))
    (ack, _), = n.take()
    assert (ack.mtype, ack.code, ack.mid, ack.token) == (ACK, 0, 777, b"")
    assert r.done and r.response.payload == b"late"
    n.recv(Message(CON, 0x45, 777, m.token, payload=b"late"))          # duplicate: ACK again
    (ack2, _), = n.take()
    assert ack2.mid == 777 and ack2.mtype == ACK


def test_separate_response_before_ack_stops_retransmission():
    n = Net()
    r = n.ep.request(A, GET, "x")
    (m, _), = n.take()
    n.recv(Message(CON, 0x45, 9, m.token, payload=b"r"))
    assert r.done and n.ep.ml.pending == {}
    n.take()
    n.at(10000)
    assert n.take() == []


def test_separate_response_wait_times_out():
    n = Net(response_timeout=5000)
    r = n.ep.request(A, GET, "x")
    (m, _), = n.take()
    n.recv(Message(ACK, 0, m.mid))
    n.at(5999)
    assert not r.done
    n.at(6000)
    assert r.done and r.error == "timeout"


def test_reset_and_unexpected_response():
    n = Net()
    r = n.ep.request(A, GET, "x")
    (m, _), = n.take()
    n.recv(Message(RST, 0, m.mid))
    assert r.done and r.error == "reset"
    n.recv(Message(CON, 0x45, 55, b"nope"))                             # unknown token
    (rst, _), = n.take()
    assert rst.mtype == RST and rst.mid == 55


def test_our_ping():
    n = Net()
    r = n.ep.ping(A)
    (m, _), = n.take()
    assert m.code == 0 and m.mtype == CON and m.token == b""
    n.recv(Message(RST, 0, m.mid))
    assert r.done and r.error is None


def test_nstart_backlog_and_busy():
    n = Net(backlog=1)
    r1 = n.ep.request(A, GET, "1")
    r2 = n.ep.request(A, GET, "2")
    r3 = n.ep.request(A, GET, "3")
    rb = n.ep.request(B, GET, "b")                                      # other peer not held
    sent = n.take()
    assert [m.path() for m, _ in sent] == [["1"], ["b"]]
    assert r3.done and r3.error == "backlog full" and not r2.done
    m1 = sent[0][0]
    n.recv(Message(ACK, 0x45, m1.mid, m1.token))
    assert r1.done
    (m2, _), = n.take()
    assert m2.path() == ["2"]
    assert not rb.done


def test_message_ids_increment_and_tokens_differ():
    n = Net()
    n.ep.request(A, GET, "a", con=False)
    n.ep.request(B, GET, "b", con=False)
    (m1, _), (m2, _) = n.take()
    assert m2.mid == (m1.mid + 1) & 0xFFFF and m1.token != m2.token
    assert m1.mtype == NON


def test_non_request_lifetime():
    n = Net()
    r = n.ep.request(A, GET, "a", con=False, timeout=1000)
    n.at(1999)
    assert not r.done
    n.at(2000)
    assert r.error == "timeout"


def test_send_error_counts_as_loss():
    n = Net()

    def failing(data, addr):
        raise OSError(101)

    n.ep.ml.send_raw = failing
    r = n.ep.request(A, GET, "x")
    assert not r.done and n.ep.ml.send_errors == 1


def test_tick_wraparound_on_board_period():
    n = Net()
    n.clock.t = (1 << 30) - 500               # just before a 2**30 wrap (boards)
    r = n.ep.request(A, GET, "x")
    n.take()
    n.at(((1 << 30) - 500 + 1999) & ((1 << 30) - 1))
    assert n.take() == [] or n.ep.ml.pending    # MicroPython unix wraps at 2**62: still pending
    assert not r.done
