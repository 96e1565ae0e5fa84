"""tools/build_mpy.py (make mpy), package.json and manifest.py."""
import json
import os
import shutil
import subprocess
import sys

import pytest

import build_mpy
import mp

ROOT = mp.ROOT
# mpy v6 header byte 2 = (native arch << 2) | sub-version, when the file has native code.
ARCH_CODE = {"armv6m": 4, "armv7emsp": 7, "xtensawin": 10, "rv32imc": 11}
WANT = {
    "esp32": ("xtensawin", {"board_esp32"}),
    "esp32s3": ("xtensawin", {"board_esp32", "board_esp32s3"}),
    "esp32c3": ("rv32imc", {"board_esp32", "board_esp32c3"}),
    "esp32c6": ("rv32imc", {"board_esp32", "board_esp32c3", "board_esp32c6"}),
    "rp2040": ("armv6m", {"board_rp2040"}),
    "rp2350": ("armv7emsp", {"board_rp2040", "board_rp2350"}),
    "unix": (None, {"board_unix"}),
}


def test_board_names_agree():
    sys.path.insert(0, os.path.join(ROOT, "boards"))
    import board
    assert build_mpy.BOARDS == board.NAMES
    assert sorted(WANT) == sorted(build_mpy.BOARDS)


def _sources(top):
    out = []
    for dirpath, dirnames, filenames in os.walk(os.path.join(ROOT, top)):
        dirnames[:] = [d for d in dirnames if d != "__pycache__"]
        out += [os.path.join(dirpath, f) for f in filenames if f.endswith(".py")]
    return out


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    out = {}
    for b in build_mpy.BOARDS:
        d = str(tmp_path_factory.mktemp("mpy-" + b))
        out[b] = (d, build_mpy.build(b, out=d))
    return out


@pytest.mark.parametrize("board", build_mpy.BOARDS)
def test_board_build_has_every_module(builds, board):
    out, sizes = builds[board]
    arch, board_mods = WANT[board]
    assert build_mpy.board_info(board)["arch"] == arch
    for src in _sources("lib"):
        rel = os.path.relpath(src, os.path.join(ROOT, "lib"))[:-3] + ".mpy"
        assert os.path.getsize(os.path.join(out, "lib", rel)) > 0, rel
    have = {f[:-4] for f in os.listdir(os.path.join(out, "lib")) if f.endswith(".mpy")}
    for src in _sources("boards"):
        mod = os.path.basename(src)[:-3]
        if mod.startswith("board_"):
            assert (mod in have) == (mod in board_mods), (board, mod)
        else:
            assert mod in have, mod
    for fn in ("boot.py", "main.py"):
        src = os.path.join(ROOT, "firmware", fn)
        if os.path.exists(src):  # kept as source at the root of the device
            with open(src, "rb") as a, open(os.path.join(out, fn), "rb") as b:
                assert a.read() == b.read()
            assert not os.path.exists(os.path.join(out, "lib", fn[:-3] + ".mpy"))
    for src in _sources("firmware"):
        rel = os.path.relpath(src, os.path.join(ROOT, "firmware"))
        if rel not in ("boot.py", "main.py"):  # firmware/apps/echo.py -> lib/apps/echo.mpy
            assert os.path.getsize(os.path.join(out, "lib", rel[:-3] + ".mpy")) > 0, rel
    for dev in sizes:
        if dev.endswith(".mpy"):
            with open(os.path.join(out, dev), "rb") as f:
                assert f.read(2) == b"M\x06", dev  # mpy v6, what the unix port and boards load


def test_unix_build_imports_on_unix_port(builds):
    out, sizes = builds["unix"]
    mods = sorted(dev[4:-4].replace("/", ".").replace(".__init__", "")
                  for dev in sizes if dev.startswith("lib/") and dev.endswith(".mpy"))
    assert {"board", "wifi", "msgin5g.log"} <= set(mods)
    script = (
        "import sys\n"
        "bad = []\n"
        "for m in %r:\n"
        "    try:\n"
        "        __import__(m)\n"
        "        f = sys.modules[m].__file__\n"
        "        if not f.endswith('.mpy'): bad.append((m, f))\n"
        "    except Exception as e:\n"
        "        bad.append((m, repr(e)))\n"
        "import board, wifi\n"
        "from msgin5g import log\n"
        "print('board', board.detect().name, wifi.WifiManager.__name__, log.redact({'psk': 1}))\n"
        "print('bad', bad)\n" % (mods,))
    env = dict(os.environ, MICROPYPATH=".frozen:" + os.path.join(out, "lib"))
    r = subprocess.run([mp.micropython_exe(), "-c", script], env=env, cwd=out,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "board unix WifiManager {'psk': '***'}" in r.stdout, r.stdout
    assert "bad []" in r.stdout, r.stdout


def test_march_reaches_mpy_cross(tmp_path):
    """Native code carries the board's arch in the .mpy header (byte 2); the unix port
    refuses a foreign one."""
    root = tmp_path / "repo"
    for d in ("lib", "boards", "firmware"):
        (root / d).mkdir(parents=True)
    (root / "lib" / "fast.py").write_text(
        "import micropython\n@micropython.native\ndef inc(x):\n    return x + 1\n")
    for b in ("board", "board_esp32", "board_esp32c3", "board_rp2040", "board_rp2350"):
        (root / "boards" / (b + ".py")).write_text("X = 1\n")
    (root / "boards" / "board_esp32c6.py").write_text("from board_esp32c3 import X\n")
    heads = {}
    for board in ("esp32", "esp32c3", "esp32c6", "rp2040", "rp2350"):
        out = tmp_path / board
        build_mpy.build(board, out=str(out), root=str(root))
        heads[board] = (out / "lib" / "fast.mpy").read_bytes()[:3]
        mods = ["board_%s.mpy" % board] + (["board_esp32c3.mpy"] if board == "esp32c6" else [])
        assert sorted(os.listdir(out / "lib")) == sorted(["fast.mpy", "board.mpy"] + mods)
    for board in heads:
        assert heads[board][2] >> 2 == ARCH_CODE[build_mpy.board_info(board)["arch"]], board
    assert heads["rp2350"][2] >> 2 == ARCH_CODE["armv7emsp"]
    assert heads["esp32c3"][2] >> 2 == heads["esp32c6"][2] >> 2 == ARCH_CODE["rv32imc"]
    for board in ("rp2040", "rp2350", "esp32c6"):
        env = dict(os.environ, MICROPYPATH=".frozen:" + str(tmp_path / board / "lib"))
        r = subprocess.run([mp.micropython_exe(), "-c", "import fast"], env=env,
                           capture_output=True, text=True, timeout=30)
        assert r.returncode != 0 and "incompatible .mpy arch" in r.stdout + r.stderr, board


@pytest.mark.parametrize("board", ["esp32c3", "esp32c6", "rp2350"])
def test_new_board_cli_build_and_make_plumbing(tmp_path, board):
    r = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "build_mpy.py"),
                        "--board", board, "--info"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["arch"] == WANT[board][0]
    r = subprocess.run(["make", "-n", "mpy", "BOARD=" + board], cwd=ROOT, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0 and "tools/build_mpy.py --board " + board in r.stdout, r.stderr
    r = subprocess.run(["make", "-n", "deploy", "BOARD=" + board, "PORT=/dev/ttyACM0"],
                       cwd=ROOT, capture_output=True, text=True, timeout=60)
    out = " ".join(r.stdout.replace("\\\n", " ").split())
    assert r.returncode == 0 and "tools/deploy.py deploy --board %s --port /dev/ttyACM0" % board \
        in out, out


def test_incremental_build_and_stale_removal(tmp_path):
    out = tmp_path / "b"
    build_mpy.build("unix", out=str(out))
    f = out / "lib" / "board.mpy"
    os.utime(f, (1, 1))                        # older than its source: recompiled
    w = out / "lib" / "wifi.mpy"
    mtime = w.stat().st_mtime_ns
    (out / "lib" / "gone").mkdir()
    (out / "lib" / "gone" / "old.mpy").write_bytes(b"M\x06")
    (out / "lib" / "old.mpy").write_bytes(b"M\x06")
    build_mpy.build("unix", out=str(out))
    assert f.stat().st_mtime > 1
    assert w.stat().st_mtime_ns == mtime       # up to date: not rebuilt
    assert not (out / "lib" / "old.mpy").exists() and not (out / "lib" / "gone").exists()


def test_compile_mpy_removes_outputs_whose_source_is_gone(tmp_path):
    # The test and device trees (build/mpy-test, build/unix-mpy) come from
    # tools/host/compile_mpy.py: a module moved away (as msgin5g/gateway.py went to
    # msgin5g/constrained/) must not stay importable from its old place.
    import compile_mpy
    src = tmp_path / "src"
    (src / "pkg").mkdir(parents=True)
    for name in ("__init__", "core", "role"):
        (src / "pkg" / (name + ".py")).write_text("X = %r\n" % name)
    out = tmp_path / "out"
    compile_mpy.build(str(out), [str(src)])
    assert (out / "pkg" / "role.mpy").exists()
    (src / "pkg" / "roles").mkdir()
    (src / "pkg" / "roles" / "__init__.py").write_text("")
    os.rename(src / "pkg" / "role.py", src / "pkg" / "roles" / "role.py")
    (out / "pkg" / "notes.txt").write_text("not ours")
    made = compile_mpy.build(str(out), [str(src)])
    assert sorted(os.path.relpath(m, str(out)) for m in made) == [
        os.path.join("pkg", "roles", "__init__.mpy"), os.path.join("pkg", "roles", "role.mpy")]
    assert not (out / "pkg" / "role.mpy").exists()
    assert (out / "pkg" / "core.mpy").exists() and (out / "pkg" / "notes.txt").exists()
    r = subprocess.run([mp.micropython_exe(), "-c", "import pkg.roles.role as r; print(r.X)\n"
                        "try:\n import pkg.role\nexcept ImportError:\n print('gone')"],
                       env=dict(os.environ, MICROPYPATH=str(out)), capture_output=True, text=True)
    assert r.stdout.split() == ["role", "gone"], r.stdout + r.stderr
    shutil.rmtree(src / "pkg" / "roles")
    compile_mpy.build(str(out), [str(src)])
    assert not (out / "pkg" / "roles").exists()       # a folder left empty goes too


def test_no_lines_build_is_smaller_still_runs_and_rebuilds(tmp_path):
    """--no-lines (NOLINES=1): bytecode without line numbers; a traceback still names the
    function. Switching it rebuilds every file (the flags stamp), in both directions."""
    out = tmp_path / "b"
    full = build_mpy.build("unix", out=str(out))
    code = (out / "lib" / "coap" / "codec.mpy").read_bytes()
    slim = build_mpy.build("unix", out=str(out), lines=False)
    assert (out / "lib" / "coap" / "codec.mpy").read_bytes() != code
    a, b = (sum(v for k, v in z.items() if k.endswith(".mpy")) for z in (slim, full))
    assert a < 0.95 * b, (a, b)
    # a payload marker with no payload: raised in decode() itself, not in decode_header()
    script = ("import sys\nfrom coap.codec import decode\n"
              "try:\n    decode(b'@\\x01\\x00\\x00\\xff')\n"
              "except Exception as e:\n    sys.print_exception(e)\n")
    env = dict(os.environ, MICROPYPATH=".frozen:" + str(out / "lib"))

    def traceback():
        r = subprocess.run([mp.micropython_exe(), "-c", script], env=env, capture_output=True,
                           text=True, timeout=30)
        return [ln for ln in r.stdout.splitlines() if "codec.py" in ln]
    assert traceback() == ['  File "coap/codec.py", line 1, in decode']
    build_mpy.build("unix", out=str(out))
    assert (out / "lib" / "coap" / "codec.mpy").read_bytes() == code
    (frame,) = traceback()
    assert frame.endswith(", in decode") and ", line 1," not in frame


def test_compile_error_is_reported(tmp_path):
    root = tmp_path / "repo"
    for d in ("lib", "boards", "firmware"):
        (root / d).mkdir(parents=True)
    (root / "lib" / "bad.py").write_text("def broken(:\n")
    (root / "boards" / "board_unix.py").write_text("")
    with pytest.raises(SystemExit) as e:
        build_mpy.build("unix", out=str(tmp_path / "o"), root=str(root))
    assert "bad.py" in str(e.value) and "SyntaxError" in str(e.value)


def test_cli_all_boards_and_unknown(tmp_path):
    r = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "build_mpy.py"),
                        "--board", "rp2040", "--out", str(tmp_path), "--sizes"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "arch armv6m" in r.stdout and "lib/board_rp2040.mpy" in r.stdout
    r = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "build_mpy.py"),
                        "--board", "esp8266"], capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "invalid choice" in r.stderr


def test_make_mpy_plumbing():
    r = subprocess.run(["make", "-n", "mpy", "BOARD=esp32s3"], cwd=ROOT, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "tools/build_mpy.py --board esp32s3" in r.stdout
    r = subprocess.run(["make", "-n", "mpy"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert "tools/build_mpy.py --all" in r.stdout and "--no-lines" not in r.stdout
    r = subprocess.run(["make", "-n", "mpy", "BOARD=rp2040", "NOLINES=1"], cwd=ROOT,
                       capture_output=True, text=True, timeout=60)
    assert "tools/build_mpy.py --board rp2040 --no-lines" in r.stdout


def test_package_json_in_sync_with_tree():
    with open(os.path.join(ROOT, "package.json")) as f:
        text = f.read()
    assert text == build_mpy.package_json_text(), "package.json is stale: run `make package-json`"
    urls = json.loads(text)["urls"]
    for dest, src in urls:
        assert os.path.isfile(os.path.join(ROOT, src)), src
        assert src not in ("firmware/boot.py", "firmware/main.py")
    dests = {d for d, _ in urls}
    assert {"board.py", "wifi.py", "msgin5g/log.py", "board_rp2040.py", "board_rp2350.py",
            "board_esp32c3.py", "board_esp32c6.py"} <= dests


def test_manifest_freezes_lib_and_boards():
    calls = []
    g = {
        "include": lambda p, **kw: calls.append(("include", p)),
        "package": lambda p, base_path=".", **kw: calls.append(("package", base_path, p)),
        "module": lambda p, base_path=".", **kw: calls.append(("module", base_path, p)),
    }
    cwd = os.getcwd()
    os.chdir(ROOT)  # makemanifest runs a manifest from its own directory
    try:
        with open("manifest.py") as f:
            exec(f.read(), g)
    finally:
        os.chdir(cwd)
    assert calls[0] == ("include", "$(BOARD_DIR)/manifest.py")
    pkgs = {c[2] for c in calls if c[0] == "package"}
    mods = {(c[1], c[2]) for c in calls if c[0] == "module"}
    for name in os.listdir(os.path.join(ROOT, "lib")):
        if os.path.isdir(os.path.join(ROOT, "lib", name)) and name != "__pycache__":
            assert name in pkgs, name
        elif name.endswith(".py"):
            assert ("lib", name) in mods
    for name in os.listdir(os.path.join(ROOT, "boards")):
        if name.endswith(".py"):
            assert ("boards", name) in mods, name
    for name in os.listdir(os.path.join(ROOT, "firmware")):
        if os.path.isdir(os.path.join(ROOT, "firmware", name)) and name != "__pycache__":
            assert name in pkgs, name
    assert ("firmware", "boot.py") not in mods and ("firmware", "main.py") not in mods
