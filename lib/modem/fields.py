"""The fields of an AT information line ("+NAME: a,"b",,c"): what the AT channel, the link,
the dialects and modem.codes parse lines with. A module of its own so that modem.codes (loaded
on demand) and modem.at (always loaded) need not import each other."""


def fields(line, start):
    """The comma-separated fields of line[start:], quotes removed ('' for an empty one)."""
    out = []
    for f in line[start:].split(","):
        f = f.strip()
        if len(f) >= 2 and f[0] == '"' and f[-1] == '"':
            f = f[1:-1]
        out.append(f)
    return out


def after(line):
    """Where the fields of an information line begin (after '+NAME: ')."""
    i = line.find(":")
    return 0 if i < 0 else i + 1


def to_int(s, default=None):
    try:
        return int(s)
    except ValueError:
        return default


def listed(lines, sid, col, value):
    """A socket-state answer (+CASTATE, +QISTATE) lists socket `sid` with `value` in field
    `col` (the socket still open after the MCU's deep sleep)."""
    for ln in lines:
        f = fields(ln, 10)
        if to_int(f[0], -1) == sid and len(f) > col and f[col] == value:
            return True
    return False
