# heapsize: 96k
# board-heapsize: 30k   (unix32, library frozen; measured minimum 23k)
"""boards/: detection, per-board attributes, LED patterns, and every definition driven
through fake machine/network/rp2/neopixel modules."""
import boardpath  # noqa: F401  (boards/ on sys.path under CPython)
import board
import board_esp32
import board_esp32c3
import board_esp32c6
import board_esp32s3
import board_rp2040
import board_rp2350
import board_unix
import fakehw
from tinytest import raises


def test_board_name_from_platform_and_machine():
    cases = [
        ("esp32", "Generic ESP32 module with ESP32", "esp32"),
        ("esp32", "Generic ESP32 module with SPIRAM with ESP32", "esp32"),
        ("esp32", "Generic ESP32S3 module with ESP32S3", "esp32s3"),
        ("esp32", "ESP32S3 module with Octal-SPIRAM with ESP32S3", "esp32s3"),
        ("esp32", "ESP32C3 module with ESP32C3", "esp32c3"),
        ("esp32", "LOLIN_C3_MINI with ESP32C3", "esp32c3"),
        ("esp32", "ESP32C6 module with ESP32C6", "esp32c6"),
        ("esp32", "", "esp32"),
        ("rp2", "Raspberry Pi Pico W with RP2040", "rp2040"),
        ("rp2", "Raspberry Pi Pico 2 W with RP2350", "rp2350"),
        ("rp2", "Raspberry Pi Pico 2 with RP2350", "rp2350"),
        ("rp2", "", "rp2040"),
        ("linux", "linux [GCC 14.2.1] version", "unix"),
        ("darwin", "", "unix"),
    ]
    for platform, machine, want in cases:
        got = board.board_name(platform, machine)
        assert got == want, (platform, machine, got)
    for platform, machine in (("esp32", "ESP32S2 module with ESP32S2"),
                              ("esp32", "ESP32C2 module with ESP32C2"),
                              ("esp32", "ESP32C5 module with ESP32C5"),
                              ("esp32", "Generic ESP32P4 module with ESP32P4"),
                              ("rp2", "Raspberry Pi Pico 2 W with RP2350-RISCV")):
        e = raises(ValueError, board.board_name, platform, machine)
        assert str(e) == "unsupported board: " + machine, e


def test_detect_here_is_unix_and_cached():
    b = board.detect()
    assert b.name == "unix" and isinstance(b, board_unix.Board)
    assert board.detect() is b and board.detect("unix") is b
    e = board.detect("esp32s3")
    assert e.name == "esp32s3" and board.detect("esp32s3") is e
    raises(ValueError, board.detect, "esp8266")


def test_detect_pin_overrides():
    b = board.detect("esp32c6", {"led": 7, "button": 10})
    try:
        assert (b.led_pin, b.button_pin, b.sensor_pin) == (7, 10, 3)
        assert board_esp32c6.Board.led_pin == 8        # the class (other instances) unchanged
        assert board.detect("esp32c6") is b and b.led_pin == 7
        e = raises(ValueError, board.detect, "esp32c6", {"lde": 1})
        assert "'lde'" in str(e) and "led, button, sensor" in str(e)
    finally:
        board._cache.pop("esp32c6", None)


def test_static_attributes():
    want = {
        "esp32": ("xtensawin", 0x1000, "esp32", None),
        "esp32s3": ("xtensawin", 0x0, "esp32s3", None),
        "esp32c3": ("rv32imc", 0x0, "esp32c3", None),
        "esp32c6": ("rv32imc", 0x0, "esp32c6", None),
        "rp2040": ("armv6m", None, None, "RPI-RP2"),
        "rp2350": ("armv7emsp", None, None, "RP2350"),
        "unix": (None, None, None, None),
    }
    mods = {"esp32": board_esp32, "esp32s3": board_esp32s3, "esp32c3": board_esp32c3,
            "esp32c6": board_esp32c6, "rp2040": board_rp2040, "rp2350": board_rp2350,
            "unix": board_unix}
    assert sorted(board.NAMES) == sorted(want)
    for name in board.NAMES:
        b = mods[name].Board()
        assert b.name == name
        assert (b.arch, b.flash_offset, b.chip, b.uf2_drive) == want[name], name
    assert board_esp32.Board.led_pin == 2 and board_esp32.Board.button_pin == 0
    assert board_esp32s3.Board.led_pin == 48
    for c in (board_esp32c3, board_esp32c6):
        assert (c.Board.led_pin, c.Board.button_pin, c.Board.sensor_pin) == (8, 9, 3)
        assert c.Board.rgb_led
    for r in (board_rp2040, board_rp2350):
        assert (r.Board.led_pin, r.Board.button_pin) == ("LED", "BOOTSEL")


class Recorder(board_unix.Board):
    def __init__(self):
        board_unix.Board.__init__(self)
        self.changes = []

    def _led_write(self, on):
        self.changes.append(on)


def test_led_blink_pattern_phases():
    b = Recorder()
    b.status("connecting", now=1000)
    assert b.changes == [True] and b.led_on
    assert b.tick(1499) == 1 and b.led_on
    assert b.tick(1500) == 500 and not b.led_on
    assert b.tick(2000) == 500 and b.led_on
    assert b.tick(2250) == 250
    assert b.changes == [True, False, True]  # one write per change, not per tick
    b.status("connecting", now=2300)           # same state: phase kept
    assert b.tick(2500) == 500 and not b.led_on


def test_led_heartbeat_error_off_safe():
    b = Recorder()
    b.status("registered", now=0)
    assert b.led_on and b.tick(10) == 40
    assert b.tick(50) == 2950 and not b.led_on
    assert b.tick(3000 + 20) == 30 and b.led_on
    b.status("error", now=5000)
    assert b.led_on and b.tick(5100) == 100 and not b.led_on
    b.status("off", now=6000)
    assert not b.led_on and b.tick(9000) == 1000 and not b.led_on
    b.status("safe", now=7000)
    assert b.led_on and b.tick(99999) == 1000 and b.led_on
    raises(ValueError, b.status, "party")
    assert b.state == "safe"


def test_first_status_writes_even_off():
    b = Recorder()
    b.status("off", now=0)
    assert b.changes == [False]


def test_led_task_drives_pattern():
    import asyncio
    import time
    b = Recorder()

    async def main():
        b.status("error")                      # 100 on / 100 off
        t = asyncio.create_task(b.led_task(max_sleep_ms=20))
        await asyncio.sleep_ms(450)
        t.cancel()
        try:
            await t
        except asyncio.CancelledError:
            pass

    t0 = time.ticks_ms()
    asyncio.run(main())
    el = time.ticks_diff(time.ticks_ms(), t0)
    assert el >= 400
    # one change per 100 ms boundary crossed at most; a loaded machine may skip some
    assert 2 <= len(b.changes) <= el // 100 + 2, (el, b.changes)
    for i in range(1, len(b.changes)):
        assert b.changes[i] != b.changes[i - 1]


def test_unix_board():
    b = board_unix.Board(clock=lambda: 1234)
    assert b.read_sensor() == 23.4
    readings = set()
    for s in range(0, 300, 7):
        b._clock = lambda s=s: 1000000 + s
        r = b.read_sensor()
        assert 20 <= r < 30, r
        readings.add(r)
    assert len(readings) > 10
    assert b.wlan() is None
    w = b.watchdog(100)
    w.feed()
    w.feed()
    assert w.feeds == 2 and w.timeout_ms == 100
    assert not w.expired(w.last + 100) and w.expired(w.last + 101)
    raises(SystemExit, b.deepsleep, 5000)     # prints SLEEP 5000: the process ends
    assert b.slept_ms == 5000 and b.rtc_memory() is None and b.woke_from_deepsleep() is None
    assert not b.button_held()
    b.button = True
    assert b.button_held()
    assert isinstance(b.unique_id(), str) and b.unique_id()
    raises(SystemExit, b.reset)


def _esp(mod, led, button, sensor):
    # Any ESP32 board: LED (plain, or RGB by colour with rgb_led), BOOT button (active low),
    # ADC in mV set up once, watchdog (no limit on the esp32 port), deep sleep, Wi-Fi, ID.
    hw = fakehw.install()
    try:
        b = mod.Board()
        b.status("connecting", now=0)
        b.tick(500)
        b.status("safe", now=600)
        if b.rgb_led:
            assert hw.pixels == [(led, (16, 8, 0)), (led, (0, 0, 0)), (led, (0, 0, 16))]
            assert hw.writes == []             # no plain GPIO LED
        else:
            assert hw.writes == [(led, 1), (led, 0), (led, 1)] and hw.pixels == []
        assert not b.button_held()
        hw.levels[button] = 0                  # BOOT pressed
        assert b.button_held()
        hw.adc_uv = 1234567
        assert b.read_sensor() == 1234 and b.sensor_unit == "mV"
        b.read_sensor()
        assert hw.adc_src == [sensor] and hw.atten == fakehw.ADC.ATTN_11DB
        w = b.watchdog(60000)
        w.feed()
        assert hw.wdt is w and w.timeout == 60000 and w.feeds == 1
        b.deepsleep(1000)
        assert hw.slept == [1000]
        assert b.wlan().interface == fakehw.network.STA_IF
        assert b.unique_id() == "deadbeef0102"
    finally:
        fakehw.uninstall()


def test_esp32_with_fake_machine():
    _esp(board_esp32, 2, 0, 34)


def test_esp32s3_with_fake_neopixel():
    _esp(board_esp32s3, 48, 0, 1)


def test_esp32c3_with_fakes():
    _esp(board_esp32c3, 8, 9, 3)


def test_esp32c6_with_fakes():
    _esp(board_esp32c6, 8, 9, 3)


def test_rgb_colours_and_pin_override_reach_hardware():
    hw = fakehw.install()
    try:
        b = board_esp32c3.Board()
        b.led_pin, b.button_pin = 7, 2         # what board.detect(name, pins) sets
        b.status("registered", now=0)
        b.tick(50)
        b.status("error", now=100)
        assert hw.pixels == [(7, (0, 16, 0)), (7, (0, 0, 0)), (7, (16, 0, 0))]
        hw.levels[2] = 0
        assert b.button_held()
    finally:
        fakehw.uninstall()


def _pico(mod):
    # Pico W and Pico 2 W: "LED" on the Wi-Fi chip, BOOTSEL, temperature on ADC 4
    hw = fakehw.install()
    try:
        b = mod.Board()
        b.status("connecting", now=0)
        b.tick(500)
        assert hw.writes == [("LED", 1), ("LED", 0)]
        assert not b.button_held()
        hw.bootsel = 1
        assert b.button_held()
        # 0.706 V is 27 C; 1.721 mV per degree, falling with temperature (both datasheets).
        hw.adc_u16 = round(0.706 / 3.3 * 65535)
        assert b.read_sensor() == 27.0 and hw.adc_src == [4]
        hw.adc_u16 = round((0.706 - 10 * 0.001721) / 3.3 * 65535)
        assert b.read_sensor() == 37.0
        w = b.watchdog(20000)
        assert w.timeout == 8388               # clamped to MicroPython's rp2 maximum
        assert b.watchdog(2000).timeout == 2000
        assert b.wlan().interface == fakehw.network.STA_IF
        assert b.unique_id() == "deadbeef0102"
    finally:
        fakehw.uninstall()


def test_rp2040_with_fakes():
    _pico(board_rp2040)


def test_rp2350_with_fakes():
    _pico(board_rp2350)


def test_fakes_removed_after_use():
    import sys
    fakehw.install()
    fakehw.uninstall()
    assert sys.modules.get("machine") is not fakehw.machine
    assert sys.modules.get("rp2") is None
