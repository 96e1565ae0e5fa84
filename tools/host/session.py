"""The device session that memory figures and the board tier's test are taken on (host side).

One echo device (firmware/main.py) against the reference server: register, N messages each way
(A2P, each echoed back P2A; every tenth with a delivery report), one 5 KB message segmented
both ways with a report, de-register. `run()` returns a Result: ok, the stage that failed,
timings, the device's final STATUS (its `heap` figure: used / free / largest block) and its
output for a failure message.
"""
import json
import os
import signal
import subprocess
import tempfile
import time

import mp

UE = "ue-s"
AS = "as-s"


class Result:
    def __init__(self):
        self.ok = False
        self.stage = None       # where it failed
        self.figures = {}       # name -> value (ms, messages/s)
        self.status = None      # the device's final STATUS {...}
        self.output = ""

    def __repr__(self):
        return "<session %s%s>" % ("ok" if self.ok else "failed at ", self.stage or "")


def write_config(workdir, port, dev_port):
    cfg = os.path.join(workdir, "session-ue.json")
    with open(cfg, "w") as f:
        json.dump({"ueServiceId": UE, "server": "coap://127.0.0.1:%d" % port, "app": "echo",
                   "listenPort": dev_port, "keepAliveSec": 0, "logLevel": "warn"}, f)
    return cfg


def _wait(cond, p, timeout):
    t0 = time.time()
    while not cond():
        if p.poll() is not None or time.time() - t0 > timeout:
            return False
        time.sleep(0.005)
    return True


def run(heap, board="unix", n=100, big_size=5 * 1024, port=17499, dev_port=17498):
    """Run the session once on `board` ('unix' or 'unix32') under -X heapsize=heap."""
    from m5server.thread import ServerThread
    res = Result()
    work = tempfile.mkdtemp(prefix="msgin5g-session-")
    cfg = write_config(work, port, dev_port)
    with ServerThread(port=port) as st:
        t0 = time.time()
        p = mp.popen([os.path.join(mp.ROOT, "firmware", "main.py"), cfg], heap=heap,
                     board=board, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            res.stage = "registration"
            if not _wait(lambda: UE in [r["ueServiceId"] for r in st.registrations()], p, 10):
                return _end(res, p)
            res.figures["boot_to_registered_ms"] = (time.time() - t0) * 1000
            res.stage = "messages"
            t1 = time.time()
            try:
                for i in range(n):
                    st.as_send(AS, UE, b"message %d" % i, report=(i % 10 == 0))
            except Exception as e:   # the device stopped answering: the server timed out
                res.stage = "messages (%s)" % type(e).__name__
                return _end(res, p)
            if not _wait(lambda: len(st.as_inbox(AS)) >= n, p, 60):
                return _end(res, p)
            res.figures["messages_per_s"] = 2 * n / (time.time() - t1)
            if big_size:
                res.stage = "segmented"
                big = os.urandom(big_size)
                st.as_send(AS, UE, big, report=True)
                t2 = time.time()
                if not _wait(lambda: any(e["payload"] == big for e in st.as_inbox(AS)), p, 30):
                    return _end(res, p)
                res.figures["segmented_round_trip_ms"] = (time.time() - t2) * 1000
            res.stage = "de-registration"
        finally:
            _end(res, p)
        res.ok = bool(res.status) and res.status.get("state") == "DEREGISTERED"
        if res.ok:
            res.stage = None
    return res


def _end(res, p):
    """Stop the device (SIGINT: it de-registers) and collect its output and STATUS line."""
    if p.poll() is None:
        p.send_signal(signal.SIGINT)
    try:
        res.output = p.communicate(timeout=15)[0] or ""
    except subprocess.TimeoutExpired:
        p.kill()
        res.output = (p.communicate()[0] or "") + "\n(killed: no exit 15 s after SIGINT)"
    st = [ln for ln in res.output.splitlines() if ln.startswith("STATUS ")]
    if st:
        try:
            res.status = json.loads(st[-1][7:])
        except ValueError:
            pass
    return res


def floor(heaps, board="unix", passes=2, **kw):
    """The smallest of `heaps` (rising) at which the session passes `passes` times in a row;
    returns (heap or None, what failed below it)."""
    tried = []
    for heap in heaps:
        k = 0
        while k < passes:
            r = run(heap, board, **kw)
            if not r.ok:
                tried.append("%s failed at %s after %d pass(es)" % (heap, r.stage, k))
                break
            k += 1
        if k == passes:
            return heap, tried
    return None, tried
