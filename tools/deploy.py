#!/usr/bin/env python3
"""Put the firmware on a board: deploy files, flash MicroPython, open the REPL.

    python tools/deploy.py deploy --board esp32 --port /dev/ttyUSB0 [--config dev.json]
                                  [--secrets secrets.json] [--romfs] [--resume] [--reset]
                                  [--dry-run]
    python tools/deploy.py romfs  --board esp32 [--build-dir DIR] [--output build/esp32.romfs]
    python tools/deploy.py flash  --board esp32 --port /dev/ttyUSB0 --firmware fw.bin
                                  [--baud 460800] [--uf2-drive DIR] [--dry-run]
    python tools/deploy.py repl   --port /dev/ttyUSB0 [--resume]

`deploy` copies build/<board>/ (made by tools/build_mpy.py) with one mpremote session:
makes :lib, copies lib/ into it recursively, boot.py and main.py to the root, then the config as :config.json and the
secrets as :secrets.json. mpremote skips files whose hash already matches. With `--romfs` the
modules go into the board's ROMFS partition instead (`mpremote romfs deploy`, MicroPython 1.25+
firmware with a ROMFS partition): the image holds lib/, the board mounts it at /rom and
'/rom/lib' comes before '/lib' on sys.path, so bytecode runs from flash in place and costs RAM
only for its objects (about 40 % less for the whole runtime). `romfs` only builds the image
file (for flashing it with other tools). `--resume`
keeps mpremote from soft-resetting first (needed for the unix port behind a pty).
`flash` erases and writes an ESP32/S3/C3/C6 with esptool 5 at the board's flash offset; the
RP2040 and RP2350 are flashed by copying a UF2 file to their boot drive (the board's
`uf2_drive`). `--dry-run` prints the commands.
"""
import argparse
import os
import shlex
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import build_mpy  # noqa: E402


def _tool(name):
    exe = os.path.join(ROOT, ".venv", "bin", name)
    return exe if os.path.exists(exe) else (shutil.which(name) or name)


_MKDIR_LIB = "import os\ntry:\n os.mkdir('lib')\nexcept OSError:\n pass"


def _build_dir(board, build_dir):
    build_dir = build_dir or os.path.join(ROOT, "build", board)
    if not os.path.isdir(os.path.join(build_dir, "lib")):
        raise SystemExit("%s has no lib/: run `make mpy BOARD=%s` first" % (build_dir, board))
    return build_dir


def romfs_stage(build_dir):
    """A copy of build_dir/lib alone in <build_dir>-romfs/: the ROMFS image root, so that the
    modules land in /rom/lib (boot.py, main.py and the config stay on the board's filesystem)."""
    stage = build_dir.rstrip("/") + "-romfs"
    shutil.rmtree(stage, ignore_errors=True)
    shutil.copytree(os.path.join(build_dir, "lib"), os.path.join(stage, "lib"))
    return stage


def romfs_command(build_dir, output):
    """mpremote command that writes the ROMFS image of build_dir's lib/ to `output`."""
    return [_tool("mpremote"), "romfs", "--no-mpy", "--output", output, "build",
            romfs_stage(build_dir)]


def deploy_commands(board, port, build_dir=None, config=None, secrets=None, resume=False,
                    reset=False, romfs=False):
    """The mpremote command line (one list) that deploys build_dir to the device."""
    build_dir = _build_dir(board, build_dir)
    cmd = [_tool("mpremote"), "connect", port]
    if resume:
        cmd.append("resume")
    if romfs:
        # --no-mpy: the build is bytecode already (mpy-cross with the board's flags)
        cmd += ["romfs", "--no-mpy", "deploy", romfs_stage(build_dir)]
    else:
        # mpremote's `cp -r dir :lib` copies into :lib/dir once :lib exists, so make :lib
        # (ignoring "exists") and copy lib's children into it.
        cmd += ["exec", _MKDIR_LIB]
        lib = os.path.join(build_dir, "lib")
        children = [os.path.join(lib, n) for n in sorted(os.listdir(lib))]
        if children:
            cmd += ["+", "fs", "cp", "-r"] + children + [":lib/"]
    for f in build_mpy.KEEP_PY:
        if os.path.exists(os.path.join(build_dir, f)):
            cmd += ["+", "fs", "cp", os.path.join(build_dir, f), ":" + f]
    for src, dest in ((config, "config.json"), (secrets, "secrets.json")):
        if src:
            if not os.path.isfile(src):
                raise SystemExit("no such file: %s" % src)
            cmd += ["+", "fs", "cp", src, ":" + dest]
    if reset:
        cmd += ["+", "soft-reset"]
    return cmd


def flash_commands(board, port, firmware, baud=460800):
    """esptool commands (a list of argv lists) that erase the chip and write `firmware`."""
    info = build_mpy.board_info(board)
    if info["chip"] is None:
        raise ValueError("%s is not flashed with esptool" % board)
    base = [_tool("esptool"), "--chip", info["chip"], "--port", port, "--baud", str(baud)]
    return [base + ["erase-flash"],
            base + ["write-flash", "0x%x" % info["flash_offset"], firmware]]


UF2_HELP = """\
The {board} is not flashed with esptool. To install MicroPython:
  1. Put the board in its bootloader: hold BOOTSEL while plugging USB in, or
     `mpremote connect {port} bootloader` if MicroPython already runs on it.
  2. Copy the UF2 image to the {drive} drive that appears:
     cp {firmware} /media/$USER/{drive}/     (the board reboots into MicroPython)
  Or let this tool do both:
     make flash BOARD={board} PORT={port} FIRMWARE=fw.uf2 UF2_DRIVE=/media/$USER/{drive}
"""


def _run(cmd, dry_run):
    print("+ " + " ".join(shlex.quote(c) for c in cmd), flush=True)
    if dry_run:
        return 0
    return subprocess.call(cmd)


def flash_uf2(board, port, firmware, uf2_drive, dry_run, wait_s=30):
    """RP2040 / RP2350: enter the bootloader through mpremote (with a port), copy the UF2."""
    if not uf2_drive or not firmware or not firmware.endswith(".uf2"):
        drive = build_mpy.board_info(board)["uf2_drive"]
        print(UF2_HELP.format(board=board, port=port or "PORT", drive=drive,
                              firmware=firmware or "firmware.uf2"))
        return 2
    if port:
        rc = _run([_tool("mpremote"), "connect", port, "bootloader"], dry_run)
        if rc:
            return rc
    print("+ cp %s %s/" % (firmware, uf2_drive))
    if dry_run:
        return 0
    t_end = time.time() + wait_s
    while not os.path.exists(os.path.join(uf2_drive, "INFO_UF2.TXT")):
        if time.time() > t_end:
            print("%s did not appear within %d s" % (uf2_drive, wait_s))
            return 1
        time.sleep(0.5)
    shutil.copy(firmware, uf2_drive)
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("deploy")
    d.add_argument("--board", required=True, choices=build_mpy.BOARDS)
    d.add_argument("--port", required=True)
    d.add_argument("--build-dir")
    d.add_argument("--config")
    d.add_argument("--secrets")
    d.add_argument("--resume", action="store_true")
    d.add_argument("--reset", action="store_true", help="soft-reset afterwards (runs main.py)")
    d.add_argument("--romfs", action="store_true",
                   help="modules into the ROMFS partition (run from flash, less RAM)")
    d.add_argument("--dry-run", action="store_true")
    o = sub.add_parser("romfs")
    o.add_argument("--board", required=True, choices=build_mpy.BOARDS)
    o.add_argument("--build-dir")
    o.add_argument("--output")
    o.add_argument("--dry-run", action="store_true")
    f = sub.add_parser("flash")
    f.add_argument("--board", required=True, choices=build_mpy.BOARDS)
    f.add_argument("--port")
    f.add_argument("--firmware")
    f.add_argument("--baud", type=int, default=460800)
    f.add_argument("--uf2-drive")
    f.add_argument("--dry-run", action="store_true")
    r = sub.add_parser("repl")
    r.add_argument("--port", required=True)
    r.add_argument("--resume", action="store_true")
    a = ap.parse_args(argv)

    if a.cmd == "deploy":
        rc = _run(deploy_commands(a.board, a.port, a.build_dir, a.config, a.secrets,
                                  a.resume, a.reset, a.romfs), a.dry_run)
        if rc and a.romfs:
            print("ROMFS deploy failed: the firmware needs ROMFS support and a ROMFS partition "
                  "(MicroPython 1.25+; `mpremote romfs query` shows it). Without it, deploy "
                  "without ROMFS=1.")
        elif a.romfs and not a.reset:
            print("ROMFS written: reset the board (or RESET=1) to mount it at /rom.")
        return rc
    if a.cmd == "romfs":
        b = _build_dir(a.board, a.build_dir)
        out = a.output or b.rstrip("/") + ".romfs"
        return _run(romfs_command(b, out), a.dry_run)
    if a.cmd == "repl":
        cmd = [_tool("mpremote"), "connect", a.port] + (["resume"] if a.resume else []) + ["repl"]
        return _run(cmd, False)
    # flash
    if build_mpy.board_info(a.board)["uf2_drive"]:
        return flash_uf2(a.board, a.port, a.firmware, a.uf2_drive, a.dry_run)
    if a.board == "unix":
        print("Nothing to flash for BOARD=unix: the unix port is .venv/bin/micropython.")
        return 2
    if not a.port or not a.firmware:
        ap.error("flash needs --port and --firmware")
    if not a.dry_run and not os.path.isfile(a.firmware):
        raise SystemExit("no such firmware file: %s" % a.firmware)
    for cmd in flash_commands(a.board, a.port, a.firmware, a.baud):
        rc = _run(cmd, a.dry_run)
        if rc:
            return rc
    return 0


if __name__ == "__main__":
    sys.exit(main())
