"""Registration state and back-off policy of the MSGin5G Client (PROTOCOL.md 4.3-4.4).

Pure: the client feeds CoAP outcomes in, reads the next action and the time it is due.
"""
import os

from micropython import const

# States (4.4)
CONFIGURED = "CONFIGURED"
REGISTERING = "REGISTERING"
REGISTERED = "REGISTERED"
BACKOFF = "BACKOFF"
REG_FAILED = "REG_FAILED"
REG_FORBIDDEN = "REG_FORBIDDEN"
DEREGISTERING = "DEREGISTERING"
DEREGISTERED = "DEREGISTERED"

_SERVICE_UNAVAILABLE = const(0xA3)


def jitter(ms, pct=20):
    """ms +/- pct % (PC-15 back-off jitter)."""
    r = os.urandom(1)[0] / 255  # 0..1
    return int(ms * (1 + pct * (2 * r - 1) / 100))


class Backoff:
    """Exponential back-off: first, doubling, capped (PC-15: 30 s .. 3600 s, +/-20 %)."""

    def __init__(self, first_ms=30000, cap_ms=3600000):
        self.first = first_ms
        self.cap = cap_ms
        self.n = 0

    def next(self):
        d = min(self.first << min(self.n, 16), self.cap)
        self.n += 1
        return jitter(d)

    def reset(self):
        self.n = 0


def reg_outcome(code, error):
    """PC-15 reaction to a REG answer -> (new state, action).

    action: None | 'retry' (back-off) | 'retry_small' (drop clientProfile, once) |
    'retry_after' (Max-Age) | 'stop'.
    """
    if error:
        return BACKOFF, "retry"            # CoAP timeout / reset: transient
    if code < 0x80:
        return REGISTERED, None            # 2.01, 2.04, and any other 2.xx (logged)
    if code == 0x80:
        return REG_FAILED, "stop"          # 4.00: do not retry the same body
    if code in (0x81, 0x83):
        return REG_FORBIDDEN, "stop"       # 4.01/4.03: not authorized
    if code in (0x8D, 0x8F):
        return BACKOFF, "retry_small"      # 4.13/4.15: drop optional members, retry once
    if code == _SERVICE_UNAVAILABLE:
        return BACKOFF, "retry_after"      # 5.03: Max-Age
    return BACKOFF, "retry"                # 4.04 and other 4.xx/5.xx
