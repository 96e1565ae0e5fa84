#!/usr/bin/env python3
"""Build a MicroPython firmware image with the library frozen in (make firmware BOARD=...).

    python tools/build_firmware.py --board unix32          # -> build/unix32/micropython
    python tools/build_firmware.py --board rp2040          # -> build/firmware/rp2040.uf2
    python tools/build_firmware.py --board unix32 --print-exe

unix32 is the board-true build this project measures memory on: MicroPython v1.28.0's unix
port compiled for 32-bit x86 (pointers and object headers as on ESP32 and RP2040) with lib/,
boards/ and the firmware apps frozen in through the project's manifest.py, exactly as on a
board image. Only firmware/main.py is then a file; the heap holds the program's objects, not
its bytecode. It builds in about 30 s on two cores and is cached: the image is rebuilt only
when a frozen source, manifest.py, the MicroPython source or the build flags change.

The MicroPython source: --src or MICROPY_SRC (a source directory, or a .tar.gz holding
micropython-1.28.0/ with its lib/micropython-lib), else ../shared/vendor's tarball when present
(its .sha256 beside it is checked), else a pinned shallow clone of tag v1.28.0 (internet).

The board images (rp2040, rp2350, esp32, esp32s3, esp32c3, esp32c6) use the same manifest with
the port's own build, which needs a full MicroPython checkout with the port's submodules and the
board SDK (ESP-IDF for esp32*, arm-none-eabi-gcc and the pico-sdk for rp2*). Neither is on this
machine, so those builds say what is missing and stop; see docs/boards.md.
"""
import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VERSION = "1.28.0"
TAG = "v" + VERSION
REPO_URL = "https://github.com/micropython/micropython.git"
VENDOR_TGZ = os.path.join(os.path.dirname(ROOT), "shared", "vendor",
                          "micropython-%s.tar.gz" % VERSION)
SRC_DIR = os.path.join(ROOT, "build", "micropython-" + VERSION)
UNIX32 = os.path.join(ROOT, "build", "unix32")
# No FFI (libffi is no board's), no btree, no TLS (DTLS stays on the 64-bit port's tests).
UNIX32_FLAGS = ["MICROPY_PY_FFI=0", "MICROPY_PY_BTREE=0", "MICROPY_PY_SSL=0"]
FROZEN_DIRS = ("lib", "boards", "firmware")
NOT_FROZEN = ("boot.py", "main.py")     # stay files on the device (manifest.py says so too)

# make firmware BOARD=<name>: MicroPython port and board of each board definition.
PORT_BOARDS = {
    "rp2040": ("rp2", "RPI_PICO_W", "firmware.uf2"),
    "rp2350": ("rp2", "RPI_PICO2_W", "firmware.uf2"),
    "esp32": ("esp32", "ESP32_GENERIC", "firmware.bin"),
    "esp32s3": ("esp32", "ESP32_GENERIC_S3", "firmware.bin"),
    "esp32c3": ("esp32", "ESP32_GENERIC_C3", "firmware.bin"),
    "esp32c6": ("esp32", "ESP32_GENERIC_C6", "firmware.bin"),
}


class BuildError(Exception):
    pass


def say(*a):
    print("firmware:", *a, flush=True)


def run(cmd, cwd=None, log=None):
    """Run a build step; on failure raise with the tail of its output."""
    r = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if log:
        with open(log, "w") as f:
            f.write(r.stdout)
    if r.returncode:
        raise BuildError("%s failed (exit %d):\n%s" % (" ".join(cmd), r.returncode,
                                                       r.stdout[-3000:]))
    return r.stdout


# -- the MicroPython source ---------------------------------------------------------------

def source_spec(arg=None):
    """Where the source comes from: a directory, a tarball, or None (clone)."""
    spec = arg or os.environ.get("MICROPY_SRC")
    if spec:
        if not os.path.exists(spec):
            raise BuildError("MICROPY_SRC=%s does not exist" % spec)
        return os.path.abspath(spec)
    if os.path.exists(VENDOR_TGZ):
        return VENDOR_TGZ
    return None


def _sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _check_tree(d):
    for need in ("py/mkrules.mk", "ports/unix/Makefile", "mpy-cross/Makefile",
                 "lib/micropython-lib/README.md"):
        if not os.path.exists(os.path.join(d, need)):
            raise BuildError("%s is not a MicroPython %s source tree with lib/micropython-lib "
                             "(missing %s)" % (d, VERSION, need))
    return d


def prepare_source(spec):
    """Return a MicroPython source directory, unpacking or cloning into build/ when needed."""
    if spec and os.path.isdir(spec):
        return _check_tree(spec)
    stamp = os.path.join(SRC_DIR, ".from")
    ident = spec or REPO_URL + "@" + TAG
    if spec:
        ident += " " + str(os.path.getsize(spec)) + " " + str(int(os.path.getmtime(spec)))
    if os.path.exists(stamp) and open(stamp).read() == ident:
        return SRC_DIR
    shutil.rmtree(SRC_DIR, ignore_errors=True)
    os.makedirs(os.path.dirname(SRC_DIR), exist_ok=True)
    if spec:
        sha = spec + ".sha256"
        if os.path.exists(sha):
            want = open(sha).read().split()[0]
            if _sha256(spec) != want:
                raise BuildError("%s: sha256 does not match %s" % (spec, sha))
        say("unpacking", spec)
        tmp = SRC_DIR + ".tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        with tarfile.open(spec) as t:
            t.extractall(tmp)
        inner = os.path.join(tmp, "micropython-" + VERSION)
        if not os.path.isdir(inner):
            raise BuildError("%s holds no micropython-%s/ directory" % (spec, VERSION))
        os.rename(inner, SRC_DIR)
        shutil.rmtree(tmp)
    else:
        say("no MICROPY_SRC and no vendored tarball: cloning", TAG)
        run(["git", "clone", "--depth", "1", "--branch", TAG, REPO_URL, SRC_DIR])
        run(["git", "-C", SRC_DIR, "submodule", "update", "--init", "--depth", "1",
             "lib/micropython-lib"])
    _check_tree(SRC_DIR)
    with open(stamp, "w") as f:
        f.write(ident)
    return SRC_DIR


# -- what is frozen, and the cache key ----------------------------------------------------

def frozen_files():
    out = [os.path.join(ROOT, "manifest.py")]
    for d in FROZEN_DIRS:
        for dirpath, dirs, files in os.walk(os.path.join(ROOT, d)):
            dirs[:] = sorted(x for x in dirs if not x.startswith(("_", ".")))
            for f in sorted(files):
                if f.endswith(".py") and not (d == "firmware" and dirpath.endswith("firmware")
                                              and f in NOT_FROZEN):
                    out.append(os.path.join(dirpath, f))
    return out


def cache_key(src, flags):
    h = hashlib.sha1()
    h.update(("%s %s %s\n" % (VERSION, src, " ".join(flags))).encode())
    with open(__file__, "rb") as f:
        h.update(f.read())
    for p in frozen_files():
        h.update(os.path.relpath(p, ROOT).encode() + b"\0")
        with open(p, "rb") as f:
            h.update(f.read())
    return h.hexdigest()[:16]


# -- unix32 -------------------------------------------------------------------------------

def compiler_flags():
    """make arguments that give a 32-bit x86 binary: gcc -m32 (Debian gcc-multilib) or a
    cross gcc (gcc-i686-linux-gnu with an i386 loader). Debian 12 cannot have both installed
    (the packages conflict), so either is accepted."""
    probe = os.path.join(ROOT, "build", ".m32probe")
    os.makedirs(os.path.dirname(probe), exist_ok=True)
    with open(probe + ".c", "w") as f:
        f.write("#include <stdio.h>\nint main(void){return sizeof(void*)!=4;}\n")
    for cc, args in (("gcc", ["CFLAGS_EXTRA=-m32", "LDFLAGS_EXTRA=-m32"]),
                     ("i686-linux-gnu-gcc", ["CROSS_COMPILE=i686-linux-gnu-"])):
        if not shutil.which(cc):
            continue
        cmd = [cc] + (["-m32"] if cc == "gcc" else []) + ["-o", probe, probe + ".c"]
        if subprocess.run(cmd, capture_output=True).returncode == 0 and \
                subprocess.run([probe], capture_output=True).returncode == 0:
            return args
    raise BuildError("no 32-bit x86 C compiler that runs its output: install Debian's "
                     "gcc-multilib (tools/ensure-debs.sh does) or gcc-i686-linux-gnu with "
                     "libc6-i386")


def build_unix32(src_spec=None, quiet=False):
    """Build (or reuse) build/unix32/micropython; return its path. One build at a time: test
    runs and tools started together wait for each other (a lock file) instead of clashing."""
    import fcntl
    os.makedirs(UNIX32, exist_ok=True)
    with open(os.path.join(UNIX32, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _build_unix32(src_spec, quiet)


def _build_unix32(src_spec, quiet):
    src = prepare_source(source_spec(src_spec))
    flags = compiler_flags() + UNIX32_FLAGS
    key = cache_key(src, flags)
    exe = os.path.join(UNIX32, "micropython")
    stamp = os.path.join(UNIX32, ".key")
    if os.path.exists(exe) and os.path.exists(stamp) and open(stamp).read() == key:
        if not quiet:
            say("unix32 up to date:", os.path.relpath(exe, ROOT))
        return exe
    say("building unix32 (MicroPython %s, 32-bit, library frozen) from %s" % (VERSION, src))
    os.makedirs(UNIX32, exist_ok=True)
    jobs = "-j%d" % max(1, min(4, os.cpu_count() or 1))
    run(["make", jobs, "-C", os.path.join(src, "mpy-cross")],
        log=os.path.join(UNIX32, "mpy-cross.log"))
    obj = os.path.join(UNIX32, "obj")
    run(["make", jobs, "-C", os.path.join(src, "ports", "unix")] + flags +
        ["FROZEN_MANIFEST=" + os.path.join(ROOT, "manifest.py"), "BUILD=" + obj],
        log=os.path.join(UNIX32, "build.log"))
    # Copied and renamed into place: a device may be running the old binary ("text file busy").
    _install(os.path.join(obj, "micropython"), exe)
    # The matching mpy-cross (mpy version of 1.28): tests compile their own modules with it.
    _install(os.path.join(src, "mpy-cross", "build", "mpy-cross"),
             os.path.join(UNIX32, "mpy-cross"))
    with open(stamp, "w") as f:
        f.write(key)
    say("built", os.path.relpath(exe, ROOT))
    return exe


def _install(src, dst):
    shutil.copy2(src, dst + ".new")
    os.replace(dst + ".new", dst)


# -- board images -------------------------------------------------------------------------

def build_board(board, src_spec=None):
    port, mboard, image = PORT_BOARDS[board]
    spec = source_spec(src_spec)
    if not (spec and os.path.isdir(spec)):
        raise BuildError(
            "make firmware BOARD=%s needs MICROPY_SRC= a full MicroPython %s checkout with the "
            "%s port's submodules (make -C ports/%s submodules BOARD=%s); the vendored tarball "
            "has only micropython-lib" % (board, VERSION, port, port, mboard))
    pdir = os.path.join(spec, "ports", port)
    if port == "esp32" and not (os.environ.get("IDF_PATH") and shutil.which("idf.py")):
        raise BuildError("BOARD=%s needs ESP-IDF (IDF_PATH set and idf.py on PATH: source "
                         "esp-idf/export.sh); not found" % board)
    if port == "rp2":
        if not shutil.which("arm-none-eabi-gcc"):
            raise BuildError("BOARD=%s needs arm-none-eabi-gcc (Debian gcc-arm-none-eabi); "
                             "not found" % board)
        if not os.path.exists(os.path.join(spec, "lib", "pico-sdk", "CMakeLists.txt")):
            raise BuildError("BOARD=%s needs the pico-sdk submodule: make -C %s submodules "
                             "BOARD=%s" % (board, pdir, mboard))
    build = os.path.join(pdir, "build-" + mboard)
    say("building", board, "(%s %s)" % (port, mboard))
    subprocess.run(["make", "-j%d" % (os.cpu_count() or 1), "-C", pdir, "BOARD=" + mboard,
                    "FROZEN_MANIFEST=" + os.path.join(ROOT, "manifest.py")], check=True)
    out = os.path.join(ROOT, "build", "firmware")
    os.makedirs(out, exist_ok=True)
    dst = os.path.join(out, board + os.path.splitext(image)[1])
    shutil.copy2(os.path.join(build, image), dst)
    say("image", os.path.relpath(dst, ROOT), "(flash it: make flash BOARD=%s FIRMWARE=%s)"
        % (board, os.path.relpath(dst, ROOT)))
    return dst


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--board", required=True, choices=["unix32"] + sorted(PORT_BOARDS))
    ap.add_argument("--src", help="MicroPython source: directory or .tar.gz (or MICROPY_SRC)")
    ap.add_argument("--print-exe", action="store_true",
                    help="unix32: print only the interpreter's path")
    a = ap.parse_args(argv)
    try:
        if a.board == "unix32":
            exe = build_unix32(a.src, quiet=a.print_exe)
            if a.print_exe:
                print(exe)
        else:
            build_board(a.board, a.src)
    except BuildError as e:
        print("firmware: %s" % e, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
