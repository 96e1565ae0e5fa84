"""make deploy for real: mpremote against the unix-port micropython behind a socat pty.

The unix port runs with cwd = a temp dir, so its filesystem root is that dir (as `/` is on
a board) and MICROPYPATH=.frozen:lib mirrors a board's sys.path ('', .frozen, /lib).
mpremote needs `resume`: its soft reset would end the unix process.
"""
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

import build_mpy
import mp

ROOT = mp.ROOT
MPREMOTE = os.path.join(mp.VENV_BIN, "mpremote")
DEPLOY = os.path.join(ROOT, "tools", "deploy.py")

pytestmark = pytest.mark.skipif(shutil.which("socat") is None, reason="socat not installed")


def _children(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def _alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split()[2] != "Z"
    except OSError:
        return False


class PtyDevice:
    """micropython behind a pty made by socat; stop() ends both processes, always."""

    def __init__(self, fsdir):
        self.fsdir = str(fsdir)
        self.tty = os.path.join(self.fsdir, "..", os.path.basename(self.fsdir) + ".tty")
        self.tty = os.path.abspath(self.tty)
        env = dict(os.environ, MICROPYPATH=".frozen:lib")
        self.proc = subprocess.Popen(
            ["socat", "PTY,link=%s,raw,echo=0" % self.tty,
             "EXEC:%s,pty,stderr,setsid,ctty,raw,echo=0" % mp.micropython_exe()],
            cwd=self.fsdir, env=env, start_new_session=True,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.pids = [self.proc.pid]
        t_end = time.time() + 10
        while not (os.path.exists(self.tty) and _children(self.proc.pid)):
            if time.time() > t_end or self.proc.poll() is not None:
                self.stop()
                raise RuntimeError("socat did not start: %s" % self.proc.stderr.read())
            time.sleep(0.02)
        self.pids += _children(self.proc.pid)

    def mpremote(self, *args, timeout=60):
        r = subprocess.run([MPREMOTE, "connect", self.tty, "resume"] + list(args),
                           capture_output=True, text=True, timeout=timeout)
        assert r.returncode == 0, r.stdout + r.stderr
        return r.stdout

    def stop(self):
        for pid in reversed(self.pids):   # micropython first, then socat
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            for pid in self.pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            self.proc.wait(timeout=5)
        if self.proc.stderr:
            self.proc.stderr.close()
        t_end = time.time() + 5
        while any(_alive(p) for p in self.pids[1:]) and time.time() < t_end:
            time.sleep(0.02)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("build-unix"))
    build_mpy.build("unix", out=out)
    return out


@pytest.fixture(scope="module")
def device(tmp_path_factory):
    fs = tmp_path_factory.mktemp("devfs")
    dev = PtyDevice(fs)
    try:
        yield dev
    finally:
        dev.stop()


@pytest.fixture(scope="module")
def deployed(device, built, tmp_path_factory):
    d = tmp_path_factory.mktemp("cfg")
    cfg = d / "dev.json"
    cfg.write_text('{"server": "coap://127.0.0.1:5683", "ueServiceId": "cue-1"}\n')
    sec = d / "secrets.json"
    sec.write_text('{"wifiPassword": "hunter2", "psk": "00112233"}\n')
    r = subprocess.run([sys.executable, DEPLOY, "deploy", "--board", "unix", "--port", device.tty,
                        "--build-dir", built, "--config", str(cfg), "--secrets", str(sec),
                        "--resume"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    return {"cfg": cfg, "secrets": sec, "out": r.stdout}


def _tree(top):
    out = {}
    for dirpath, _, filenames in os.walk(top):
        for fn in filenames:
            p = os.path.join(dirpath, fn)
            out[os.path.relpath(p, top)] = open(p, "rb").read()
    return out


def test_files_land_on_the_device(device, built, deployed):
    want = _tree(built)
    want.pop(".mpy-flags")
    got = _tree(device.fsdir)
    for rel, data in want.items():
        assert got.get(rel) == data, rel
    assert got["config.json"] == deployed["cfg"].read_bytes()
    assert got["secrets.json"] == deployed["secrets"].read_bytes()
    assert "lib/board.mpy" in got and "lib/msgin5g/log.mpy" in got and "boot.py" in got


def test_deployed_modules_import_over_the_same_pty(device, deployed):
    out = device.mpremote(
        "exec", "import board, wifi, json\nfrom msgin5g import log\n"
                "print(board.__file__, log.__file__)",
        "+", "eval", "board.detect().name",
        "+", "eval", "json.load(open('config.json'))['ueServiceId']")
    assert out.split() == ["lib/board.mpy", "lib/msgin5g/log.mpy", "unix", "cue-1"], out


def test_second_deploy_skips_unchanged_files(device, built, deployed):
    r = subprocess.run([sys.executable, DEPLOY, "deploy", "--board", "unix", "--port", device.tty,
                        "--build-dir", built, "--resume"], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count("Up to date:") >= 5, r.stdout


def test_boot_py_safe_mode_file_on_device(device, deployed):
    out = device.mpremote("fs", "touch", ":safemode",
                          "+", "exec", "exec(open('boot.py').read())",
                          "+", "eval", "(board.SAFE, board.detect().state)")
    assert "boot: safe mode" in out and "(True, 'safe')" in out, out
    out = device.mpremote("fs", "rm", ":safemode",
                          "+", "exec", "exec(open('boot.py').read())",
                          "+", "eval", "board.SAFE")
    assert out.strip().splitlines()[-1] == "False", out


def test_mip_install_from_package_json(device, tmp_path):
    """package.json is what `mpremote mip install github:<owner>/<repo>` reads. A local copy
    holding a few of its real entries, beside links to lib/ and boards/, exercises the same
    relative URLs without a network (all of it takes ~9 s over the pty)."""
    import json
    with open(os.path.join(ROOT, "package.json")) as f:
        pj = json.load(f)
    keep = ("board.py", "board_unix.py", "wifi.py", "msgin5g/log.py")
    sub = {"urls": [u for u in pj["urls"] if u[0] in keep], "version": pj["version"]}
    assert len(sub["urls"]) == len(keep)
    for d in ("lib", "boards"):
        os.symlink(os.path.join(ROOT, d), str(tmp_path / d))
    (tmp_path / "package.json").write_text(json.dumps(sub))
    out = device.mpremote("mip", "install", "--target", "miplib", str(tmp_path / "package.json"),
                          timeout=120)
    assert "Done" in out, out
    got = _tree(os.path.join(device.fsdir, "miplib"))
    assert sorted(got) == sorted(k.replace("/", os.sep) for k in keep)
    for dest, src in sub["urls"]:
        assert got[dest.replace("/", os.sep)] == open(os.path.join(ROOT, src), "rb").read()
    out = device.mpremote("exec", "import sys\nsys.path.insert(0, 'miplib')\n"
                                  "for m in ('board', 'wifi'):\n"
                                  "    sys.modules.pop(m, None)\n"
                                  "import wifi\nprint(wifi.__file__)")
    assert out.strip() == "miplib/wifi.py", out


def test_make_deploy_passes_the_options():
    r = subprocess.run(["make", "-n", "deploy", "BOARD=unix", "PORT=build/tty", "RESUME=1",
                        "CONFIG=dev.json", "SECRETS=s.json"], cwd=ROOT, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    line = " ".join(r.stdout.replace("\\\n", " ").split())
    assert ("tools/deploy.py deploy --board unix --port build/tty --config dev.json "
            "--secrets s.json --resume") in line, line
    r = subprocess.run(["make", "-n", "deploy", "BOARD=unix"], cwd=ROOT, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode != 0 and "PORT= is required" in r.stderr


def test_deploy_dry_run_command_line(built):
    r = subprocess.run([sys.executable, DEPLOY, "deploy", "--board", "unix", "--port", "/dev/x",
                        "--build-dir", built, "--dry-run", "--reset"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    cmd = r.stdout.strip()
    assert cmd.startswith("+ ") and "connect /dev/x exec" in cmd and " resume " not in cmd
    assert "fs cp -r " in cmd and cmd.rstrip().endswith("+ soft-reset")
    assert "%s/boot.py :boot.py" % built in cmd


def test_session_stop_leaves_no_process(tmp_path):
    (tmp_path / "fs").mkdir()
    dev = PtyDevice(tmp_path / "fs")
    pids = list(dev.pids)
    assert len(pids) == 2 and all(_alive(p) for p in pids)
    dev.stop()
    assert not any(_alive(p) for p in pids)
