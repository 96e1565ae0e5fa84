"""The sensor's duty cycle: with deepSleep the device registers, sends one reading, waits for
its outcome and asks the board for deep sleep (the unix board records it and carries on)."""
import json
import os
import signal
import subprocess
import tempfile
import time

import mp
from m5server.thread import ServerThread


def test_one_reading_then_deep_sleep():
    with ServerThread(port=19901) as st, tempfile.TemporaryDirectory() as d:
        cfg = os.path.join(d, "ue.json")
        with open(cfg, "w") as f:
            json.dump({"ueServiceId": "ue-sleepy", "server": "coap://127.0.0.1:19901",
                       "app": "sensor", "periodSec": 7, "reportTo": "as-s", "deepSleep": True,
                       "listenPort": 19902, "keepAliveSec": 0}, f)
        p = mp.popen([os.path.join(mp.ROOT, "firmware", "main.py"), cfg], heap="256k", mpy=True,
                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            t0 = time.time()
            while not st.as_inbox("as-s"):
                assert p.poll() is None and time.time() - t0 < 10
                time.sleep(0.05)
            time.sleep(0.5)
        finally:
            p.send_signal(signal.SIGINT)
            out = p.communicate(timeout=10)[0]
        assert "sensor: reading ACCEPTED, deep sleep 7000 ms" in out, out
        assert len(st.as_inbox("as-s")) == 1
        assert json.loads(st.as_inbox("as-s")[0]["payload"])["n"] == 1
