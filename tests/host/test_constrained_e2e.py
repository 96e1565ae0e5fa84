"""Constrained UEs end to end over real UDP on loopback (ports 18300-18399).

One fleet for the module: the reference MSGin5G Server (m5server.ServerThread, CPython) and, on
the MicroPython unix port (`firmware/main.py CONFIG`, bytecode build), a Gateway UE, an A.3 cue,
an A.2 cue (both running the echo app), a Relay UE and a UE with MSGin5G Client behind it.
`coap-client-notls` (libcoap) plays a foreign A.3 Application Client against the gateway.
"""
import json
import os
import re
import signal
import subprocess
import time

import pytest

import mp
from m5server.thread import ServerThread

SRV = 18300
GW_A3, GW_L3, GW_OWN = 18301, 18302, 18303
CUE3, CUE2 = 18304, 18305
RELAY, RELAY_OWN, UE = 18306, 18307, 18308
CC = 18310                    # coap-client's local port when it plays a registered CUE
AS = "as-e2e-01"
GW_ID, RELAY_ID, UE_ID = "gw-e2e-01", "relay-e2e-01", "ue-e2e-01"
HEAP = "256k"


def configs():
    srv = "coap://127.0.0.1:%d" % SRV
    return [
        ("gateway", {"role": "gateway", "ueServiceId": GW_ID, "server": srv, "app": "none",
                     "listenPort": GW_OWN, "gatewayPort": GW_A3, "gatewayL3Port": GW_L3,
                     "allowedAppIds": [17, 18, 30, 31, 32], "maxDevices": 8,
                     "keepAliveSec": 0}),
        ("relay", {"role": "relay", "ueServiceId": RELAY_ID, "server": srv, "app": "none",
                   "listenPort": RELAY_OWN, "gatewayPort": RELAY, "keepAliveSec": 0}),
        ("cue-a3", {"role": "cue", "gateway": "coap://127.0.0.1:%d" % GW_A3,
                    "applicationId": 17, "listenPort": CUE3, "app": "echo"}),
        ("cue-a2", {"role": "cue", "gateway": "udp://127.0.0.1:%d" % GW_L3,
                    "applicationId": 18, "listenPort": CUE2, "app": "echo"}),
        ("ue", {"role": "ue", "ueServiceId": UE_ID, "server": srv, "app": "echo",
                "firstHop": "coap://127.0.0.1:%d" % RELAY, "listenPort": UE}),
    ]


def until(cond, timeout=15.0, what="condition"):
    t0 = time.time()
    while time.time() - t0 < timeout:
        v = cond()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


class Fleet:
    def __init__(self, tmp):
        self.tmp = tmp
        self.procs = {}
        self.st = ServerThread(port=SRV)

    def log(self, name):
        with open(os.path.join(self.tmp, name + ".log")) as f:
            return f.read()

    def start(self):
        self.st.start()
        for name, cfg in configs():
            path = os.path.join(self.tmp, name + ".json")
            with open(path, "w") as f:
                json.dump(cfg, f)
            out = open(os.path.join(self.tmp, name + ".log"), "w")
            self.procs[name] = mp.popen(["firmware/main.py", path], heap=HEAP, mpy=True,
                                        stdout=out, stderr=subprocess.STDOUT)
            if name in ("gateway", "relay"):   # the hop must listen before its devices start
                until(lambda: name + ":" in self.log(name) and "REG -> 2.01" in self.log(name),
                      what=name + " registered")
        until(lambda: "app 17 registered (A.3)" in self.log("gateway") and
              "app 18 registered (A.2)" in self.log("gateway"), what="cues registered")
        until(lambda: UE_ID in [r["ueServiceId"] for r in self.st.registrations()],
              what="ue via relay registered")

    def stop(self, name, sig=signal.SIGINT):
        p = self.procs.pop(name, None)
        if p is None:
            return None
        if p.poll() is None:
            p.send_signal(sig)
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        return p.returncode

    def close(self):
        for name in ("ue", "cue-a3", "cue-a2", "relay", "gateway"):
            self.stop(name)
        self.st.stop()


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    f = Fleet(str(tmp_path_factory.mktemp("constrained")))
    try:
        f.start()
        yield f
    finally:
        f.close()


def coap(path, body, local=None, method="post", cf=50):
    """coap-client-notls -> (code, payload) of the gateway's answer."""
    cmd = ["coap-client-notls", "-B", "5", "-v", "7", "-m", method]
    if cf is not None:
        cmd += ["-t", str(cf)]
    if body is not None:
        cmd += ["-e", body if isinstance(body, str) else json.dumps(body)]
    if local:
        cmd += ["-p", str(local)]
    r = subprocess.run(cmd + ["coap://127.0.0.1:%d/%s" % (GW_A3, path)], capture_output=True,
                       text=True, timeout=20)
    m = re.search(r"t:ACK c:(\d\.\d\d) i:\w+ \{\w*\} \[[^\]]*\](?: :: '(.*)')?", r.stdout)
    assert m, r.stdout[-2000:] + r.stderr
    return m.group(1), json.loads(m.group(2)) if m.group(2) else None


def _inbox(st, pred):
    return [m for m in st.as_inbox(AS) if pred(m)]


def _reports(st, msg_id):
    return [r for r in st.as_reports(AS) if r.get("msgId") == msg_id]


# --------------------------------------------------------------------------- A.3 contract
def test_coap_client_gets_the_a3_contract_answers(fleet):
    reg = {"messageType": "REGISTRATION REQUEST", "applicationId": 30}
    msg = {"messageType": "MESSAGE SENDING REQUEST",
           "messageId": "5f0c6c1e-8d0b-4c53-9d53-3c1f0b2a9e11", "targetAddress": AS,
           "targetType": "AS", "payload": "aGVsbG8gZnJvbSBsaWJjb2Fw"}
    assert coap("msgin5g", reg)[0] == "4.04"                          # wrong Uri-Path
    assert coap("msgin5g-gw/x", reg)[0] == "4.04"
    assert coap("msgin5g-gw", '{"messageType": ')[0] == "4.00"        # malformed JSON
    assert coap("msgin5g-gw", {"messageType": "REGISTRATION REQUEST"})[0] == "4.00"
    assert coap("msgin5g-gw", reg, cf=0)[0] == "4.15"
    assert coap("msgin5g-gw", None, method="get", cf=None)[0] == "4.05"
    code, b = coap("msgin5g-gw", msg, local=CC)                     # not registered yet
    assert (code, b["result"], b["failureReason"]) == ("4.03", "FAILURE", "NOT_AUTHORIZED")
    code, b = coap("msgin5g-gw", dict(reg, applicationId=99), local=CC)  # not allowed
    assert code == "4.03" and b["registrationResult"] == "REJECTED"
    code, b = coap("msgin5g-gw", reg, local=CC)
    assert code == "2.01" and b["registrationResult"] == "ACCEPTED"
    rid = b["registrationId"]
    assert isinstance(rid, int) and 0 < rid < 2 ** 32
    assert coap("msgin5g-gw", reg, local=CC) == (code, b)             # same Registration ID
    code, b = coap("msgin5g-gw", msg, local=CC)
    assert (code, b) == ("2.04", {"messageType": "MESSAGE RECEIVED RESPONSE",
                                  "result": "SUCCESS"})
    got = until(lambda: _inbox(fleet.st, lambda m: m["payload"] == b"hello from libcoap"),
                what="libcoap message at the AS")
    assert got[0]["from"] == GW_ID and got[0]["appId"] == "30"       # PC-20
    rpt = {"messageType": "DELIVERY REPORT SENDING REQUEST",
           "messageId": "6f0c6c1e-8d0b-4c53-9d53-3c1f0b2a9e12",
           "replyToMessageId": "7f0c6c1e-8d0b-4c53-9d53-3c1f0b2a9e13",
           "deliveryStatus": "DELIVERED"}
    assert coap("msgin5g-gw", rpt, local=CC)[0] == "4.04"            # no such delivered message
    dereg = {"messageType": "DE-REGISTRATION REQUEST", "registrationId": rid ^ 1}
    assert coap("msgin5g-gw", dereg, local=CC)[0] == "4.04"          # unknown Registration ID
    assert coap("msgin5g-gw", dict(dereg, registrationId=rid))[0] == "4.03"  # other address
    code, b = coap("msgin5g-gw", dict(dereg, registrationId=rid), local=CC)
    assert code == "2.04" and b == {"messageType": "DE-REGISTRATION RESPONSE",
                                    "deregistrationResult": "ACCEPTED", "registrationId": rid}
    assert coap("msgin5g-gw", msg, local=CC)[0] == "4.03"


# --------------------------------------------------------------------------- the fleet
@pytest.mark.parametrize("app", [17, 18])
def test_as_to_cue_echo_and_report(fleet, app):
    payload = b"ping cue %d" % app
    r = fleet.st.as_send(AS, GW_ID, payload, app_id=app, report=True)
    assert r["status"] == "DELIVERED", r
    echo = until(lambda: _inbox(fleet.st, lambda m: m["payload"] == payload),
                 what="echo from cue %d" % app)
    assert echo[0]["from"] == GW_ID and echo[0]["appId"] == str(app)
    rep = until(lambda: _reports(fleet.st, r["msgId"]), what="IMDN from cue %d" % app)
    assert rep[0]["kind"] == "IMDN" and rep[0]["delivSt"] == "REPT_DELY_SUCCESS"
    assert rep[0]["from"] == GW_ID


def test_as_to_ue_behind_relay(fleet):
    r = fleet.st.as_send(AS, UE_ID, b"ping relayed ue", report=True)
    assert r["status"] == "DELIVERED", r
    echo = until(lambda: _inbox(fleet.st, lambda m: m["payload"] == b"ping relayed ue"),
                 what="echo from the relayed ue")
    assert echo[0]["from"] == UE_ID
    rep = until(lambda: _reports(fleet.st, r["msgId"]), what="IMDN from the relayed ue")
    assert rep[0]["delivSt"] == "REPT_DELY_SUCCESS" and rep[0]["from"] == UE_ID
    # the server sees the relayed UE at the relay's port (PC-02)
    regs = {x["ueServiceId"]: x["remote"] for x in fleet.st.registrations()}
    assert regs[UE_ID].endswith(":%d" % RELAY) and regs[RELAY_ID].endswith(":%d" % RELAY_OWN)


def test_unknown_application_id_fails(fleet):
    r = fleet.st.as_send(AS, GW_ID, b"nobody home", app_id=40, report=True)
    rep = until(lambda: _reports(fleet.st, r["msgId"]), what="failure IMDN")
    assert rep[0]["delivSt"] == "REPT_DELY_FAILED"


@pytest.mark.parametrize("mode,port,me,local,extra", [
    ("a3", GW_A3, "31", 18320, []),
    ("a2", GW_L3, "32", 18321, []),
    ("ue", SRV, "ue-e2e-drv", 18322, [str(RELAY)]),
])
def test_reports_flow_back_to_constrained_ues(fleet, mode, port, me, local, extra):
    """A constrained UE's message with a report request: the server's IMDN (on the AS's
    behalf) comes back through the gateway (A.3 / A.2) or the relay."""
    p = mp.run(["tests/host/constrained_driver.py", mode, str(port), me, str(local), AS] + extra,
               heap=HEAP, timeout=60)
    out = p.stdout.split()
    assert p.returncode == 0, p.stdout + p.stderr
    assert " ".join(out) == "REGISTERED SENT ACCEPTED REPORT same %s DEREGISTERED" % (
        "REPT_DELY_SUCCESS" if mode == "ue" else "DELIVERED"), p.stdout
    got = _inbox(fleet.st, lambda m: m["payload"] == b"driver " + mode.encode())
    assert got and got[0]["from"] == (me if mode == "ue" else GW_ID)


def test_shutdown_deregisters_everyone(fleet):
    """Ctrl-C: every device de-registers (the cues at the gateway, the rest at the server)."""
    for name in ("ue", "cue-a3", "cue-a2"):
        assert fleet.stop(name) == 0
        assert "STATUS" in fleet.log(name)
    assert "deregistered: DEREGISTERED" in fleet.log("cue-a3")
    assert "deregistered: DEREGISTERED" in fleet.log("cue-a2")
    status = json.loads(fleet.log("cue-a2").split("STATUS ", 1)[1].splitlines()[0])
    assert status["received"] >= 1 and status["state"] == "DEREGISTERED"
    gw = fleet.log("gateway")
    assert "gw: CUE app 17 removed" in gw and "gw: CUE app 18 removed" in gw
    until(lambda: UE_ID not in [r["ueServiceId"] for r in fleet.st.registrations()],
          what="ue de-registered through the relay")
    for name in ("relay", "gateway"):
        assert fleet.stop(name) == 0
    assert fleet.st.registrations() == []
