# heapsize: 96k
"""boards/: detection, per-board attributes, LED patterns, and every definition driven
through fake machine/network/rp2/neopixel modules."""
import boardpath  # noqa: F401  (boards/ on sys.path under CPython)
import board
import board_esp32
import board_esp32s3
import board_rp2040
import board_unix
import fakehw
from tinytest import raises


def test_board_name_from_platform_and_machine():
    cases = [
        ("esp32", "Generic ESP32 module with ESP32", "esp32"),
        ("esp32", "Generic ESP32 module with SPIRAM with ESP32", "esp32"),
        ("esp32", "Generic ESP32S3 module with ESP32S3", "esp32s3"),
        ("esp32", "ESP32S3 module with Octal-SPIRAM with ESP32S3", "esp32s3"),
        ("rp2", "Raspberry Pi Pico W with RP2040", "rp2040"),
        ("linux", "linux [GCC 14.2.1] version", "unix"),
        ("darwin", "", "unix"),
    ]
    for platform, machine, want in cases:
        got = board.board_name(platform, machine)
        assert got == want, (platform, machine, got)
    raises(ValueError, board.board_name, "esp32", "ESP32C3 module with ESP32C3")
    raises(ValueError, board.board_name, "rp2", "Raspberry Pi Pico 2 W with RP2350")


def test_detect_here_is_unix_and_cached():
    b = board.detect()
    assert b.name == "unix" and isinstance(b, board_unix.Board)
    assert board.detect() is b and board.detect("unix") is b
    e = board.detect("esp32s3")
    assert e.name == "esp32s3" and board.detect("esp32s3") is e
    raises(ValueError, board.detect, "esp8266")


def test_static_attributes():
    want = {
        "esp32": ("xtensawin", 0x1000, "esp32"),
        "esp32s3": ("xtensawin", 0x0, "esp32s3"),
        "rp2040": ("armv6m", None, None),
        "unix": (None, None, None),
    }
    mods = {"esp32": board_esp32, "esp32s3": board_esp32s3, "rp2040": board_rp2040,
            "unix": board_unix}
    for name in board.NAMES:
        b = mods[name].Board()
        assert b.name == name
        assert (b.arch, b.flash_offset, b.chip) == want[name], name
    assert board_esp32.Board.led_pin == 2 and board_esp32.Board.button_pin == 0
    assert board_esp32s3.Board.led_pin == 48
    assert board_rp2040.Board.led_pin == "LED"


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
    b.deepsleep(5000)
    assert b.slept_ms == 5000
    assert not b.button_held()
    b.button = True
    assert b.button_held()
    assert isinstance(b.unique_id(), str) and b.unique_id()
    raises(SystemExit, b.reset)


def test_esp32_with_fake_machine():
    hw = fakehw.install()
    try:
        b = board_esp32.Board()
        b.status("connecting", now=0)
        b.tick(500)
        b.tick(600)
        assert hw.writes == [(2, 1), (2, 0)]
        assert not b.button_held()
        hw.levels[0] = 0                       # BOOT pressed (active low)
        assert b.button_held()
        hw.adc_uv = 1234567
        assert b.read_sensor() == 1234 and b.sensor_unit == "mV"
        assert hw.adc_src == [34] and hw.atten == fakehw.ADC.ATTN_11DB
        b.read_sensor()
        assert hw.adc_src == [34]              # ADC set up once
        w = b.watchdog(30000)
        w.feed()
        assert hw.wdt is w and w.timeout == 30000 and w.feeds == 1
        b.deepsleep(60000)
        assert hw.slept == [60000]
        wl = b.wlan()
        assert wl.interface == fakehw.network.STA_IF
        assert b.unique_id() == "deadbeef0102"
    finally:
        fakehw.uninstall()


def test_esp32s3_with_fake_neopixel():
    hw = fakehw.install()
    try:
        b = board_esp32s3.Board()
        b.status("registered", now=0)
        b.tick(50)
        b.status("error", now=100)
        assert hw.pixels == [(48, (0, 16, 0)), (48, (0, 0, 0)), (48, (16, 0, 0))]
        assert hw.writes == []                 # no plain GPIO LED on the S3
        hw.adc_uv = 500000
        assert b.read_sensor() == 500 and hw.adc_src == [1]
        hw.levels[0] = 0
        assert b.button_held()
    finally:
        fakehw.uninstall()


def test_rp2040_with_fakes():
    hw = fakehw.install()
    try:
        b = board_rp2040.Board()
        b.status("safe", now=0)
        assert hw.writes == [("LED", 1)]
        assert not b.button_held()
        hw.bootsel = 1
        assert b.button_held()
        # 0.706 V is 27 C; 1.721 mV per degree, falling with temperature.
        hw.adc_u16 = round(0.706 / 3.3 * 65535)
        assert b.read_sensor() == 27.0 and hw.adc_src == [4]
        hw.adc_u16 = round((0.706 - 10 * 0.001721) / 3.3 * 65535)
        assert b.read_sensor() == 37.0
        w = b.watchdog(20000)
        assert w.timeout == 8388               # clamped to the RP2040 maximum
        assert b.watchdog(2000).timeout == 2000
        assert b.wlan().interface == fakehw.network.STA_IF
        assert b.unique_id() == "deadbeef0102"
    finally:
        fakehw.uninstall()


def test_fakes_removed_after_use():
    import sys
    fakehw.install()
    fakehw.uninstall()
    assert sys.modules.get("machine") is not fakehw.machine
    assert sys.modules.get("rp2") is None
