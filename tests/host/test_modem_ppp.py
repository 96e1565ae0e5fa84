"""PPP as far as CONNECT (issue 11, MODEM.md 6): the MicroPython unix port dials
tools/modemsim over a real pty (modem.setup.dial: the bring-up, then ATD*99***1#) and sees
CONNECT; the unix port has no network.PPP, so modem.setup.ppp() and a device whose config says
link.data "ppp" stop there with one clear line, not a traceback. Ports 18900-18909.
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


@pytest.mark.parametrize("model", ["sim7080", "bg95"])
def test_dial_reaches_connect_over_the_pty(model):
    with ModemSim(model, reg_delay=0.2) as sim, tempfile.TemporaryDirectory() as d:
        script = os.path.join(d, "dial.py")
        with open(script, "w") as f:
            f.write(DIAL)
        r = subprocess.run([mp.micropython_exe(), "-X", "heapsize=256k", script, sim.path, model],
                           env=mp.env(), capture_output=True, text=True, timeout=90, cwd=mp.ROOT)
        out = r.stdout + r.stderr
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
