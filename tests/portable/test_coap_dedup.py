# heapsize: 44k
# board-heapsize: 16k   (unix32, library frozen; measured minimum 12k)
"""Deduplication (RFC 7252 4.5) by the message layer's ring, which allocates nothing per
datagram: keys are small ints, a peer's address is kept once, short replies are copied."""
from coap.codec import Message
from coapnet import ACK, CON, NON, POST, Net


def served(**params):
    n = Net(**params)
    calls = []

    def handler(req):
        calls.append(req.mid)
        return 0x44, req.payload     # echo: a reply as long as the request's payload
    n.ep.resource("x", handler)
    return n, calls


def req(mid, payload=b"", mtype=CON):
    return Message(mtype, POST, mid, b"tk", None, payload).set_path("x")


def addr(host="10.0.0.9"):
    # A fresh but equal address object per datagram, as recvfrom() returns.
    return tuple([host, 5683])


def test_duplicate_con_gets_the_same_short_reply():
    n, calls = served()
    n.recv(req(7), addr())
    (first, _), = n.take()
    n.recv(req(7), addr())
    (again, _), = n.take()
    assert calls == [7] and n.ep.ml.duplicates == 1
    assert again.mtype == ACK and again.mid == 7 and again.code == 0x44 and again.token == b"tk"
    assert isinstance(n.ep.ml._dr[0], int)       # kept in the ring's buffer, not as an object


def test_duplicate_con_gets_a_long_reply_too():
    n, calls = served()
    body = b"y" * 40                               # longer than a ring slot
    n.recv(req(8, body), addr())
    n.take()
    n.recv(req(8, body), addr())
    (again, _), = n.take()
    assert calls == [8] and again.payload == body and again.mid == 8


def test_duplicate_non_is_dropped_without_reply():
    n, calls = served()
    n.recv(req(9, mtype=NON), addr())
    n.take()
    n.recv(req(9, mtype=NON), addr())
    assert calls == [9] and n.take() == []


def test_peer_address_is_kept_once():
    n, calls = served()
    a0 = addr()
    n.recv(req(100), a0)
    for mid in range(101, 140):
        n.recv(req(mid), addr())
        n.take()
    ml = n.ep.ml
    assert len(calls) == 40
    assert [p for p in ml._peers if p is not None] == [a0] and ml._peers[0] is a0
    # What the ring holds after 40 requests: ints and the one address, no object per datagram
    assert all(isinstance(k, int) for k in ml._dk) and all(isinstance(r, int) for r in ml._dr)


def test_same_mid_from_another_peer_is_not_a_duplicate():
    n, calls = served()
    n.recv(req(5), addr("10.0.0.1"))
    n.recv(req(5), addr("10.0.0.2"))
    assert calls == [5, 5] and n.ep.ml.duplicates == 0


def test_a_peer_taking_a_reused_place_does_not_inherit_its_entries():
    n, calls = served(dedup_size=2)
    n.recv(req(5), addr("10.0.0.1"))         # place 0
    n.recv(req(6), addr("10.0.0.2"))         # place 1
    n.recv(req(5), addr("10.0.0.3"))         # place 0 again: 10.0.0.1's (5) is dropped
    assert calls == [5, 6, 5]
    n.recv(req(5), addr("10.0.0.3"))         # a real duplicate is still found
    assert calls == [5, 6, 5] and n.ep.ml.duplicates == 1


def test_same_mid_after_exchange_lifetime_is_new_and_its_duplicate_is_caught():
    n, calls = served()
    n.recv(req(11), addr())
    n.at(1000 + n.ep.p.lifetime + 1)
    n.recv(req(11), addr())                  # the entry expired: a new message
    n.recv(req(11), addr())                  # its duplicate
    assert calls == [11, 11] and n.ep.ml.duplicates == 1
