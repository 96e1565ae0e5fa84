# heapsize: 32k
# board-heapsize: 20k   (unix32, library frozen; measured minimum 15k)
"""CoAP codec: byte-exact vectors, round trips and every format error (RFC 7252 section 3)."""
from coap import const as c
from coap.codec import Message, decode, encode
from tinytest import raises


def h(s):
    return bytes.fromhex(s.replace(" ", ""))


def test_worked_example_header_and_options():
    # PROTOCOL.md 13.3: REG request first octets
    m = Message(c.CON, c.POST, 0x1A2B, h("01020304"))
    m.add(c.URI_HOST, "msgin5g.example.net").set_path("msgin5g").add(c.CONTENT_FORMAT, 50)
    m.payload = b"{}"
    assert encode(m) == h("44 02 1a2b 01020304 3d06") + b"msgin5g.example.net" + \
        h("87") + b"msgin5g" + h("1132 ff") + b"{}"


def test_options_tuple_encoding_kept_list_never():
    # encode() keeps the encoding of the last tuple of options (Endpoint.request sends one
    # tuple again and again); a list can change between two encodes, so it is encoded each time.
    lst = [(c.URI_HOST, b"h.example"), (c.URI_PATH, b"a"), (c.URI_PATH, b"b"), (12, b"\x32")]
    tup = tuple(lst)
    first = encode(Message(c.CON, c.POST, 1, b"tk", lst, b"p"))
    assert encode(Message(c.CON, c.POST, 1, b"tk", tup, b"p")) == first
    assert encode(Message(c.CON, c.POST, 1, b"tk", tup, b"p")) == first       # from the kept copy
    assert encode(Message(c.CON, c.POST, 2, b"t", tup)) == h("4102 0002") + b"t" + first[6:-2]
    lst.append((c.URI_QUERY, b"q=1"))
    assert encode(Message(c.CON, c.POST, 1, b"tk", lst, b"p")) == first[:-2] + h("33") + b"q=1" + h("ff") + b"p"
    other = ((c.URI_PATH, b"z"),)
    assert encode(Message(c.NON, c.GET, 3, b"", other)) == h("5001 0003 b1") + b"z"
    assert encode(Message(c.CON, c.POST, 1, b"tk", tup, b"p")) == first


def test_empty_ack_and_rst():
    assert encode(Message(c.ACK, 0, 0x1234)) == h("60 00 12 34")
    assert encode(Message(c.RST, 0, 7)) == h("70 00 00 07")
    m = decode(h("60 00 12 34"))
    assert (m.mtype, m.code, m.mid, m.token, m.options, m.payload) == (c.ACK, 0, 0x1234, b"", [], b"")


def test_extended_delta_and_length():
    m = Message(c.NON, c.GET, 1)
    m.add(c.BLOCK2, 0x16)             # delta 23 -> 13 + 10
    m.add(c.NO_RESPONSE, 26)          # delta 235 -> 13 + 222
    m.add(300, b"v" * 13)             # delta 42 -> 13+29, length 13 -> 13+0
    m.add(1000, b"w" * 300)           # delta 700 -> 14 + 431, length 300 -> 14 + 31
    e = encode(m)
    assert e[:4] == h("50 01 00 01")
    assert e[4:6] == h("d1 0a") and e[6] == 0x16
    assert e[7:9] == h("d1 de") and e[9] == 26
    assert e[10:13] == h("dd 1d 00") and e[13:26] == b"v" * 13
    assert e[26:31] == h("ee 01 af 00 1f") and e[31:331] == b"w" * 300
    assert len(e) == 331
    d = decode(e)
    assert d.options == m.options


def test_boundary_lengths_round_trip():
    for ln in (0, 1, 12, 13, 14, 268, 269, 270, 1000):
        for num in (1, 12, 13, 14, 268, 269, 270, 2000):
            m = Message(c.CON, c.POST, 9, b"\x01", payload=b"p")
            m.add(num, b"x" * ln)
            d = decode(encode(m))
            assert d.options == [(num, b"x" * ln)], (num, ln)
            assert d.payload == b"p"


def test_zero_length_and_repeated_options_keep_order():
    m = Message(c.CON, c.GET, 2, b"")
    m.add(c.URI_QUERY, "b=2")
    m.set_path("a/b/c")                  # added after a higher number: inserted before it
    m.add(c.IF_NONE_MATCH, b"")
    m.add(c.URI_QUERY, "a=1")
    assert [n for n, _ in m.options] == [5, 11, 11, 11, 15, 15]
    d = decode(encode(m))
    assert d.path() == ["a", "b", "c"]
    assert [v for n, v in d.options if n == c.URI_QUERY] == [b"b=2", b"a=1"]
    assert d.opt(c.IF_NONE_MATCH) == b""


def test_token_lengths_and_uint_options():
    for n in range(9):
        m = Message(c.CON, c.GET, 65535, bytes(range(n)))
        m.add(c.CONTENT_FORMAT, 0).add(c.MAX_AGE, 60).add(c.SIZE1, 70000)
        d = decode(encode(m))
        assert d.token == bytes(range(n)) and d.mid == 65535
        assert d.opt(c.CONTENT_FORMAT) == b"" and d.uint(12) == 0
        assert d.uint(c.MAX_AGE) == 60 and d.uint(c.SIZE1) == 70000
    raises(ValueError, encode, Message(c.CON, c.GET, 1, b"123456789"))
