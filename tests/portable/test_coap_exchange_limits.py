# heapsize: 42k
# board-heapsize: 17k   (unix32, library frozen; measured minimum 13k)
"""CoAP client side without sockets: NSTART and its backlog, Message IDs and tokens, NON
lifetime, send errors, tick wrap-around."""
from coap.codec import Message
from coapnet import A, ACK, B, CON, GET, NON, POST, RST, Net  # noqa: F401


def done_list():
    got = []
    return got, got.append


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
