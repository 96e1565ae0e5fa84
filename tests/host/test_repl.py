"""REPL bring-up helpers on a running device (unix port): with "repl": true the firmware reads
lines from stdin in an asyncio task while the application keeps running."""
import ast
import json
import os
import signal
import subprocess
import tempfile
import time

import mp
from m5server.thread import ServerThread


def test_repl_helpers_while_app_runs():
    with ServerThread(port=19601) as st, tempfile.TemporaryDirectory() as d:
        cfg = os.path.join(d, "ue.json")
        with open(cfg, "w") as f:
            json.dump({"ueServiceId": "ue-r", "server": "coap://127.0.0.1:19601", "app": "echo",
                       "listenPort": 19602, "repl": True, "keepAliveSec": 0}, f)
        p = mp.popen([os.path.join(mp.ROOT, "firmware", "main.py"), cfg], heap="256k", mpy=True,
                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                     text=True, bufsize=1)
        try:
            t0 = time.time()
            while "ue-r" not in [r["ueServiceId"] for r in st.registrations()]:
                assert time.time() - t0 < 10 and p.poll() is None
                time.sleep(0.05)
            st.as_send("as-r", "ue-r", b"ping from AS")
            lines = []

            def ask(cmd, want):
                p.stdin.write(cmd + "\n")
                p.stdin.flush()
                t = time.time()
                while time.time() - t < 10:
                    line = p.stdout.readline()
                    lines.append(line)
                    if want in line:
                        return line
                raise AssertionError("%r not answered with %r: %s" % (cmd, want, lines[-10:]))

            assert "'state': 'REGISTERED'" in ask("status()", "'state'")
            assert "ping from AS" in ask("inbox()", "ping from AS")
            ask("send('as-r', 'typed at the REPL', to_type='AS')", "-")
            t = time.time()
            while not any(e["payload"] == b"typed at the REPL" for e in st.as_inbox("as-r")):
                assert time.time() - t < 10
                time.sleep(0.05)
            assert "'debug'" in ask("log('debug')", "debug")
            m = ast.literal_eval(ask("mem()", "largestBlock").strip().lstrip(">").strip())
            assert 0 < m["largestBlock"] <= m["free"] and m["used"] > 0, m
        finally:
            p.send_signal(signal.SIGINT)
            out = p.communicate(timeout=10)[0]
        assert "STATUS" in out and '"state": "DEREGISTERED"' in out
        st_line = [ln for ln in out.splitlines() if ln.startswith("STATUS ")][-1]
        h = json.loads(st_line[7:])["heap"]
        assert 0 < h["largestBlock"] <= h["free"] and h["used"] > 0, h
