"""Power loss: a sensor device on the unix port (bytecode build) with a journal (config key
`journal`) is killed with SIGKILL at random moments and restarted, over and over, while it
sends a reading every second to an AS through the reference server.

Checked (at-least-once delivery, receivers de-duplicate by msgId, PC-26):
  * every message the device put on the wire, logged as ACCEPTED, or left open in the
    journal at a kill (accepted by send() but without a final outcome) reaches the AS inbox;
  * a msgId always carries the same payload, and a msgId arrives twice at most once per
    kill (a kill after the server took the
    message but before the device wrote its tombstone: re-sent after the reboot, same msgId);
  * the journal file stays small (compaction).
Kills come at random times and, through a proxy in front of the server (CutProxy), at
protocol points: with the MSG request on the wire, with the server's answer on the wire, and
just after the answer (racing the tombstone). POWERLOSS_SEED / POWERLOSS_LIVES change the
run; the figures go to stdout (pytest -s).
"""
import json
import os
import random
import re
import select
import shutil
import signal
import socket
import subprocess
import threading
import time

import pytest

import mp
from coap import codec
from m5server.thread import ServerThread
from msgin5g import devconfig
from msgin5g.journal import Journal

SERVER_PORT = 22200
DEV_PORT = 22201
PROXY_PORT = 22202
AS = "as-pl"
UE = "ue-pl"
_MSG = re.compile(r"MSG (\S+) -> (ACCEPTED|STORED|FAILED)")

pytestmark = pytest.mark.skipif("journal" not in devconfig.SCHEMA,
                                reason="needs journal integration")




def _wait(cond, timeout, step=0.005):
    return mp.wait_for(cond, timeout, step)


class CutProxy:
    """UDP proxy between the device and the server that can cut the power at a protocol
    point: 'request' (the device's next MSG request is on the wire: dropped, device killed),
    'response' (the server took the MSG; its response is dropped and the device killed) or
    'after' (the response goes through; the device is killed 0-3 ms later, racing the
    tombstone). Downlinks pass through too (the server sees the proxy as the device)."""

    def __init__(self, port, server, rng):
        self.a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.a.bind(("127.0.0.1", port))
        self.b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.b.bind(("127.0.0.1", 0))
        self.server = server
        self.rng = rng
        self.dev = None           # device address (from its first datagram)
        self.proc = None
        self.mode = None
        self.cut = threading.Event()
        self.tokens = set()       # tokens of MSG requests forwarded to the server
        self.seen = set()         # msgIds of every MSG the device sent (send() took them)
        self.stop = threading.Event()
        self.th = threading.Thread(target=self._run, daemon=True)
        self.th.start()

    def arm(self, proc, mode):
        self.proc, self.mode = proc, mode
        self.cut.clear()

    def _kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.mode = None
        self.cut.set()

    def _run(self):
        while not self.stop.is_set():
            r, _, _ = select.select([self.a, self.b], [], [], 0.1)
            if self.a in r:
                data, self.dev = self.a.recvfrom(2048)
                if self._is_msg(data) and self.mode == "request":
                    self._kill()
                    continue
                self.b.sendto(data, self.server)
            if self.b in r:
                data, _ = self.b.recvfrom(2048)
                try:
                    m = codec.decode(data)
                except codec.CoapFormatError:
                    m = None
                answer = m is not None and m.code >= 64 and m.token in self.tokens
                if answer and self.mode == "response":
                    self._kill()
                    continue
                if self.dev:
                    self.a.sendto(data, self.dev)
                if answer and self.mode == "after":
                    time.sleep(self.rng.uniform(0, 0.003))
                    self._kill()
        self.a.close()
        self.b.close()

    def _is_msg(self, data):
        try:
            m = codec.decode(data)
            body = json.loads(m.payload)
            if m.code != 2 or body.get("msgType") != "MSG":
                return False
        except Exception:
            return False
        self.tokens.add(m.token)
        self.seen.add(body["msgId"])
        return True


def _inbox_ids(st):
    return [e["msgId"] for e in st.as_inbox(AS)]



def journal_open_ids(jpath, tmpdir):
    """The msgIds still open in the device's journal at jpath ([] without one), read from a
    copy in tmpdir: opening a journal repairs it, and the device's file must stay as it is."""
    if not os.path.exists(jpath):
        return []
    copy = os.path.join(tmpdir, "journal-copy.bin")
    shutil.copyfile(jpath, copy)
    try:
        return [k for k, _ in Journal(copy).pending()]
    finally:
        for p in (copy, copy + ".tmp"):
            if os.path.exists(p):
                os.remove(p)

def test_power_loss_nothing_lost_nothing_twice(tmp_path):
    seed = int(os.environ.get("POWERLOSS_SEED", str(int(time.time()) % 100000)))
    lives = int(os.environ.get("POWERLOSS_LIVES", "12"))
    rng = random.Random(seed)
    jpath = str(tmp_path / "journal.bin")
    cfg = {"ueServiceId": UE, "server": "coap://127.0.0.1:%d" % PROXY_PORT, "app": "sensor",
           "periodSec": 1, "reportTo": AS, "journal": jpath, "listenPort": DEV_PORT,
           "keepAliveSec": 0, "logLevel": "info"}
    if os.environ.get("POWERLOSS_JOURNAL") == "0":   # shows what the test catches without one
        del cfg["journal"]
    cpath = str(tmp_path / "device.json")
    with open(cpath, "w") as f:
        json.dump(cfg, f)
    open_at_kill = set()      # msgIds open in the journal right after a kill
    logged = {}               # msgId -> outcome logged by the device
    kills = []                # (life, how, seconds alive, open records)
    jsizes = []

    def start(life):
        log = open(str(tmp_path / ("life%02d.log" % life)), "w+")
        p = mp.popen([os.path.join(mp.ROOT, "firmware", "main.py"), cpath], heap="256k",
                     mpy=True, stdout=log, stderr=subprocess.STDOUT)
        return p, log

    def harvest(log):
        log.seek(0)
        text = log.read()
        log.close()
        for mid, outcome in _MSG.findall(text):
            logged[mid] = outcome
        return text

    def journal_open():
        if os.path.exists(jpath):
            jsizes.append(os.path.getsize(jpath))
        return journal_open_ids(jpath, str(tmp_path))

    with ServerThread(port=SERVER_PORT, quiet=True) as st:
        proxy = CutProxy(PROXY_PORT, ("127.0.0.1", SERVER_PORT), rng)
        modes = ("random", "request", "response", "after")
        for life in range(lives):
            p, log = start(life)
            t0 = time.time()
            how = modes[life % len(modes)]
            if how == "random":
                time.sleep(rng.uniform(0.05, 2.6))
            else:
                proxy.arm(p, how)
                how += "" if proxy.cut.wait(5) else "(no cut)"
                proxy.arm(None, None)
            alive = p.poll() is None or how in modes[1:]
            p.send_signal(signal.SIGKILL)
            p.wait(5)
            text = harvest(log)
            assert alive, "device exited by itself:\n" + text[-3000:]
            opened = journal_open()
            open_at_kill.update(opened)
            kills.append((life, how, round(time.time() - t0, 3), len(opened)))
        # Last life: runs until everything expected arrived, then a clean stop.
        p, log = start(lives)
        need = open_at_kill | proxy.seen | {m for m, o in logged.items() if o != "FAILED"}
        _wait(lambda: need <= set(_inbox_ids(st)), 30, 0.05)
        time.sleep(1.2)          # at least one more reading of this life
        p.send_signal(signal.SIGINT)
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
        text = harvest(log)
        final_open = journal_open()
        inbox = st.as_inbox(AS)
        proxy.stop.set()
        proxy.th.join(2)

    ids = [e["msgId"] for e in inbox]
    by_id = {}
    for e in inbox:
        by_id.setdefault(e["msgId"], set()).add(e["payload"])
    dups = len(ids) - len(by_id)
    need = open_at_kill | proxy.seen | {m for m, o in logged.items() if o != "FAILED"}
    print("\nPOWER LOSS (seed %d): %d kills %s" % (seed, len(kills), kills))
    print("POWER LOSS: %d distinct messages in the AS inbox, %d duplicate arrivals (same msgId),"
          " %d open in the journal at some kill, %d logged ACCEPTED, journal sizes max %d B, "
          "open at the end %d" % (len(by_id), dups, len(open_at_kill),
                                  sum(1 for o in logged.values() if o == "ACCEPTED"),
                                  max(jsizes or [0]), len(final_open)))
    missing = need - set(by_id)
    assert not missing, "accepted but never delivered: %s\nlast log:\n%s" % (
        sorted(missing), text[-2000:])
    assert all(len(v) == 1 for v in by_id.values()), "a msgId arrived with two payloads"
    assert dups <= len(kills), "more re-sends than kills: %d" % dups
    for e in inbox:
        assert isinstance(json.loads(e["payload"])["n"], int)
    assert max(jsizes or [0]) <= 4096, "journal file grew to %d B" % max(jsizes)
    assert len(by_id) >= 3 and open_at_kill, "the kills never caught an open message"
