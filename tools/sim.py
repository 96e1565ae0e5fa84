#!/usr/bin/env python3
"""make sim: the desktop simulation (main job).

Starts the reference MSGin5G server and a small fleet of devices, each a real
`micropython firmware/main.py` process on the unix port talking CoAP over loopback, then drives
a scripted scenario through the server's application-server side and prints a summary:

  A2P + P2A   AS -> ue-1 with a delivery report; ue-1 (echo) answers the AS
  P2P         ue-4 (sensor) reports to ue-1; ue-1 echoes back to ue-4
  GROUP       AS -> group grp-1 (ue-1..ue-3); each member echoes
  BC          AS -> broadcast area; every registered UE echoes
  TOPIC       ue-2 subscribed to 'alerts'; AS publishes; ue-2 echoes
  SEGMENTED   AS -> ue-3 5 KB (segmented by the server), echoed back (segmented by ue-3)
  GW A.3      AS -> gateway UE, appId 17 -> constrained UE without client (CoAP+JSON), echoed
  GW A.2      AS -> gateway UE, appId 18 -> constrained UE without client (L3 binary), echoed
  RELAY       AS -> ue-5, a constrained UE with client behind a relay UE, echoed
  SLEEPY      ue-6, a duty-cycled sensor (deepSleep): each wake is a process that sends one
              reading, saves its state and ends with `SLEEP <ms>`; it is started again after
              ms, as a board's deep sleep resets it. The AS sends to it while it sleeps (store
              and forward): the message reaches it at its next wake (issue 13)

With --loss PCT a lossy UDP proxy (tools/lossy.py) sits between the devices and the server:
PCT %% loss each way plus a little duplication and reordering; the waits grow with the loss.

Exits 0 only if every expected delivery happened.
"""
import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(ROOT, "tools", "host"), os.path.join(ROOT, "tools", "server"),
                os.path.join(ROOT, "tools")]
import mp  # noqa: E402
from m5server.thread import ServerThread  # noqa: E402
from lossy import ProxyThread, format_counters  # noqa: E402
from modemsim import ModemSim  # noqa: E402

AS = "as-sim"


wait_for = mp.wait_for


def say(s):
    print(s, flush=True)


class Fleet:
    def __init__(self, server_port, base_port, workdir, heap, board="unix"):
        # server_port: where the devices send (the server, or the lossy proxy in front of it)
        self.server = "coap://127.0.0.1:%d" % server_port
        self.base = base_port
        self.dir = workdir
        self.heap = heap
        self.board = board
        self.procs = {}
        self.logs = {}

    def port(self, i):
        return self.base + 20 + i

    def config(self, name, port, **cfg):
        c = {"ueServiceId": name, "server": self.server, "app": "echo",
             "listenPort": port, "keepAliveSec": 0, "logLevel": "info"}
        if cfg.get("role") == "cue":
            del c["ueServiceId"], c["server"]
        c.update(cfg)
        path = os.path.join(self.dir, name + ".json")
        with open(path, "w") as f:
            json.dump(c, f)
        return path

    def start(self, name, **cfg):
        path = self.config(name, self.base + len(self.procs), **cfg)
        log = open(os.path.join(self.dir, name + ".log"), "w+")
        self.logs[name] = log
        self.procs[name] = mp.popen([os.path.join(ROOT, "firmware", "main.py"), path],
                                    heap=self.heap, board=self.board,
                                    stdout=log, stderr=subprocess.STDOUT)

    def stop(self):
        """SIGINT: each device de-registers and prints its STATUS line."""
        status = {}
        # Devices behind a gateway or relay first, so that their de-registration still has a
        # path to the server; then everyone else.
        behind = [n for n in self.procs if n.startswith("cue-") or n == "ue-5"]
        for group in (behind, [n for n in self.procs if n not in behind]):
            for n in group:
                if self.procs[n].poll() is None:
                    self.procs[n].send_signal(signal.SIGINT)
            for n in group:
                try:
                    self.procs[n].wait(10)
                except subprocess.TimeoutExpired:
                    self.procs[n].kill()
        for name, p in self.procs.items():
            log = self.logs[name]
            log.seek(0)
            for line in log.read().splitlines():
                if line.startswith("STATUS "):
                    status[name] = json.loads(line[7:])
        return status

    def dead(self):
        return [n for n, p in self.procs.items() if p.poll() is not None]


class Sleeper(threading.Thread):
    """A duty-cycled device (deepSleep): each wake is a process that ends with `SLEEP <ms>`
    (state saved, still registered); it is started again after ms, as a board's deep sleep
    resets it (issue 13). outs: each wake's output."""

    def __init__(self, fleet, name, port, **cfg):
        threading.Thread.__init__(self, daemon=True)
        self.fleet = fleet
        self.name_ = name
        self.path = fleet.config(name, port, **cfg)
        self.outs = []
        self.asleep = threading.Event()
        self.stopping = threading.Event()
        self.error = None

    def run(self):
        f = self.fleet
        with open(os.path.join(f.dir, self.name_ + ".log"), "w") as log:
            while not self.stopping.is_set():
                self.asleep.clear()
                p = mp.popen([os.path.join(ROOT, "firmware", "main.py"), self.path],
                             heap=f.heap, board=f.board, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
                out = p.communicate()[0]
                log.write(out)
                log.flush()
                self.outs.append(out)
                m = re.search(r"^SLEEP (\d+)$", out, re.M)
                if p.returncode != 0 or not m:
                    self.error = "wake %d ended with %s" % (len(self.outs), p.returncode)
                    return
                self.asleep.set()
                self.stopping.wait(int(m.group(1)) / 1000.0)

    def stop(self):
        self.stopping.set()
        self.join(30)

    def count(self, pattern):
        return sum(len(re.findall(pattern, o)) for o in self.outs)




def as_reports(st, since=0):
    """Reports (IMDN, ...) the server holds for our AS."""
    box = st.server.as_reports
    if callable(box):
        return st.as_reports(AS, since)
    return st.call(lambda: [dict(e) for e in box.get(AS, ()) if e["seq"] > since])


class Scenario:
    def __init__(self, st, slow=1.0):
        self.st = st
        self.slow = slow        # wait multiplier (lossy link)
        self.rows = []
        self.seen = 0
        self.ok = True

    def inbox_since(self):
        return self.st.as_inbox(AS, self.seen)

    def flow(self, name, to, to_type, payload, expect_from, report=False, app_id=None,
             timeout=20):
        """AS sends; wait for the echo of each expected device in the AS inbox."""
        mark = self.st.as_inbox(AS)
        since = mark[-1]["seq"] if mark else 0
        rmark = as_reports(self.st)
        rsince = rmark[-1]["seq"] if rmark else 0
        t0 = time.time()
        # as_send waits for the delivery attempts: a lossy link needs more than run()'s 30 s
        res = self.st.run(self.st.server.as_send(AS, to, payload, to_type=to_type, report=report,
                                                 app_id=app_id), timeout=max(30, timeout * self.slow))
        lat = {}

        def arrived():
            for e in self.st.as_inbox(AS, since):
                if e["from"] in expect_from and e["from"] not in lat and e["payload"] == payload:
                    lat[e["from"]] = (time.time() - t0) * 1000
            return len(lat) == len(expect_from)

        timeout *= self.slow
        wait_for(arrived, timeout)
        reports = []
        if report:
            def got_reports():
                reports[:] = [r for r in as_reports(self.st, rsince)
                              if r.get("kind") == "IMDN" and r["msgId"] == res["msgId"]]
                return len(reports) >= len(expect_from)
            wait_for(got_reports, timeout)
        ok = len(lat) == len(expect_from) and (not report or len(reports) >= len(expect_from))
        self.ok &= ok
        self.rows.append((name, len(expect_from), len(lat), len(reports) if report else "-",
                          sorted(lat.values())))
        say("  %-10s %-4s %s  sent to %s:%s, %d/%d echoed%s" % (
            name, "ok" if ok else "FAIL", res["status"], to_type, to, len(lat), len(expect_from),
            ", %d report(s)" % len(reports) if report else ""))
        return ok


# Cellular UEs (issue 11): each behind its own simulated modem (tools/modemsim on a pty, its
# sockets bridged to loopback UDP), started after the broadcast: a modem in PSM hears nothing.
CELLS = (("cell-7080", "sim7080", {}, {}),
         ("cell-bg95", "bg95", {}, {}),
         # PSM and RAI on NB-IoT: a sensor reporting to ue-1, whose echo is the last downlink;
         # the reply to it is marked RAI, T3324 (3 s) runs out, the next reading wakes the
         # modem by PWRKEY (modemsim's control port)
         ("cell-psm", "sim7080", {"rrc_inactivity": 1},
          {"app": "sensor", "periodSec": 7, "reportTo": {"type": "UE", "addr": "ue-1"},
           "link": {"rat": "nbiot", "rai": True, "psm": {"tauSec": 3600, "activeSec": 3}}}))


def start_cells(fleet, sims):
    for name, model, knobs, cfg in CELLS:
        sim = sims[name] = ModemSim(model, reg_delay=0.3, **knobs).start()
        cfg = dict(cfg)
        link = {"type": "modem", "model": model, "uart": sim.path, "apn": "iot",
                "pwrkey": "udp://%s:%d" % sim.control_addr}
        link.update(cfg.pop("link", {}))
        fleet.start(name, link=link, **cfg)


def cells(st, sc, sims, slow):
    """AS -> each cellular echo UE with a report; the PSM UE's readings reach ue-1 and come
    back after it slept and was woken."""
    ok = wait_for(lambda: {n for n, _, _, _ in CELLS} <= {r["ueServiceId"]
                                                         for r in st.registrations()}, 30 * slow)
    for name, model, _, _ in CELLS[:2]:
        ok &= sc.flow("CELL " + name[5:].upper(), name, "UE", b"over the air to " + name.encode(),
                      [name], report=True, timeout=20)
    c = sims["cell-psm"]
    ok &= bool(wait_for(lambda: c.counters()["psm_wakes"] >= 1 and c.counters()["rai_marks"],
                        30 * slow, step=0.1))
    say("  %-10s %-4s PSM entered %d, woken %d (PWRKEY), RAI marks %d" % (
        "CELL PSM", "ok" if ok else "FAIL", c.counters()["psm_entries"],
        c.counters()["psm_wakes"], c.counters()["rai_marks"]))
    sc.ok &= ok
    return ok


def air_lines(sims, status):
    """One line per cellular UE: octets on air (the simulator's counters) and on the UART."""
    for name, sim in sorted(sims.items()):
        c = sim.counters()
        m = status.get(name, {}).get("modem", {})
        yield ("%-10s %-8s air UL %d dgrams %d octets, DL %d dgrams %d octets; UART AT "
               "overhead %d/%d octets; PSM %d/%d woken; RAI marks %d; link %s" % (
                   name, m.get("model", "?"), c["ul_datagrams"], c["ul_octets"],
                   c["dl_datagrams"], c["dl_octets"], c["uart_rx_octets"] - c["uart_rx_payload"],
                   c["uart_tx_octets"] - c["uart_tx_payload"], c["psm_entries"], c["psm_wakes"],
                   c["rai_marks"], m.get("state", "-")))


def sleepy(st, sl, slow):
    """ue-6 sleeps between readings; the AS sends to it while it sleeps (store and forward):
    the message must reach its application once, at a following wake (the next one on a
    clean link). Returns (ok, row)."""
    ok = wait_for(lambda: len(sl.outs) >= 2 and sl.asleep.is_set(), 20 * slow, step=0.005)
    asleep_at = len(sl.outs)
    t0 = time.time()
    res = st.run(st.server.as_send(AS, "ue-6", b"new period: 60 s", app_id=1, store_fwd=True))
    at = []

    def arrived():
        at[:] = [i + 1 for i, o in enumerate(sl.outs) if res["msgId"] in o]
        return at

    ok = ok and wait_for(arrived, 30 * slow, step=0.02)
    lat = (time.time() - t0) * 1000
    time.sleep(0.5)
    arrived()
    readings = [e for e in st.as_inbox("as-sleep")]
    regs = sl.count(r"REG -> 2\.0[14]")
    ok = ok and len(at) == 1 and sl.error is None and (slow > 1 or at[0] == asleep_at + 1)
    say("  %-10s %-4s %s  sent while asleep (after wake %d), taken at wake %s; %d wakes, "
        "%d readings at the AS, %d registration(s)%s" % (
            "SLEEPY", "ok" if ok else "FAIL", res["status"], asleep_at,
            ",".join(map(str, at)) or "-", len(sl.outs), len(readings), regs,
            ", " + sl.error if sl.error else ""))
    return ok, ("SLEEPY", 1, len(at), "-", [lat] if at else [])


def pct(vals, p):
    if not vals:
        return None
    v = sorted(vals)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--port", type=int, default=5783, help="server port (default 5783)")
    ap.add_argument("--board", default="unix", choices=mp.BOARDS,
                    help="unix: 64-bit port, library bytecode from files (default);\n"
                         "unix32: the board-true build, 32-bit with the library frozen in")
    ap.add_argument("--heap", help="device heap (-X heapsize): default 256k on unix, 96k on unix32")
    ap.add_argument("--keep", action="store_true", help="keep the work dir with logs")
    ap.add_argument("--loss", type=float, default=0.0, metavar="PCT",
                    help="put a lossy proxy between devices and server: PCT %% loss each way,\n"
                         "plus 2%% duplication, 5%% reordering and 0-10 ms delay")
    ap.add_argument("--seed", type=int, default=1, help="proxy random seed (with --loss)")
    args = ap.parse_args()
    args.heap = args.heap or ("96k" if args.board == "unix32" else "256k")
    if not 0 <= args.loss < 100:
        ap.error("--loss must be a percentage 0..99")
    t_start = time.time()
    work = tempfile.mkdtemp(prefix="msgin5g-sim-")
    if args.board == "unix32":
        mp.unix32_exe()     # build it (or find it cached) before the devices start
    say("MSGin5G simulation: server 127.0.0.1:%d, devices on the %s port (heap %s), logs in %s"
        % (args.port, args.board, args.heap, work))
    groups = {"grp-1": ["ue-1", "ue-2", "ue-3"]}
    st = ServerThread(port=args.port, groups=groups, quiet=True)
    st.start()
    proxy = None
    dev_port = args.port
    slow = 1.0
    if args.loss:
        # devices -> proxy (port + 10) -> server; CoAP retransmits after 2-3 s, 4-6 s, ...
        proxy = ProxyThread(listen=("127.0.0.1", args.port + 10), target=("127.0.0.1", args.port),
                            loss=args.loss / 100.0, dup=0.02, reorder=0.05, delay_ms=(0, 10),
                            seed=args.seed)
        proxy.start()
        dev_port = proxy.port
        slow = 1 + args.loss / 5.0
        say("lossy link: proxy 127.0.0.1:%d (%s)" % (dev_port, proxy.proxy.describe()))
    fleet = Fleet(dev_port, args.port + 1, work, args.heap, args.board)
    sc = Scenario(st, slow)
    status = {}
    pcount = None
    sleeper = None
    sims = {}
    try:
        fleet.start("ue-1")
        fleet.start("ue-2", topics=["alerts"])
        fleet.start("ue-3")
        # a lossy link carries ~1 exchange per 2-3 s (NSTART 1): a 1 s sensor would keep ue-1's
        # uplink queue overflowing (PC-39 drops the oldest) and crowd out the scenario's echoes
        fleet.start("ue-4", app="sensor", periodSec=6 if args.loss else 1,
                    reportTo={"type": "UE", "addr": "ue-1"},
                    appId=9)
        fleet.start("gw-1", role="gateway", app="none", gatewayPort=fleet.port(0),
                    gatewayL3Port=fleet.port(1), allowedAppIds=[17, 18])
        fleet.start("relay-1", role="relay", app="none", gatewayPort=fleet.port(2))
        time.sleep(0.3)  # let the gateway and the relay bind their ports
        fleet.start("cue-a3", role="cue", gateway="coap://127.0.0.1:%d" % fleet.port(0),
                    applicationId=17)
        fleet.start("cue-a2", role="cue", gateway="udp://127.0.0.1:%d" % fleet.port(1),
                    applicationId=18)
        fleet.start("ue-5", firstHop="coap://127.0.0.1:%d" % fleet.port(2))
        say("[1/9] registering 7 MSGin5G clients (2 more constrained UEs at the gateway) ...")
        names = {"ue-1", "ue-2", "ue-3", "ue-4", "ue-5", "gw-1", "relay-1"}
        ok = wait_for(lambda: names <= {r["ueServiceId"] for r in st.registrations()}, 20 * slow)
        say("      registered: %s" % ", ".join(sorted(r["ueServiceId"] for r in st.registrations())))
        if not ok or fleet.dead():
            say("FAIL: devices did not register (dead: %s)" % fleet.dead())
            sc.ok = False
            return 1
        # the topic subscription follows registration
        wait_for(lambda: st.stats()["topics"].get("alerts"), 5 * slow, step=0.1)
        say("[2/9] A2P with report, answered P2A")
        sc.flow("A2P+P2A", "ue-1", "UE", b"hello ue-1", ["ue-1"], report=True, app_id=7)
        say("[3/9] GROUP")
        sc.flow("GROUP", "grp-1", "GROUP", b"group hello", ["ue-1", "ue-2", "ue-3"], report=True)
        say("[4/9] BROADCAST")
        # every registered UE gets it; the echo apps answer (ue-4 is a sensor, the gateway and
        # the relay run no app)
        sc.flow("BC", "area-1", "BC", b"broadcast hello", ["ue-1", "ue-2", "ue-3", "ue-5"])
        say("[5/9] TOPIC")
        sc.flow("TOPIC", "alerts", "TOPIC", b"alert!", ["ue-2"])
        say("[6/9] SEGMENTED 5 KB each way")
        big = bytes((i * 7 + 3) % 256 for i in range(5 * 1024))
        sc.flow("SEGMENTED", "ue-3", "UE", big, ["ue-3"], report=True, timeout=30)
        say("[7/9] constrained UEs: via the gateway (A.3 and A.2) and via the relay")
        sc.flow("GW A.3", "gw-1", "UE", b"to the A.3 sensor", ["gw-1"], report=True, app_id=17)
        sc.flow("GW A.2", "gw-1", "UE", b"to the A.2 sensor", ["gw-1"], report=True, app_id=18)
        sc.flow("RELAY", "ue-5", "UE", b"through the relay", ["ue-5"], report=True)
        say("[CELL] cellular UEs: SIM7080G, BG95, and a SIM7080G on NB-IoT with PSM and RAI, "
            "each behind tools/modemsim")
        start_cells(fleet, sims)
        cells(st, sc, sims, slow)
        say("[8/9] SLEEPY: ue-6 sleeps between readings; the AS sends while it sleeps")
        # started only now: a broadcast to every registered UE would wait out its sleep
        sleeper = Sleeper(fleet, "ue-6", fleet.port(3), app="sensor", deepSleep=True,
                          periodSec=2, awakeSec=6 if args.loss else 1, reportTo="as-sleep")
        sleeper.start()
        ok, row = sleepy(st, sleeper, slow)
        sc.ok &= ok
        sc.rows.append(row)
        say("[9/9] P2P: ue-4 (sensor) -> ue-1 -> echo -> ue-4")
        time.sleep(1.5)
        # under loss: let ue-4's echoes catch up (each reading is echoed by ue-1)
        if proxy:
            time.sleep(min(10.0, 1.5 * slow))
    finally:
        if sleeper is not None:
            sleeper.stop()
        status = fleet.stop()
        air = list(air_lines(sims, status))
        for sim in sims.values():
            sim.stop()
        stats = st.stats()
        inbox = st.as_inbox(AS)
        st.stop()
        if proxy:
            pcount = proxy.counters()
            proxy.stop()
    p2p_sent = status.get("ue-4", {}).get("accepted", 0)
    # ue-4 also got the broadcast (it does not echo: it is a sensor); the rest are echoes
    p2p_back = status.get("ue-4", {}).get("received", 0) - 1
    p2p_ok = p2p_sent >= 1 and p2p_back >= 1
    sc.ok &= p2p_ok
    sc.rows.append(("P2P", p2p_sent, p2p_back, "-", []))
    if sims:    # the PSM sensor's readings, echoed back by ue-1 through PSM and wakes
        ps = status.get("cell-psm", {})
        sc.ok &= ps.get("received", 0) >= 1
        sc.rows.append(("CELL PSM", ps.get("accepted", 0), ps.get("received", 0), "-", []))
    say("")
    say("%-10s %6s %10s %8s %9s %9s" % ("flow", "sent", "delivered", "reports", "p50 ms", "p95 ms"))
    for name, sent, got, reps, lats in sc.rows:
        p50, p95 = pct(lats, 50), pct(lats, 95)
        say("%-10s %6s %10s %8s %9s %9s" % (name, sent, got, reps,
                                             "%.1f" % p50 if p50 is not None else "-",
                                             "%.1f" % p95 if p95 is not None else "-"))
    retx = sum(s.get("retransmissions", 0) for s in status.values())
    say("")
    say("devices: %s" % ", ".join("%s %s rx=%d tx=%d" % (n, s.get("state"), s.get("received", 0),
                                                          s.get("accepted", 0))
                                  for n, s in sorted(status.items())))
    say("retransmissions: devices %d, server %d; server received %d, delivered %d, reports %d"
        % (retx, stats.get("retransmissions", 0), stats.get("received", 0),
           stats.get("delivered", 0), stats.get("reports", 0)))
    ids = [e["msgId"] for e in inbox]
    say("AS inbox: %d messages, %d duplicate msgId(s)" % (len(ids), len(ids) - len(set(ids))))
    if air:
        say("cellular (octets on air from each modem simulator; AT overhead = UART octets "
            "besides the payload, host->modem / modem->host):")
        for line in air:
            say("  " + line)
    if pcount:
        say("lossy proxy (%s):" % ("%g%% loss" % args.loss))
        for line in format_counters(pcount):
            say("  " + line)
    if len(status) < 6:
        say("FAIL: not every device printed its final status (%s)" % sorted(status))
        sc.ok = False
    say("%s in %.1f s" % ("PASS: every expected delivery happened" if sc.ok else "FAIL",
                         time.time() - t_start))
    if not args.keep and sc.ok:
        for f in os.listdir(work):
            os.unlink(os.path.join(work, f))
        os.rmdir(work)
    return 0 if sc.ok else 1


if __name__ == "__main__":
    sys.exit(main())
