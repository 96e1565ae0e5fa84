"""Message IDs (PC-05): 16 random octets in UUID version 4 layout.

JSON carries the canonical lowercase UUID text (36 chars, 8-4-4-4-12); the A.2 binary
coding carries the raw 16 octets. `to_bytes`/`from_bytes` convert between the two.
"""
import os
from binascii import hexlify, unhexlify


def from_bytes(b):
    """16 octets -> canonical lowercase UUID text. ValueError if not 16 octets."""
    if len(b) != 16:
        raise ValueError("message id: need 16 octets")
    h = hexlify(b).decode()
    return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]


def new_msg_id():
    """A fresh random Message ID (UUIDv4 text, PC-05)."""
    b = bytearray(os.urandom(16))
    b[6] = (b[6] & 0x0F) | 0x40  # version 4
    b[8] = (b[8] & 0x3F) | 0x80  # RFC 4122 variant
    return from_bytes(b)


def _hex32(s):
    # The 32 hex digits of UUID text, or None if the 8-4-4-4-12 layout is wrong.
    if not isinstance(s, str) or len(s) != 36:
        return None
    if s[8] != "-" or s[13] != "-" or s[18] != "-" or s[23] != "-":
        return None
    return s[:8] + s[9:13] + s[14:18] + s[19:23] + s[24:]


def is_msg_id(s):
    """True if s is canonical lowercase UUID text (any version)."""
    h = _hex32(s)
    if h is None or h != h.lower():
        return False
    try:
        return len(unhexlify(h)) == 16
    except ValueError:  # binascii.Error is a ValueError on CPython
        return False


def to_bytes(s):
    """UUID text (either case) -> 16 octets. ValueError if s is not UUID text."""
    h = _hex32(s)
    if h is not None:
        try:
            b = unhexlify(h)
            if len(b) == 16:
                return b
        except ValueError:
            pass
    raise ValueError("message id: not UUID text")
