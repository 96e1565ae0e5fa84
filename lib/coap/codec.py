"""CoAP message codec (RFC 7252 section 3): pure functions over bytes.

decode() raises CoapFormatError for every malformed datagram and nothing else.
"""
from micropython import const

# Only what this module needs, folded at compile time (see coap.const for all names).
CON = const(0)
NON = const(1)
ACK = const(2)
RST = const(3)
_EMPTY = const(0)
_CONTENT_FORMAT = const(12)
_URI_PATH = const(11)


class CoapFormatError(ValueError):
    """A datagram that is not a well-formed CoAP message (RFC 7252 4.2/4.3 'format error')."""


def code_str(code):
    """0x45 -> '2.05'."""
    return "%d.%02d" % (code >> 5, code & 31)


def uint_bytes(v):
    """Minimal big-endian encoding of an unsigned option value (0 -> b'')."""
    n = 0
    t = v
    while t:
        n += 1
        t >>= 8
    return v.to_bytes(n, "big")


def bytes_uint(b):
    return int.from_bytes(b, "big") if b else 0


class Message:
    """One CoAP message. `options` is a list of (number, bytes) in ascending number order;
    repeated options keep the order they were added in."""

    def __init__(self, mtype=CON, code=_EMPTY, mid=0, token=b"", options=None, payload=b""):
        self.mtype = mtype
        self.code = code
        self.mid = mid
        self.token = token
        self.options = options if options is not None else []
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
        for n, v in self.options:
            if n == num:
                return v
        return default

    def opts(self, num):
        return [v for n, v in self.options if n == num]

    def uint(self, num, default=None):
        v = self.opt(num)
        return default if v is None else bytes_uint(v)

    def path(self):
        """Uri-Path segments as a list of str."""
        return [v.decode() for n, v in self.options if n == _URI_PATH]

    def set_path(self, path):
        """Add Uri-Path options from 'a/b/c' or a list of segments."""
        if isinstance(path, str):
            path = [p for p in path.split("/") if p]
        for p in path:
            self.add(_URI_PATH, p)
        return self

    @property
    def content_format(self):
        return self.uint(_CONTENT_FORMAT)

    def is_request(self):
        return 1 <= self.code <= 31

    def is_response(self):
        return self.code >= 64

    def __repr__(self):
        return "<%s %s mid=%d tok=%s opts=%r len=%d>" % (
            ("CON", "NON", "ACK", "RST")[self.mtype], code_str(self.code), self.mid,
            self.token.hex() if self.token else "-", self.options, len(self.payload))


def _ext(buf, i, v):
    # Write the extended part of a delta or length >= 13 (RFC 7252 3.1); return next index.
    if v < 269:
        buf[i] = v - 13
        return i + 1
    v -= 269
    buf[i] = v >> 8
    buf[i + 1] = v & 0xFF
    return i + 2


def encoded_size(msg):
    n = 4 + len(msg.token)
    for _, v in msg.options:
        n += 5 + len(v)
    if msg.payload:
        n += 1 + len(msg.payload)
    return n


def encode_into(msg, buf):
    """Write msg into buf (bytearray large enough, see encoded_size); return the length."""
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
    last = 0
    for num, val in msg.options:
        d = num - last
        last = num
        ln = len(val)
        if d < 13 and ln < 13:          # the common case: one header byte
            buf[i] = d << 4 | ln
            i += 1
        else:
            h = i
            i += 1
            dn = d if d < 13 else (13 if d < 269 else 14)
            lnn = ln if ln < 13 else (13 if ln < 269 else 14)
            buf[h] = dn << 4 | lnn
            if dn > 12:
                i = _ext(buf, i, d)
            if lnn > 12:
                i = _ext(buf, i, ln)
        buf[i:i + ln] = val
        i += ln
    p = msg.payload
    if p:
        buf[i] = 0xFF
        i += 1
        buf[i:i + len(p)] = p
        i += len(p)
    return i


_scratch = bytearray(1280)   # encode() writes here first: one allocation per message


def encode(msg):
    """msg -> bytes (one allocation for a message up to 1280 octets)."""
    if encoded_size(msg) > len(_scratch):
        buf = bytearray(encoded_size(msg))
        return bytes(memoryview(buf)[:encode_into(msg, buf)])
    return bytes(memoryview(_scratch)[:encode_into(msg, _scratch)])


def _big(data, v, i, n):
    # Extended delta/length (13: one more byte, 14: two more bytes).
    if v == 13:
        if i >= n:
            raise CoapFormatError("truncated option")
        return data[i] + 13, i + 1
    if i + 1 >= n:
        raise CoapFormatError("truncated option")
    return (data[i] << 8 | data[i + 1]) + 269, i + 2


def decode(data):
    """Parse one datagram (bytes, bytearray or memoryview) into a Message."""
    n = len(data)
    if n < 4:
        raise CoapFormatError("shorter than header")
    b0 = data[0]
    if b0 >> 6 != 1:
        raise CoapFormatError("version")
    tkl = b0 & 15
    if tkl > 8:
        raise CoapFormatError("token length")
    code = data[1]
    i = 4 + tkl
    if i > n:
        raise CoapFormatError("truncated token")
    if code == 0 and n != 4:
        raise CoapFormatError("empty message with content")
    msg = Message(b0 >> 4 & 3, code, data[2] << 8 | data[3], bytes(data[4:i]), [], b"")
    opts = msg.options
    num = 0
    while i < n:
        b = data[i]
        i += 1
        if b == 0xFF:
            if i == n:
                raise CoapFormatError("payload marker without payload")
            msg.payload = bytes(data[i:])
            break
        d = b >> 4
        ln = b & 15
        if d > 12 or ln > 12:
            if d == 15 or ln == 15:
                raise CoapFormatError("reserved nibble 15")
            if d > 12:
                d, i = _big(data, d, i, n)
            if ln > 12:
                ln, i = _big(data, ln, i, n)
        num += d
        if i + ln > n:
            raise CoapFormatError("truncated option value")
        opts.append((num, bytes(data[i:i + ln])))
        i += ln
    return msg
