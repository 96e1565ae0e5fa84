"""Runs every portable test module under the MicroPython unix port.

pytest runs the same modules on CPython directly; this makes a MicroPython failure fail
`make test` too. As on a board, the unix port runs the bytecode build (.mpy from mpy-cross)
of lib/ and of the tests, so the heap measures the program and not the compiler. A module may
declare its heap with a line `# heapsize: 48k` (default 512k).
"""
import glob
import os
import re

import pytest

import compile_mpy as build_mpy
import mp

PORTABLE = os.path.join(mp.ROOT, "tests", "portable")
MODULES = sorted(os.path.basename(p)[:-3] for p in glob.glob(os.path.join(PORTABLE, "test_*.py")))
BUILD = os.path.join(mp.ROOT, "build", "mpy-test")


@pytest.fixture(scope="module")
def mpy_build():
    build_mpy.build(os.path.join(BUILD, "lib"), ["lib", "boards"])
    build_mpy.build(os.path.join(BUILD, "tests"), ["tests/portable"])
    # Relative to the working directory (the checkout): module paths (__file__, kept in RAM as
    # qstrs) are then the same on every machine, and so is the heap a test needs.
    rel = os.path.relpath(BUILD, mp.ROOT)
    return ".frozen:%s/lib:%s/tests" % (rel, rel)


def heap_of(mod):
    with open(os.path.join(PORTABLE, mod + ".py")) as f:
        m = re.search(r"^# heapsize: (\w+)", f.read(), re.M)
    return m.group(1) if m else "512k"


@pytest.mark.parametrize("mod", MODULES)
def test_module_on_micropython(mod, mpy_build):
    import subprocess
    heap = heap_of(mod)
    env = dict(os.environ, MICROPYPATH=mpy_build)
    r = subprocess.run([mp.micropython_exe(), "-X", "heapsize=" + heap, "-m", "tinytest", mod],
                       env=env, capture_output=True, text=True, timeout=300, cwd=mp.ROOT)
    out = r.stdout + r.stderr
    assert r.returncode == 0, "micropython -X heapsize=%s %s:\n%s" % (heap, mod, out[-4000:])
    assert re.search(r"^[1-9]\d* passed, 0 failed$", r.stdout, re.M), out[-2000:]
