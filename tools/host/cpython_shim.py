"""CPython shim: gives CPython the few MicroPython APIs that lib/ uses.

lib/ is written for MicroPython. Host code (pytest, tools, the reference server when it
imports lib/) calls install() once before importing anything from lib/. Nothing in lib/
imports this module.

Ticks wrap at 2**30 here, as on ESP32/RP2040, so host tests exercise tick arithmetic the
way boards do (the unix port wraps at 2**62 and would hide wrap bugs).
"""
import asyncio
import sys
import time
import types

TICKS_PERIOD = 1 << 30
_TICKS_HALF = TICKS_PERIOD // 2
_MASK = TICKS_PERIOD - 1
# Start near the wrap point so that long test runs cross it.
_T0 = time.monotonic_ns() - (TICKS_PERIOD - 5000) * 1000000


def ticks_ms():
    return ((time.monotonic_ns() - _T0) // 1000000) & _MASK


def ticks_us():
    return ((time.monotonic_ns() - _T0) // 1000) & _MASK


def ticks_add(t, delta):
    return (t + delta) & _MASK


def ticks_diff(a, b):
    return ((a - b + _TICKS_HALF) & _MASK) - _TICKS_HALF


def sleep_ms(ms):
    time.sleep(ms / 1000)


def sleep_us(us):
    time.sleep(us / 1000000)


async def _asleep_ms(ms):
    await asyncio.sleep(ms / 1000)


def _const(x):
    return x


def _identity(f):
    return f


def install():
    if "micropython" not in sys.modules:
        m = types.ModuleType("micropython")
        m.const = _const
        m.native = _identity
        m.viper = _identity
        m.mem_info = lambda *a: None
        m.alloc_emergency_exception_buf = lambda n: None
        m.schedule = lambda f, a: f(a)
        sys.modules["micropython"] = m
    for name, fn in (("ticks_ms", ticks_ms), ("ticks_us", ticks_us), ("ticks_cpu", ticks_us),
                     ("ticks_add", ticks_add), ("ticks_diff", ticks_diff),
                     ("sleep_ms", sleep_ms), ("sleep_us", sleep_us)):
        if not hasattr(time, name):
            setattr(time, name, fn)
    if not hasattr(asyncio, "sleep_ms"):
        asyncio.sleep_ms = _asleep_ms
    if not hasattr(asyncio, "wait_for_ms"):
        asyncio.wait_for_ms = _wait_for_ms


async def _wait_for_ms(aw, ms):
    return await asyncio.wait_for(aw, ms / 1000)

