"""A device whose server URI is coaps:// runs its MSGin5G Client over one DTLS-PSK session
(PC-07), keys from secrets.json. The peer is libcoap's coap-server-openssl, which does not speak
MSGin5G: its answer to our REG (4.xx) proves the registration crossed the DTLS session."""
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

import mp

pytestmark = pytest.mark.skipif(shutil.which("coap-server-openssl") is None,
                                reason="libcoap3-bin missing")


def run_device(d, key, port, wait=4):
    cfg = os.path.join(d, "ue.json")
    with open(cfg, "w") as f:
        json.dump({"ueServiceId": "ue-dtls", "server": "coaps://127.0.0.1:%d" % port,
                   "app": "none", "keepAliveSec": 0, "logLevel": "info"}, f)
    with open(os.path.join(d, "secrets.json"), "w") as f:
        json.dump({"psk": key, "pskIdentity": "ue-dtls"}, f)
    p = mp.popen([os.path.join(mp.ROOT, "firmware", "main.py"), cfg], heap="256k", mpy=True,
                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    time.sleep(wait)
    p.send_signal(signal.SIGINT)
    return p.communicate(timeout=10)[0]


def test_registration_goes_over_dtls_psk():
    srv = subprocess.Popen(["coap-server-openssl", "-p", "21590", "-k", "sesame"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.3)
        with tempfile.TemporaryDirectory() as d:
            out = run_device(d, "sesame", 21591)
            assert re.search(r"REG -> 4\.0[45]", out), out[-2000:]
            assert "sesame" not in out                      # secrets never logged
            out = run_device(d, "wrong-key", 21591, wait=12)   # handshake bounded by 10 s
            assert "REG -> handshake failed" in out, out[-2000:]
    finally:
        srv.terminate()
        srv.wait(5)
