"""CoAP message codec (RFC 7252 section 3): pure functions over bytes.

decode() raises CoapFormatError for every malformed datagram and nothing else.
"""
from micropython import const

# Only what this module needs, folded at compile time (see coap.const for all names).
CON = const(0)
NON = const(1)
ACK = const(2)
RST = const(3)
_URI_PATH = const(11)
_CONTENT_FORMAT = const(12)
_MAX_KEPT = const(1280)     # encode()'s scratch buffer never grows past this
_MAX_OPT = const(65535)     # largest option number (RFC 7252 3.1: a 16-bit field)
_MAX_LEN = const(65804)     # longest option value: 269 + 0xFFFF (3.1)


class CoapFormatError(ValueError):
    """A datagram that is not a well-formed CoAP message (RFC 7252 4.2/4.3 'format error')."""


def uint_bytes(v):
    """Minimal big-endian encoding of an unsigned option value (0 -> b'')."""
    n = 0
    t = v
    while t:
        n += 1
        t >>= 8
    return v.to_bytes(n, "big")


class Message:
    """One CoAP message. `options` is a list of (number, bytes) in ascending number order;
    repeated options keep the order they were added in; a tuple of options is taken as never
    changing (encode() keeps the encoding of the last one: Endpoint.request reuses one)."""

    def __init__(self, mtype=CON, code=0, mid=0, token=b"", options=None, payload=b""):
        self.mtype = mtype
        self.code = code
        self.mid = mid
        self.token = token
        self.options = [] if options is None else options
        self.payload = payload

    def add(self, num, value):
        """Add an option; value is bytes, str or int. Inserted after every option with a
        number <= num, so repeats stay in order (MicroPython's sort is not stable: no sort)."""
        if isinstance(value, int):
            value = uint_bytes(value)
        elif isinstance(value, str):
            value = value.encode()
        opts = self.options
        i = len(opts)
        while i and opts[i - 1][0] > num:
            i -= 1
        opts.insert(i, (num, value))
        return self

    def opt(self, num, default=None):
        """Value of the first option `num`, or default."""
        for n, v in self.options:
            if n == num:
                return v
        return default

    def uint(self, num, default=None):
        v = self.opt(num)
        return default if v is None else int.from_bytes(v, "big")

    def path(self):
        """Uri-Path segments as a list of str."""
        p = []
        for n, v in self.options:
            if n == _URI_PATH:
                p.append(v.decode())
        return p

    def set_path(self, path):
        """Add Uri-Path options from 'a/b/c' (empty segments skipped) or a list of segments."""
        s = isinstance(path, str)
        for p in path.split("/") if s else path:
            if p or not s:
                self.add(_URI_PATH, p)
        return self



def encode_into(msg, buf):
    """Write msg into buf (a bytearray large enough: 5 octets per option header, 5 + token +
    payload) and return the length."""
    global _lo, _lob
    tok = msg.token
    tkl = len(tok)
    if tkl > 8:
        raise ValueError("token > 8")
    mid = msg.mid
    buf[0] = 0x40 | msg.mtype << 4 | tkl
    buf[1] = msg.code
    buf[2] = mid >> 8 & 0xFF
    buf[3] = mid & 0xFF
    i = 4 + tkl
    buf[4:i] = tok
    opts = msg.options
    c = opts is _lo     # the tuple encoded last time: copy its encoding
    if c:
        d = i + len(_lob)
        buf[i:d] = _lob
        i = d
    s = i
    last = 0
    for num, val in () if c else opts:
        if not 0 <= num <= _MAX_OPT:
            raise ValueError("option number %r: not 0-65535" % (num,))
        d = num - last
        last = num
        ln = len(val)
        h = i
        i += 1
        # extended delta and/or length (RFC 7252 3.1): 13 = one more octet, 14 = two more
        if d < 13:
            b = d << 4
        elif d < 269:
            b = 0xD0
            buf[i] = d - 13
            i += 1
        else:
            b = 0xE0
            buf[i] = (d - 269) >> 8
            buf[i + 1] = (d - 269) & 0xFF
            i += 2
        if ln < 13:
            b |= ln
        elif ln < 269:
            b |= 13
            buf[i] = ln - 13
            i += 1
        else:
            if ln > _MAX_LEN:
                raise ValueError("option %d: value longer than 65804 octets" % num)
            b |= 14
            buf[i] = (ln - 269) >> 8
            buf[i + 1] = (ln - 269) & 0xFF
            i += 2
        buf[h] = b
        d = i + ln
        buf[i:d] = val
        i = d
    if type(opts) is tuple and not c:
        _lo = opts
        _lob = bytes(buf[s:i])
    p = msg.payload
    if p:
        buf[i] = 0xFF
        i += 1
        d = i + len(p)
        buf[i:d] = p
        i = d
    return i


_lo = _lob = None   # the last tuple of options encode_into() saw, and its encoding
_buf = None   # encode()'s scratch, grown to the largest message up to _MAX_KEPT octets


def encode(msg, view=False):
    """msg -> bytes (one allocation per message once the scratch buffer has grown). With
    view=True: a memoryview of the scratch buffer instead, valid until the next encode()
    (for sending at once without a copy)."""
    global _buf
    n = 5 + len(msg.token) + len(msg.payload)   # an upper bound: 5 octets per option header
    for o in msg.options:
        n += 5 + len(o[1])
    b = _buf
    if b is None or len(b) < n:
        b = bytearray((n + 63) & ~63)
        if n <= _MAX_KEPT:
            _buf = b
    b = memoryview(b)[:encode_into(msg, b)]
    return b if view else bytes(b)


def decode_header(data):
    """The header and token of a datagram (RFC 7252 3) as a Message without options or
    payload; for decode(), and alone for a datagram cut short by the receive buffer."""
    n = len(data)
    if n < 4:
        raise CoapFormatError("header")
    b = data[0]
    if b >> 6 != 1:
        raise CoapFormatError("version")
    i = 4 + (b & 15)
    if i > 12:
        raise CoapFormatError("tkl")
    if i > n:
        raise CoapFormatError("token")
    return Message(b >> 4 & 3, data[1], data[2] << 8 | data[3],
                   bytes(data[4:i]) if i > 4 else b"", [])


def decode(data):
    """Parse one datagram (bytes, bytearray or memoryview) into a Message."""
    msg = decode_header(data)
    n = len(data)
    if msg.code == 0 and n != 4:
        raise CoapFormatError("empty")
    i = 4 + len(msg.token)
    opts = msg.options
    num = 0
    while i < n:
        b = data[i]
        i += 1
        if b == 0xFF:
            if i == n:
                raise CoapFormatError("marker")
            msg.payload = bytes(data[i:])
            break
        d = b >> 4
        b &= 15
        if d > 12 or b > 12:            # extended: 13 one more byte, 14 two more (3.1)
            e = [d, b]
            for k in (0, 1):
                v = e[k]
                if v == 13 and i < n:
                    e[k] = data[i] + 13
                    i += 1
                elif v == 14 and i + 1 < n:
                    e[k] = (data[i] << 8 | data[i + 1]) + 269
                    i += 2
                elif v > 12:
                    raise CoapFormatError("option")
            d, b = e
        num += d
        if num > _MAX_OPT:              # deltas add up past the 16-bit option number
            raise CoapFormatError("option number")
        d = i + b
        if d > n:
            raise CoapFormatError("option")
        opts.append((num, bytes(data[i:d])))
        i = d
    return msg
