"""A duty-cycled constrained UE (role cue, deepSleep) behind a real Gateway UE (issue 13), over
A.3 and A.2, on the unix port with the reference server (ports 19250-19299).

The gateway is a device process (role gateway, firmware/main.py) registered at the server; each
wake of the cue is a new `micropython firmware/main.py` process (bytecode build) that sends one
sensor reading, saves its state, prints `SLEEP <ms>` and exits 0; the test starts it again, as
a board's deep sleep resets it. Checked: one registration at the gateway for any number of
wakes (never de-registered); every reading reaches the AS exactly once; a gateway that
restarted (it forgot the cue: 4.03 / cause 0x02) gets a new registration and the same reading
again; a corrupt state record means a normal registration, not a crash.

Not here: downlinks while the cue sleeps. The gateway keeps none for a cue: it delivers at
once, retransmits (A.2 2 s x 4, A.3 CoAP's CON) and then drops the cue, whose next wake
re-registers (the 4.03 path checked here)."""
import json
import os
import re
import signal
import subprocess

import pytest

import mp
from m5server.thread import ServerThread
from test_sensor_duty_cycle import wake

SRV, GW_OWN, GW_A3, GW_L3 = 19250, 19251, 19252, 19253
CUE = {"a3": ("coap://127.0.0.1:%d" % GW_A3, 21, 19254),
       "a2": ("udp://127.0.0.1:%d" % GW_L3, 22, 19255)}
AS = "as-cue-sleep"
GW_ID = "gw-cue-sleep"


class Gateway:
    """The Gateway UE as a device process; its log in <tmp>/gw-<n>.log, one per start."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.n = 0
        self.p = None
        self.cfg = os.path.join(tmp, "gw.json")
        with open(self.cfg, "w") as f:
            json.dump({"role": "gateway", "ueServiceId": GW_ID,
                       "server": "coap://127.0.0.1:%d" % SRV, "app": "none",
                       "listenPort": GW_OWN, "gatewayPort": GW_A3, "gatewayL3Port": GW_L3,
                       "keepAliveSec": 0, "logLevel": "info"}, f)

    def log(self):
        with open(os.path.join(self.tmp, "gw-%d.log" % self.n)) as f:
            return f.read()

    def start(self):
        self.n += 1
        out = open(os.path.join(self.tmp, "gw-%d.log" % self.n), "w")
        self.p = mp.popen(["firmware/main.py", self.cfg], heap="256k", mpy=True, stdout=out,
                          stderr=subprocess.STDOUT)
        assert mp.wait_for(lambda: "gateway: A.3" in self.log() and "REG -> 2.0" in self.log(),
                           15), self.log()

    def stop(self):
        if self.p is not None and self.p.poll() is None:
            self.p.send_signal(signal.SIGINT)
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.p = None


@pytest.fixture
def gateway(tmp_path):
    with ServerThread(port=SRV) as st:
        gw = Gateway(str(tmp_path))
        gw.start()
        try:
            yield st, gw
        finally:
            gw.stop()


def _cue(d, mode):
    uri, app, port = CUE[mode]
    cfg = {"role": "cue", "gateway": uri, "applicationId": app, "listenPort": port,
           "app": "sensor", "periodSec": 1, "reportTo": AS, "deepSleep": True,
           "awakeSec": 0, "logLevel": "info"}
    path = os.path.join(str(d), "cue-%s.json" % mode)
    with open(path, "w") as f:
        json.dump(cfg, f)
    return path


def _readings(st):
    return [json.loads(e["payload"])["n"] for e in st.as_inbox(AS)]


@pytest.mark.parametrize("mode", sorted(CUE))
def test_cue_sleep_cycles_keep_the_gateway_registration(gateway, tmp_path, mode):
    st, gw = gateway
    app = CUE[mode][1]
    cfg = _cue(tmp_path, mode)
    outs = [wake(cfg) for _ in range(4)]
    assert "wake: cold boot" in outs[0] and "gateway: REGISTERED" in outs[0], outs[0]
    for o in outs[1:]:
        assert "registration kept" in o and "gateway: REGISTERED" not in o, o
        assert "sensor: reading" in o and "ACCEPTED" in o, o
    assert mp.wait_for(lambda: _readings(st) == [1, 2, 3, 4], 5), _readings(st)
    glog = gw.log()
    assert glog.count("CUE app %d registered" % app) == 1, glog
    assert "removed" not in glog and gw.p.poll() is None
    assert all(int(e["appId"]) == app for e in st.as_inbox(AS))

    gw.stop()                               # a gateway that forgot every cue
    gw.start()
    out = wake(cfg)
    assert "registration kept" in out, out   # it does not know yet: sends at once, gets 4.03
    assert "gateway: BACKOFF" not in out and out.count("gateway: REGISTERED") == 1, out
    assert re.search(r"sensor: reading 5 ACCEPTED", out), out
    assert mp.wait_for(lambda: _readings(st) == [1, 2, 3, 4, 5], 5), _readings(st)
    assert gw.log().count("CUE app %d registered" % app) == 1
    out = wake(cfg)                          # and it is kept again
    assert "registration kept" in out and "gateway: REGISTERED" not in out, out
    assert mp.wait_for(lambda: _readings(st) == [1, 2, 3, 4, 5, 6], 5), _readings(st)


def _flip_a_byte(path):
    with open(path, "r+b") as f:
        f.seek(6)
        f.write(b"\x55")


def _tear(path):
    with open(path, "wb") as f:
        f.write(b"S5")


@pytest.mark.parametrize("mode", sorted(CUE))
def test_cue_corrupt_state_record_means_a_registration(gateway, tmp_path, mode):
    st, gw = gateway
    cfg = _cue(tmp_path, mode)
    state = cfg[:-5] + ".state"
    wake(cfg)
    assert os.path.getsize(state) > 20
    for damage in (_flip_a_byte, _tear, os.remove):    # corrupt, torn, none at all
        damage(state)
        out = wake(cfg)
        assert "wake: cold boot" in out and "gateway: REGISTERED" in out, (damage, out)
    # the reading counter lives in the record: each cold boot starts it again
    assert mp.wait_for(lambda: len(_readings(st)) == 4, 5), _readings(st)
    out = wake(cfg)
    assert "registration kept" in out and mp.wait_for(lambda: len(_readings(st)) == 5, 5)
