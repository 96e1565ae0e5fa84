"""Power cuts across deep-sleep cycles (issue 13), in the style of test_power_loss.py.

A duty-cycled sensor (deepSleep, a journal, the sleep record in its stateFile) wakes again and
again on the unix port: each wake is a process that sends one reading, saves its state, prints
`SLEEP <ms>` and exits, and the test starts it again at once. Many wakes are cut short by
SIGKILL at a random moment (while importing, registering, sending, saving the record,
appending or compacting the journal, ...). Checked:
  * no wake ever fails other than by the kill (a torn record or journal is not a crash);
  * every reading the device accepted (logged ACCEPTED, or open in the journal at a kill)
    reaches the AS exactly once, with one payload per msgId;
  * the server saw few registrations: wakes take the kept registration up.
SLEEP_POWERLOSS_SEED / SLEEP_POWERLOSS_WAKES change the run; figures go to stdout (-s).
"""
import json
import os
import random
import re
import signal
import subprocess
import time

import mp
from m5server.thread import ServerThread
from test_power_loss import journal_open_ids

PORT = 18620
DEV_PORT = 18621
AS = "as-spl"
UE = "ue-spl"
_ACC = re.compile(r"MSG (\S+) -> ACCEPTED")


def test_power_cuts_across_sleep_cycles_lose_nothing(tmp_path):
    seed = int(os.environ.get("SLEEP_POWERLOSS_SEED", str(int(time.time()) % 100000)))
    wakes = int(os.environ.get("SLEEP_POWERLOSS_WAKES", "40"))
    rng = random.Random(seed)
    tmp = str(tmp_path)
    jpath = os.path.join(tmp, "journal.bin")
    cfg = {"ueServiceId": UE, "server": "coap://127.0.0.1:%d" % PORT, "app": "sensor",
           "periodSec": 1, "reportTo": AS, "deepSleep": True, "awakeSec": 0,
           "journal": jpath, "listenPort": DEV_PORT, "keepAliveSec": 0, "logLevel": "info"}
    cpath = os.path.join(tmp, "ue.json")
    with open(cpath, "w") as f:
        json.dump(cfg, f)
    cmd, env = mp.device_cmd("256k")
    cmd = cmd + [os.path.join(mp.ROOT, "firmware", "main.py"), cpath]
    accepted, open_at_kill = set(), set()
    kills = slept = 0

    def life(kill_after):
        log = open(os.path.join(tmp, "life.log"), "w+")
        p = subprocess.Popen(cmd, env=env, cwd=mp.ROOT, stdout=log, stderr=subprocess.STDOUT)
        if kill_after is not None:
            time.sleep(kill_after)
            p.send_signal(signal.SIGKILL)
        rc = p.wait(40)
        log.seek(0)
        out = log.read()
        log.close()
        accepted.update(_ACC.findall(out))
        return rc, out

    with ServerThread(port=PORT) as st:
        for i in range(wakes):
            cut = rng.random() < 0.6
            rc, out = life(rng.uniform(0.0, 0.045) if cut else None)
            if rc == -signal.SIGKILL:
                kills += 1
                open_at_kill.update(journal_open_ids(jpath, tmp))
            else:
                assert rc == 0 and re.search(r"^SLEEP \d+$", out, re.M), out
                slept += 1
        for _ in range(10):              # clean wakes until the journal is empty
            rc, out = life(None)
            assert rc == 0, out
            if not journal_open_ids(jpath, tmp):
                break
        inbox = st.as_inbox(AS)
        regs = st.stats()["registrations"]
    ids = [e["msgId"] for e in inbox]
    payloads = {}
    for e in inbox:
        payloads.setdefault(e["msgId"], set()).add(e["payload"])
    need = accepted | open_at_kill
    print("\nSLEEP POWER LOSS (seed %d): %d wakes, %d cut by SIGKILL, %d slept; %d readings at "
          "the AS, %d accepted or open at a kill, %d registrations" % (
              seed, wakes, kills, slept, len(set(ids)), len(need), regs))
    assert not need - set(ids), "accepted but never delivered: %s" % sorted(need - set(ids))
    assert len(ids) == len(set(ids)), "a reading reached the AS twice"
    assert all(len(v) == 1 for v in payloads.values()), "a msgId with two payloads"
    assert kills and slept and len(need) >= slept
    assert regs <= kills + 1, "wakes registered again: %d registrations" % regs
