# heapsize: 44k
# board-heapsize: 18k   (unix32, library frozen; measured minimum 14k)
"""CoAP server side driven without sockets (a list collects what is sent, a FakeClock stands in
for ticks_ms): piggybacked responses, deduplication, errors, ping and garbage (RFC 7252 4-5).
The client side is in test_coap_exchange*."""
from coap.codec import Message, encode
from coapnet import A, ACK, B, CON, GET, NON, POST, RST, Net  # noqa: F401


def test_server_piggybacked_and_deduplicated():
    n = Net()
    calls = []

    def h(req):
        calls.append(req.payload)
        return 0x44, b"done", 0

    n.ep.resource("msgin5g/ue", h, prefix=True, methods=(POST,))
    req = Message(CON, POST, 100, b"tk", payload=b"hi").set_path("msgin5g/ue/u1")
    n.recv(req)
    (resp, a), = n.take()
    assert (resp.mtype, resp.code, resp.mid, resp.token, resp.payload) == (ACK, 0x44, 100, b"tk", b"done")
    assert resp.uint(12) == 0 and a == A
    n.recv(req)                                                         # duplicate CON
    (resp2, _), = n.take()
    assert encode(resp2) == encode(resp) and calls == [b"hi"]
    assert n.ep.ml.duplicates == 1
    n.recv(req, addr=B)                                                 # same MID, other peer
    assert calls == [b"hi", b"hi"]
    n.take()
    nreq = Message(NON, POST, 101, b"n1", payload=b"non").set_path("msgin5g/ue/u1")
    n.recv(nreq)
    (nresp, _), = n.take()
    assert nresp.mtype == NON and nresp.token == b"n1" and nresp.mid != 101
    n.recv(nreq)
    assert n.take() == [] and calls.count(b"non") == 1                  # NON duplicate dropped


def test_server_errors_not_found_method_bad_option_handler_crash():
    n = Net()
    n.ep.resource("a", lambda req: 0x45, methods=(GET,))

    def boom(req):
        raise KeyError("bug")

    n.ep.resource("boom", boom)
    cases = [
        (Message(CON, GET, 1, b"1").set_path("nope"), 0x84),
        (Message(CON, GET, 2, b"2").set_path("a/b"), 0x84),             # no prefix match
        (Message(CON, POST, 3, b"3").set_path("a"), 0x85),
        (Message(CON, GET, 4, b"4").set_path("a").add(65001, b"x"), 0x82),  # unknown critical
        (Message(CON, GET, 5, b"5").set_path("a").add(65000, b"x"), 0x45),  # unknown elective
        (Message(CON, GET, 6, b"6").set_path("boom"), 0xA0),
    ]
    for req, code in cases:
        n.recv(req)
        (resp, _), = n.take()
        assert resp.code == code and resp.mid == req.mid and resp.token == req.token, (req, resp)
    n.recv(Message(NON, GET, 7, b"7").set_path("a").add(65001, b"x"))  # rejected silently
    assert n.take() == []
    assert n.ep.handler_errors == 1


def test_block_wise_request_gets_bad_option():
    # No block-wise transfer here (RFC 7959): Block1 and Block2 are critical options the stack
    # does not know, so 4.02 (RFC 7252 5.4.1), never a 2.04 for a first block alone (libcoap
    # took that for a complete 3000-octet upload). A NON is dropped; no handler runs.
    n = Net()
    calls = []
    n.ep.resource("echo", lambda req: calls.append(req.payload) or (0x44, req.payload))
    first = Message(CON, POST, 1, b"b1", payload=b"x" * 64).set_path("echo")
    n.recv(first.add(27, 0x0A))                        # Block1: NUM 0, more, SZX 2 (64)
    (resp, _), = n.take()
    assert (resp.mtype, resp.code, resp.mid, resp.token) == (ACK, 0x82, 1, b"b1")
    n.recv(Message(CON, GET, 2, b"b2").set_path("echo").add(23, 0x02))   # Block2: NUM 0
    (resp, _), = n.take()
    assert (resp.code, resp.token) == (0x82, b"b2")
    n.recv(Message(NON, POST, 3, b"b3", payload=b"x").set_path("echo").add(27, 0x0A))
    assert n.take() == [] and calls == []
    n.recv(Message(CON, POST, 4, b"b4", payload=b"whole").set_path("echo"))
    (resp, _), = n.take()
    assert (resp.code, resp.payload, calls) == (0x44, b"whole", [b"whole"])


def test_ping_garbage_and_reserved():
    n = Net()
    n.recv(Message(CON, 0, 42))                                         # ping
    (rst, _), = n.take()
    assert rst.mtype == RST and rst.mid == 42
    n.ep.received(bytes((0x40, 1, 0, 43, 0xFF)), A)                     # CON, marker w/o payload
    (rst, _), = n.take()
    assert rst.mtype == RST and rst.mid == 43
    for junk in (b"", b"\x01", b"\x50\x01\x00\x01\xff", b"\x80\x01\x00\x01", b"\xff" * 30):
        n.ep.received(junk, A)                                          # dropped silently
    assert n.take() == [] and n.ep.ml.bad == 6
    n.recv(Message(CON, 0x21, 44, b"x"))                                # class 1: reserved
    (rst, _), = n.take()
    assert rst.mtype == RST and rst.mid == 44
