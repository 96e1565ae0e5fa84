"""Fake `machine`, `network`, `rp2` and `neopixel` modules for board tests (CPython and the
unix port). install() puts them in sys.modules and returns the shared state `hw`;
uninstall() restores whatever was there before."""
import sys


class _HW:
    def reset(self):
        self.writes = []        # (pin id, value) written to output pins
        self.levels = {}        # pin id -> input level (default 1: pulled up, not pressed)
        self.adc_u16 = 0
        self.adc_uv = 0
        self.adc_src = []
        self.atten = None
        self.wdt = None
        self.slept = []
        self.bootsel = 0
        self.pixels = []        # colours written to the NeoPixel
        self.wlans = []


hw = _HW()
hw.reset()


class Pin:
    IN = 0
    OUT = 1
    PULL_UP = 2

    def __init__(self, pin_id, mode=-1, pull=-1):
        self.pin_id = pin_id
        self.mode = mode
        self.pull = pull

    def value(self, v=None):
        if v is None:
            return hw.levels.get(self.pin_id, 1)
        hw.writes.append((self.pin_id, v))


class ADC:
    ATTN_11DB = 3

    def __init__(self, src):
        hw.adc_src.append(src.pin_id if isinstance(src, Pin) else src)

    def atten(self, a):
        hw.atten = a

    def read_u16(self):
        return hw.adc_u16

    def read_uv(self):
        return hw.adc_uv


class WDT:
    def __init__(self, id=0, timeout=5000):
        self.timeout = timeout
        self.feeds = 0
        hw.wdt = self

    def feed(self):
        self.feeds += 1


class _Machine:
    pass


machine = _Machine()
machine.Pin = Pin
machine.ADC = ADC
machine.WDT = WDT
machine.deepsleep = lambda ms=0: hw.slept.append(ms)
machine.unique_id = lambda: b"\xde\xad\xbe\xef\x01\x02"
machine.reset = lambda: hw.slept.append("reset")


class WLAN:
    def __init__(self, interface):
        self.interface = interface
        hw.wlans.append(self)


network = _Machine()
network.STA_IF = 0
network.AP_IF = 1
network.WLAN = WLAN

rp2 = _Machine()
rp2.bootsel_button = lambda: hw.bootsel


class NeoPixel:
    def __init__(self, pin, n):
        self.pin = pin
        self.buf = [(0, 0, 0)] * n

    def __setitem__(self, i, c):
        self.buf[i] = c

    def write(self):
        hw.pixels.append((self.pin.pin_id, self.buf[0]))


neopixel = _Machine()
neopixel.NeoPixel = NeoPixel

_FAKES = {"machine": machine, "network": network, "rp2": rp2, "neopixel": neopixel}
_saved = {}


def install():
    hw.reset()
    for name, mod in _FAKES.items():
        if name not in _saved:
            _saved[name] = sys.modules.get(name)
        sys.modules[name] = mod
    return hw


def uninstall():
    for name, old in _saved.items():
        if old is None:
            sys.modules.pop(name, None)
        else:
            sys.modules[name] = old
    _saved.clear()
