# heapsize: 43k
# board-heapsize: 16k   (unix32, library frozen; measured minimum 12k)
"""CoAP server side without sockets: deferred (separate) responses, the bounded deduplication
cache, response option values, MemoryError in a handler."""
from coap.codec import Message, encode
from coapnet import A, ACK, B, CON, GET, NON, POST, RST, Net  # noqa: F401


def test_deferred_response_is_separate_and_retransmitted():
    n = Net()
    held = []
    n.ep.resource("slow", lambda req: held.append(req))
    n.recv(Message(CON, GET, 200, b"s").set_path("slow"))
    (ack, _), = n.take()
    assert (ack.mtype, ack.code, ack.mid, ack.token) == (ACK, 0, 200, b"")
    n.recv(Message(CON, GET, 200, b"s").set_path("slow"))               # duplicate: empty ACK again
    (ack, _), = n.take()
    assert ack.code == 0 and len(held) == 1
    n.ep.respond(held[0], 0x45, b"later")
    (resp, _), = n.take()
    assert resp.mtype == CON and resp.token == b"s" and resp.payload == b"later"
    n.at(3000)
    (again, _), = n.take()
    assert again.mid == resp.mid                                        # retransmitted
    n.recv(Message(ACK, 0, resp.mid))
    n.at(100000)
    assert n.take() == []


def test_dedup_cache_is_bounded():
    n = Net(dedup_size=4)
    n.ep.resource("x", lambda req: 0x44)
    for mid in range(10):
        n.recv(Message(CON, POST, mid, b"t").set_path("x"))
    assert len([k for k in n.ep.ml._dk if k >= 0]) == 4 and n.ep.ml.evicted == 6


def test_response_options_accept_int_and_str_values():
    n = Net()
    n.ep.resource("busy", lambda req: (0xA3, b"", None, [(14, 30), (8, "loc")]))
    n.recv(Message(CON, GET, 300, b"b").set_path("busy"))
    (resp, _), = n.take()
    assert resp.code == 0xA3 and resp.uint(14) == 30 and resp.opt(8) == b"loc"


def test_memory_error_in_handler_asks_to_retry():
    n = Net()
    logged = []
    n.ep.log = logged.append

    def hungry(req):
        raise MemoryError

    n.ep.resource("big", hungry)
    n.recv(Message(CON, POST, 301, b"m").set_path("big"))
    (resp, _), = n.take()
    assert resp.code == 0xA3 and resp.uint(14) == 2
    assert n.ep.handler_errors == 1 and logged == ["handler: out of memory, answered 5.03"]
