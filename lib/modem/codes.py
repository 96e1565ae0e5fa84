"""Pure functions over the 3GPP codings in AT responses and commands: +CSQ/+CESQ to dBm, +CEREG,
PSM and eDRX timer codings, +CME ERROR texts (MODEM.md 2.1-2.2, 3.1, 3.3). The fields of a
line: modem.fields.

No I/O and no state: the link and the tests call them with strings and numbers. A running
link needs them only for rare events (a +CEREG or +CEDRXP URC, an error's text): modem.link
imports this module on demand and forgets it once the link is up (forget_rare()).
"""
from modem.fields import after, fields, to_int

# T3412 extended (GPRS Timer 3, Requested_Periodic-TAU): seconds per unit, index = bits 8-6;
# 0 = deactivated (111) [MODEM.md 3.1, NRF-LC psm.c].
_TAU = (600, 3600, 36000, 2, 30, 60, 1152000, 0)
# T3324 (GPRS Timer 2, Requested_Active-Time): 000 2 s, 001 1 min, 010 6 min, 111 off; any
# other unit is read as 1 min [MODEM.md 3.1].
_ACT = (2, 60, 360, 60, 60, 60, 60, 0)
# eDRX cycle lengths in ms by the 4-bit value, SIMCom's table [MODEM.md 3.3].
_EDRX_MS = (5120, 10240, 20480, 40960, 61440, 81920, 102400, 122880,
            143360, 163840, 327680, 655360, 1310720, 2621440, 5242880, 10485760)


def csq_dbm(rssi):
    """+CSQ <rssi> to dBm: 0 = <= -113, 1..30 = -113 + 2 rssi, 31 = >= -51, 99 = unknown."""
    if rssi is None or rssi < 0 or rssi > 31:
        return None
    return -113 + 2 * rssi


def rsrp_dbm(rsrp):
    """+CESQ <rsrp> to dBm: 0 = < -140, 1..96 one dB each (about rsrp - 141), 97 = >= -44;
    255 unknown."""
    if rsrp is None or rsrp < 0 or rsrp > 97:
        return None
    return rsrp - 141


def cereg(line, read=False):
    """(stat, AcT, Active-Time string, Periodic-TAU string) from a +CEREG line. read=True for
    the answer to AT+CEREG? (it has <n>, in front). Fields are read by position with empty
    commas kept, so SIMCom's unpadded ci and missing cause fields parse too [MODEM.md 2.1]."""
    f = fields(line, after(line))
    if read:
        f = f[1:]
    g = f + [""] * (8 - len(f))
    return to_int(g[0]), to_int(g[3]), g[6] or None, g[7] or None


def timer_bits(seconds, units):
    """The 8-bit string for seconds in a GPRS timer with this unit table. The largest unit
    that gives the value exactly (1 h -> '00100001', MODEM.md's worked examples); when none is
    exact, the smallest unit that reaches at least seconds. Too long: the largest value."""
    if seconds <= 0:
        return "00000000"       # Active-Time 0: PSM right after the RRC release
    best = None
    for u in range(7):
        m = units[u]
        if m == 0 or u > 2 and units is _ACT:
            continue
        v = seconds // m
        if v * m == seconds and v <= 31 and (best is None or m > units[best[0]]):
            best = (u, v)
    if best is None:
        for m in sorted(x for x in units if x):
            v = -(-seconds // m)
            if v <= 31:
                best = (units.index(m), v)
                break
        else:
            m = max(units)
            best = (units.index(m), 31)
    u, v = best
    return "{:08b}".format(u << 5 | v)


def tau_bits(seconds):
    """Requested_Periodic-TAU (T3412 extended) for AT+CPSMS, e.g. 3600 -> '00100001'."""
    return timer_bits(seconds, _TAU)


def active_bits(seconds):
    """Requested_Active-Time (T3324) for AT+CPSMS, e.g. 10 -> '00000101'."""
    if seconds > 31 * 360:
        seconds = 31 * 360
    return timer_bits(seconds, _ACT)


def timer_seconds(bits, units):
    """Seconds coded by an 8-bit timer string, None when deactivated or unreadable."""
    if not bits or len(bits) != 8:
        return None
    try:
        b = int(bits, 2)
    except ValueError:
        return None
    m = units[b >> 5]
    return None if m == 0 else (b & 31) * m


def tau_seconds(bits):
    return timer_seconds(bits, _TAU)


def active_seconds(bits):
    return timer_seconds(bits, _ACT)


def edrx_bits(seconds):
    """The 4-bit eDRX value for AT+CEDRXS: the shortest cycle of at least seconds (the longest
    when over 10485.76 s), e.g. 20 -> '0010', 81.92 -> '0101'."""
    ms = int(seconds * 1000)
    for i in range(16):
        if _EDRX_MS[i] >= ms:
            break
    return "{:04b}".format(i)


def edrx_seconds(bits):
    """Cycle length in seconds (float) of a 4-bit eDRX value, None when unreadable."""
    try:
        return _EDRX_MS[int(bits, 2)] / 1000
    except (ValueError, IndexError, TypeError):
        return None


# TS 27.007 9.2 codes a bring-up meets, with their CMEE=2 text (errors name them).
_CME = ((3, "operation not allowed"), (4, "operation not supported"),
        (10, "SIM not inserted"), (11, "SIM PIN required"), (12, "SIM PUK required"),
        (13, "SIM failure"), (14, "SIM busy"), (15, "SIM wrong"), (30, "no network service"),
        (31, "network timeout"), (100, "unknown"))


def cme_text(err):
    """A readable text for a +CME ERROR value (int code or verbose text)."""
    if isinstance(err, int):
        for c, t in _CME:
            if c == err:
                return t
        return "error %d" % err
    return err or "ERROR"


def cme_is(err, code):
    """Whether a +CME ERROR value (numeric or verbose) is the 27.007 code."""
    if isinstance(err, int):
        return err == code
    if err is None:
        return False
    t = cme_text(code)
    return err.lower() == t.lower()
