"""make flash without hardware: esptool 5 command lines (dry run), the RP2040/RP2350 UF2 path,
and esptool merge-bin at the boards' flash offsets."""
import os
import subprocess
import sys

import pytest

import build_mpy
import mp

ROOT = mp.ROOT
DEPLOY = os.path.join(ROOT, "tools", "deploy.py")
ESPTOOL = os.path.join(mp.VENV_BIN, "esptool")
sys.path.insert(0, os.path.join(ROOT, "tools"))
import deploy  # noqa: E402


def _deploy(*args):
    return subprocess.run([sys.executable, DEPLOY] + list(args), capture_output=True,
                          text=True, timeout=60)


ESP_BOARDS = [("esp32", "esp32", "0x1000"), ("esp32s3", "esp32s3", "0x0"),
              ("esp32c3", "esp32c3", "0x0"), ("esp32c6", "esp32c6", "0x0")]


@pytest.mark.parametrize("board,chip,offset", ESP_BOARDS)
def test_esptool_commands(board, chip, offset):
    cmds = deploy.flash_commands(board, "/dev/ttyUSB3", "fw.bin", baud=921600)
    base = [deploy._tool("esptool"), "--chip", chip, "--port", "/dev/ttyUSB3", "--baud", "921600"]
    assert cmds == [base + ["erase-flash"], base + ["write-flash", offset, "fw.bin"]]


def test_flash_dry_run_prints_commands_in_order():
    r = _deploy("flash", "--board", "esp32", "--port", "/dev/ttyUSB0", "--firmware",
                "ESP32_GENERIC.bin", "--dry-run")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].endswith("esptool --chip esp32 --port /dev/ttyUSB0 --baud 460800 erase-flash")
    assert lines[1].endswith("esptool --chip esp32 --port /dev/ttyUSB0 --baud 460800 "
                             "write-flash 0x1000 ESP32_GENERIC.bin")


@pytest.mark.parametrize("board,chip,offset", ESP_BOARDS[2:])
def test_riscv_esp_flash_dry_run(board, chip, offset):
    image = "ESP32_GENERIC_%s.bin" % chip[5:].upper()
    r = _deploy("flash", "--board", board, "--port", "/dev/ttyACM0", "--firmware", image,
                "--dry-run")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    base = "esptool --chip %s --port /dev/ttyACM0 --baud 460800 " % chip
    assert len(lines) == 2 and lines[0].endswith(base + "erase-flash")
    assert lines[1].endswith(base + "write-flash %s %s" % (offset, image))
    r = subprocess.run(["make", "-n", "flash", "BOARD=" + board, "PORT=/dev/ttyACM0",
                        "FIRMWARE=fw.bin", "DRY_RUN=1"], cwd=ROOT, capture_output=True,
                       text=True, timeout=60)
    line = " ".join(r.stdout.replace("\\\n", " ").split())
    assert ("tools/deploy.py flash --board %s --port /dev/ttyACM0 --firmware fw.bin --dry-run"
            % board) in line, line


def test_make_flash_plumbing():
    r = subprocess.run(["make", "-n", "flash", "BOARD=esp32s3", "PORT=/dev/ttyACM0",
                        "FIRMWARE=fw.bin", "BAUD=115200", "DRY_RUN=1"], cwd=ROOT,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    line = " ".join(r.stdout.replace("\\\n", " ").split())
    assert ("tools/deploy.py flash --board esp32s3 --port /dev/ttyACM0 --firmware fw.bin "
            "--baud 115200 --dry-run") in line, line
    r = subprocess.run(["make", "-n", "flash"], cwd=ROOT, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode != 0 and "BOARD= is required" in r.stderr


def test_flash_needs_port_and_existing_firmware(tmp_path):
    r = _deploy("flash", "--board", "esp32", "--firmware", "fw.bin")
    assert r.returncode != 0 and "--port and --firmware" in r.stderr
    r = _deploy("flash", "--board", "esp32", "--port", "/dev/null", "--firmware",
                str(tmp_path / "missing.bin"))
    assert r.returncode != 0 and "no such firmware file" in r.stderr


def test_rp2040_explains_uf2_and_unix_has_nothing():
    r = _deploy("flash", "--board", "rp2040", "--port", "/dev/ttyACM0", "--firmware", "pico.uf2")
    assert r.returncode == 2
    assert "not flashed with esptool" in r.stdout and "mpremote connect /dev/ttyACM0 bootloader" \
        in r.stdout and "RPI-RP2" in r.stdout
    r = _deploy("flash", "--board", "unix")
    assert r.returncode == 2 and "Nothing to flash" in r.stdout
    with pytest.raises(ValueError):
        deploy.flash_commands("rp2040", "p", "f")


def test_rp2350_explains_uf2_with_its_drive():
    r = _deploy("flash", "--board", "rp2350", "--port", "/dev/ttyACM1")
    assert r.returncode == 2
    assert "The rp2350 is not flashed with esptool" in r.stdout
    assert "mpremote connect /dev/ttyACM1 bootloader" in r.stdout
    assert "/media/$USER/RP2350/" in r.stdout and "RPI-RP2" not in r.stdout
    with pytest.raises(ValueError):
        deploy.flash_commands("rp2350", "p", "f")


@pytest.mark.parametrize("board,drive_name,image", [("rp2040", "RPI-RP2", "pico_w.uf2"),
                                                    ("rp2350", "RP2350", "RPI_PICO2_W.uf2")])
def test_uf2_copy_to_drive(tmp_path, board, drive_name, image):
    drive = tmp_path / drive_name
    drive.mkdir()
    (drive / "INFO_UF2.TXT").write_text("UF2 Bootloader v3.0\n")
    fw = tmp_path / image
    fw.write_bytes(b"UF2\n" * 128)
    r = _deploy("flash", "--board", board, "--port", "/dev/ttyACM0", "--firmware", str(fw),
                "--uf2-drive", str(drive), "--dry-run")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "mpremote connect /dev/ttyACM0 bootloader" in r.stdout and "+ cp " in r.stdout
    assert not (drive / image).exists()                   # dry run
    r = _deploy("flash", "--board", board, "--firmware", str(fw), "--uf2-drive", str(drive))
    assert r.returncode == 0, r.stdout + r.stderr
    assert (drive / image).read_bytes() == fw.read_bytes()


@pytest.mark.parametrize("board", ["esp32", "esp32s3", "esp32c3", "esp32c6"])
def test_esptool_merge_bin_at_board_offset(tmp_path, board):
    info = build_mpy.board_info(board)
    app = tmp_path / "fw.bin"
    data = bytes(range(256)) * 16                            # no 0xE9 image header
    app.write_bytes(data)
    out = tmp_path / "merged.bin"
    r = subprocess.run([ESPTOOL, "--chip", info["chip"], "merge-bin", "-o", str(out),
                        "0x%x" % info["flash_offset"], str(app)], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    merged = out.read_bytes()
    off = info["flash_offset"]
    assert merged[off:] == data and merged[:off] == b"\xff" * off
