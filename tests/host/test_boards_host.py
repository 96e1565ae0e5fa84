"""Board definitions on CPython (fake machine/network injected) and on the unix port;
detect() against patched sys.platform / sys.implementation._machine; boot.py safe mode."""
import os
import subprocess
import sys

import pytest

import mp

sys.path.insert(0, os.path.join(mp.ROOT, "boards"))
import board  # noqa: E402
import fakehw  # noqa: E402

BOOT = os.path.join(mp.ROOT, "firmware", "boot.py")


@pytest.fixture
def fakes():
    hw = fakehw.install()
    yield hw
    fakehw.uninstall()


@pytest.fixture
def platform(monkeypatch):
    """Pretend to be another port; detect() starts with an empty cache."""
    monkeypatch.setattr(board, "_cache", {})
    monkeypatch.setattr(board, "SAFE", False)

    def set_(plat, machine):
        monkeypatch.setattr(sys, "platform", plat)
        monkeypatch.setattr(sys.implementation, "_machine", machine, raising=False)
    return set_


@pytest.mark.parametrize("plat,machine,name", [
    ("esp32", "Generic ESP32 module with ESP32", "esp32"),
    ("esp32", "Generic ESP32S3 module with ESP32S3", "esp32s3"),
    ("esp32", "ESP32C3 module with ESP32C3", "esp32c3"),
    ("esp32", "ESP32C6 module with ESP32C6", "esp32c6"),
    ("rp2", "Raspberry Pi Pico W with RP2040", "rp2040"),
    ("rp2", "Raspberry Pi Pico 2 W with RP2350", "rp2350"),
    ("linux", "linux [GCC 14.2.1] version", "unix"),
])
def test_detect_picks_board_from_platform(platform, fakes, plat, machine, name):
    platform(plat, machine)
    b = board.detect()
    assert b.name == name and type(b).__module__ == "board_" + name
    assert board.detect() is b
    b.status("connecting", now=0)             # drives the (fake) hardware LED
    assert b.led_on
    assert b.watchdog(1000).feed() is None


def test_detect_override_by_name_wins(platform):
    platform("esp32", "Generic ESP32S3 module with ESP32S3")
    assert board.detect("rp2040").name == "rp2040"
    assert board.detect("unix").name == "unix"


def test_definitions_import_without_machine_in_fresh_cpython():
    code = (
        "import sys; sys.path[:0] = ['boards', 'lib', 'tools/host']\n"
        "import cpython_shim; cpython_shim.install()  # micropython.const for wifi.py\n"
        "import board, board_esp32, board_esp32s3, board_rp2040, board_unix, wifi\n"
        "import board_esp32c3, board_esp32c6, board_rp2350\n"
        "assert 'machine' not in sys.modules and 'network' not in sys.modules\n"
        "print(board.detect().name)\n"
        "try:\n"
        "    board_esp32.Board().read_sensor()\n"
        "except ImportError as e:\n"
        "    print('lazy', e.name)\n")
    r = subprocess.run([sys.executable, "-c", code], cwd=mp.ROOT, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["unix", "lazy", "machine"]


def test_definitions_import_on_unix_port():
    code = (
        "import sys, board, board_esp32, board_esp32s3, board_rp2040, board_unix, wifi\n"
        "import board_esp32c3, board_esp32c6, board_rp2350\n"
        "print(board.detect().name, sys.platform)\n"
        "try:\n"
        "    board_rp2040.Board().wlan()\n"
        "except ImportError:\n"
        "    print('no network')\n"
        "b = board_unix.Board()\n"
        "b.status('registered', now=0)\n"
        "print(b.led_on, b.tick(50), b.led_on, b.wlan())\n")
    r = mp.run(["-c", code], heap="256k")  # compiles from source
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.split() == ["unix", "linux", "no", "network", "True", "2950", "False", "None"]


def _run_boot(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with open(BOOT) as f:
        exec(compile(f.read(), BOOT, "exec"), {"__name__": "__main__"})


def test_boot_safe_mode_when_button_held(platform, fakes, tmp_path, monkeypatch, capsys):
    platform("esp32", "Generic ESP32 module with ESP32")
    fakes.levels[0] = 0                       # BOOT held during reset
    _run_boot(tmp_path, monkeypatch)
    assert board.SAFE is True
    assert board.detect().state == "safe" and fakes.writes == [(2, 1)]
    assert "safe mode" in capsys.readouterr().out


def test_boot_normal_when_button_released(platform, fakes, tmp_path, monkeypatch, capsys):
    platform("rp2", "Raspberry Pi Pico W with RP2040")
    _run_boot(tmp_path, monkeypatch)
    assert board.SAFE is False and fakes.writes == []
    assert capsys.readouterr().out == ""


def test_boot_safe_mode_by_file(platform, tmp_path, monkeypatch):
    platform("linux", "")
    (tmp_path / "safemode").write_text("")
    _run_boot(tmp_path, monkeypatch)
    assert board.SAFE is True and board.detect().state == "safe"


@pytest.mark.parametrize("plat,machine,pin", [
    ("esp32", "ESP32C3 module with ESP32C3", 9),
    ("esp32", "ESP32C6 module with ESP32C6", 9),
])
def test_boot_safe_mode_on_riscv_esp(platform, fakes, tmp_path, monkeypatch, capsys, plat,
                                     machine, pin):
    platform(plat, machine)
    fakes.levels[pin] = 0                     # BOOT held during reset
    _run_boot(tmp_path, monkeypatch)
    assert board.SAFE is True and board.detect().state == "safe"
    assert fakes.pixels == [(8, (0, 0, 16))]  # RGB LED steady blue
    assert "safe mode" in capsys.readouterr().out


def test_boot_safe_mode_on_pico2w(platform, fakes, tmp_path, monkeypatch, capsys):
    platform("rp2", "Raspberry Pi Pico 2 W with RP2350")
    fakes.bootsel = 1
    _run_boot(tmp_path, monkeypatch)
    assert board.SAFE is True and fakes.writes == [("LED", 1)]
    assert board.detect().name == "rp2350"


def test_boot_survives_a_broken_board_layer(platform, tmp_path, monkeypatch, capsys):
    platform("esp32", "ESP32S2 module with ESP32S2")   # unsupported: detect() raises
    _run_boot(tmp_path, monkeypatch)
    assert board.SAFE is False
    assert "boot: unsupported board" in capsys.readouterr().out
