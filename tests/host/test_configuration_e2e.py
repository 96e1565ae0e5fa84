"""A device with only a configuration server and its MSGin5G UE ID fetches its server address,
UE Service ID and segment size from the reference server (PC-13) and registers with them."""
import json
import os
import signal
import subprocess
import tempfile
import time

import mp
from m5server.thread import ServerThread


def test_device_configures_then_registers():
    with ServerThread(port=19701) as st, tempfile.TemporaryDirectory() as d:
        cfg = os.path.join(d, "ue.json")
        with open(cfg, "w") as f:
            json.dump({"configServer": "coap://127.0.0.1:19701", "ueId": "dev-cfg-9",
                       "app": "echo", "listenPort": 19702, "keepAliveSec": 0}, f)
        p = mp.popen([os.path.join(mp.ROOT, "firmware", "main.py"), cfg], heap="256k", mpy=True,
                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            t0 = time.time()
            while "dev-cfg-9" not in [r["ueServiceId"] for r in st.registrations()]:
                assert p.poll() is None and time.time() - t0 < 10
                time.sleep(0.05)
            r = st.as_send("as-c", "dev-cfg-9", b"configured!")
            assert r["status"] == "DELIVERED"
        finally:
            p.send_signal(signal.SIGINT)
            out = p.communicate(timeout=10)[0]
        assert "configured: dev-cfg-9 at coap://127.0.0.1:19701" in out, out
