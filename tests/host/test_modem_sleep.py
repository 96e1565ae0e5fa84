"""A duty-cycled sensor over the modem (issues 11 and 13): the MCU deep-sleeps while the modem,
still powered, sits in PSM, and each wake takes the link up again from the sleep record.

Each wake is a new `micropython firmware/main.py` process (bytecode build) whose link is a
tools/modemsim SIM7080G or BG95 (each dialect's own PDP and socket checks on resume: AT+CNACT? /
AT+CASTATE?, AT+QIACT? / AT+QISTATE) on a real pty (NB-IoT, so RAI applies; PSM with
Active-Time 2 s; RAI on; PWRKEY through the simulator's control port), bridged to the reference
server. Between wakes the test waits until the modem has entered PSM (a board sleeps
periodSec, far longer than T3324). Checked, the same for both models:
  * steady state: no REG, no full bring-up (the link says "resumed"; the AT octets sent to
    the modem stay far below a bring-up's), the modem woken from PSM by the model's own PWRKEY
    pulse (MODEM.md 7: SIM7080 1.5 s, BG95 750 ms) every time, the reading's MSG marked for
    release (RAI: AT+CRAI before AT+CASEND; AT+QISENDEX, which carries the 281-octet MSG);
  * every reading reaches the AS exactly once;
  * a message the AS sends while the device sleeps reaches the sensor at the next wake, once;
  * a modem reset during the sleep: the resume check fails, a full bring-up follows, and the
    reading still arrives once.
Ports 18950-18999 (sim7080 18950, bg95 18951).
"""
import json
import os
import re
import subprocess
import tempfile
import threading

import pytest

import mp
from m5server.thread import ServerThread
from modemsim import ModemSim

PORTS = {"sim7080": 18950, "bg95": 18951}
PWRKEY_MS = {"sim7080": 1500, "bg95": 750}      # each model's pulse (MODEM.md 7)
AS = "as-ms"
UE = "ue-msleep"
MAIN = os.path.join(mp.ROOT, "firmware", "main.py")


def _config(d, sim, model):
    link = {"type": "modem", "model": model, "uart": sim.path, "apn": "iot",
            "rat": "nbiot", "psm": {"tauSec": 3600, "activeSec": 2}, "rai": True,
            "pwrkey": "udp://%s:%d" % sim.control_addr}
    cfg = {"ueServiceId": UE, "server": "coap://127.0.0.1:%d" % PORTS[model], "app": "sensor",
           "periodSec": 60, "reportTo": AS, "deepSleep": True, "keepAliveSec": 0,
           "logLevel": "info", "link": link}       # awakeSec unset: T3324
    path = os.path.join(d, "ue.json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    return path


def _wake(cfg, sim):
    """One wake until SLEEP; (output, simulator counter deltas up to the modem's PSM entry)."""
    c0 = sim.counters()
    cmd, env = mp.device_cmd("256k")
    r = subprocess.run(cmd + [MAIN, cfg], env=env, cwd=mp.ROOT, capture_output=True,
                       text=True, timeout=60)
    out = r.stdout + r.stderr
    assert r.returncode == 0 and re.search(r"^SLEEP \d+$", r.stdout, re.M), out
    assert "STATUS" not in out and "deregistered" not in out, out
    # the MCU sleeps; the modem, still powered, enters PSM once T3324 has run out
    assert mp.wait_for(lambda: sim.counters()["psm_entries"] > c0["psm_entries"], 10), out
    c1 = sim.counters()
    return out, {k: c1[k] - c0.get(k, 0) for k in c1}


@pytest.mark.parametrize("model", ["sim7080", "bg95"])
def test_sensor_sleeps_while_the_modem_sits_in_psm(model):
    with ServerThread(port=PORTS[model], ack_timeout=0.5) as st, \
            ModemSim(model, reg_delay=0.1, rrc_inactivity=1) as sim, \
            tempfile.TemporaryDirectory() as d:
        cfg = _config(d, sim, model)
        out, c = _wake(cfg, sim)                      # cold boot: bring-up and REG
        assert "wake: cold boot" in out and "REG -> 2.01" in out, out
        assert "modem: link up (registered)" in out, out
        bringup_at = c["uart_rx_octets"] - c["uart_rx_payload"]

        steady = []
        for i in range(3):
            sent = []
            if i == 1:      # the AS sends while the device sleeps (its modem in PSM)
                t = threading.Thread(target=lambda: sent.append(st.as_send(
                    "as-dl", UE, b"set period 60", app_id=1, store_fwd=True)))
                t.start()
            out, c = _wake(cfg, sim)
            steady.append((out, c))
            assert "registration kept" in out and "REG ->" not in out, out
            assert "modem: link up (resumed)" in out, out
            assert "modem: link up (registered)" not in out, out
            assert "modem: resume: no answer (PSM): PWRKEY %d ms" % PWRKEY_MS[model] in out, out
            assert c["psm_wakes"] == 1 and c["resets"] == 0, c
            assert c["rai_marks"] >= 1 and c["ul_datagrams"] >= 1, c
            at = c["uart_rx_octets"] - c["uart_rx_payload"]     # AT octets to the modem
            if i != 1:      # 1 AT + PWRKEY + 2 AT checks + 1 datagram, against a bring-up
                assert at * 3 < bringup_at, (at, bringup_at, c)
            if i == 1:
                t.join(30)
                got = re.findall(r"sensor: message (\S+) from as-dl: b'set period 60'", out)
                assert len(got) == 1 and sent and sent[0]["msgId"] == got[0], (sent, out)
            elif i == 2:
                assert "sensor: message" not in out, out
        # without the downlink a steady wake is one exchange: the MSG and its 2.04
        assert steady[0][1]["ul_datagrams"] == 1 and steady[0][1]["dl_datagrams"] == 1, \
            steady[0][1]

        sim.reset()         # the modem restarts while the MCU sleeps: the resume check fails
        cmd, env = mp.device_cmd("256k")
        r = subprocess.run(cmd + [MAIN, cfg], env=env, cwd=mp.ROOT, capture_output=True,
                           text=True, timeout=60)
        out = r.stdout + r.stderr
        assert r.returncode == 0 and "SLEEP" in r.stdout, out
        assert "modem: resume: no PDP context" in out, out
        assert "modem: link up (registered)" in out, out

        inbox = st.as_inbox(AS)
        assert [json.loads(e["payload"])["n"] for e in inbox] == [1, 2, 3, 4, 5], inbox
        ids = [e["msgId"] for e in inbox]
        assert len(ids) == len(set(ids))
        assert st.stats()["registrations"] <= 2      # the cold boot (and after the reset)
