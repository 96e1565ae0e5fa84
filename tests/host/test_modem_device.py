"""Devices over the cellular link (issue 11): real firmware/main.py processes on the unix port
(and on the board-true unix32 build) whose only way out is a modem, tools/modemsim on a real
pty, bridged to the reference server over loopback UDP.

  exchange set     registration, A2P with a report and its echo, P2A with a report (typed at
                   the REPL), 5 KB segmented both ways, modem() and at("AT+CSQ") while data
                   flows, de-registration; both dialects, unix and unix32
  loss             20 % loss each way between the modem and the server: exactly once
  reset and gap    a modem reset, then a coverage gap, in the middle of traffic: nothing lost,
                   nothing delivered twice
  PSM              the modem sleeps between a sensor's readings; each send wakes it (PWRKEY
                   through modemsim's control port)
  PDP loss         the network drops the context mid-traffic; the link re-activates it
Ports 18700-18799.
"""
import ast
import concurrent.futures
import json
import os
import signal
import subprocess
import tempfile
import time

import pytest

import mp
from lossy import ProxyThread
from m5server.thread import ServerThread
from modemsim import ModemSim

HERE = os.path.dirname(os.path.abspath(__file__))
MAIN = os.path.join(mp.ROOT, "firmware", "main.py")
DRIVER = os.path.join(HERE, "loss_device.py")
AS = "as-m"


class ModemDevice:
    """One device process whose link is a ModemSim's pty."""

    def __init__(self, workdir, name, sim, server, model, board="unix", heap=None, repl=False,
                 ack_ms=None, **cfg):
        link = {"type": "modem", "model": model, "uart": sim.path, "apn": "iot",
                "pwrkey": "udp://%s:%d" % sim.control_addr}
        link.update(cfg.pop("link", {}))
        c = {"ueServiceId": name, "server": server, "app": "echo", "keepAliveSec": 0,
             "logLevel": "info", "repl": repl, "link": link}
        c.update(cfg)
        path = os.path.join(workdir, name + ".json")
        with open(path, "w") as f:
            json.dump(c, f)
        self.name = name
        self.log = open(os.path.join(workdir, name + ".log"), "w+")
        args = [DRIVER, path, str(ack_ms)] if ack_ms else [MAIN, path]
        kw = dict(stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.PIPE,
                  text=True, bufsize=1) if repl else dict(stdout=self.log,
                                                          stderr=subprocess.STDOUT)
        heap = heap or ("96k" if board == "unix32" else "256k")
        if board == "unix32":
            self.p = mp.popen(args, heap=heap, board="unix32", **kw)
        else:
            self.p = mp.popen(args, heap=heap, mpy=True, **kw)
        self.lines = []

    def ask(self, cmd, want, timeout=15):
        """A line at the device's asyncio REPL; the first output line holding `want`."""
        self.p.stdin.write(cmd + "\n")
        self.p.stdin.flush()
        t = time.time()
        while time.time() - t < timeout:
            line = self.p.stdout.readline()
            self.lines.append(line)
            if want in line:
                return line.strip().lstrip(">").strip()
        raise AssertionError("%r not answered with %r: %s" % (cmd, want, self.lines[-10:]))

    def stop(self, timeout=15):
        """SIGINT: de-register, print STATUS; returns it (dict) or None."""
        if self.log.closed:
            return self.status
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGINT)
        try:
            out = self.p.communicate(timeout=timeout)[0] or ""
        except subprocess.TimeoutExpired:
            self.p.kill()
            out = self.p.communicate()[0] or ""
        self.log.seek(0)
        text = "".join(self.lines) + out + self.log.read()
        self.log.close()
        self.text = text
        st = [ln for ln in text.splitlines() if ln.startswith("STATUS ")]
        self.status = json.loads(st[-1][7:]) if st else None
        return self.status


def registered(st, name):
    return name in [r["ueServiceId"] for r in st.registrations()]


def echoed(st, payload, since=0):
    return [e for e in st.as_inbox(AS, since) if e["payload"] == payload]


def imdns(st, msg_id):
    return [r for r in st.as_reports(AS) if r.get("kind") == "IMDN" and r["msgId"] == msg_id]


# ------------------------------------------------------------------ the exchange set
@pytest.mark.parametrize("model,board", [("sim7080", "unix"), ("bg95", "unix"),
                                         ("sim7080", "unix32"), ("bg95", "unix32")])
def test_exchange_set_over_the_modem(model, board, request):
    if board == "unix32":
        request.getfixturevalue("unix32")
    port = 18700 + 2 * ["sim7080", "bg95"].index(model) + (10 if board == "unix32" else 0)
    with ServerThread(port=port) as st, ModemSim(model, reg_delay=0.3) as sim, \
            tempfile.TemporaryDirectory() as d:
        dev = ModemDevice(d, "ue-x", sim, "coap://127.0.0.1:%d" % port, model, board,
                          repl=True)
        try:
            assert mp.wait_for(lambda: registered(st, "ue-x"), 20), dev.lines
            # A2P with a report, echoed back P2A
            r = st.as_send(AS, "ue-x", b"hello over the air", report=True, app_id=7)
            assert r["status"] == "DELIVERED", r
            assert mp.wait_for(lambda: echoed(st, b"hello over the air"), 10)
            assert mp.wait_for(lambda: imdns(st, r["msgId"]), 10)
            # the REPL while data flows: at() runs between data operations
            st.as_send(AS, "ue-x", b"second", report=False)
            csq = ast.literal_eval(dev.ask('at("AT+CSQ")', "+CSQ"))
            assert csq[0].startswith("+CSQ: ") and csq[-1] == "OK", csq
            m = ast.literal_eval(dev.ask("modem()", "'state'"))
            assert m["state"] == "up" and m["model"] == model and m["dbm"] is not None, m
            assert m["ip"] and m["tx"][0] >= 2 and m["rx"][0] >= 2 and m["at"][0] > 0, m
            assert mp.wait_for(lambda: echoed(st, b"second"), 10)
            # P2A with a report (the server answers with the AS's IMDN)
            dev.ask("send('%s', 'typed at the REPL', to_type='AS', report=True)" % AS, "-")
            assert mp.wait_for(lambda: echoed(st, b"typed at the REPL"), 10)
            assert "REPT_DELY_SUCCESS" in dev.ask("reports()", "REPT_DELY")
            # 5 KB each way, segmented by the server and by the device
            big = bytes((i * 7 + 3) % 256 for i in range(5 * 1024))
            r = st.as_send(AS, "ue-x", big, report=True)
            assert r["status"] == "DELIVERED", r
            got = mp.wait_for(lambda: echoed(st, big), 30)
            assert got and got[0]["segmented"], got
            assert mp.wait_for(lambda: imdns(st, r["msgId"]), 10)
        finally:
            status = dev.stop()
        assert status and status["state"] == "DEREGISTERED", dev.text[-2000:]
        assert not registered(st, "ue-x")
        assert status["received"] == 3 and status["duplicates"] == 0, status
        ids = [e["msgId"] for e in st.as_inbox(AS)]
        assert len(ids) == len(set(ids)) == 4, ids
        c = sim.counters()
        assert c["ul_datagrams"] > 10 and c["dl_datagrams"] > 10 and c["resets"] == 0, c


# ------------------------------------------------------------------ loss, reset, gap, PDP
def _flood(st, name, n, tag, pause=0.0, during=None, window=3):
    """The AS sends n messages with reports (store-and-forward: a recipient out of reach gets
    them later), at most `window` not yet echoed (an echo device queues an IMDN and an echo
    per message: on a slow link PC-39's 8 places would overflow, as in test_loss.py);
    `during(i)` runs before message i."""
    def one(i):
        mp.wait_for(lambda: sum(1 for e in st.as_inbox(AS) if e["from"] == name) >= i - window,
                    60)
        p = b"%s %d" % (tag, i)
        return p, st.as_send(AS, name, p, report=True, store_fwd=True)
    sent = []
    for i in range(n):
        if during:
            during(i)
        sent.append(one(i))
        time.sleep(pause)
    return sent


def _exactly_once(st, name, sent, dev, timeout):
    want = {p for p, _ in sent}

    def all_in():
        got = [e["payload"] for e in st.as_inbox(AS) if e["from"] == name]
        return want <= set(got)
    if not mp.wait_for(all_in, timeout):
        dev.stop()
        raise AssertionError("missing %s; server %s; device log:\n%s" % (
            sorted(want - {e["payload"] for e in st.as_inbox(AS)}), st.stats(), dev.text[-6000:]))
    got = [e["payload"] for e in st.as_inbox(AS) if e["from"] == name]
    assert len(got) == len(set(got)), "echoed twice: %s" % sorted(p for p in got
                                                                  if got.count(p) > 1)
    ids = [e["msgId"] for e in st.as_inbox(AS)]
    assert len(ids) == len(set(ids)), "a msgId twice in the AS inbox"


def test_loss_over_the_modem_exactly_once():
    """20 % loss each way (plus duplication and reordering) between both modems and the
    server; devices and server on ACK_TIMEOUT 500 ms as in test_loss.py."""
    # store_retry 5 s: a downlink lost in all its retransmissions (0.36^5 each) leaves the UE
    # marked unreachable and what follows stored; an echo device sends nothing of its own, so
    # the server's own retry delivers it (30 s by default)
    with ServerThread(port=18720, ack_timeout=0.5, quiet=True, store_retry=5.0) as st, \
            ModemSim("sim7080", reg_delay=0.2) as s1, ModemSim("bg95", reg_delay=0.2) as s2, \
            ProxyThread(listen=("127.0.0.1", 18721), target=("127.0.0.1", 18720), loss=0.2,
                        dup=0.02, reorder=0.05, delay_ms=(0, 10), seed=11) as px, \
            tempfile.TemporaryDirectory() as d:
        srv = "coap://127.0.0.1:18721"
        devs = {"ue-l1": ModemDevice(d, "ue-l1", s1, srv, "sim7080", ack_ms=500),
                "ue-l2": ModemDevice(d, "ue-l2", s2, srv, "bg95", ack_ms=500)}
        try:
            assert mp.wait_for(lambda: all(registered(st, n) for n in devs), 40)
            with concurrent.futures.ThreadPoolExecutor(2) as ex:
                # window 2: an echo that reached the AS while its response was lost stays in
                # the device's queue for a retry, so the AS's count runs ahead of that queue
                # (PC-39's 8 places: 3 messages not yet echoed hold 6 of them)
                jobs = {n: ex.submit(_flood, st, n, 12, n.encode(), window=2) for n in devs}
                sent = {n: jobs[n].result() for n in devs}
            for n in devs:
                _exactly_once(st, n, sent[n], devs[n], 120)
        finally:
            status = {n: dv.stop() for n, dv in devs.items()}
        for n in devs:
            assert status[n]["received"] == 12 and status[n]["failed"] == 0, status[n]
        c = px.counters()
        assert c["up"]["dropped"] > 0 and c["down"]["dropped"] > 0, c


@pytest.mark.parametrize("model", ["sim7080", "bg95"])
def test_reset_and_gap_mid_traffic_lose_nothing(model):
    port = 18730 + 2 * ["sim7080", "bg95"].index(model)
    with ServerThread(port=port, ack_timeout=0.5, quiet=True) as st, ModemSim(model, reg_delay=0.2) as sim, \
            tempfile.TemporaryDirectory() as d:
        dev = ModemDevice(d, "ue-r", sim, "coap://127.0.0.1:%d" % port, model, ack_ms=500)
        try:
            assert mp.wait_for(lambda: registered(st, "ue-r"), 20)

            def faults(i):
                if i == 5:
                    sim.reset()
                elif i == 12:
                    sim.gap(3)
            sent = _flood(st, "ue-r", 20, b"m", pause=0.15, during=faults)
            _exactly_once(st, "ue-r", sent, dev, 90)
        finally:
            status = dev.stop()
        assert status["received"] == 20, status
        log = dev.text
        assert "modem: link down (modem reset" in log and "out of coverage" in log, log[-3000:]
        assert status["registrations"] >= 3, status     # boot, after the reset, after the gap
        assert sim.counters()["resets"] == 1


@pytest.mark.parametrize("model", ["sim7080", "bg95"])
def test_pdp_loss_reactivated(model):
    port = 18740 + 2 * ["sim7080", "bg95"].index(model)
    with ServerThread(port=port, ack_timeout=0.5, quiet=True) as st, ModemSim(model, reg_delay=0.2) as sim, \
            tempfile.TemporaryDirectory() as d:
        dev = ModemDevice(d, "ue-p", sim, "coap://127.0.0.1:%d" % port, model, ack_ms=500)
        try:
            assert mp.wait_for(lambda: registered(st, "ue-p"), 20)
            sent = _flood(st, "ue-p", 10, b"p", pause=0.1,
                          during=lambda i: i == 4 and sim.pdp_loss())
            _exactly_once(st, "ue-p", sent, dev, 60)
        finally:
            status = dev.stop()
        assert status["received"] == 10, status
        assert "PDP context lost" in dev.text and "PDP context re-activated" in dev.text


@pytest.mark.parametrize("model", ["sim7080", "bg95"])
def test_psm_entered_and_woken_by_pwrkey(model):
    """A sensor reports every 8 s; between readings the modem goes to PSM (RRC released after
    0.3 s, Active-Time 6 s) and ignores the UART; a reading wakes it by PWRKEY (the wake takes
    about 5 s: AT tries, a 1.5 s press, 2 s for the UART)."""
    port = 18750 + 2 * ["sim7080", "bg95"].index(model)
    with ServerThread(port=port) as st, \
            ModemSim(model, reg_delay=0.2, rrc_inactivity=0.3) as sim, \
            tempfile.TemporaryDirectory() as d:
        dev = ModemDevice(d, "ue-s", sim, "coap://127.0.0.1:%d" % port, model, app="sensor",
                          periodSec=8, reportTo=AS,
                          link={"psm": {"tauSec": 3600, "activeSec": 6}, "rat": "nbiot",
                                "rai": True})
        try:
            assert mp.wait_for(lambda: registered(st, "ue-s"), 20)
            assert mp.wait_for(lambda: sim.counters()["psm_entries"] >= 1, 15), sim.counters()
            assert mp.wait_for(lambda: sim.counters()["psm_wakes"] >= 1, 15), sim.counters()
            n = len(st.as_inbox(AS))
            assert mp.wait_for(lambda: len(st.as_inbox(AS)) >= n + 2, 30)
        finally:
            status = dev.stop()
        c = sim.counters()
        assert c["psm_requested"] >= 1 and c["psm_granted"] >= 1, c
        assert status["failed"] == 0 and status["accepted"] >= 2, status
        ids = [e["msgId"] for e in st.as_inbox(AS)]
        assert len(ids) == len(set(ids))
