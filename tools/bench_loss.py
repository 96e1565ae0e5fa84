#!/usr/bin/env python3
"""Figures for a lossy link (prints, never asserts): the AS sends MESSAGES messages (A2P)
spread over DEVICES echo devices on the unix port, through tools/lossy.py with LOSS % loss
each way (+2 % duplication, 5 % reordering); every device echoes each one back to the AS.

  python tools/bench_loss.py [--messages 1000] [--devices 20] [--loss 20] [--ack-ms 2000]

Prints: delivered to the device applications, duplicates suppressed by the devices (PC-26),
echoes at the AS (distinct / duplicate), failures, CoAP retransmissions (devices, server),
the proxy's counters and the elapsed time. --ack-ms scales the devices' and the server's
CoAP ACK_TIMEOUT (RFC 7252 default 2000 ms).
"""
import argparse
import asyncio
import collections
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(ROOT, "tools", "host"), os.path.join(ROOT, "tools", "server"),
                os.path.join(ROOT, "tools")]
import mp  # noqa: E402
from lossy import ProxyThread, format_counters  # noqa: E402
from m5server.thread import ServerThread  # noqa: E402

DRIVER = os.path.join(ROOT, "tests", "host", "loss_device.py")
AS = "as-bench"


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=1000)
    ap.add_argument("--devices", type=int, default=20)
    ap.add_argument("--loss", type=float, default=20.0, help="loss %% each way")
    ap.add_argument("--up-loss", type=float, help="loss %% device->server (overrides --loss)")
    ap.add_argument("--down-loss", type=float, help="loss %% server->device (overrides --loss)")
    ap.add_argument("--ack-ms", type=int, default=2000, help="CoAP ACK_TIMEOUT (ms)")
    ap.add_argument("--port", type=int, default=20600)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--window", type=int, default=2, help="A2P messages per device not yet echoed")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="msgin5g-bench-loss-")
    st = ServerThread(port=a.port, quiet=True, ack_timeout=a.ack_ms / 1000.0)
    st.start()
    proxy = ProxyThread(listen=("127.0.0.1", a.port + 1), target=("127.0.0.1", a.port),
                        loss=a.loss / 100.0, dup=0.02, reorder=0.05, delay_ms=(0, 10),
                        seed=a.seed,
                        up={"loss": a.up_loss / 100.0} if a.up_loss is not None else None,
                        down={"loss": a.down_loss / 100.0} if a.down_loss is not None else None)
    proxy.start()
    ues = ["bench-%d" % i for i in range(1, a.devices + 1)]
    procs, logs = {}, {}
    print("bench_loss: %d messages to %d echo devices, %s, ACK_TIMEOUT %d ms" % (
        a.messages, a.devices, proxy.proxy.describe(), a.ack_ms), flush=True)
    t0 = time.time()
    try:
        for i, ue in enumerate(ues):
            cfg = {"ueServiceId": ue, "server": "coap://127.0.0.1:%d" % (a.port + 1),
                   "app": "echo", "listenPort": a.port + 10 + i, "keepAliveSec": 0,
                   "logLevel": "warn"}
            path = os.path.join(work, ue + ".json")
            with open(path, "w") as f:
                json.dump(cfg, f)
            logs[ue] = open(os.path.join(work, ue + ".log"), "w+")
            procs[ue] = mp.popen([DRIVER, path, str(a.ack_ms)], heap="256k", mpy=True,
                                 stdout=logs[ue], stderr=subprocess.STDOUT)
        t_reg = time.time()
        while set(ues) - {r["ueServiceId"] for r in st.registrations()}:
            if time.time() - t_reg > 120:
                print("devices did not register")
                return 1
            time.sleep(0.1)
        t_reg = time.time() - t_reg
        per = {ue: a.messages // a.devices + (1 if i < a.messages % a.devices else 0)
               for i, ue in enumerate(ues)}
        results = []
        fails = []
        srv = st.server

        async def one(ue):
            n = ok = 0
            t_wait = time.time()
            while n < per[ue]:
                # window over messages the server delivered and the device has not echoed
                # yet (a FAILED one may never echo); give up waiting after 40 ACK timeouts
                echoed = sum(1 for e in srv.as_inbox(AS) if e["from"] == ue)
                if ok - echoed >= a.window and time.time() - t_wait < 40 * a.ack_ms / 1000.0:
                    await asyncio.sleep(0.05)
                    continue
                t_wait = time.time()
                r = await srv.as_send(AS, ue, b"bench %s %d" % (ue.encode(), n))
                ok += r["status"] == "DELIVERED"
                results.append(r["status"])
                if r["status"] != "DELIVERED":
                    fails.append(r)
                n += 1

        async def drive():
            await asyncio.gather(*(one(ue) for ue in ues))

        t1 = time.time()
        st.run(drive(), timeout=3600)
        want = a.messages
        deadline = time.time() + 40 * a.ack_ms / 1000.0
        while time.time() < deadline:
            if len({e["payload"] for e in st.as_inbox(AS)}) >= want:
                break
            time.sleep(0.2)
        elapsed = time.time() - t1
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        status = {}
        for ue, p in procs.items():
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
            logs[ue].seek(0)
            for line in logs[ue].read().splitlines():
                if line.startswith("STATUS "):
                    status[ue] = json.loads(line[7:])
        inbox = st.as_inbox(AS)
        stats = st.stats()
        st.stop()
        pc = proxy.counters()
        proxy.stop()
    pay = collections.Counter(e["payload"] for e in inbox)
    s = lambda k: sum(x.get(k, 0) for x in status.values())  # noqa: E731
    print("registered %d devices in %.1f s" % (len(ues), t_reg))
    print("A2P sent          %d (%s)" % (len(results), dict(collections.Counter(results))))
    print("delivered to apps %d (devices' received), duplicates suppressed %d" % (
        s("received"), s("duplicates")))
    print("echoes at the AS  %d distinct of %d, %d duplicate(s); echo failures %d, client "
          "retries %d" % (len(pay), want, sum(pay.values()) - len(pay), s("failed"), s("retries")))
    print("retransmissions   devices %d, server %d; server CoAP duplicates %d" % (
        s("retransmissions"), stats.get("retransmissions", 0), stats.get("duplicates", 0)))
    for r in fails[:5]:
        print("  not delivered: %s" % json.dumps(r))
    for line in format_counters(pc):
        print("proxy " + line)
    print("elapsed           %.1f s (%.1f messages/s end to end)" % (
        elapsed, len(pay) / elapsed if elapsed else 0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
