"""The device runtime: config -> endpoint -> role -> application, under asyncio.

Used by firmware/main.py on boards and on the unix port. Board specifics (Wi-Fi, LED,
watchdog) come in through the `board` object (boards/board.py); on the unix port there is no
Wi-Fi and the network is taken as up. `Device.current` is the running device, for the REPL
helpers (msgin5g.repl): they depend on the device, not the other way round (firmware/main.py
puts the asyncio REPL, msgin5g.aiorepl, in `dev.tasks` when the config says "repl": true).
"""
import asyncio
import gc
import json
import time

from coap.endpoint import Params
from coap.udp import UdpEndpoint
from msgin5g import log
from msgin5g.uri import parse_uri


def heap():
    """{'used', 'free', 'largestBlock'} in bytes after a collection, or None where gc cannot
    tell (CPython). largestBlock is the largest buffer one allocation gets now, found by
    trying: in a fragmented heap it is far below 'free', and it is what a long message needs."""
    if not hasattr(gc, "mem_free"):
        return None
    gc.collect()
    lo = 0
    hi = gc.mem_free()
    while lo < hi:
        n = (lo + hi + 1) >> 1
        try:
            bytearray(n)
            lo = n
        except MemoryError:
            hi = n - 1
        gc.collect()        # the probe is garbage at once: free it before the next try
    return {"used": gc.mem_alloc(), "free": gc.mem_free(), "largestBlock": lo}


def compact_heap(share=16):
    """Collect after every 1/share of the heap allocated (gc.threshold), not only when an
    allocation fails. Between collections each allocation takes the next free block higher
    up, and an object that then lives long (a queued message, a timer's task) stays alone high
    in the heap: a few of them cut it into pieces too short for a long message (unix32 at 48k,
    after 100 messages each way: largest block 3 KB of 20 KB free; 14 KB with this)."""
    if hasattr(gc, "threshold"):
        gc.threshold((gc.mem_free() + gc.mem_alloc()) // share)


class Device:
    current = None
    duty = None             # msgin5g.dutycycle.DutyCycle with deepSleep
    asleep = False          # set when it goes to deep sleep: no DEREG, no STATUS

    def __init__(self, cfg, board=None, secrets=None):
        compact_heap()
        self.cfg = cfg
        self.board = board
        self.secrets = secrets or {}
        self.t0 = time.ticks_ms()
        if cfg.get("deepSleep") and cfg["role"] in ("ue", "cue"):
            from msgin5g.dutycycle import DutyCycle
            self.duty = DutyCycle(self)   # loads the sleep record: the port to bind again
        self.tasks = []         # coroutine functions main() starts first (firmware: the REPL;
        #                         a PPP modem link: its supervisor, msgin5g.cellular)
        self.ep = self._endpoint(self.secrets)
        self.client = None
        self.app = None
        self.role = None
        self.wifi = None
        self._wake = None
        Device.current = self

    def _endpoint(self, secrets):
        # PC-07/PC-08: a coaps:// server -> one DTLS session to the first hop; keys from secrets
        cfg = self.cfg
        hop = None              # (host, port, server name) of a coaps:// first hop
        if cfg["role"] != "cue" and cfg.get("server") and parse_uri(cfg["server"])[0] == "coaps":
            _, host, port = parse_uri(cfg.get("firstHop") or cfg["server"], "coaps")
            hop = (host, port, parse_uri(cfg["server"])[1])
        lk = cfg.get("link")
        if lk and lk["type"] == "modem":
            from msgin5g import cellular    # only a cellular device loads it
            ep = cellular.endpoint(self, lk, Params(), hop)
            if ep is not None:
                return ep
        if hop:
            from coap.dtls import DtlsEndpoint, credentials
            return DtlsEndpoint(hop[0], hop[1], Params(), local_port=cfg["listenPort"],
                                server_hostname=hop[2], log=log.warn,
                                **credentials(secrets, cfg.get("ueServiceId")))
        return UdpEndpoint("0.0.0.0", cfg["listenPort"], Params(), log=log.warn)

    client = None           # set after the endpoint (a modem's on_change may come first)
    link = None             # modem.link.Link when link.type is "modem"
    ppp = None              # modem.ppp.Supervisor when link.data is "ppp" (.ppp: network.PPP)

    def start_client(self):
        from msgin5g.client import Client
        cfg = self.cfg
        scheme, host, port = parse_uri(cfg["server"])
        if scheme == "coap":
            log.warn("server %s is coap:// - traffic is not protected (PC-07)", host)
        hop = cfg.get("firstHop")
        if hop:
            _, hh, hp = parse_uri(hop, scheme)     # a bare host[:port] as the DTLS endpoint's
        else:
            hh, hp = host, port
        j = None
        if cfg.get("journal"):
            from msgin5g.journal import Journal
            j = Journal(cfg["journal"])
        # Resolved now, after PC-13 configuration may have changed the server, and by the
        # endpoint: a modem's addresses are (host, port), resolved by the modem itself.
        c = Client(self.ep, self.ep.resolve(hh, hp),
                   cfg["ueServiceId"], host,
                   seg_size=cfg["segmentSize"], ue_id=cfg.get("ueId"),
                   keepalive_ms=cfg["keepAliveSec"] * 1000, rereg_ms=cfg["reRegPeriodSec"] * 1000,
                   log=log.info, journal=j,
                   aggr_ms=cfg["aggrWindowSec"] * 1000 if cfg["aggregateTx"] else 0,
                   history=8 if cfg.get("repl") else 0)   # inbox()/reports() are REPL aids
        self.client = c
        return c

    def start_app(self):
        name = self.cfg["app"]
        if name == "none":
            return None
        mod = __import__("apps." + name, None, None, ("start",))
        self.app = mod.start(self)
        return self.app

    def uptime_ms(self):
        return time.ticks_diff(time.ticks_ms(), self.t0)

    async def _client_timer(self):
        self._wake = ev = asyncio.Event()
        old_kick = self.ep.kick

        def kick():
            old_kick()
            ev.set()

        self.ep.kick = kick
        last = None
        while True:
            w = self.client.tick()
            st = self.client.state
            if st != last and self.board:
                self.board.status("registered" if st == "REGISTERED" else
                                  "error" if st.startswith("REG_") else "connecting")
            last = st
            ev.clear()
            try:
                await asyncio.wait_for_ms(ev.wait(), 60000 if w is None else max(w, 1))
            except asyncio.TimeoutError:
                pass

    def _start_board(self):
        """LED, watchdog and Wi-Fi tasks (boards only; all optional)."""
        b = self.board
        if b is None:
            return
        b.status("connecting")
        asyncio.create_task(b.led_task())
        wd_ms = self.cfg.get("watchdogMs")
        if wd_ms:
            asyncio.create_task(self._feed(b.watchdog(wd_ms), wd_ms // 3))
        wlan = b.wlan()
        conf = self.cfg.get("wifi")
        if wlan is not None and conf:
            import wifi
            self.wifi = wifi.from_config(wlan, conf, self.secrets, self._link)
            asyncio.create_task(self.wifi.run())

    async def _feed(self, wdt, every_ms):
        # Fed from its own task: a wedged event loop stops feeding and the board resets.
        while True:
            wdt.feed()
            await asyncio.sleep_ms(every_ms)

    def _link(self, up):
        # PC-17: re-register after every network attach (the IP may have changed).
        log.info("link %s", "up" if up else "down")
        c = self.client
        if up and c is not None and hasattr(c, "start"):
            if self.duty is None or not self.duty.resume(c):   # woke from deep sleep
                c.start()
            self.ep.kick()

    async def main(self):
        self._start_board()
        for t in self.tasks:
            asyncio.create_task(t())
        if self.cfg.get("configServer") and self.cfg.get("ueId"):
            asyncio.create_task(self.ep.run())
            await asyncio.sleep_ms(0)
            await self._configure()
            self.ep_running = True
        if self.cfg["role"] != "ue":
            from msgin5g.constrained import roles
            await roles.start(self)
            return
        c = self.start_client()
        if not getattr(self, "ep_running", False):
            asyncio.create_task(self.ep.run())
            await asyncio.sleep_ms(0)   # let run() install its kick before the client uses it
        self.start_app()
        if self.cfg.get("topics"):
            c.subscribe(self.cfg["topics"])   # queued until registered (PC-39)
        if (self.wifi is None or self.wifi.up) and (self.link is None or self.link.up):
            if self.duty is None or not self.duty.resume(c):   # woke from deep sleep
                c.start()
        await self._client_timer()

    async def _configure(self):
        """PC-13: fetch server address, UE Service ID and segment size at boot."""
        from msgin5g.configure import Configurator
        cfg = self.cfg
        _, h, p = parse_uri(cfg["configServer"])
        ev = asyncio.Event()
        res = []

        def done(r, v):
            res.append((r, v))
            ev.set()

        # the endpoint's resolver: a modem-only board has no getaddrinfo path (modem.endpoint)
        cf = Configurator(self.ep, self.ep.resolve(h, p), h, cfg["ueId"],
                          cfg.get("ueServiceId"),
                          {"server": cfg.get("server"), "ueServiceId": cfg.get("ueServiceId")},
                          log=log.info)
        cf.start(done)
        while True:
            if res:
                r, v = res.pop()
                if r == "OK":
                    cfg["server"] = v["server"]
                    cfg["ueServiceId"] = v["ueServiceId"]
                    if v.get("segmentSize"):
                        cfg["segmentSize"] = v["segmentSize"]
                    log.info("configured: %s at %s", cfg["ueServiceId"], cfg["server"])
                    return
                if r == "PRECONFIGURED":
                    log.info("no configuration document: using the pre-configured values")
                    return
                log.error("configuration %s: not registering (PC-13)", r)
                if r == "ERROR":
                    if self.board:
                        self.board.status("error")
                    await asyncio.Event().wait()   # operator action needed: REPL only
            ev.clear()
            w = cf.tick()
            try:
                await asyncio.wait_for_ms(ev.wait(), 1000 if w is None else max(w, 1))
            except asyncio.TimeoutError:
                pass

    def shutdown(self, timeout_ms=3000):
        """De-register (PC-16) with a plain poll loop: works after the asyncio loop stopped.

        Ends within timeout_ms of the first call however many KeyboardInterrupts come (on the
        unix port every further SIGINT raises one wherever the program is): one during the wait
        is absorbed, and a call after one that escaped resumes the same DEREG and deadline."""
        c = self.client
        if self.link is not None:
            timeout_ms += 6000      # a modem in PSM is woken first (AT tries, PWRKEY: ~5 s)
        t0 = getattr(self, "_stop_t0", None)
        if t0 is None:
            if c is None or getattr(c, "state", None) != "REGISTERED":
                return
            self.ep.kick = int      # no asyncio runner any more: waking it is a no-op
            t0 = self._stop_t0 = time.ticks_ms()
        while c.state != "DEREGISTERED":
            left = timeout_ms - time.ticks_diff(time.ticks_ms(), t0)
            if left <= 0:
                break               # no answer in time (server gone): stop all the same
            try:
                if c.state == "REGISTERED":
                    c.deregister()
                self.ep.run_until(lambda: c.state == "DEREGISTERED", left)
            except KeyboardInterrupt:
                log.info("stop signal again: still de-registering")
        log.info("deregistered: %s", c.state)

    def status_line(self):
        s = self.client.status() if self.client else {}
        s["retransmissions"] = self.ep.ml.retransmitted
        s["uptimeMs"] = self.uptime_ms()
        s["heap"] = heap()
        k = self.link or self.ppp   # a PPP call: its supervisor's status
        if k is not None:
            s["modem"] = k.status()
        return "STATUS " + json.dumps(s)

