# heapsize: 24k
# board-heapsize: 10k   (unix32, library frozen; measured minimum 6k)
"""CoAP option numbers are 16 bits (RFC 7252 3.1): the decoder refuses deltas that add up past
65535 (a format error, as libcoap's parser tests expect) and the encoder refuses a number
outside 0-65535 with an error naming it. Byte-exact vectors at the top of the range."""
from coap import const as c
from coap.codec import Message, decode, encode, encode_into, CoapFormatError
from tinytest import raises


def h(s):
    return bytes.fromhex(s.replace(" ", ""))


def test_option_numbers_end_at_65535():
    # RFC 7252 3.1: the option number is 16 bits; deltas that add up past it are a format
    # error (libcoap's parser tests agree), as is one delta past it.
    top = h("40 01 1234 e0 fef2")                     # delta 14: 269 + 0xFEF2 = 65535
    m = decode(top)
    assert m.options == [(65535, b"")]
    assert encode(Message(c.CON, c.GET, 0x1234, options=[(65535, b"")])) == top
    e = raises(CoapFormatError, decode, top + h("10"))          # 65535 + 1
    assert "option number" in str(e)
    raises(CoapFormatError, decode, h("40 01 1234 e0 ffff"))    # 269 + 0xFFFF in one delta
    two = h("40 01 1234 e1 fef1 61 10")               # 65534 = 'a', then + 1: 65535
    assert decode(two).options == [(65534, b"a"), (65535, b"")]
    raises(CoapFormatError, decode, two + h("10"))               # and + 1 more


def test_encoder_refuses_option_numbers_outside_0_65535():
    for num in (65536, 70000, -1):
        e = raises(ValueError, encode, Message(c.CON, c.GET, 1, options=[(num, b"")]))
        assert str(num) in str(e), str(e)
        e = raises(ValueError, encode, Message(c.CON, c.GET, 1).add(num, 1))
        assert str(num) in str(e), str(e)
    m = Message(c.CON, c.GET, 1).add(c.URI_PATH, "a").add(65536, b"x")   # after a valid one
    e = raises(ValueError, encode_into, m, bytearray(32))
    assert "65536" in str(e)
