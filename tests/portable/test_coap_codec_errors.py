# heapsize: 24k
# board-heapsize: 13k   (unix32, library frozen; measured minimum 9k)
"""CoAP codec: encode_into, code_str and every format error (RFC 7252 section 3); vectors and
round trips are in test_coap_codec."""
from coap import const as c
from coap.codec import Message, decode, encode, encode_into, CoapFormatError
from coap.const import code_str
from tinytest import raises


def h(s):
    return bytes.fromhex(s.replace(" ", ""))


def test_encode_into_preallocated_buffer():
    buf = bytearray(64)
    m = Message(c.CON, c.GET, 3, b"ab").set_path("hello")
    n = encode_into(m, buf)
    assert bytes(buf[:n]) == encode(m)


def test_format_errors():
    bad = [
        b"", h("40"), h("4001 00"),            # shorter than the header
        h("00 01 0000"), h("80 01 0000"), h("c0 01 0000"),  # version 0, 2, 3
        h("49 01 0000") + bytes(9), h("4f 01 0000") + bytes(15),  # TKL 9..15
        h("44 01 0000 0102"),                  # truncated token
        h("40 01 0000 d1"),                    # delta 13 without its extension byte
        h("40 01 0000 e1 00"),                 # delta 14 with one extension byte
        h("40 01 0000 1d"),                    # length 13 without extension
        h("40 01 0000 13 6162"),               # value truncated
        h("40 01 0000 f1 00"),                 # delta nibble 15 that is not the marker
        h("40 01 0000 1f 00"),                 # length nibble 15
        h("40 01 0000 ff"),                    # marker followed by no payload
        h("40 00 0000 ff 00"), h("41 00 0000 00"),  # empty message with content / token
    ]
    for b in bad:
        raises(CoapFormatError, decode, b)


def test_every_truncation_raises_only_format_error():
    m = Message(c.CON, c.POST, 0x4242, b"\x09\x08\x07\x06")
    m.add(c.URI_HOST, "h").set_path("msgin5g").add(c.CONTENT_FORMAT, 50).add(1000, b"z" * 20)
    m.payload = b"payload"
    e = encode(m)
    for i in range(len(e)):
        try:
            decode(e[:i])
        except CoapFormatError:
            pass


def test_pseudo_random_garbage_never_escapes():
    x = 12345
    buf = bytearray(24)
    for _ in range(1500):
        for i in range(len(buf)):
            x = (x * 1103515245 + 12345) & 0x7FFFFFFF
            buf[i] = x >> 16 & 0xFF
        buf[0] = 0x40 | buf[0] & 0x3F
        try:
            decode(memoryview(buf)[: 4 + x % 20])
        except CoapFormatError:
            pass


def test_code_str():
    assert code_str(c.CONTENT) == "2.05"
    assert code_str(c.NOT_FOUND) == "4.04"
    assert code_str(c.SERVICE_UNAVAILABLE) == "5.03"
