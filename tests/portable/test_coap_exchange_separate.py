# heapsize: 40k
# board-heapsize: 15k   (unix32, library frozen; measured minimum 11k)
"""CoAP client side without sockets: separate responses (RFC 7252 5.2.2), RST and unexpected
responses."""
from coap.codec import Message
from coapnet import A, ACK, B, CON, GET, NON, POST, RST, Net  # noqa: F401


def done_list():
    got = []
    return got, got.append


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
