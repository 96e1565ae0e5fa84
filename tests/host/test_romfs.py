"""ROMFS: the library as a ROMFS image (make romfs / make deploy ROMFS=1).

The image is built by mpremote from the bytecode build, mounted on the unix port with
vfs.VfsRom, and a whole device runs from it against the reference server: the same image a
board with a ROMFS partition mounts at /rom. The unix port itself has no ROMFS partition, so
`deploy --romfs` to it must stop with a clear message.
"""
import json
import os
import signal
import subprocess
import sys

import pytest

import build_mpy
import mp

sys.path.insert(0, os.path.join(mp.ROOT, "tools"))
import deploy  # noqa: E402

PORT = 18931


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    d = tmp_path_factory.mktemp("romfs")
    build = str(d / "build-unix")
    build_mpy.build("unix", out=build)
    img = str(d / "unix.romfs")
    r = subprocess.run(deploy.romfs_command(build, img), capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    return img


def test_the_image_holds_lib_and_every_module_imports_from_rom(image):
    code = mp.romfs_prelude(image) + (
        "import gc\ngc.collect(); a = gc.mem_alloc()\n"
        "import coap.udp, msgin5g.client, msgin5g.device, apps.echo, board\n"
        "gc.collect(); print(gc.mem_alloc() - a)\n"
        "for m in (coap.udp, msgin5g.client, msgin5g.device, apps.echo, board):\n"
        "    print(m.__file__)\n")
    r = mp.run(["-c", code], heap="512k")
    out = r.stdout.split()
    assert r.returncode == 0, r.stdout + r.stderr
    assert out[1:] == ["/rom/lib/coap/udp.mpy", "/rom/lib/msgin5g/client.mpy",
                       "/rom/lib/msgin5g/device.mpy", "/rom/lib/apps/echo.mpy",
                       "/rom/lib/board.mpy"], out
    # Bytecode runs in place: the runtime's RAM is its objects only (74 KB when the same
    # modules are loaded from files). A generous ceiling that catches a regression.
    assert int(out[0]) < 56 * 1024, out[0]


def test_a_device_runs_from_the_image(image, tmp_path):
    from m5server.thread import ServerThread
    cfg = tmp_path / "ue.json"
    cfg.write_text(json.dumps({"ueServiceId": "ue-rom", "server": "coap://127.0.0.1:%d" % PORT,
                               "app": "echo", "listenPort": PORT + 1, "keepAliveSec": 0}))
    with ServerThread(port=PORT, quiet=True) as st:
        p = mp.popen(["tools/host/romfs_boot.py", image, "firmware/main.py", str(cfg)],
                     heap="512k", stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            assert mp.wait_for(lambda: "ue-rom" in [r["ueServiceId"]
                                                   for r in st.registrations()], 10)
            st.as_send("as-rom", "ue-rom", b"from rom", report=True)
            assert mp.wait_for(lambda: st.as_inbox("as-rom"), 10)
            assert mp.wait_for(lambda: st.as_reports("as-rom"), 10)
            inbox = st.as_inbox("as-rom")
        finally:
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
            out = p.communicate(timeout=10)[0]
    assert inbox[0]["payload"] == b"from rom", out
    assert "ROMFS image" in out and '"state": "DEREGISTERED"' in out, out


def test_deploy_romfs_commands(tmp_path):
    build = str(tmp_path / "b")
    build_mpy.build("unix", out=build)
    cmd = deploy.deploy_commands("unix", "/dev/ttyX", build, resume=True, romfs=True)
    i = cmd.index("romfs")
    assert cmd[i:i + 4] == ["romfs", "--no-mpy", "deploy", build + "-romfs"]
    assert os.listdir(build + "-romfs") == ["lib"]          # only lib/ goes to /rom
    assert ":lib/" not in cmd and ":main.py" in cmd and ":boot.py" in cmd


def test_deploy_romfs_to_a_port_without_romfs_says_so(tmp_path):
    import shutil
    if shutil.which("socat") is None:
        pytest.skip("socat not installed")
    from test_deploy_pty import PtyDevice
    build = str(tmp_path / "b")
    build_mpy.build("unix", out=build)
    fs = tmp_path / "fs"
    fs.mkdir()
    dev = PtyDevice(fs)
    try:
        r = subprocess.run([sys.executable, os.path.join(mp.ROOT, "tools", "deploy.py"),
                            "deploy", "--board", "unix", "--port", dev.tty, "--build-dir", build,
                            "--romfs", "--resume"], capture_output=True, text=True, timeout=60)
    finally:
        dev.stop()
    out = r.stdout + r.stderr
    assert r.returncode != 0, out
    assert "ROMFS is not enabled on this device" in out, out
    assert "deploy without ROMFS=1" in out, out
    assert not (fs / "main.py").exists()            # nothing half-deployed
