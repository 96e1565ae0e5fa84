"""Levelled logging for the firmware (MicroPython has no `logging` module).

    from msgin5g import log
    log.info("reg: registered as %s", ue_id)
    log.debug("coap: tx %d bytes", n)    # costs one call and one compare when off

A line is `<ticks_ms> <letter> <message>`, e.g. `12034 I reg: registered as cue-1`. Formatting
happens only when the level is enabled. Secrets never reach a line: a dict (or list) argument is
logged through redact(), whose rule masks the value of every key whose name contains one of
_SECRET_WORDS (password, psk, key, secret, token, ...) as `***`; a str argument gets the same
rule for `name=value` and `"name": value` pairs.

The sink is a callable taking one str (default: print). Tests capture with
`log.set_sink(lines.append)`; at the REPL `log.log('debug')` changes the level.
"""
import time

DEBUG = 10
INFO = 20
WARN = 30
ERROR = 40
OFF = 50

_NAMES = {"debug": 10, "info": 20, "warn": 30, "warning": 30, "error": 40, "off": 50,
          "none": 50}
_LETTERS = {10: "D", 20: "I", 30: "W", 40: "E"}
# Key names containing one of these (case-insensitive) hold secrets.
_SECRET_WORDS = ("pass", "psk", "key", "secret", "token")
MASK = "***"

_level = INFO
_sink = None  # None: print


def set_level(level):
    """Set the threshold from a name ('debug', 'info', 'warn', 'error', 'off') or an int.

    Returns the previous level (an int). Raises ValueError on an unknown name."""
    global _level
    if isinstance(level, str):
        n = _NAMES.get(level.lower())
        if n is None:
            raise ValueError("log level " + level)
        level = n
    prev = _level
    _level = int(level)
    return prev


def get_level():
    return _level


def level_name(level=None):
    lv = _level if level is None else level
    for name in ("debug", "info", "warn", "error", "off"):
        if _NAMES[name] == lv:
            return name
    return str(lv)


def enabled(level):
    return level >= _level


def set_sink(fn):
    """Send lines to fn(line) instead of print; None restores print. Returns the old sink."""
    global _sink
    prev = _sink
    _sink = fn
    return prev


def log(level=None):
    """REPL helper: `log('debug')` sets the level; `log()` shows it. Returns the level name."""
    if level is not None:
        set_level(level)
    return level_name()


def debug(fmt, *args):
    if _level <= DEBUG:
        _emit(DEBUG, fmt, args)


def info(fmt, *args):
    if _level <= INFO:
        _emit(INFO, fmt, args)


def warn(fmt, *args):
    if _level <= WARN:
        _emit(WARN, fmt, args)


warning = warn


def error(fmt, *args):
    if _level <= ERROR:
        _emit(ERROR, fmt, args)


def exception(e, fmt, *args):
    """Log fmt at ERROR followed by the exception and, where available, its traceback."""
    if _level > ERROR:
        return
    _emit(ERROR, fmt + ": %s: %s", args + (type(e).__name__, e))
    tb = _traceback(e)
    if tb:
        for line in tb.split("\n"):
            if line:
                _write("  " + line)


def _traceback(e):
    try:
        import io
        import sys
        buf = io.StringIO()
        sys.print_exception(e, buf)  # MicroPython
        return buf.getvalue()
    except (AttributeError, ImportError):
        try:
            import traceback  # CPython
            return "".join(traceback.format_exception(type(e), e, e.__traceback__))
        except ImportError:
            return ""


def _emit(level, fmt, args):
    if args:
        args = tuple(_safe(a) for a in args)
        try:
            msg = fmt % args
        except (TypeError, ValueError):
            msg = fmt + " " + repr(args)
    else:
        msg = fmt
    _write("%d %s %s" % (time.ticks_ms(), _LETTERS.get(level, "?"), msg))


def _write(line):
    if _sink is None:
        print(line)
    else:
        _sink(line)


def _safe(a):
    if isinstance(a, (dict, list, tuple, str)):
        return redact(a)
    return a


def is_secret_key(name):
    low = name.lower()
    for w in _SECRET_WORDS:
        if w in low:
            return True
    return False


def redact(obj):
    """A copy of obj with secret values masked as '***'.

    dict: the value of each key named like a secret (is_secret_key) is masked; other values
    are redacted recursively. list/tuple: each item is redacted. str: values of `name=value`,
    `name: value` and `"name": "value"` pairs with a secret-like name are masked. Anything
    else is returned unchanged."""
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            out[k] = MASK if isinstance(k, str) and is_secret_key(k) else redact(v)
        return out
    if isinstance(obj, list):
        return [redact(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(redact(v) for v in obj)
    if isinstance(obj, str):
        return _redact_str(obj)
    return obj


def _is_name_char(c):
    return c.isalpha() or c.isdigit() or c in "_-"


def _find_secret(low, pos):
    best = -1
    blen = 0
    for w in _SECRET_WORDS:
        k = low.find(w, pos)
        if k >= 0 and (best < 0 or k < best):
            best = k
            blen = len(w)
    return best, blen


def _redact_str(s):
    low = s.lower()
    j, wl = _find_secret(low, 0)
    if j < 0:
        return s  # the common case: no copy
    n = len(s)
    out = []
    i = 0
    while j >= 0:
        e = j + wl
        while e < n and _is_name_char(s[e]):
            e += 1
        k = e
        if k < n and s[k] in "\"'":
            k += 1
        while k < n and s[k] == " ":
            k += 1
        if k < n and s[k] in ":=":
            k += 1
            while k < n and s[k] == " ":
                k += 1
            if k < n and s[k] in "\"'":
                v0 = k + 1
                v1 = s.find(s[k], v0)
                if v1 < 0:
                    v1 = n
            else:
                v0 = v1 = k
                while v1 < n and s[v1] not in ",;&}] \t\r\n":
                    v1 += 1
            out.append(s[i:v0])
            out.append(MASK)
            i = e = v1
        j, wl = _find_secret(low, e)
    out.append(s[i:])
    return "".join(out)
