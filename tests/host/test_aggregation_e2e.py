"""Aggregated sending end to end (PC-29): a sensor with aggregateTx sends one reading a second;
the reference server receives aggregated MSGs and the AS gets every reading exactly once."""
import json
import os
import signal
import subprocess
import tempfile
import time

import mp
from m5server.thread import ServerThread


def test_sensor_readings_arrive_aggregated_and_once():
    with ServerThread(port=19801) as st, tempfile.TemporaryDirectory() as d:
        cfg = os.path.join(d, "ue.json")
        with open(cfg, "w") as f:
            json.dump({"ueServiceId": "ue-ag", "server": "coap://127.0.0.1:19801",
                       "app": "sensor", "periodSec": 1, "reportTo": "as-ag", "appId": 5,
                       "aggregateTx": True, "aggrWindowSec": 3, "listenPort": 19802,
                       "keepAliveSec": 0}, f)
        p = mp.popen([os.path.join(mp.ROOT, "firmware", "main.py"), cfg], heap="256k", mpy=True,
                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            t0 = time.time()
            while len(st.as_inbox("as-ag")) < 5:
                assert p.poll() is None and time.time() - t0 < 20
                time.sleep(0.1)
        finally:
            p.send_signal(signal.SIGINT)
            p.communicate(timeout=10)
        box = st.as_inbox("as-ag")
        assert any(e["aggregated"] for e in box)
        ns = [json.loads(e["payload"])["n"] for e in box]
        assert len(ns) == len(set(ns)) and sorted(ns) == list(range(1, len(ns) + 1))
        assert all(e["appId"] in ("5", 5) for e in box)
