"""Host helpers to run code on the MicroPython unix port (tests, sim, bench)."""
import os
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VENV_BIN = os.path.join(ROOT, ".venv", "bin")


def micropython_exe():
    exe = os.path.join(VENV_BIN, "micropython")
    return exe if os.path.exists(exe) else "micropython"


def micropypath(*extra):
    # '.frozen' keeps the frozen asyncio/ssl modules importable (MICROPYPATH replaces sys.path).
    parts = [".frozen"] + [os.path.join(ROOT, p) for p in ("lib", "boards", "firmware") + extra]
    return ":".join(parts)


def env(*extra):
    e = dict(os.environ)
    e["MICROPYPATH"] = micropypath(*extra)
    return e


def run(args, heap=None, extra_path=(), timeout=120, **kw):
    """Run `micropython [-X heapsize=heap] args...`; return CompletedProcess (text)."""
    cmd = [micropython_exe()]
    if heap:
        cmd += ["-X", "heapsize=" + heap]
    cmd += list(args)
    return subprocess.run(cmd, env=env(*extra_path), capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT, **kw)


def popen(args, heap=None, extra_path=(), **kw):
    cmd = [micropython_exe()]
    if heap:
        cmd += ["-X", "heapsize=" + heap]
    cmd += list(args)
    return subprocess.Popen(cmd, env=env(*extra_path), cwd=ROOT, **kw)
