# heapsize: 120k
# board-heapsize: 46k   (unix32, library frozen; measured minimum 36k)
"""ModemEndpoint: the CoAP stack unchanged over a modem link (a SIM7080 on a fake UART): a
request goes out through +CASEND byte for byte as the codec encoded it, its response comes
back through +CARECV, and a resource answers a request that arrives from the network."""
from coap.codec import Message, decode, encode
from fakemodem import OK, drive, up
from modem.endpoint import ModemEndpoint, resolve

PEER = resolve("10.0.0.1", 5683)


class Both:
    """Drive endpoint and link together through drive(): tick() is the endpoint's."""

    def __init__(self, ep):
        self.tick = ep.tick


def test_request_and_response_over_the_modem():
    link, u, clock, _ = up("sim7080")
    ep = ModemEndpoint(link, clock=clock, rand=lambda: 0.0)
    r = ep.request(PEER, 1, "time")
    data = link._q[link._qh][0]             # what the codec encoded, queued for the modem
    m = decode(data)
    assert m.mtype == 0 and m.path() == ["time"]
    resp = encode(Message(2, 0x45, m.mid, m.token, payload=b"12:00\r\n\x1a"))
    u.expect('AT+CAOPEN=0,0,"UDP","10.0.0.1",5683,1\r', b"\r\n+CAOPEN: 0,0\r\n" + OK)
    u.expect("AT+CASEND=0,%d\r" % len(data), b"\r\n> ")
    u.expect(data, OK + b"\r\n+CADATAIND: 0\r\n")
    u.expect("AT+CARECV=0,1460\r", b"\r\n+CARECV: %d,%s\r\n" % (len(resp), resp) + OK)
    u.expect("AT+CARECV=0,1460\r", b"\r\n+CARECV: 0\r\n" + OK)
    assert drive(Both(ep), clock, lambda: r.done, 5000), u.script[:1]
    assert r.error is None and r.code == 0x45 and r.response.payload == b"12:00\r\n\x1a"
    assert ep.ml.sent == 1 and ep.ml.received == 1 and u.script == []


def test_resource_answers_a_request_from_the_network():
    link, u, clock, _ = up("bg95")
    ep = ModemEndpoint(link, clock=clock, rand=lambda: 0.0)
    ep.resource("hello", lambda req: (0x45, b"hi", 0))
    req = encode(Message(0, 1, 0x4242, b"\x01\x02", payload=b"").set_path("hello"))
    want = encode(Message(2, 0x45, 0x4242, b"\x01\x02", payload=b"hi").add(12, 0))
    link.socks[0].addr = PEER                # the socket the server's downlink comes on
    link.socks[0].open = link.socks[0].used = True
    u.expect("AT+QIRD=0,1500\r", b"\r\n+QIRD: %d\r\n%s\r\n" % (len(req), req) + OK)
    u.expect("AT+QIRD=0,1500\r", b"\r\n+QIRD: 0\r\n" + OK)
    u.expect("AT+QISEND=0,%d\r" % len(want), b"\r\n> ")
    u.expect(want, b"\r\nSEND OK\r\n")
    u.inject(b'\r\n+QIURC: "recv",0\r\n')
    assert drive(Both(ep), clock, lambda: not u.script, 5000), (u.script[:1], u.tx)


def test_oversize_datagram_counts_as_a_send_error():
    link, u, clock, _ = up("sim7080")
    ep = ModemEndpoint(link, clock=clock, rand=lambda: 0.0)
    r = ep.request(PEER, 2, "big", bytes(1500), con=False)
    assert ep.ml.send_errors == 1 and link.oversize == 1 and "1460" in link.error
    assert r is not None
