#!/usr/bin/env python3
"""The cost of one sensor reading (issue 13 item 4): exchanges, datagrams, octets on air and
time awake, for a UE over the host link, a UE over the modem simulator (PSM + RAI), and a
constrained UE through the gateway over Annex A.3 and A.2. `make bench` prints the table
(tools/bench.py reading_figures); tests/host/test_reading_cost.py asserts the behaviour behind
it with the same relay. Prints, never asserts.

Counting: a small UDP relay (CountingRelay) sits between the device and the server (or the
gateway) on loopback and records every datagram: direction, time, octets. On air = the UDP
payload + 28 octets of UDP/IPv4 header per datagram. A CoAP exchange is one request (CON or
NON with a request code, or a ping) and what answers it; retransmissions add datagrams, not
exchanges. An A.2 exchange is one request datagram type (0x01, 0x03, 0x05, 0x06 up; 0x08,
0x09 down) and its answer.

Time awake (deepSleep UEs): from the process start (Popen) to the sensor's line saying the
reading's outcome is in (printed right after the sleep record is saved), and to the process's
`SLEEP <ms>` line, with awakeSec 0 over the host link (no window for stored downlinks; the
default 2 s adds 2 s before SLEEP); over the modem awakeSec is left unset, so it is the
granted Active-Time (2 s), and a steady wake includes the PWRKEY pulse that wakes the modem
from PSM (1.5 s on a SIM7080). A constrained UE (role cue) with deepSleep is measured the same
way through a Gateway UE (a device process in front of the reference server), counted on the
cue's link: A.3 (CoAP) or A.2 (L3 datagrams); its cold boot includes its registration at the
gateway. The clock starts once the command is resolved (the unix32 build checked), at Popen.
"""
import json
import os
import re
import select
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for _p in ("tools/host", "tools/server", "tools"):
    _p = os.path.join(ROOT, _p)
    if _p not in sys.path:
        sys.path.insert(0, _p)
import mp  # noqa: E402

UDPIP = 28                  # UDP (8) + IPv4 (20) header octets per datagram
HOST15 = "msg.example.net"  # a server host of 15 characters (the targets' worst case)
AS = "as-reading"
MAIN = os.path.join(ROOT, "firmware", "main.py")


# ------------------------------------------------------------------------ the counting relay
class CountingRelay:
    """A UDP relay on loopback, listen -> target, recording every datagram as
    (monotonic time, "up" | "down", bytes). Each client address gets its own upstream socket
    (kept for the relay's life), so the target sees one stable address per client: a device
    that binds the same port again after a deep sleep is the same peer to the server."""

    def __init__(self, listen_port, target, host="127.0.0.1"):
        self.target = (host, target) if isinstance(target, int) else target
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, listen_port))
        self.host = host
        self.port = listen_port
        self.log = []
        self._up = {}           # client addr -> upstream socket
        self._down = {}         # upstream socket -> client addr
        self._stop = False
        self._lock = threading.Lock()
        self._t = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop = True
        self._t.join(2)
        for s in [self.sock] + list(self._up.values()):
            s.close()

    def _rec(self, d, data):
        with self._lock:
            self.log.append((time.monotonic(), d, data))

    def _run(self):
        while not self._stop:
            socks = [self.sock] + list(self._down)
            r, _, _ = select.select(socks, [], [], 0.05)
            for s in r:
                try:
                    data, addr = s.recvfrom(65535)
                except OSError:
                    continue
                if s is self.sock:
                    u = self._up.get(addr)
                    if u is None:
                        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                        u.bind((self.host, 0))
                        self._up[addr] = u
                        self._down[u] = addr
                    self._rec("up", data)
                    u.sendto(data, self.target)
                else:
                    self._rec("down", data)
                    self.sock.sendto(data, self._down[s])

    def mark(self):
        with self._lock:
            return len(self.log)

    def since(self, i, until=None):
        with self._lock:
            return [e for e in self.log[i:] if until is None or e[0] <= until]


# ------------------------------------------------------------------------ reading datagrams
def coap_parts(data):
    """RFC 7252 section 3 breakdown of one datagram: {'type', 'code', 'mid', 'token',
    'options': [(number, octets on the wire incl. its delta/length header)], 'marker',
    'payload'}; None when it is not CoAP."""
    if len(data) < 4 or data[0] >> 6 != 1:
        return None
    tkl = data[0] & 15
    if tkl > 8:
        return None
    o = 4 + tkl
    opts = []
    num = 0
    marker = 0
    while o < len(data):
        if data[o] == 0xFF:
            marker = 1
            o += 1
            break
        start = o
        d, ln = data[o] >> 4, data[o] & 15
        o += 1
        ext = []
        for v in (d, ln):
            if v == 13:
                ext.append(data[o] + 13)
                o += 1
            elif v == 14:
                ext.append((data[o] << 8 | data[o + 1]) + 269)
                o += 2
            elif v == 15:
                return None
            else:
                ext.append(v)
        num += ext[0]
        o += ext[1]
        opts.append((num, o - start))
    return {"type": data[0] >> 4 & 3, "code": data[1], "mid": data[2] << 8 | data[3],
            "token": tkl, "options": opts, "marker": marker, "payload": bytes(data[o:])}


def _coap_exchanges(dg):
    seen = set()
    for _, d, data in dg:
        p = coap_parts(data)
        # a request (code class 0, not empty) or a ping (empty CON), once per MID and direction
        if p and p["type"] in (0, 1) and (p["code"] & 0xE0 == 0) and (p["code"] or not p["type"]):
            seen.add((d, p["mid"]))
    return len(seen)


_A2_REQUESTS = (1, 3, 5, 6, 8, 9)


def _a2_exchanges(dg):
    seen = set()
    for _, d, data in dg:
        if data and data[0] in _A2_REQUESTS:
            seen.add((d, data))       # a retransmission repeats the same octets
    return len(seen)


def cost(dg, kind="coap"):
    """{'exchanges', 'dg_up', 'dg_down', 'air_up', 'air_down', 'air'} of datagrams dg."""
    up = [x[2] for x in dg if x[1] == "up"]
    down = [x[2] for x in dg if x[1] == "down"]
    c = {"exchanges": _coap_exchanges(dg) if kind == "coap" else _a2_exchanges(dg),
         "dg_up": len(up), "dg_down": len(down),
         "air_up": sum(len(x) + UDPIP for x in up), "air_down": sum(len(x) + UDPIP for x in down)}
    c["air"] = c["air_up"] + c["air_down"]
    return c


_OPT = {3: "Uri-Host", 11: "Uri-Path", 12: "Content-Format", 14: "Max-Age", 17: "Accept"}


def breakdown(dg):
    """[(part, octets)] of one CoAP exchange's datagrams on air, the MSG JSON body last:
    what the request and its answer spend besides the body."""
    parts = []

    def add(k, n):
        for i, (kk, v) in enumerate(parts):
            if kk == k:
                parts[i] = (k, v + n)
                return
        parts.append((k, n))
    body = 0
    for _, d, data in dg:
        p = coap_parts(data)
        if p is None:
            add("other datagrams", len(data))
            continue
        req = p["code"] and p["code"] < 32
        side = "request" if req else "ACK"
        add("%s header" % side, 4)
        add("%s token" % side, p["token"])
        for num, n in p["options"]:
            add("%s %s" % (side, _OPT.get(num, "option %d" % num)), n)
        add("%s payload marker" % side, p["marker"])
        if req:
            body += len(p["payload"])
        else:
            add("ACK payload", len(p["payload"]))
    parts = [x for x in parts if x[1]]
    parts.append(("UDP/IPv4 headers (%d x %d)" % (len(dg), UDPIP), UDPIP * len(dg)))
    parts.append(("MSG JSON body (excluded from the target)", body))
    return parts


# ------------------------------------------------------------------------ running devices
class Proc:
    """A device process whose output lines are timed as they arrive (monotonic seconds)."""

    def __init__(self, cfg, board, heap):
        self.lines = []
        # the command first: resolving it checks the unix32 build (hashing its sources, ~50 ms)
        # and the bytecode build, which is no part of the device's time awake
        cmd, env = mp.device_cmd(heap, board)
        main = mp.board_main_py() if board == "unix32" else MAIN
        self.t0 = time.monotonic()
        self.p = subprocess.Popen(cmd + [main, cfg], env=env, cwd=ROOT, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True, bufsize=1)
        self._t = threading.Thread(target=self._read, daemon=True)
        self._t.start()

    def _read(self):
        for line in self.p.stdout:
            self.lines.append((time.monotonic(), line.rstrip("\n")))

    def when(self, pattern, timeout=30):
        """Time (monotonic) of the first line matching pattern, or None."""
        rx = re.compile(pattern)
        end = time.monotonic() + timeout
        while True:
            for t, line in list(self.lines):
                if rx.search(line):
                    return t
            if time.monotonic() > end or (self.p.poll() is not None and not self._t.is_alive()):
                return None
            time.sleep(0.002)

    def wait(self, timeout=40):
        try:
            self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
        self._t.join(2)
        return self.p.returncode

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(2)
            self.wait(10)

    def output(self):
        return "\n".join(line for _, line in self.lines)


def write_config(work, name, **cfg):
    path = os.path.join(work, name + ".json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    return path


def ue_config(work, server_port, relay_port, host=HOST15, ue="ue-reading", **kw):
    """A deepSleep sensor UE whose datagrams go through the relay on relay_port (firstHop: the
    relay is transparent; Uri-Host stays the server's host name, `host`)."""
    cfg = {"ueServiceId": ue, "server": "coap://%s:%d" % (host, server_port),
           "firstHop": "coap://127.0.0.1:%d" % relay_port, "app": "sensor", "periodSec": 60,
           "reportTo": AS, "deepSleep": True, "awakeSec": 0, "keepAliveSec": 0,
           "logLevel": "info"}
    cfg.update(kw)
    return write_config(work, ue, **cfg)


class Wake:
    """One wake of a deepSleep UE or cue: its datagrams (counted as `kind`: "coap" or "a2") and
    times (ms from the process start)."""

    def __init__(self, relay, cfg, board, heap, kind="coap"):
        i = relay.mark()
        pr = Proc(cfg, board, heap)
        self.saved = pr.when(r" I sensor: reading \d+ ", 35)   # a wake ends within 30 s
        self.sleep = pr.when(r"^SLEEP \d+$", 35)
        self.rc = pr.wait(5)
        self.out = pr.output()
        self.ok = self.rc == 0 and self.sleep is not None and " ACCEPTED" in self.out
        self.saved_ms = (self.saved - pr.t0) * 1000 if self.saved else None
        self.sleep_ms = (self.sleep - pr.t0) * 1000 if self.sleep else None
        self.dg = relay.since(i)
        self.cost = cost(self.dg, kind)
        # a UE's REG at the server, or a cue's registration at its gateway
        self.reg = ("REG -> 2.01" in self.out or "REG -> 2.04" in self.out or
                    "gateway: REGISTERED" in self.out)


def ue_wakes(server_port, relay_port, board="unix", heap="256k", steady=5, work=None, **kw):
    """Cold boot, then `steady` wakes, of a deepSleep sensor UE through a counting relay to the
    reference server. Returns (cold Wake, [steady Wakes], server stats)."""
    from m5server.thread import ServerThread
    own = work is None
    work = work or tempfile.mkdtemp(prefix="reading-")
    cfg = ue_config(work, server_port, relay_port, **kw)
    try:
        with ServerThread(port=server_port) as st, \
                CountingRelay(relay_port, server_port) as relay:
            cold = Wake(relay, cfg, board, heap)
            wakes = [Wake(relay, cfg, board, heap) for _ in range(steady)]
            stats = st.stats()
            stats["inbox"] = st.as_inbox(AS)
    finally:
        if own:
            import shutil
            shutil.rmtree(work, ignore_errors=True)
    return cold, wakes, stats


def cue_wakes(link, ports, board="unix", heap="256k", steady=5, work=None):
    """Cold boot, then `steady` wakes, of a deepSleep constrained UE (role cue, sensor app,
    awakeSec 0) through a Gateway UE, counted as the UE's wakes (Wake) by a relay between the
    cue and the gateway: the cue's link, A.3 (CoAP) or A.2 (L3 datagrams). The gateway is a
    device process on the 64-bit port registered at the reference server through a second
    relay, which counts its own MSGin5G-1 uplink per wake (Wake.uplink, for reference).
    ports: (server, gateway -> server relay, gateway A.3, gateway A.2, cue -> gateway relay).
    Returns (cold Wake, [steady Wakes], the AS inbox); RuntimeError when the gateway does not
    register."""
    from m5server.thread import ServerThread
    import shutil
    srv, gw_up, gw3, gw2, cue_relay = ports
    own = work is None
    work = work or tempfile.mkdtemp(prefix="reading-cue-")
    gw = write_config(work, "gw", role="gateway", ueServiceId="gw-reading",
                      server="coap://127.0.0.1:%d" % gw_up, app="none",
                      gatewayPort=gw3, gatewayL3Port=gw2, keepAliveSec=0, logLevel="info")
    gw_uri = ("coap://127.0.0.1:%d" if link == "A.3" else "udp://127.0.0.1:%d") % cue_relay
    cue = write_config(work, "cue", role="cue", gateway=gw_uri, applicationId=17,
                       app="sensor", periodSec=60, reportTo=AS, deepSleep=True, awakeSec=0,
                       logLevel="info")
    kind = "coap" if link == "A.3" else "a2"
    try:
        with ServerThread(port=srv) as st, CountingRelay(gw_up, srv) as up, \
                CountingRelay(cue_relay, gw3 if link == "A.3" else gw2) as relay:
            g = Proc(gw, "unix", "256k")
            try:
                if g.when(r"REG -> 2.0", 20) is None:
                    raise RuntimeError("gateway: %s" % _why(g.output()))
                time.sleep(0.2)
                wakes, marks = [], []
                for _ in range(1 + steady):
                    marks.append(up.mark())
                    wakes.append(Wake(relay, cue, board, heap, kind))
                time.sleep(0.3)     # the gateway's last uplink and its answer
                marks.append(up.mark())
                for w, j, k in zip(wakes, marks, marks[1:]):
                    w.uplink = cost(up.since(j)[:k - j])
                inbox = st.as_inbox(AS)
            finally:
                g.stop()
    finally:
        if own:
            shutil.rmtree(work, ignore_errors=True)
    return wakes[0], wakes[1:], inbox


# ------------------------------------------------------------------------ the modem row
def modem_available():
    """True when the committed device config takes `link` {"type": "modem"} (issue 11's
    integration): the modem row needs it."""
    r = subprocess.run(["git", "show", "HEAD:lib/msgin5g/devconfig.py"], cwd=ROOT,
                       capture_output=True, text=True)
    return r.returncode == 0 and '"link"' in r.stdout and '"modem"' in r.stdout


def modem_wakes(server_port, relay_port, board="unix", heap="256k", steady=5,
                model="sim7080"):
    """Cold boot, then `steady` wakes, of a deepSleep sensor UE whose link is ModemSim (NB-IoT,
    PSM requested with Active-Time 2 s, RAI on); the modem stays powered across the MCU's
    sleeps, as on a board, and each wake resumes the link (PWRKEY from PSM, PDP context and
    socket checked) instead of a full bring-up. awakeSec is left unset: it follows the granted
    Active-Time (T3324), 2 s. Between wakes the test waits until the modem has entered PSM
    (a board sleeps periodSec, far longer than T3324), so every steady wake finds it in PSM.
    On air from the simulator's counters (payload octets + 28 per datagram), from one wake's
    start to the next one's; exchanges from a counting relay between the simulator and the
    server. Returns (cold Wake, [Wakes]); each Wake has .modem, its counter deltas."""
    from m5server.thread import ServerThread
    from modemsim import ModemSim
    import shutil
    work = tempfile.mkdtemp(prefix="reading-modem-")
    deltas = []
    try:
        with ServerThread(port=server_port), CountingRelay(relay_port, server_port) as relay, \
                ModemSim(model, reg_delay=0.1, rrc_inactivity=1) as sim:
            link = {"type": "modem", "model": model, "uart": sim.path, "apn": "iot",
                    "rat": "nbiot", "psm": {"tauSec": 3600, "activeSec": 2}, "rai": True,
                    "pwrkey": "udp://%s:%d" % sim.control_addr}
            cfg = ue_config(work, server_port, relay_port, ue="ue-reading-m", link=link,
                            awakeSec=None)
            wakes = []
            for _ in range(1 + steady):
                c0 = sim.counters()
                wakes.append(Wake(relay, cfg, board, heap))
                # the MCU sleeps; the modem enters PSM once T3324 has run out
                mp.wait_for(lambda: sim.counters()["psm_entries"] > c0["psm_entries"], 10)
                time.sleep(0.1)
                c1 = sim.counters()
                deltas.append({k: c1[k] - c0.get(k, 0) for k in c1})
                if not wakes[-1].ok:
                    break           # the link does not work: no point in more wakes
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for w, d in zip(wakes, deltas):
        w.cost = dict(w.cost, dg_up=d["ul_datagrams"], dg_down=d["dl_datagrams"],
                      air_up=d["ul_octets"] + UDPIP * d["ul_datagrams"],
                      air_down=d["dl_octets"] + UDPIP * d["dl_datagrams"])
        w.cost["air"] = w.cost["air_up"] + w.cost["air_down"]
        w.modem = d
        w.resumed = "modem: link up (resumed)" in w.out
    return wakes[0], wakes[1:]


# ------------------------------------------------------------------------ the table
def a2_breakdown(dg):
    """[(part, octets)] of one A.2 MESSAGE SENDING REQUEST (0x05) and its answer (0x07)."""
    parts = []
    reading = 0
    for _, d, data in dg:
        if data[0] == 5:
            n = data[1]
            o = 2 + n + 16
            ln = data[o] << 8 | data[o + 1]
            rest = data[o + 2 + ln:]
            reading += ln
            parts += [("request type", 1), ("request Target Address LV (%d)" % n, 1 + n),
                      ("request Message ID", 16), ("request payload length", 2)]
            i = 0
            while i < len(rest):
                w = 3 if rest[i] in (0x0A,) else 5 if rest[i] == 0x0C else 1
                parts.append(("request %s IE" % {0x0A: "Application ID", 0x0C: "Registration ID"}
                              .get(rest[i], {0xB: "report", 0xD: "Target Type"}
                                   .get(rest[i] >> 4, "other")), w))
                i += w
        elif data[0] == 7:
            parts += [("answer type", 1), ("answer Message ID", 16),
                      ("answer result", len(data) - 17)]
        else:
            parts.append(("other", len(data)))
    parts.append(("UDP/IPv4 headers (%d x %d)" % (len(dg), UDPIP), UDPIP * len(dg)))
    parts.append(("the reading (A.2 carries it as is)", reading))
    return parts


def _reading_of(dg):
    """The sensor's JSON reading inside a MSG body (base64 payload), or None."""
    import base64
    for _, d, data in dg:
        p = coap_parts(data)
        if d == "up" and p and p["payload"].startswith(b"{"):
            try:
                return base64.b64decode(json.loads(p["payload"])["payload"])
            except (ValueError, KeyError):
                pass
    return None


def _request_bodies(dg):
    """Octets of the CoAP payloads sent up in datagrams dg (the MSG or A.3 JSON bodies)."""
    return sum(len(coap_parts(x[2])["payload"]) for x in dg
               if x[1] == "up" and coap_parts(x[2]))


def _why(out):
    """The line of a device's output that says what went wrong (or its last line)."""
    lines = [x for x in out.splitlines() if x.strip()]
    for x in lines:
        if re.search(r"Error|Traceback| E |no answer", x) and "Traceback" not in x:
            return x.strip()[:120]
    return (lines[-1].strip()[:120] if lines else "no output")


def _same(ws):
    """The cost of the last wake, '*' appended when the wakes did not all cost the same."""
    cs = [w.cost for w in ws]
    return cs[-1], "" if all(c == cs[-1] for c in cs) else " (varied: %s)" % ", ".join(
        "%d" % c["air"] for c in cs)


def _ms(ws, key):
    v = [getattr(w, key) for w in ws if getattr(w, key) is not None]
    return "%.0f" % statistics.median(v) if v else "-"


def _row(name, c, note="", besides=None, awake="", width=34):
    s = "   %-*s %-5d %2d + %-4d %4d + %-4d = %-5d" % (
        width, name, c["exchanges"], c["dg_up"], c["dg_down"], c["air_up"], c["air_down"], c["air"])
    if besides is not None:
        s += " %-13s" % besides
    print(s + " " + awake + note, flush=True)


def report(ports=range(18880, 18900), steady=5):
    """Print the cost table (make bench)."""
    p = list(ports)
    boards = ["unix"]
    try:
        mp.unix32_exe()
        boards.insert(0, "unix32")
    except Exception as e:  # no MicroPython source: the 64-bit port only
        print("   (unix32 not available: %s)" % str(e).splitlines()[0])
    heaps = {"unix32": "48k", "unix": "256k"}
    ue = {b: ue_wakes(p[0], p[1], b, heaps[b], steady) for b in boards}
    modem, modem_why, modem_cold = None, "not available: modem link not integrated", None
    if modem_available():
        try:
            modem = {b: modem_wakes(p[2], p[3], b, "96k" if b == "unix32" else "256k", steady)
                     for b in boards}
            bad = [w for b in boards for w in [modem[b][0]] + modem[b][1] if not w.ok]
            if bad or any(len(modem[b][1]) < steady for b in boards):
                modem_why = "failed: %s" % _why(bad[0].out if bad else "")
                w = modem[boards[-1]][0]
                if w.saved is not None and " ACCEPTED" in w.out:
                    modem_cold = w      # the reading went out; the sleep or a later wake failed
                modem = None
        except Exception as e:     # print why, never assert
            modem_why = "failed: %s" % e
            modem = None
    cue = {}
    for link, q in (("A.3", p[4:9]), ("A.2", p[9:14])):
        try:
            cue[link] = {b: cue_wakes(link, q, b, heaps[b], steady) for b in boards}
        except RuntimeError as e:   # the gateway did not register: print why, never assert
            cue[link] = "failed: %s" % e

    print("   a reading = the sensor app's JSON %s (%d octets); on air = UDP payload + 28 octets "
          "of UDP/IPv4 header per datagram, both ways" % (
              (_reading_of(ue["unix"][1][-1].dg) or b"?").decode(),
              len(_reading_of(ue["unix"][1][-1].dg) or b"")))
    print("   UE rows: deepSleep sensor, awakeSec 0, server host %r (%d characters, Uri-Host), "
          "each wake a new firmware/main.py process; awake = ms from process start to the "
          "state saved / to SLEEP, median of %d wakes, %s" % (
              HOST15, len(HOST15), steady, " / ".join(
                  "%s (%s heap)" % (b, heaps[b]) for b in boards)))
    print("   cue rows: role cue, deepSleep sensor, awakeSec 0, through a gateway UE (64-bit "
          "port, registered at the server), each wake a new process as above; counted on the "
          "cue's link (A.3 CoAP or A.2 L3); awake as above; (c) besides body = besides the A.3 "
          "JSON request body, (d) = besides the reading")
    hdr = "   %-34s %-5s %-9s %-21s" % ("", "exch", "datagrams", "octets up + down")
    print("-- first reading after a cold boot (registration included)")
    print(hdr + " awake ms: state saved/SLEEP, %s" % " / ".join(boards))

    def awake(ws):
        return " / ".join("%s/%s" % (_ms(ws[b], "saved_ms"), _ms(ws[b], "sleep_ms"))
                          for b in boards)

    def cold(d):
        return {b: [d[b][0]] for b in boards}

    def hot(d):
        return {b: d[b][1] for b in boards}

    ok = lambda ws: "" if all(w.ok for b in ws for w in ws[b]) else "  FAILED"  # noqa
    _row("(a) UE, host link", ue[boards[-1]][0].cost, ok(cold(ue)), awake=awake(cold(ue)))
    if modem:
        _row("(b) UE, modem sim (PSM, RAI)", modem[boards[-1]][0].cost, ok(cold(modem)),
             awake=awake(cold(modem)))
    elif modem_cold is not None:
        _row("(b) UE, modem sim (PSM, RAI)", modem_cold.cost, "  then " + modem_why,
             awake="%.0f/- (%s)" % (modem_cold.saved_ms, boards[-1]))
    else:
        print("   %-34s %s" % ("(b) UE, modem sim (PSM, RAI)", modem_why))
    for link in ("A.3", "A.2"):
        name = "(%s) cue via gateway, %s" % ("c" if link == "A.3" else "d", link)
        if isinstance(cue[link], str):
            print("   %-34s %s" % (name, cue[link]))
        else:
            _row(name, cue[link][boards[-1]][0].cost, ok(cold(cue[link])),
                 awake=awake(cold(cue[link])))
    print("   %-34s <= 3" % "target")
    print("   (cold-boot exchanges: REG + MSG for a UE, REGISTRATION REQUEST + MESSAGE SENDING "
          "REQUEST for a cue)")

    print("-- steady-state reading")
    print(hdr + " besides body  awake ms (as above)")
    c, var = _same(ue[boards[-1]][1])
    body = dict(breakdown(ue[boards[-1]][1][-1].dg))
    bk = [x for x in breakdown(ue[boards[-1]][1][-1].dg) if not x[0].startswith("MSG JSON")]
    _row("(a) UE, host link", c, ok(hot(ue)) + var,
         besides="%d" % (c["air"] - body["MSG JSON body (excluded from the target)"]),
         awake=awake(hot(ue)))
    if modem:
        c2, var2 = _same(modem[boards[-1]][1])
        _row("(b) UE, modem sim (PSM, RAI)", c2, ok(hot(modem)) + var2,
             besides="%d" % (c2["air"] - _request_bodies(modem[boards[-1]][1][-1].dg)),
             awake=awake(hot(modem)))
    else:
        print("   %-34s %s" % ("(b) UE, modem sim (PSM, RAI)", modem_why))
    for link in ("A.3", "A.2"):
        name = "(%s) cue via gateway, %s" % ("c" if link == "A.3" else "d", link)
        if isinstance(cue[link], str):
            print("   %-34s %s" % (name, cue[link]))
            continue
        c3, var3 = _same(cue[link][boards[-1]][1])
        dg = cue[link][boards[-1]][1][-1].dg
        body3 = _request_bodies(dg) if link == "A.3" else dict(a2_breakdown(dg))[
            "the reading (A.2 carries it as is)"]
        _row(name, c3, ok(hot(cue[link])) + var3, besides="%d" % (c3["air"] - body3),
             awake=awake(hot(cue[link])))
    print("   %-34s 1      1 + 1     d: <= 100 in total    a, b: <= 90   <= 300 (saved)"
          % "target")

    print("-- why: the steady-state exchange (a), octet by octet")
    print("   " + ", ".join("%s %d" % x for x in bk) + " = %d" % sum(x[1] for x in bk))
    uh = body.get("request Uri-Host", 0)
    print("   Uri-Host %r is %d octets (option header 2 + %d): PC-09 makes it mandatory even for "
          "an IP literal; without it %d octets" % (HOST15, uh, len(HOST15),
                                                   sum(x[1] for x in bk) - uh))
    print("   besides that, the MSG JSON body (%d octets) carries the reading in base64 inside "
          "members the contract requires (msgType, oriAddr, destAddr, msgId, stoAndFwInd...)"
          % body["MSG JSON body (excluded from the target)"])
    if not isinstance(cue["A.2"], str):
        ab = a2_breakdown(cue["A.2"][boards[-1]][1][-1].dg)
        print("-- why: the steady-state A.2 exchange (d), octet by octet")
        print("   " + ", ".join("%s %d" % x for x in ab) + " = %d" % sum(x[1] for x in ab))
        rd = dict(ab)["the reading (A.2 carries it as is)"]
        print("   the floor for a %d-octet reading: 2 x 28 UDP/IPv4 + 2 x 16 Message ID (PC-05, "
              "PC-37: in the request and in its answer) + 2 type octets = %d: 100 in total "
              "cannot be met" % (rd, rd + 2 * UDPIP + 32 + 2))
    for link in ("A.3", "A.2"):
        if not isinstance(cue[link], str):
            g = cue[link][boards[-1]][1][-1].uplink
            print("   gateway -> server for one %s reading (its own MSGin5G-1 MSG, not the "
                  "cue's link): %d exchange, %d + %d datagrams, %d + %d = %d octets" % (
                      link, g["exchanges"], g["dg_up"], g["dg_down"], g["air_up"],
                      g["air_down"], g["air"]))
    if modem:
        d = modem[boards[-1]][1][-1].modem
        ws = modem[boards[-1]][1]
        print("   (b) awakeSec unset = the granted Active-Time (T3324) 2 s: SLEEP comes 2 s "
              "after the reading's answer; each steady wake: PWRKEY from PSM, PDP context and "
              "socket checked, no REG, no bring-up (%d of %d wakes resumed)" % (
                  sum(1 for w in ws if w.resumed), len(ws)))
        print("   (b) modem counters, last steady wake to PSM: rai_marks %d, rai_ignored %d, "
              "psm_wakes %d, psm_entries %d, resets %d, connected_ms %d, uart octets %d + %d "
              "(payload %d + %d)" % (
                  d["rai_marks"], d["rai_ignored"], d["psm_wakes"], d["psm_entries"],
                  d["resets"], d["connected_ms"], d["uart_rx_octets"], d["uart_tx_octets"],
                  d["uart_rx_payload"], d["uart_tx_payload"]))
        c = modem[boards[-1]][0].modem
        print("   (b) cold boot: rai_marks %d, connected_ms %d, uart octets %d + %d" % (
            c["rai_marks"], c["connected_ms"], c["uart_rx_octets"], c["uart_tx_octets"]))


if __name__ == "__main__":
    report()
