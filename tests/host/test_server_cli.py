"""Reference MSGin5G Server as a program (python -m m5server), the application-server CLI
(tools/m5as), ServerThread, and the make target."""
import asyncio
import os
import signal
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_SRV = os.path.join(ROOT, "tools", "server")
if _SRV not in sys.path:
    sys.path.insert(0, _SRV)

from m5server import CoapUE, ServerThread  # noqa: E402
from test_server import free_port  # noqa: E402

PY = os.path.join(ROOT, ".venv", "bin", "python")
if not os.path.exists(PY):
    PY = sys.executable
M5AS = os.path.join(ROOT, "tools", "m5as")
UE1 = "ue-0001@msgin5g.example.net"


async def m5as(port, *args):
    p = await asyncio.create_subprocess_exec(
        M5AS, "--server", "coap://127.0.0.1:%d" % port, "--timeout", "5", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(p.communicate(), 20)
    return p.returncode, out.decode(), err.decode()


async def _readline_until(stream, needle, timeout=10):
    lines = []
    while True:
        ln = await asyncio.wait_for(stream.readline(), timeout)
        if not ln:
            raise AssertionError("server exited; output: %r" % lines)
        lines.append(ln.decode())
        if needle in lines[-1]:
            return lines


def test_server_program_and_as_cli():
    async def main():
        port = free_port()
        env = dict(os.environ, PYTHONPATH=_SRV)
        srv = await asyncio.create_subprocess_exec(
            PY, "-m", "m5server", "--port", str(port),
            "--groups", os.path.join(_SRV, "groups.json"), cwd=ROOT, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        ue = None
        try:
            await _readline_until(srv.stdout, "listening")
            ue = await CoapUE.start(UE1, free_port(), port)
            assert (await ue.reg())[0] == "2.01"
            rc, out, err = await m5as(port, "send", "as-1", UE1, "hello from AS", "--app", "9",
                                      "--report")
            assert rc == 0 and out.startswith("DELIVERED msgId="), (out, err)
            m = await ue.wait("MSG")
            assert m["appId"] == "9" and m["delivStReqInd"] and m["oriAddr"]["addr"] == "as-1"
            await ue.imdn("as-1", m["msgId"], to_type="AS")
            await ue.send("as-1", "temp=21".encode(), to_type="AS", app_id=3)
            rc, out, err = await m5as(port, "inbox", "as-1")
            assert rc == 0, err
            assert "MSG from %s app=3" % UE1 in out and "'temp=21'" in out
            assert "IMDN REPT_DELY_SUCCESS from %s id=%s" % (UE1, m["msgId"]) in out
            rc, out, _ = await m5as(port, "send", "as-1", "grp-sensors", "hi group", "--type", "GROUP")
            assert rc == 1 and "PARTIAL" in out  # ue-0002/0003 are not registered
            assert "MSG" == (await ue.wait("MSG"))["msgType"]
            rc, out, _ = await m5as(port, "send", "as-1", "nobody", "x")
            assert rc == 1 and out.startswith("FAILED") and "unknown recipient" in out
            rc, out, _ = await m5as(port, "stats")
            assert rc == 0 and "registered: 1" in out and "as_sent: 3" in out
            rc, out, _ = await m5as(port, "ues")
            assert rc == 0 and out.startswith(UE1 + " at 127.0.0.1:")
            rc, out, _ = await m5as(port, "groups")
            assert rc == 0 and "grp-sensors: " + UE1 in out
            rc, out, _ = await m5as(port, "topics", "as-1", "--sub", "alerts")
            assert rc == 0 and out.strip() == "alerts"
            rc, out, _ = await m5as(port, "inbox", "as-1", "--clear")
            rc, out, _ = await m5as(port, "inbox", "as-1")
            assert rc == 0 and out == ""
            rc, out, err = await m5as(free_port(), "stats")  # nobody listens there
            assert rc == 2 and "no answer" in err
        finally:
            if ue is not None:
                await ue.close()
            srv.send_signal(signal.SIGTERM)
            out, err = await asyncio.wait_for(srv.communicate(), 10)
        assert srv.returncode == 0, err
        log = out.decode()
        assert "REG %s from 127.0.0.1:" % UE1 in log and " -> 2.01\n" in log
        assert "Traceback" not in err.decode()
    asyncio.run(main())


def test_server_program_refuses_busy_port_and_bad_groups(tmp_path):
    port = free_port()
    env = dict(os.environ, PYTHONPATH=_SRV)
    with ServerThread(port=port):
        p = subprocess.run([PY, "-m", "m5server", "--port", str(port), "--quiet"], env=env,
                           capture_output=True, text=True, timeout=20)
        assert p.returncode == 1 and "cannot start" in p.stderr
    bad = tmp_path / "g.json"
    bad.write_text("{not json")
    p = subprocess.run([PY, "-m", "m5server", "--port", str(port), "--groups", str(bad)],
                       env=env, capture_output=True, text=True, timeout=20)
    assert p.returncode == 1 and "groups file" in p.stderr and "Traceback" not in p.stderr


def test_server_thread_for_synchronous_code():
    lines = []
    port = free_port()
    with ServerThread(port=port, log=lines.append, groups={"g": ["ue-t"]}) as st:
        async def ue_side():
            ue = await CoapUE.start("ue-t", free_port(), port)
            try:
                assert (await ue.reg())[0] == "2.01"
                loop = asyncio.get_running_loop()
                # the blocking API must not run on the UE's loop (it answers the downlink)
                res = await loop.run_in_executor(None, lambda: st.as_send("as-s", "ue-t", "ping"))
                assert res["status"] == "DELIVERED"
                assert (await ue.wait("MSG"))["msgId"] == res["msgId"]
                await ue.send("as-s", b"pong", to_type="AS")
            finally:
                await ue.close()
        asyncio.run(ue_side())
        assert [e["payload"] for e in st.as_inbox("as-s")] == [b"pong"]
        assert st.stats()["delivered"] == 2
        assert st.registrations()[0]["ueServiceId"] == "ue-t"
        assert st.as_send("as-s", "ue-none", "x")["status"] == "FAILED"
        try:
            ServerThread(port=port).start()
        except OSError:
            pass
        else:
            raise AssertionError("second server bound a busy port")
    assert any(ln.startswith("REG ue-t from 127.0.0.1:") for ln in lines)
    with ServerThread(port=port) as st2:  # the port is free again after stop()
        assert st2.stats()["registered"] == 0


def test_make_server_target():
    p = subprocess.run(["make", "-n", "server"], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    assert "-m m5server --host 127.0.0.1 --port 5683 --groups tools/server/groups.json" in p.stdout
