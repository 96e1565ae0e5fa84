"""PSM and eDRX timer codings (MODEM.md 3.1, 3.3): 8-bit strings "uuuvvvvv", 4-bit eDRX values."""

# Requested_Periodic-TAU = T3412 extended (GPRS Timer 3): unit bits 8-6 -> seconds (None: off).
TAU_UNITS = (600, 3600, 36000, 2, 30, 60, 1152000, None)
# Requested_Active-Time = T3324 (GPRS Timer 2): 000 2 s, 001 1 min, 010 decihours, 111 deactivated,
# any other unit is read as 1 min (MODEM.md 3.1).
ACTIVE_UNITS = (2, 60, 360, 60, 60, 60, 60, None)
# eDRX cycle by the 4 value bits, as SIMCom's table prints it (MODEM.md 3.3).
EDRX_CYCLES = (5.12, 10.24, 20.48, 40.96, 61.44, 81.92, 102.4, 122.88,
               143.36, 163.84, 327.68, 655.36, 1310.72, 2621.44, 5242.88, 10485.76)


def is_bits(s, n):
    return isinstance(s, str) and len(s) == n and all(c in "01" for c in s)


def _decode(bits, units):
    if not is_bits(bits, 8):
        raise ValueError("timer must be 8 bits: %r" % (bits,))
    unit = units[int(bits[:3], 2)]
    return None if unit is None else unit * int(bits[3:], 2)


def tau_seconds(bits):
    """Periodic-TAU (T3412 ext) string -> seconds, None when deactivated."""
    return _decode(bits, TAU_UNITS)


def active_seconds(bits):
    """Active-Time (T3324) string -> seconds, None when deactivated."""
    return _decode(bits, ACTIVE_UNITS)


def edrx_seconds(bits):
    if not is_bits(bits, 4):
        raise ValueError("eDRX value must be 4 bits: %r" % (bits,))
    return EDRX_CYCLES[int(bits, 2)]
