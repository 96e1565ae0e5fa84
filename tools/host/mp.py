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


def popen(args, heap=None, extra_path=(), mpy=False, **kw):
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
