# heapsize: 74k
# board-heapsize: 38k   (unix32, library frozen; measured minimum 29k)
"""A datagram longer than the receive buffer (PC-26, RFC 7252 5.9.2.9 / 5.10.9): the endpoint's
decision without sockets (Endpoint.too_long), then over loopback UDP, where a read one octet
longer than bufsize tells a truncated datagram from one that just fits, and through a DTLS
session (MicroPython only; a fake session behaves as Mbed TLS does)."""
import socket

from coap.codec import Message, decode, encode
from coap.udp import UdpEndpoint, resolve
from coapnet import A, ACK, B, CON, GET, NON, POST, Net

PORT = 18761      # our endpoint
PEER = 18762      # the raw socket that plays the peer


def h(s):
    return bytes.fromhex(s.replace(" ", ""))


def _served(ep):
    calls = []

    def handler(req):
        calls.append(len(req.payload))
        return 0x44

    ep.resource("x", handler, methods=(POST,))
    return calls


def _big(mtype=CON, mid=0x1234, token=b"tk", size=1400):
    """A POST to /x with `size` octets of payload (built with few large objects: the heap)."""
    return encode(Message(mtype, POST, mid, token, payload=b"z").set_path("x")) + b"z" * (size - 1)


def test_truncated_con_request_gets_413_with_size1_and_keeps_it_for_retransmissions():
    n = Net()
    calls = _served(n.ep)
    cut = _big()[:n.ep.bufsize + 1]             # what the I/O adapter read of 1409 octets
    n.ep.too_long(cut, A)
    (r, a), = n.take()
    # ACK 4.13, same MID and token, Size1 (60) = 1280: delta 13 + 47, length 2, 0x0500
    assert encode(r) == h("62 8d 1234 746b d2 2f 0500") and a == A
    n.ep.too_long(cut, A)                       # the peer retransmits its CON
    (r2, _), = n.take()
    assert encode(r2) == encode(r) and n.ep.ml.duplicates == 1
    assert calls == [] and n.ep.ml.too_long == 2
    n.recv(Message(CON, POST, 0x1235, b"ok", payload=b"small").set_path("x"))   # still serving
    (r, _), = n.take()
    assert (r.mtype, r.code, r.mid, r.token) == (ACK, 0x44, 0x1235, b"ok") and calls == [5]


def test_truncated_non_request_gets_non_413_and_size1_follows_bufsize():
    n = Net()
    n.ep.bufsize = 512
    calls = _served(n.ep)
    n.ep.too_long(_big(NON, 0x2000, b"\x01\x02\x03\x04")[:513], B)
    (r, a), = n.take()
    assert (r.mtype, r.code, r.token, r.options, r.payload) == (
        NON, 0x8D, b"\x01\x02\x03\x04", [(60, b"\x02\x00")], b"")
    assert a == B and r.mid != 0x2000 and calls == []


def test_truncated_responses_and_garbage_are_dropped():
    n = Net()
    q = n.ep.request(B, GET, "y")
    (m, _), = n.take()
    resp = encode(Message(ACK, 0x45, m.mid, m.token, payload=b"r" * 2000))
    n.ep.too_long(resp[:1281], B)               # a piggybacked response cut short
    sep = encode(Message(CON, 0x45, 77, m.token, payload=b"r" * 2000))
    n.ep.too_long(sep[:1281], B)                # a separate response cut short
    junk = b"\x40" + bytes(1280)
    for bad in (b"\x00" * 1281,                 # version 0
                b"\x4f" + bytes(1280),          # TKL 15
                b"\x48\x02\x00\x01\x05",        # token cut (the header alone is too short)
                junk,                           # an empty CON (code 0.00) with content
                b"\x50\xe0\x00\x01" + bytes(1277)):   # reserved class 7
        n.ep.too_long(bad, A)
    assert n.take() == [] and not q.done and n.ep.ml.too_long == 7
    n.ep.received(encode(Message(ACK, 0x45, m.mid, m.token, payload=b"ok")), B)
    assert q.done and q.code == 0x45 and q.response.payload == b"ok"


def _wait_answer(ep, peer, want=1):
    got = []
    for _ in range(100):
        ep.poll(10)
        try:
            got.append(decode(peer.recvfrom(2048)[0]))
        except OSError:
            pass
        if len(got) >= want:
            break
    return got


def test_udp_endpoint_answers_413_then_serves_on():
    ep = UdpEndpoint("127.0.0.1", PORT)
    calls = _served(ep)
    peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    peer.bind(resolve("127.0.0.1", PEER))
    peer.setblocking(False)
    to = resolve("127.0.0.1", PORT)
    try:
        for size, mid in ((3000, 1), (1272, 2), (1271, 3)):    # 1281, 1280 octets
            d = _big(CON, mid, b"t%d" % mid, size)
            assert len(d) == {1: 3009, 2: 1281, 3: 1280}[mid]
            peer.sendto(d, to)
            (r,) = _wait_answer(ep, peer)
            assert (r.mtype, r.mid, r.token) == (ACK, mid, b"t%d" % mid)
            if len(d) > 1280:
                assert r.code == 0x8D and r.uint(60) == 1280, (mid, r.code)
            else:
                assert r.code == 0x44 and calls == [1271]        # just fits: delivered whole
        peer.sendto(_big(CON, 1, b"t1", 3000), to)               # retransmission of the first
        (r,) = _wait_answer(ep, peer)
        assert (r.code, r.mid, r.uint(60)) == (0x8D, 1, 1280) and ep.ml.duplicates == 1
        peer.sendto(encode(Message(CON, POST, 9, b"ok", payload=b"hi").set_path("x")), to)
        (r,) = _wait_answer(ep, peer)
        assert (r.code, r.mid) == (0x44, 9) and calls == [1271, 2] and ep.ml.too_long == 3
    finally:
        peer.close()
        ep.close()


class _Session:
    """An established DTLS session as Mbed TLS reads it: recv(n) returns up to n octets of
    the current record and keeps the rest of it for the next call."""

    def __init__(self, records):
        self.records = records
        self.rest = None
        self.sent = []

    def recv(self, n):
        if self.rest is None:
            if not self.records:
                return None
            self.rest = self.records.pop(0)
        d = self.rest[:n]
        self.rest = self.rest[n:] or None
        return d

    def write(self, data):
        self.sent.append(decode(data))
        return len(data)


def test_dtls_record_longer_than_bufsize_gets_413():
    from coap import dtls       # here: its import alone takes 8 KB of a MicroPython heap
    if not dtls.available():
        return                  # CPython: no DTLS
    ep = dtls.DtlsEndpoint("127.0.0.1", 21998, psk_identity="a", psk="b")
    try:
        calls = _served(ep)
        big = _big(CON, 5, b"dt", 1400)         # fits a 1500-octet datagram, not bufsize
        ep._ss = ss = _Session([big, encode(Message(CON, POST, 6, b"ok").set_path("x"))])
        ep._up = True
        ep._drain()
        r, ok = ss.sent
        assert (r.mtype, r.code, r.mid, r.token, r.uint(60)) == (ACK, 0x8D, 5, b"dt", 1280)
        assert (ok.code, ok.mid) == (0x44, 6) and calls == [0] and ep.ml.too_long == 1
    finally:
        ep._ss = None
        ep.close()
