# heapsize: 120k
# board-heapsize: 46k   (unix32, library frozen: no tls, only the refusal runs)
"""modem.dtls without a DTLS server (a SIM7080 on a fake UART; the session faked where the test
needs one up): a coaps:// endpoint over a modem link refuses to start where there is no DTLS
(CPython, the unix32 build) before touching the link, refuses a CoAP message that would not
fit a modem datagram with its record, hands each datagram to the session without a copy (one
the session leaves unread is copied: the link reuses its buffer), and ends an established
session when the link goes down."""
from coap import dtls
from coap.codec import Message, decode, encode
from coap.dtls import DtlsError
from fakemodem import new_link, up
from modem.dtls import MAX_PLAIN, ModemDtlsEndpoint
from tinytest import raises

PEER = ("10.0.0.1", 5684)


class _Session:
    """An established session that passes records through as they are (no crypto)."""

    def __init__(self, io):
        self.io = io
        self.sent = []
        self.reading = True

    def recv(self, n):
        if not self.reading:
            return None
        b = bytearray(n)
        k = self.io.readinto(b)
        return None if k is None else bytes(b[:k])

    def write(self, data):
        self.sent.append(bytes(data))
        return len(data)

    def close(self):
        pass


def _endpoint(link, clock):
    return ModemDtlsEndpoint(link, PEER[0], PEER[1], psk_identity="ue-1", psk=b"k",
                             clock=clock, rand=lambda: 0.0)


def test_no_dtls_is_refused_before_the_link_starts():
    if dtls.available():
        return
    link = new_link("bg95")[0]
    e = raises(DtlsError, ModemDtlsEndpoint, link, PEER[0], PEER[1], psk_identity="a",
               psk="b")
    assert "not available" in str(e) and link.state == "off"


def test_message_too_long_for_a_modem_datagram_with_its_record():
    if not dtls.available():
        return
    link, _, clock, _ = up("sim7080")
    ep = _endpoint(link, clock)
    ep.request(ep.peer, 2, "big", bytes(MAX_PLAIN), con=False)
    assert ep.ml.send_errors == 1 and ep._ss is None and link._qn == 0  # no handshake
    assert link.oversize == 0 and MAX_PLAIN + 96 == 1460


def test_datagrams_reach_the_session_without_a_copy():
    if not dtls.available():
        return
    link, _, clock, _ = up("sim7080")
    ep = _endpoint(link, clock)
    assert link.on_datagram == ep._datagram
    ep._ss = ss = _Session(ep._io)
    ep._up = True
    buf = bytearray(encode(Message(1, 1, 7, b"t").set_path("nope")))   # NON GET
    ep._datagram(memoryview(buf), PEER)
    assert ep._ls.q == [] and len(ss.sent) == 1
    r = decode(ss.sent[0])
    assert (r.code, r.token) == (0x84, b"t")               # 4.04 through the session
    ss.reading = False      # the session leaves the next one unread: it waits, copied
    want = bytes(buf)
    ep._datagram(memoryview(buf), PEER)
    buf[0] = 0              # the link's buffer is reused for the next datagram
    assert ep._ls.q == [want] and isinstance(ep._ls.q[0], bytes)
    ep._datagram(memoryview(buf), ("10.0.0.2", 5684))       # another peer: dropped
    assert ep._ls.q == [want] and ep.dropped == 1


def test_link_down_ends_an_established_session():
    if not dtls.available():
        return
    link, _, clock, _ = up("sim7080")
    ep = _endpoint(link, clock)
    ep._ss = _Session(ep._io)
    ep._up = True
    ep.tick()
    assert ep._ss is not None                              # link up: the session stays
    link._set_up(False, "out of coverage")
    ep.tick()
    assert ep._ss is None and not ep.connected and ep.failures == 1
    assert "modem link down" in str(ep.error)
