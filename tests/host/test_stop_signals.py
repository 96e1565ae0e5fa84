"""Stop signals (issue 12): a device asked to stop de-registers, prints its final STATUS line
and exits 0, however many stop signals come and from where, and within bounded time.

On the unix port every SIGINT raises a KeyboardInterrupt wherever the interpreter is (even
inside C code), so a second one used to cut the DEREG short. tools/ue runs the device in its
own session and passes exactly one SIGINT on, whatever reaches it: a terminal's Ctrl-C to the
process group of `make ue` (make gets one too), SIGTERM then SIGINT (a service manager, then
an impatient operator). A SIGINT sent to the interpreter itself while it de-registers is
absorbed by the firmware. Without a server the DEREG gives up after its 3 s.

The server sits behind tools/lossy.py with 300 ms delay each way, so that the DEREG is in
flight when the further signals come.
"""
import json
import os
import signal
import subprocess
import time

import mp
import pytest
from lossy import ProxyThread
from m5server.thread import ServerThread

PORT = 23700            # server; PORT + 1 the delaying proxy; devices from PORT + 10
DELAY_MS = 300
GAP_S = 0.05            # between the signals of one burst
STOP_S = 15             # the stop must end within this (DEREG <= 3 s, then STATUS)


class Device:
    """One device started through tools/ue or `make ue`, each in a new session and process
    group (as a terminal's job), with its output in a file."""

    def __init__(self, tmp_path, name, port, via="ue", server_port=PORT + 1):
        cfg = tmp_path / (name + ".json")
        cfg.write_text(json.dumps({
            "ueServiceId": name, "server": "coap://127.0.0.1:%d" % server_port, "app": "echo",
            "listenPort": port, "keepAliveSec": 0, "logLevel": "info"}))
        self.log = tmp_path / (name + ".log")
        if via == "make":
            cmd = ["make", "-s", "--no-print-directory", "ue", "CONFIG=%s" % cfg, "HEAP=256k"]
        else:
            cmd = [os.path.join(mp.VENV_BIN, "python"), "tools/ue", str(cfg), "--heap", "256k"]
        with open(self.log, "w") as out:
            self.p = subprocess.Popen(cmd, cwd=mp.ROOT, stdout=out, stderr=subprocess.STDOUT,
                                      start_new_session=True)

    def text(self):
        return self.log.read_text()

    def registered(self, timeout=30):
        assert mp.wait_for(lambda: "REGISTERED" in self.text() or self.p.poll() is not None,
                           timeout), self.text()
        assert self.p.poll() is None, self.text()

    def interpreter_pid(self):
        """The micropython process under tools/ue (under make: one level further down)."""
        pid = self.p.pid
        while True:
            with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
                kids = f.read().split()
            if not kids:
                return pid
            pid = int(kids[0])

    def signal(self, sigs, group=False, pid=None):
        for i, s in enumerate(sigs):
            if i:
                time.sleep(GAP_S)
            if group:
                os.killpg(self.p.pid, s)
            else:
                os.kill(pid or self.p.pid, s)

    def wait(self):
        t0 = time.time()
        try:
            rc = self.p.wait(STOP_S)
        finally:
            if self.p.poll() is None:
                os.killpg(self.p.pid, signal.SIGKILL)
                self.p.wait()
        return rc, time.time() - t0

    def status(self):
        lines = [ln for ln in self.text().splitlines() if ln.startswith("STATUS ")]
        assert len(lines) == 1, self.text()
        return json.loads(lines[0][len("STATUS "):])


@pytest.fixture(scope="module")
def server():
    st = ServerThread(port=PORT, quiet=True)
    st.start()
    px = ProxyThread(listen=("127.0.0.1", PORT + 1), target=("127.0.0.1", PORT),
                     delay_ms=(DELAY_MS, DELAY_MS))
    px.start()
    yield st
    px.stop()
    st.stop()


def registered(st, name):
    return name in [r["ueServiceId"] for r in st.registrations()]


def check_stopped(st, dev, name, rc, took, rc_want=0):
    text = dev.text()
    assert rc == rc_want, text
    assert "Traceback" not in text, text
    assert dev.status()["state"] == "DEREGISTERED", text
    assert not registered(st, name), text
    assert took < 6, "stop took %.1f s\n%s" % (took, text)


INT, TERM = signal.SIGINT, signal.SIGTERM
BURSTS = {"int-int": (INT, INT), "int-int-int": (INT, INT, INT), "term-int": (TERM, INT)}


@pytest.mark.parametrize("burst", sorted(BURSTS))
def test_signals_to_the_launcher(server, tmp_path, burst):
    """kill -INT/-TERM tools/ue, twice or three times in quick succession."""
    name = "stop-ue-" + burst
    dev = Device(tmp_path, name, PORT + 10 + sorted(BURSTS).index(burst))
    dev.registered()
    assert registered(server, name)
    dev.signal(BURSTS[burst])
    check_stopped(server, dev, name, *dev.wait())


@pytest.mark.parametrize("burst", sorted(BURSTS))
def test_signals_to_the_process_group_of_make_ue(server, tmp_path, burst):
    """Ctrl-C (pressed again) or a service manager's stop: the whole group of `make ue`. make
    waits for its recipe, then dies of a signal it got (GNU make's rule), so only the log tells
    that the device inside de-registered and ended cleanly."""
    name = "stop-make-" + burst
    dev = Device(tmp_path, name, PORT + 20 + sorted(BURSTS).index(burst), via="make")
    dev.registered()
    dev.signal(BURSTS[burst], group=True)
    rc, took = dev.wait()
    assert rc == 0 or -rc in BURSTS[burst], dev.text()
    check_stopped(server, dev, name, 0, took)


def test_sigints_to_the_interpreter_itself(server, tmp_path):
    """kill -INT straight to micropython, again while the DEREG is in flight: the firmware
    absorbs the second KeyboardInterrupt and still waits for the answer."""
    name = "stop-direct"
    dev = Device(tmp_path, name, PORT + 30)
    dev.registered()
    pid = dev.interpreter_pid()
    assert pid != dev.p.pid
    dev.signal([INT], pid=pid)
    assert mp.wait_for(lambda: "stopping" in dev.text(), 5), dev.text()
    time.sleep(DELAY_MS / 3000)     # DEREG sent, its answer 2 x DELAY_MS away
    dev.signal([INT], pid=pid)
    check_stopped(server, dev, name, *dev.wait())
    assert "stop signal again" in dev.text()


def test_stop_without_a_server_is_bounded(tmp_path):
    """The server is gone: the DEREG gets no answer and gives up after 3 s; STATUS, exit 0."""
    port = PORT + 40
    name = "stop-alone"
    with ServerThread(port=port, quiet=True) as st:
        dev = Device(tmp_path, name, port + 1, server_port=port)
        dev.registered()
        assert registered(st, name)
    t0 = time.time()
    dev.signal((INT, INT, TERM))
    rc, took = dev.wait()
    text = dev.text()
    assert rc == 0 and "Traceback" not in text, text
    assert dev.status()["state"] == "DEREGISTERING", text    # no answer came
    assert 2.5 < time.time() - t0 < 8, text
