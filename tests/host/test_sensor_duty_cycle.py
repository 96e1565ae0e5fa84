"""The sensor's deep-sleep duty cycle on the unix port (issue 13), with the reference server.

Each wake is a new `micropython firmware/main.py` process (bytecode build): it sends one
reading, saves its state, prints `SLEEP <ms>` and exits 0; the test starts it again, as a
board's deep sleep resets it. Checked: one REG for any number of wakes (the registration is
kept, never de-registered); a server that forgot the UE gets the same msgId again after a
re-registration; a message stored while the device sleeps reaches the application exactly
once, at the next wake; a corrupt state record means a normal registration, not a crash."""
import json
import os
import re
import subprocess
import time

import mp
from m5server.thread import ServerThread

PORT = 18610
AS = "as-s"
UE = "ue-sleepy"


def _config(d, **kw):
    cfg = {"ueServiceId": UE, "server": "coap://127.0.0.1:%d" % PORT, "app": "sensor",
           "periodSec": 1, "reportTo": AS, "deepSleep": True, "keepAliveSec": 0,
           "awakeSec": 0, "logLevel": "info"}
    cfg.update(kw)
    path = os.path.join(str(d), "ue.json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    return path


def wake(cfg):
    """One wake: run the device until it sleeps; its output."""
    r = subprocess.run(mp.device_cmd("256k")[0] + [os.path.join(mp.ROOT, "firmware", "main.py"),
                                                   cfg], env=mp.device_cmd("256k")[1],
                       cwd=mp.ROOT, capture_output=True, text=True, timeout=40)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert re.search(r"^SLEEP \d+$", r.stdout, re.M) and r.stdout.count("SLEEP") == 1, out
    assert "STATUS" not in out and "deregistered" not in out, out
    return out


def test_sleep_cycles_keep_the_registration(tmp_path):
    cfg = _config(tmp_path)
    with ServerThread(port=PORT) as st:
        outs = [wake(cfg) for _ in range(4)]
        assert "wake: cold boot" in outs[0] and "REG -> 2.01" in outs[0]
        for o in outs[1:]:
            assert "registration kept" in o and "REG ->" not in o, o
        inbox = st.as_inbox(AS)
        assert [json.loads(e["payload"])["n"] for e in inbox] == [1, 2, 3, 4]
        assert st.stats()["registrations"] == 1
        assert [r["ueServiceId"] for r in st.registrations()] == [UE]   # still registered
        mids = [e["msgId"] for e in inbox]
    with ServerThread(port=PORT) as st:      # a server that lost every registration
        out = wake(cfg)
        m = re.search(r"MSG (\S+) -> ACCEPTED", out)
        assert "REG -> 2.01" in out and m, out
        inbox = st.as_inbox(AS)
        assert [e["msgId"] for e in inbox] == [m.group(1)] and m.group(1) not in mids
        assert json.loads(inbox[0]["payload"])["n"] == 5
        assert st.stats()["codes"].get("4.03") == 1      # the MSG once, then REG, then again


def test_downlink_while_asleep_reaches_the_app_once_at_the_next_wake(tmp_path):
    cfg = _config(tmp_path, awakeSec=1)
    with ServerThread(port=PORT) as st:
        wake(cfg)
        res = st.as_send("as-dl", UE, b"set period 60", app_id=1, store_fwd=True)
        assert res["status"] == "STORED", res               # asleep: stored
        out = wake(cfg)
        got = re.findall(r"sensor: message (\S+) from as-dl: b'set period 60'", out)
        assert got == [res["msgId"]], out
        out2 = wake(cfg)
        assert "sensor: message" not in out2
        assert st.stats()["forwarded_stored"] == 1 and st.stats()["stored_now"] == 0


def test_corrupt_state_record_means_a_normal_registration(tmp_path):
    cfg = _config(tmp_path)
    state = os.path.join(str(tmp_path), "ue.state")
    with ServerThread(port=PORT) as st:
        wake(cfg)
        assert os.path.getsize(state) > 20
        with open(state, "r+b") as f:
            f.seek(6)
            f.write(b"\x55")
        out = wake(cfg)
        assert "wake: cold boot" in out and "REG -> 2.04" in out, out
        with open(state, "wb") as f:
            f.write(b"S5")                   # torn
        out = wake(cfg)
        assert "wake: cold boot" in out and "REG -> 2.04" in out, out
        assert len(st.as_inbox(AS)) == 3


def test_time_awake_per_steady_state_reading(tmp_path):
    """Benchmark, not a limit: process start to the state saved, and to SLEEP (issue 13
    targets 300 ms to the state over loopback). Printed (pytest -s)."""
    cfg = _config(tmp_path)
    with ServerThread(port=PORT):
        wake(cfg)
        saved, total = [], []
        state = os.path.join(str(tmp_path), "ue.state")
        cmd, env = mp.device_cmd("256k")
        for _ in range(5):
            t0 = time.time()
            m0 = os.path.getmtime(state)
            p = subprocess.Popen(cmd + [os.path.join(mp.ROOT, "firmware", "main.py"), cfg],
                                 env=env, cwd=mp.ROOT, stdout=subprocess.PIPE, text=True)
            while os.path.getmtime(state) == m0 and p.poll() is None:
                time.sleep(0.001)
            saved.append((os.path.getmtime(state) - t0) * 1000)
            p.communicate(timeout=20)
            total.append((time.time() - t0) * 1000)
    print("\nAWAKE per steady-state reading (unix port, loopback): state saved after %s ms,"
          " process ended after %s ms" % (sorted(round(x) for x in saved),
                                          sorted(round(x) for x in total)))
