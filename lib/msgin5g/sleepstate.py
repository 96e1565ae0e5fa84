"""What a duty-cycled device keeps across deep sleep: one compact, CRC-checked record.

A device with `deepSleep` does not de-register before sleeping (issue 13): on wake it sends at
once under the registration it made earlier. What it needs for that lives in one record,
kept in RTC memory where the port has it (ESP32 `machine.RTC().memory()`, survives deep
sleep, lost on power loss), else in a small file (`stateFile`) rewritten only when the record
changed. The outbound journal (`journal`) stays a file of its own.

    st = State()                  # or decode(data): a State, or None for anything not valid
    st.registered = True
    data = encode(st)             # bytes, byte-exact on both interpreters
    store = open_store(board, "/config.state")
    st = store.load()             # None: no record, torn or corrupt -> normal registration
    store.save(st)                # writes only when the bytes differ from the last ones

Record (big-endian), version 2 (version 1, without regId, reads as no record: one REG):

    0   2  magic "S5"
    2   1  version (2)
    3   1  flags: 1 = registered
    4   4  clock: the device's own time line in seconds when the next boot starts (the
           scheduled wake); it survives sleep on boards whose clock does not
    8   4  regAt: time-line second of the last successful registration
    12  2  port: local UDP port to bind again (0 = any)
    14  4  app: the application's counter (the sensor: readings taken)
    18  4  regId: the Registration ID a Gateway UE gave a constrained UE (role cue, PC-06),
           0 = none (an MSGin5G Client has none: the server knows it by its UE Service ID)
    22  1  s: remembered msgIds (PC-26), then s x (a u32, b u32, age u16 s): msgIds as
           ring.Seen holds them (two 30-bit parts of their SHA-256) and how old they were
    .   1  r: messages awaiting a delivery report, then r x (msgId, dest) as short strings
    .   1  m: modem state length, then m octets (opaque, for lib/modem: socket, PSM timers)
    .   4  CRC-32 over everything before

A short string is its length (1 octet, < 255) and UTF-8, or 0xFF and the 16 octets of a
canonical lowercase UUID (PC-05): a msgId costs 17 octets, not 37.
"""
from binascii import crc32, hexlify, unhexlify

from micropython import const

_MAGIC = b"S5"
_VERSION = const(2)
_HDR = const(22)
MAX_SEEN = const(32)
MAX_REPORTS = const(4)
_REGISTERED = const(1)


class State:
    def __init__(self):
        self.registered = False
        self.clock = 0
        self.reg_at = 0
        self.port = 0
        self.app = 0
        self.reg_id = 0
        self.seen = []          # [(a, b, age_s)]
        self.reports = []       # [(msgId, dest)]
        self.modem = b""


def _u(b, o, n):
    return int.from_bytes(b[o:o + n], "big")


def _put(out, v, n):
    out.extend(v.to_bytes(n, "big"))


def _str(out, s):
    if len(s) == 36 and s[8] == s[13] == s[18] == s[23] == "-" and s == s.lower():
        try:
            raw = unhexlify(s.replace("-", ""))
        except ValueError:
            raw = None
        if raw is not None:
            out.append(0xFF)
            out.extend(raw)
            return
    b = s.encode()
    if len(b) >= 255:
        raise ValueError("sleepstate: string too long")
    out.append(len(b))
    out.extend(b)


def _get_str(b, o):
    n = b[o]
    if n == 0xFF:
        h = hexlify(b[o + 1:o + 17]).decode()
        if len(h) != 32:
            raise ValueError
        return "%s-%s-%s-%s-%s" % (h[:8], h[8:12], h[12:16], h[16:20], h[20:]), o + 17
    if o + 1 + n > len(b):
        raise ValueError
    return str(b[o + 1:o + 1 + n], "utf-8"), o + 1 + n


def encode(st):
    """The record of State st (bytes). At most MAX_SEEN msgIds and MAX_REPORTS reports (the
    newest: the last ones of each list) are kept."""
    out = bytearray(_MAGIC)
    out.append(_VERSION)
    out.append(_REGISTERED if st.registered else 0)
    _put(out, st.clock & 0xFFFFFFFF, 4)
    _put(out, st.reg_at & 0xFFFFFFFF, 4)
    _put(out, st.port & 0xFFFF, 2)
    _put(out, st.app & 0xFFFFFFFF, 4)
    _put(out, st.reg_id & 0xFFFFFFFF, 4)
    seen = st.seen[-MAX_SEEN:]
    out.append(len(seen))
    for a, b, age in seen:
        _put(out, a, 4)
        _put(out, b, 4)
        _put(out, min(max(age, 0), 0xFFFF), 2)
    reps = st.reports[-MAX_REPORTS:]
    out.append(len(reps))
    for mid, dest in reps:
        _str(out, mid)
        _str(out, dest)
    m = st.modem or b""
    if len(m) > 255:
        raise ValueError("sleepstate: modem state over 255 octets")
    out.append(len(m))
    out.extend(m)
    _put(out, crc32(out) & 0xFFFFFFFF, 4)
    return bytes(out)


def decode(data):
    """The State in data, or None when it is not a whole, valid version-2 record (never
    raises: a torn or corrupt record means a normal registration, not a crash)."""
    try:
        return _decode(data)
    except (ValueError, IndexError, TypeError, UnicodeError):
        return None


def _decode(b):
    n = len(b)
    if n < _HDR + 7 or b[:2] != _MAGIC or b[2] != _VERSION:
        return None
    if crc32(memoryview(b)[:n - 4]) & 0xFFFFFFFF != _u(b, n - 4, 4):
        return None
    st = State()
    st.registered = bool(b[3] & _REGISTERED)
    st.clock = _u(b, 4, 4)
    st.reg_at = _u(b, 8, 4)
    st.port = _u(b, 12, 2)
    st.app = _u(b, 14, 4)
    st.reg_id = _u(b, 18, 4)
    o = _HDR + 1
    for _ in range(b[_HDR]):
        st.seen.append((_u(b, o, 4), _u(b, o + 4, 4), _u(b, o + 8, 2)))
        o += 10
    k = b[o]
    o += 1
    for _ in range(k):
        mid, o = _get_str(b, o)
        dest, o = _get_str(b, o)
        st.reports.append((mid, dest))
    k = b[o]
    st.modem = bytes(b[o + 1:o + 1 + k])
    if o + 1 + k != n - 4:
        return None          # the lengths do not add up to the record
    return st


class RtcStore:
    """The record in RTC memory (ESP32: machine.RTC().memory(), 2 KB, kept in deep sleep)."""

    def __init__(self, rtc):
        self.rtc = rtc
        self.last = None
        self.writes = 0

    def load(self):
        self.last = bytes(self.rtc.memory())
        return decode(self.last)

    def save(self, st):
        data = encode(st)
        if data != self.last:
            self.rtc.memory(data)
            self.last = data
            self.writes += 1
        return data


class FileStore:
    """The record in a small file, written only when it changed, through `<path>.tmp` and a
    rename: a power cut mid-write leaves the previous record (or none), never half of one."""

    def __init__(self, path):
        self.path = path
        self.last = None
        self.writes = 0

    def load(self):
        try:
            with open(self.path, "rb") as f:
                self.last = f.read(1024)
        except OSError:
            return None
        return decode(self.last)

    def save(self, st):
        data = encode(st)
        if data != self.last:
            import os
            tmp = self.path + ".tmp"
            with open(tmp, "wb") as f:
                f.write(data)
            os.rename(tmp, self.path)
            self.last = data
            self.writes += 1
        return data


def open_store(board, path):
    """RtcStore where the board has RTC memory (board.rtc_memory()), else FileStore(path)."""
    rtc = board.rtc_memory() if board is not None and hasattr(board, "rtc_memory") else None
    return RtcStore(rtc) if rtc is not None else FileStore(path)
