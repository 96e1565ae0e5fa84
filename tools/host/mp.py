"""Host helpers to run code on the MicroPython unix port (tests, sim, bench)."""
import os
import subprocess
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VENV_BIN = os.path.join(ROOT, ".venv", "bin")


def micropython_exe():
    exe = os.path.join(VENV_BIN, "micropython")
    return exe if os.path.exists(exe) else "micropython"


def micropypath(*extra):
    # '.frozen' keeps the frozen asyncio/ssl modules importable (MICROPYPATH replaces sys.path).
    parts = [".frozen"] + [os.path.join(ROOT, p) for p in ("lib", "boards", "firmware") + extra]
    return ":".join(parts)


def env(*extra, mpy=False):
    e = dict(os.environ)
    e["MICROPYPATH"] = bytecode_path() if mpy else micropypath(*extra)
    return e


def bytecode_path():
    """Compile lib/, boards/ and firmware/ (apps) with mpy-cross into build/unix-mpy and return
    a MICROPYPATH for it: devices then run bytecode, as on a board, and the heap holds the
    program rather than the compiler."""
    import compile_mpy
    out = os.path.join(ROOT, "build", "unix-mpy")
    compile_mpy.build(out, ["lib", "boards", "firmware"])
    return ".frozen:" + out


def romfs_prelude(img):
    """MicroPython lines that mount the ROMFS image file `img` at /rom and import only from it,
    as a board with a ROMFS partition does (tools/host/romfs_boot.py for a whole device)."""
    return ("import vfs, sys\nvfs.mount(vfs.VfsRom(open(%r, 'rb').read()), '/rom')\n"
            "sys.path[:] = ['/rom/lib', '.frozen']\n" % img)


def run(args, heap=None, extra_path=(), timeout=120, **kw):
    """Run `micropython [-X heapsize=heap] args...`; return CompletedProcess (text)."""
    cmd = [micropython_exe()]
    if heap:
        cmd += ["-X", "heapsize=" + heap]
    cmd += list(args)
    return subprocess.run(cmd, env=env(*extra_path), capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT, **kw)


BOARDS = ("unix", "unix32")     # where a device can run on this machine


def unix32_exe():
    """The board-true interpreter (make firmware BOARD=unix32): MicroPython 1.28's unix port,
    32-bit, with lib/, boards/ and the apps frozen in; built on first use, then cached."""
    import sys
    sys.path.insert(0, os.path.join(ROOT, "tools"))
    import build_firmware
    return build_firmware.build_unix32(quiet=True)


def device_cmd(heap=None, board="unix"):
    """(argv prefix, environment) for running a device's firmware on `board`: 'unix' runs the
    bytecode build of the library from files on the 64-bit port; 'unix32' runs the frozen
    library on the 32-bit build, with only the script given as a file, as a board does."""
    if board not in BOARDS:
        raise ValueError("board %r: one of %s" % (board, ", ".join(BOARDS)))
    exe = unix32_exe() if board == "unix32" else micropython_exe()
    cmd = [exe] + (["-X", "heapsize=" + heap] if heap else [])
    e = dict(os.environ, MICROPYPATH=".frozen" if board == "unix32" else bytecode_path())
    return cmd, e


MAIN_PY = os.path.join(ROOT, "firmware", "main.py")


def board_main_py():
    """firmware/main.py copied alone into build/unix32/fs/, as on a board's filesystem: run
    from firmware/ itself, MicroPython puts that directory first on sys.path and imports
    startup.py and the apps from source (compiled into RAM) instead of frozen."""
    d = os.path.join(ROOT, "build", "unix32", "fs")
    os.makedirs(d, exist_ok=True)
    dst = os.path.join(d, "main.py")
    with open(MAIN_PY, "rb") as f:
        src = f.read()
    if not os.path.exists(dst) or open(dst, "rb").read() != src:
        with open(dst + ".new", "wb") as f:
            f.write(src)
        os.replace(dst + ".new", dst)
    return dst


def popen(args, heap=None, extra_path=(), mpy=False, board=None, **kw):
    if board:
        cmd, e = device_cmd(heap, board)
        args = list(args)
        if board == "unix32" and args and os.path.abspath(args[0]) == MAIN_PY:
            args[0] = board_main_py()
        return subprocess.Popen(cmd + args, env=e, cwd=ROOT, **kw)
    cmd = [micropython_exe()]
    if heap:
        cmd += ["-X", "heapsize=" + heap]
    cmd += list(args)
    return subprocess.Popen(cmd, env=env(*extra_path, mpy=mpy), cwd=ROOT, **kw)


def wait_for(cond, timeout, step=0.02):
    """Poll cond() until it returns something true or timeout seconds pass; return its value."""
    t0 = time.time()
    while time.time() - t0 < timeout:
        v = cond()
        if v:
            return v
        time.sleep(step)
    return cond()
