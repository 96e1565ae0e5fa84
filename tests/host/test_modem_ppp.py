"""PPP as far as CONNECT (issue 11, MODEM.md 6): the MicroPython unix port dials
tools/modemsim over a real pty (modem.setup.dial: the bring-up, then ATD*99***1#) and sees
CONNECT; the unix port has no network.PPP, so modem.setup.ppp() and a device whose config says
link.data "ppp" stop there with one clear line, not a traceback. Ports 18900-18909.

The AT side of a redial (modem.ppp.Supervisor) over the same pty, network.PPP stood in for by
an object that only answers isconnected()/status() (the unix port cannot have the real one):
the network drops the call (NO CARRIER, PDP context gone), lwIP gives up while the modem still
carries the call (+++ escape between guard times, ATH), the modem resets meanwhile (a full
bring-up), the call dies unnoticed by PPP (the device's CoAP exchanges time out: suspect);
each time the supervisor dials again until CONNECT and the simulator is back in PPP mode, and
its status() says so (no ifconfig() on the stand-in: no address). No UDP port of its own (the simulator's control port is ephemeral).
"""
import json
import os
import subprocess
import tempfile

import pytest

import mp
from modemsim import ModemSim

DIAL = """
import sys
from modem import setup
conf = {"uart": sys.argv[1], "model": sys.argv[2], "apn": "iot", "rat": "auto", "psm": None,
        "edrx": None, "rai": False, "pwrkey": None}
link = setup.link(conf)
c = setup.dial(link, 60000)
print("RESULT", c.result, link.bringups)
try:
    setup.ppp(link.ch.uart)
except OSError as e:
    print("PPP", e.args[0])
"""


def run_script(text, args, timeout):
    """text as a script on the unix port (256k heap) with args; its output."""
    with tempfile.TemporaryDirectory() as d:
        script = os.path.join(d, "script.py")
        with open(script, "w") as f:
            f.write(text)
        r = subprocess.run([mp.micropython_exe(), "-X", "heapsize=256k", script] + args,
                           env=mp.env(), capture_output=True, text=True, timeout=timeout,
                           cwd=mp.ROOT)
    return r, r.stdout + r.stderr


@pytest.mark.parametrize("model", ["sim7080", "bg95"])
def test_dial_reaches_connect_over_the_pty(model):
    with ModemSim(model, reg_delay=0.2) as sim:
        r, out = run_script(DIAL, [sim.path, model], 90)
        assert r.returncode == 0, out
        assert "RESULT CONNECT 1" in out, out
        assert "PPP modem: CONNECT reached, but this port has no network.PPP" in out, out
        assert "Traceback" not in out, out
        st = sim.state()
        assert st["mode"] == "ppp", st          # the UART now carries PPP (none comes here)


@pytest.mark.parametrize("board", ["unix", "unix32"])
def test_device_with_ppp_data_stops_with_a_clear_error(board, request):
    if board == "unix32":
        request.getfixturevalue("unix32")
    with ModemSim("sim7080", reg_delay=0.2) as sim, tempfile.TemporaryDirectory() as d:
        cfg = {"ueServiceId": "ue-ppp", "server": "coap://127.0.0.1:18900", "app": "echo",
               "keepAliveSec": 0, "logLevel": "info",
               "link": {"type": "modem", "model": "sim7080", "uart": sim.path, "apn": "iot",
                        "data": "ppp"}}
        path = os.path.join(d, "ppp.json")
        with open(path, "w") as f:
            json.dump(cfg, f)
        p = mp.popen([os.path.join(mp.ROOT, "firmware", "main.py"), path],
                     heap="96k" if board == "unix32" else "256k", board=board,
                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            out = p.communicate(timeout=90)[0]
        finally:
            if p.poll() is None:
                p.kill()
        assert "Traceback" not in out, out
        assert "CONNECT" in out and "no network.PPP" in out, out
        assert p.returncode == 2, (p.returncode, out)
        assert sim.state()["mode"] == "ppp"


REDIAL = """
import socket, sys, time
from modem import setup
from modem.ppp import Supervisor
conf = {"uart": sys.argv[1], "model": sys.argv[2], "apn": "iot", "rat": "auto", "psm": None,
        "edrx": None, "rai": False, "pwrkey": None}
link = setup.link(conf, log=print)
print("RESULT", setup.dial(link, 60000).result)


class StandIn:      # network.PPP's calls the supervisor makes (no PPP peer here)
    st = 4

    def isconnected(self):
        return self.st == 4

    def status(self):
        return self.st

    def disconnect(self):
        self.st = 0

    def config(self, stream=None):
        print("PPP stream", stream is not None)

    def connect(self):
        self.st = 4     # as if LCP and IPCP came up at once


class Counters:     # coap.message's, as the device's endpoint would count
    timeouts = received = 0


p = StandIn()
sup = Supervisor(link, p, lambda up, why: print("CHANGE", up, why), print)
ml = Counters()
sup.watch(ml)
ctl = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
addr = socket.getaddrinfo("127.0.0.1", int(sys.argv[3]), 0, socket.SOCK_DGRAM)[0][-1]
for name, fault, st in (("drop", b"pdp-loss", -6), ("escape", None, -9), ("reset", b"reset", -6),
                        ("silent", None, 4)):
    if st == 4:             # the call died unnoticed by PPP: two CoAP exchanges timed out
        ml.timeouts += 2
    if fault:
        ctl.sendto(fault, addr)
        time.sleep_ms(300)
    p.st = st               # what lwIP would say (it reads the UART; the stand-in cannot)
    t0 = time.ticks_ms()
    sup.tick()              # it sees the call gone
    while sup.state != "data" and time.ticks_diff(time.ticks_ms(), t0) < 90000:
        time.sleep_ms(min(sup.tick(), 20))
    print("ROUND", name, sup.state, sup.redials, link.resets)
import json
print("STATUS", json.dumps(sup.status()))
"""


@pytest.mark.parametrize("model", ["sim7080", "bg95"])
def test_dropped_call_is_dialled_again_over_the_pty(model):
    with ModemSim(model, reg_delay=0.2) as sim:
        r, out = run_script(REDIAL, [sim.path, model, str(sim.control_addr[1])], 240)
        assert r.returncode == 0 and "Traceback" not in out, out
        assert "RESULT CONNECT" in out, out
        assert "ROUND drop data 1 0" in out, out
        assert "ROUND escape data 2 0" in out, out
        assert "ROUND reset data 3 1" in out, out
        assert "ROUND silent data 4 1" in out, out
        assert "CHANGE False 2 CoAP exchanges timed out, nothing received, PPP status 4: " \
            "connected" in out, out
        # each step in one line
        assert "modem: PPP call dropped (status -6: connection lost): taking the UART back " \
            "for AT" in out, out
        assert "modem: no answer to AT: still in data mode? +++ escape" in out, out
        assert "modem: PPP call dropped (status -9: peer dead)" in out, out
        assert "modem: link down (modem reset (RDY)): bringing it up again" in out, out
        assert "modem: link up (registered)" in out, out
        assert out.count("modem: CONNECT: the UART is network.PPP's again") == 4, out
        assert out.count("CHANGE True PPP connected") == 4, out
        st = json.loads(out.split("STATUS ", 1)[1].splitlines()[0])
        assert st == {"data": "ppp", "state": "up", "model": model, "ppp": 4, "ip": None,
                      "error": None, "lastDrop": "2 CoAP exchanges timed out, nothing "
                      "received, PPP status 4: connected", "drops": 4, "redials": 4,
                      "suspects": 1, "fails": 0}, st
        st = sim.state()
        assert st["mode"] == "ppp", st          # the UART carries PPP again
