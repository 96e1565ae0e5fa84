"""The board tier: what a board runs, measured where a board's figures come from.

unix32 (make firmware BOARD=unix32) is MicroPython 1.28's unix port built 32-bit with lib/,
boards/ and the apps frozen in through manifest.py: the heap holds objects, not bytecode, as on
an ESP32 or RP2040 with frozen firmware. Here:
- every portable test module runs on it under its declared board heap (`# board-heapsize:`),
  its own bytecode compiled by the build's mpy-cross and loaded from files;
- a device boots and registers at 28k (issue 12 asks 24k: at 24k the REG's encoding finds no
  heap; README's footprint section says where the 27 KB go) and the full session passes twice
  in a row at 48k (it passes at 40k, the goal, in make bench);
- the device runtime holds at most 12 KB after import.
Without a MicroPython source (MICROPY_SRC, ../shared/vendor) the tier says so in one line and
is skipped; under CI it must run, so there a missing source fails.
"""
import glob
import os
import re
import subprocess
import sys

import pytest

import mp

sys.path.insert(0, os.path.join(mp.ROOT, "tools"))
import build_firmware  # noqa: E402
import session  # noqa: E402

PORTABLE = os.path.join(mp.ROOT, "tests", "portable")
MODULES = sorted(os.path.basename(p)[:-3] for p in glob.glob(os.path.join(PORTABLE, "test_*.py")))
TESTS_MPY = os.path.join(mp.ROOT, "build", "unix32-tests")

RUNTIME_MAX = 12 * 1024     # issue 12: device runtime after import
REGISTER_HEAP = "28k"       # issue 12's target is 24k: not met (see the docstring)
SESSION_HEAP = "48k"        # issue 12: twice in a row


@pytest.fixture(scope="module")
def tests_mpy(unix32):
    """tests/portable compiled with the build's own mpy-cross (1.28's .mpy version)."""
    xc = os.path.join(os.path.dirname(unix32), "mpy-cross")
    os.makedirs(TESTS_MPY, exist_ok=True)
    for src in glob.glob(os.path.join(PORTABLE, "*.py")):
        dst = os.path.join(TESTS_MPY, os.path.basename(src)[:-3] + ".mpy")
        if not os.path.exists(dst) or os.path.getmtime(dst) < max(os.path.getmtime(src),
                                                                   os.path.getmtime(xc)):
            subprocess.run([xc, "-s", os.path.basename(src), "-o", dst, src], check=True)
    return ".frozen:" + os.path.relpath(TESTS_MPY, mp.ROOT)


def board_heap_of(mod):
    with open(os.path.join(PORTABLE, mod + ".py")) as f:
        text = f.read()
    m = re.search(r"^# board-heapsize: (\w+)", text, re.M)
    assert m, "%s.py declares no '# board-heapsize:' (the unix32 tier's heap)" % mod
    return m.group(1)


def run32(exe, heap, args, path=".frozen", timeout=300):
    return subprocess.run([exe, "-X", "heapsize=" + heap] + args, capture_output=True,
                          text=True, timeout=timeout, cwd=mp.ROOT,
                          env=dict(os.environ, MICROPYPATH=path))


@pytest.mark.parametrize("mod", MODULES)
def test_portable_module_on_unix32(mod, unix32, tests_mpy):
    heap = board_heap_of(mod)
    r = run32(unix32, heap, ["-m", "tinytest", mod], tests_mpy)
    out = r.stdout + r.stderr
    assert r.returncode == 0, "unix32 -X heapsize=%s %s:\n%s" % (heap, mod, out[-4000:])
    assert re.search(r"^[1-9]\d* passed, 0 failed$", r.stdout, re.M), out[-2000:]


def test_library_is_frozen_not_loaded_from_files(unix32):
    # Only the script is a file on a board with frozen firmware: no module comes from lib/.
    r = run32(unix32, "64k", ["-c", "import sys, msgin5g.client, coap.udp, board, apps.echo\n"
                                    "print(sys.path, [getattr(sys.modules[m], '__file__', '')"
                                    " for m in ('msgin5g.client', 'coap.udp', 'board')])"])
    assert r.returncode == 0, r.stderr
    assert "lib/" not in r.stdout and ".frozen" in r.stdout, r.stdout


RUNTIME_CODE = """import gc, asyncio, socket, select, json, os, time
gc.collect(); a = gc.mem_alloc()
import coap.udp, msgin5g.client, msgin5g.device, apps.echo
gc.collect(); print(gc.mem_alloc() - a)
"""


def test_device_runtime_heap_after_import(unix32):
    r = run32(unix32, "64k", ["-c", RUNTIME_CODE])
    assert r.returncode == 0, r.stderr
    held = int(r.stdout.split()[-1])
    assert held <= RUNTIME_MAX, "device runtime holds %d bytes after import" % held


def test_device_boots_and_registers(unix32):
    r = session.run(REGISTER_HEAP, "unix32", n=0, big_size=0)
    assert r.ok, "at %s: failed at %s\n%s" % (REGISTER_HEAP, r.stage, r.output[-3000:])


def test_full_session_passes_twice_at_48k(unix32):
    for i in range(2):
        r = session.run(SESSION_HEAP, "unix32")
        assert r.ok, "run %d at %s: failed at %s\n%s" % (i + 1, SESSION_HEAP, r.stage,
                                                       r.output[-3000:])
        assert r.status["failed"] == 0 and r.status["received"] >= 101, r.status


def test_board_images_need_their_sdk():
    # make firmware BOARD=rp2040 cannot build here (no pico-sdk / ESP-IDF): it says so.
    r = subprocess.run([sys.executable, os.path.join(mp.ROOT, "tools", "build_firmware.py"),
                        "--board", "rp2040"], capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, MICROPY_SRC=""))
    assert r.returncode == 2 and "needs" in r.stderr, r.stdout + r.stderr
