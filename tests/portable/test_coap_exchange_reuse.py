# heapsize: 52k
# board-heapsize: 20k   (unix32, library frozen; measured minimum 16k)
"""CoAP client side without sockets: what the request path reuses to stay cheap must never leak
between requests: the options built for the last (path, format, options) and their encoding,
the encode buffer a first transmission is sent from, and the jitter generator."""
from coap.codec import encode
from coapnet import A, CON, GET, POST, Net  # noqa: F401
from tinytest import raises


def _opts(m):
    return [(n, bytes(v)) for n, v in m.options]


def test_option_list_reuse_follows_every_change():
    n = Net(nstart=16)
    host = [(3, "h.example")]
    n.ep.request(A, POST, "a/b", b"1", cf=50, options=host)
    r2 = n.ep.request(A, POST, "a/b", b"2", cf=50, options=host)  # same: reused list
    (m1, _), (m2, _) = n.take()
    assert _opts(m1) == _opts(m2) == [(3, b"h.example"), (11, b"a"), (11, b"b"), (12, b"2")]
    # The reused options (and their encoding) are shared by every such request: read-only, so
    # a change through one message cannot leak into the next.
    raises(AttributeError, r2.msg.add, 17, 41)
    n.ep.request(A, POST, "a/b", b"3", cf=50, options=host)
    (m3, _), = n.take()
    assert _opts(m3) == _opts(m1)
    host.append((15, "q=1"))                                     # same list, mutated
    n.ep.request(A, POST, "a/b", b"3", cf=50, options=host)
    n.ep.request(A, POST, "a/c", b"4", cf=50, options=host)      # other path
    n.ep.request(A, POST, "a/c", b"5", cf=0, options=host)       # other format
    n.ep.request(A, POST, ["a", "c"], b"6", options=host)        # list path, no format
    n.ep.request(A, POST, None, b"7")                            # nothing at all
    ms = [m for m, _ in n.take()]
    assert _opts(ms[0]) == [(3, b"h.example"), (11, b"a"), (11, b"b"), (12, b"2"),
                            (15, b"q=1")]
    assert _opts(ms[1])[1:3] == [(11, b"a"), (11, b"c")] and ms[1].uint(12) == 50
    assert ms[2].uint(12) == 0
    assert _opts(ms[3]) == [(3, b"h.example"), (11, b"a"), (11, b"c"), (15, b"q=1")]
    assert ms[4].options == [] and ms[4].payload == b"7"


def test_retransmission_sends_the_first_transmission_again():
    # A first transmission goes out straight from encode()'s scratch buffer; a retransmission
    # encodes again, so a later message that reused that buffer changes nothing.
    n = Net()
    got = []
    n.ep.ml.send_raw = lambda data, addr: got.append(bytes(data))
    n.ep.request(A, POST, "x", b"first", cf=0)
    n.ep.request(("10.0.0.9", 5683), POST, "other", b"second, a longer payload")
    n.at(1000 + 2000)                        # both retransmit (jitter 0 in these tests)
    assert len(got) == 4 and sorted(got[2:]) == sorted(got[:2])


def test_default_jitter_spreads_first_timeouts_within_the_rfc_range():
    n = Net()
    n.ep.ml.rand = None                      # the built-in generator, not the tests' 0.0
    seen = set()
    for i in range(30):
        r = n.ep.request(A, GET, "x")
        t = r.timeout
        assert 2000 <= t < 3000, t           # [ACK_TIMEOUT, ACK_TIMEOUT * 1.5) (4.2)
        seen.add(t)
        n.ep.cancel(r)
        n.take()
    assert len(seen) > 15                    # spread, not one value
