"""Board layer: pick the hardware definition and share what boards have in common.

    import board
    b = board.detect()          # from sys.platform / sys.implementation._machine
    b = board.detect("rp2040")  # or by name: one of NAMES
    b = board.detect(None, {"led": 7})   # with pins that differ from the dev board's
    b.status("connecting")      # LED pattern, driven by b.tick(now) or the task b.led_task()

Definitions live in board_<name>.py; `machine`, `network` and friends are imported inside
methods so every definition imports on the unix port and on CPython (tests inject fakes).
`SAFE` is set by boot.py when the safe-mode button is held at boot (see docs/boards.md).
"""
import sys
import time

SAFE = False  # boot.py: True when the user held the button (or /safemode exists) at boot

NAMES = ("esp32", "esp32s3", "esp32c3", "esp32c6", "rp2040", "rp2350", "unix")
# sys.implementation._machine is "<board> with <MCU>" on the esp32 and rp2 ports; the MCU
# decides. Not listed (refused): ESP32-S2/C2/C5/H2/P4, the RP2350's RISC-V build "RP2350-RISCV".
_MCUS = {"ESP32": "esp32", "ESP32S3": "esp32s3", "ESP32C3": "esp32c3", "ESP32C6": "esp32c6",
         "RP2040": "rp2040", "RP2350": "rp2350"}
PINS = ("led", "button", "sensor")   # pins detect() can override: Board.<key>_pin
_cache = {}


def board_name(platform=None, machine=None):
    """The board name for a sys.platform / sys.implementation._machine pair (defaults: ours)."""
    if platform is None:
        platform = sys.platform
    if machine is None:
        machine = getattr(sys.implementation, "_machine", "")
    if platform not in ("esp32", "rp2"):
        return "unix"  # linux, darwin, win32: the unix port or CPython
    mcu = machine.upper().split(" WITH ")[-1].strip()
    if not mcu:  # firmware without _machine: the first chip of the port
        mcu = "ESP32" if platform == "esp32" else "RP2040"
    name = _MCUS.get(mcu)
    if name is None:
        raise ValueError("unsupported board: " + machine)
    return name


def detect(name=None, pins=None):
    """Return the Board for `name` (or the detected one); the same object on every call.
    pins: {"led": .., "button": .., "sensor": ..} replaces the definition's pin numbers (for a
    board whose pins differ from the dev board's), before the pin is first used."""
    if name is None:
        name = board_name()
    b = _cache.get(name)
    if b is None:
        if name not in NAMES:
            raise ValueError("unknown board: %s" % name)
        b = __import__("board_" + name).Board()
        _cache[name] = b
    for k in pins or ():
        if k not in PINS:
            raise ValueError("board pin %r: not one of %s" % (k, ", ".join(PINS)))
        setattr(b, k + "_pin", pins[k])
    return b


# LED patterns: durations in ms, alternately on and off, starting with on.
# () = always off, (1,) = always on.
PATTERNS = {
    "off": (),
    "connecting": (500, 500),   # slow blink: joining Wi-Fi or registering
    "registered": (50, 2950),   # heartbeat: registered, all well
    "error": (100, 100),        # fast blink: registration refused / fatal error
    "safe": (1,),               # steady: safe mode, application not started
}
_IDLE_MS = 1000


class SoftWDT:
    """Watchdog stand-in where the hardware has none (unix): counts feeds, never resets."""

    def __init__(self, timeout_ms):
        self.timeout_ms = timeout_ms
        self.feeds = 0
        self.last = time.ticks_ms()

    def feed(self):
        self.feeds += 1
        self.last = time.ticks_ms()

    def expired(self, now):
        return time.ticks_diff(now, self.last) > self.timeout_ms


class Board:
    """Common part of every board; board_<name>.Board overrides the hardware bits."""

    name = "generic"
    arch = None          # mpy-cross -march value, None = plain bytecode
    chip = None          # esptool --chip value, None = not an ESP
    flash_offset = None  # where the MicroPython image goes in flash (esptool write-flash)
    uf2_drive = None     # label of the UF2 boot drive, None = not flashed by UF2 copy
    led_pin = None
    button_pin = None
    sensor_unit = "C"
    wdt_max_ms = None    # hardware limit of the watchdog timeout, if any

    def __init__(self):
        self.state = None    # no pattern yet
        self.led_on = None   # unknown until the first write
        self._pattern = ()
        self._t0 = 0
        self._led = None     # the LED driver, made on first use (machine is imported lazily)
        self._adc = None

    def __repr__(self):
        return "<Board %s>" % self.name

    # --- LED -------------------------------------------------------------------------
    def status(self, state, now=None):
        """Show `state` ('connecting', 'registered', 'error', 'safe', 'off') on the LED."""
        p = PATTERNS.get(state)
        if p is None:
            raise ValueError("LED state " + str(state))
        if state == self.state:
            return  # keep the phase of a running pattern
        self.state = state
        self._pattern = p
        self._t0 = time.ticks_ms() if now is None else now
        self.tick(self._t0)

    def tick(self, now):
        """Drive the LED for time `now` (ticks ms); returns ms until the next change."""
        p = self._pattern
        if len(p) < 2:
            on = len(p) == 1
            nxt = _IDLE_MS
        else:
            period = 0
            for d in p:
                period += d
            pos = time.ticks_diff(now, self._t0) % period
            i = 0
            while pos >= p[i]:
                pos -= p[i]
                i += 1
            on = not (i & 1)
            nxt = p[i] - pos
        if on != self.led_on:
            self.led_on = on
            self._led_write(on)
        return nxt

    async def led_task(self, max_sleep_ms=100):
        """Run the LED pattern forever (a status change shows within max_sleep_ms)."""
        import asyncio
        while True:
            d = self.tick(time.ticks_ms())
            await asyncio.sleep_ms(d if d < max_sleep_ms else max_sleep_ms)

    def _led_write(self, on):
        # A plain GPIO LED on led_pin (boards with an RGB LED override this).
        if self.led_pin is None:
            return
        if self._led is None:
            from machine import Pin
            self._led = Pin(self.led_pin, Pin.OUT)
        self._led.value(1 if on else 0)

    # --- inputs --------------------------------------------------------------------------
    def button_held(self):
        return False

    def read_sensor(self):
        raise NotImplementedError

    # --- system --------------------------------------------------------------------------
    def watchdog(self, timeout_ms):
        """Start the hardware watchdog; returns an object with feed(). Cannot be stopped."""
        from machine import WDT
        if self.wdt_max_ms and timeout_ms > self.wdt_max_ms:
            timeout_ms = self.wdt_max_ms
        return WDT(timeout=timeout_ms)

    def deepsleep(self, ms):
        import machine
        machine.deepsleep(ms)

    def rtc_memory(self):
        """An object with memory([data]) that keeps a few hundred octets through deep sleep
        (machine.RTC on ESP32), or None: the sleep record then goes to a file."""
        return None

    def woke_from_deepsleep(self):
        """True after a wake from deep sleep, False after power-on or another reset, None
        where the port cannot tell (the sleep record alone decides)."""
        import machine
        c = getattr(machine, "DEEPSLEEP_RESET", None)
        return None if c is None else machine.reset_cause() == c

    def reset(self):
        import machine
        machine.reset()

    def wlan(self):
        """The station interface (network.WLAN(STA_IF)), or None without Wi-Fi."""
        import network
        return network.WLAN(network.STA_IF)

    def unique_id(self):
        """The chip's unique ID as lowercase hex."""
        import binascii
        import machine
        return binascii.hexlify(machine.unique_id()).decode()
