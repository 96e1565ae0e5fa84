"""The PPP call's supervisor (link.data "ppp", MODEM.md 6): it notices a dropped call and dials
again. Only a device whose modem link carries PPP imports it (msgin5g.cellular).

    sup = Supervisor(link, ppp, on_change=lambda up, why: ..., log=print)
    while True:
        time.sleep_ms(sup.tick())       # or asyncio.create_task(sup.run())

A plain state machine over the Link (modem.link) and the network.PPP object: tick() never
waits; a test drives it with a stand-in for network.PPP and a fake UART. States:

- "data": network.PPP owns the UART; every second its isconnected() is asked. False is the
  call gone: the network ended it or the PDP context (NO CARRIER), the modem reset, coverage
  went. lwIP sees it when the modem ends LCP (status() is then -6, "connection lost"); a modem
  that drops the call silently stays "connected" for lwIP (MicroPython's lwIP options build no
  LCP echo), and there suspect() sends it to the same path: the device's CoAP traffic
  (watch(): coap.message's counters) showing that nothing gets through, or any caller's sign.
- the drop: network.PPP let go of the UART (disconnect() while it connects or is connected,
  then config(stream=None): its UART interrupt would eat the AT answers); on_change(False)
  (the MSGin5G Client stops sending, PC-39); the Link takes the modem back with
  redial_ready(): AT; if silent, the +++ escape between 1 s guard times, AT; ATH; +CMEE?
  (a modem reset during the call is back to its default: then a full bring-up); registration
  and the PDP context as after a coverage gap. The Link's own recovery (bring-up with back-off
  2 s doubling to 64 s, wake with PWRKEY) takes over where that fails.
- "dialling": the Link up, ATD*99***1#; "connecting": after CONNECT the UART is network.PPP's
  again (config(stream=uart), connect()), until isconnected() (30 s, as modem.setup.ppp), then
  on_change(True): the client registers again (PC-17). A failed dial or connect backs off
  (2 s doubling to 64 s; "wait"); after 3 in a row the modem gets a full bring-up.

network.PPP as v1.28 has it (extmod/network_ppp_lwip.c; the ESP32 port's matches): connect(),
disconnect(), isconnected(), status() (0 inactive, 1 active, 3 connecting, 4 connected, an
error as -PPPERR_*), config(stream=...), and ifconfig() for status()'s address (if it has
one). Nothing else is used (active() is the old ESP32 API).
"""
import time
from micropython import const

from modem.at import Cmd, LinkError
from modem.link import backoff_ms

DIAL = "ATD*99***1#"
_CHECK = const(1000)        # ms between two looks at network.PPP while the call is up
_POLL = const(20)           # ms between two looks at the UART while the Link works
_CONNECT_MS = const(30000)  # CONNECT to network.PPP connected
_CLOSE_MS = const(10000)    # network.PPP's LCP terminate after disconnect() (3 s x 2 in lwIP)
_STABLE = const(30000)      # a call up this long was good: the back-off starts again
_FULL = const(3)            # failed redials in a row before a full bring-up
_GUARD = const(1500)        # +++ guard times: 1 s of silence before and after (MODEM.md 6)
_SILENT = const(2)          # CoAP timeouts in a row, nothing received: the call is suspect
_SILENT_MAX = const(16)     # ... doubling after each suspicion a redial did not clear

# status()'s words for the states (the others as they are)
_SHOWN = {"data": "up", "at": "redialling", "closing": "connecting", "wait": "backoff"}

# lwIP's PPPERR_* codes (netif/ppp/ppp.h) as network.PPP.status() gives them, negated
_ERRS = ("", "invalid parameter", "open failed", "invalid device", "out of memory",
         "closed by us", "connection lost", "authentication refused", "protocol error",
         "peer dead", "idle timeout", "connect time", "loopback")


def ppp_status(st):
    """network.PPP.status() in words."""
    if st < 0:
        return "status %d: %s" % (st, _ERRS[-st] if -st < len(_ERRS) else "error")
    return "status %d: %s" % (st, ("inactive", "active", "error", "connecting",
                                   "connected")[st] if st < 5 else "?")


def redial_ready(link):
    """A Link procedure (Link.recover): the modem back in command mode after a dropped call,
    registered, its PDP context up. NO CARRIER leaves the modem in command mode; one that
    still hears PPP (lwIP gave up first) needs the +++ escape; ATH ends what is left of the
    call. +CMEE is what the bring-up set unless the modem was reset meanwhile (its banner
    went to network.PPP): then a full bring-up."""
    c = yield Cmd("AT", None, 1000)
    if c.result == "timeout":
        link._log("modem: no answer to AT: still in data mode? +++ escape (1 s guard times)")
        yield _GUARD
        link.ch.uart.write(b"+++")
        yield _GUARD
        c = yield Cmd("AT", None, 1000)
        if c.result == "timeout":
            raise LinkError("modem: no answer to AT after the +++ escape either: bringing "
                            "it up again (AT, then PWRKEY)")
    c = yield Cmd("ATH")                # OK, or NO CARRIER: either way no call is left
    c = yield Cmd("AT+CMEE?", "+CMEE:")
    s = c.line("+CMEE:") if c.ok else None
    if s is None or s[6:].strip() != str(link.cmee):
        raise LinkError("modem: reset during the call (%s, the bring-up set %d): a full "
                        "bring-up" % (s or "AT+CMEE? " + str(c.result), link.cmee), "reset")
    link._log("modem: command mode again, call hung up: registration and PDP context")
    from modem import bringup           # on demand (modem.link forget_rare)
    yield from bringup.reattach(link)


class Supervisor:
    def __init__(self, link, ppp, on_change=None, log=None, clock=None):
        self.link = link
        self.ppp = ppp
        self.uart = link.ch.uart
        self.on_change = on_change
        self.log = log
        self.clock = clock or link.clock
        link.on_change = None           # link up/down mean little here: the call does
        self.up = ppp.isconnected()
        self.state = "data" if self.up else "connecting"
        self._t = self._since = self.clock()
        self._fails = 0
        self._dial = None               # [] while ATD runs, [Cmd] once it ended
        self._due = None
        self._why = None                # why the last call was lost
        self.error = None               # why the last redial failed (until one succeeds)
        self.ml = None                  # watch(): the device's CoAP message layer
        self._rx = self._to = 0         # its received/timeouts counts when last judged
        self._need = _SILENT
        # counters: calls lost, calls dialled again, calls lost on suspicion
        self.drops = self.redials = self.suspects = 0

    def _log(self, msg):
        if self.log is not None:
            self.log(msg)

    def _tell(self, up, why):
        if up == self.up:
            return                      # down once per loss, however many tries it takes
        self.up = up
        if self.on_change is not None:
            self.on_change(up, why)

    def _enter(self, state, now):
        self.state = state
        self._t = now

    def status(self):
        """The call as the device's STATUS line and the REPL's modem() show it (keys as
        modem.link's Link.status): state up, redialling (the Link takes the modem back),
        dialling, connecting, backoff; ppp: network.PPP.status(); ip while up; error: why
        the redial fails (None while up); lastDrop: why the last call was lost."""
        p = self.ppp
        up = self.state == "data"
        ip = None
        if up:
            try:
                ip = p.ifconfig()[0]
            except (AttributeError, OSError):
                pass
        return {"data": "ppp", "state": _SHOWN.get(self.state, self.state),
                "model": self.link.model, "ppp": p.status(), "ip": ip,
                "error": None if up else self.link.error or self.error, "lastDrop": self._why,
                "drops": self.drops, "redials": self.redials, "suspects": self.suspects,
                "fails": self._fails}

    def suspect(self, why):
        """Nothing gets through although network.PPP says connected (a call the modem dropped
        without ending LCP): treat the call as dropped."""
        if self.state == "data":
            self.suspects += 1
            self._lost("%s, PPP %s" % (why, ppp_status(self.ppp.status())), self.clock())

    def watch(self, ml):
        """Judge the call by the device's CoAP traffic too (ml: its coap.message
        MessageLayer; its counters timeouts and received are read every second)."""
        self.ml = ml
        self._rx = ml.received
        self._to = ml.timeouts

    def _silent(self):
        # lwIP sends no LCP echo (MODEM.md 6), so a call the modem dropped silently is seen
        # only by the traffic: _SILENT CoAP exchanges in a row timed out (each after
        # MAX_RETRANSMIT, ~93 s with RFC 7252's defaults: e.g. a lost keep-alive ping and
        # the registration it starts) with not one datagram received since the call came up
        # or since the last datagram. A server that is down looks the same, so each
        # suspicion that the redial did not clear (still nothing received) doubles the count
        # (2, 4, 8, 16 at most): a dead server costs fewer and fewer redials.
        m = self.ml
        if m.received != self._rx:
            self._rx = m.received
            self._to = m.timeouts
            self._need = _SILENT
            return False
        n = m.timeouts - self._to
        if n < self._need:
            return False
        self._need = min(self._need * 2, _SILENT_MAX)
        self.suspect("%d CoAP exchanges timed out, nothing received" % n)
        return True

    # ---------------- the loop ----------------
    def tick(self):
        """Do what can be done now; return ms until it wants to run again."""
        now = self.clock()
        s = self.state
        p = self.ppp
        if s == "data":
            if p.isconnected():
                return 0 if self.ml is not None and self._silent() else _CHECK
            self._lost("PPP call dropped (%s)" % ppp_status(p.status()), now)
            return 0
        if s == "connecting":
            if p.isconnected():
                self._enter("data", now)
                self._since = now
                self.error = None
                m = self.ml
                if m is not None:       # what timed out while the call was down is not its
                    self._to = m.timeouts
                    self._rx = m.received
                self._log("modem: PPP connected again: the client registers again (PC-17)")
                self._tell(True, "PPP connected")
                return _CHECK
            st = p.status()
            if st < 0 or time.ticks_diff(now, self._t) > _CONNECT_MS:
                self._fails += 1
                self._lost("PPP did not connect after CONNECT (%s)" % ppp_status(st), now)
                return 0
            return _POLL * 10
        if s == "wait":
            d = time.ticks_diff(self._due, now)
            if d > 0:
                return d
            self._recover(now)
            return 0
        if s == "closing":
            if p.status() in (3, 4) and time.ticks_diff(now, self._t) < _CLOSE_MS:
                return _POLL * 10
            return self._hand_back(now)
        w = self.link.tick()            # "at", "dialling": the Link has the UART
        lk = self.link
        if s == "at":
            if lk.up:
                self._dial = []
                self._enter("dialling", now)
                self._log("modem: registered: dialling %s" % DIAL)
                lk.command(DIAL, self._dial.append)
                return 0
        elif self._dial:
            c = self._dial[0]
            self._dial = None
            if c.result == "CONNECT":
                self.redials += 1
                self._log("modem: CONNECT: the UART is network.PPP's again")
                self._enter("closing", now)
                return 0
            self._fails += 1
            self._retry("%s answered %s" % (DIAL, c.result), now)
            return 0
        elif not lk.up:                 # the link went down under the dial (a reset)
            self._dial = None
            self._enter("at", now)
        return _POLL if w is None or w > _POLL else w

    async def run(self):
        import asyncio
        while True:
            await asyncio.sleep_ms(max(1, self.tick()))

    # ---------------- steps ----------------
    def _lost(self, why, now):
        if self.state == "data":
            self.drops += 1
            self._why = why
            if time.ticks_diff(now, self._since) >= _STABLE:
                self._fails = 0
        p = self.ppp
        try:
            if p.status() in (3, 4):
                p.disconnect()          # LCP terminate; lwIP frees it later
            p.config(stream=None)       # its UART interrupt would eat the AT answers
        except OSError as e:
            self._log("modem: network.PPP would not let go (%s)" % e)
        self._tell(False, why)
        self._retry(why, now, "taking the UART back for AT")

    def _retry(self, why, now, what="again"):
        n = self._fails
        if not n:
            self._log("modem: %s: %s" % (why, what))
            self._recover(now)
            return
        self.error = why
        b = backoff_ms(n)
        self._log("modem: %s: %s in %d s (%d failed)" % (why, what, b // 1000, n))
        self._due = time.ticks_add(now, b)
        self._enter("wait", now)

    def _recover(self, now):
        self._dial = None
        self._enter("at", now)
        if self._fails and self._fails % _FULL == 0:
            self._log("modem: %d redials failed in a row: a full bring-up" % self._fails)
            self.link.recover("PPP call lost")
        else:
            self.link.recover("PPP call lost", redial_ready)

    def _hand_back(self, now):
        p = self.ppp
        try:
            p.config(stream=self.uart)
            p.connect()
        except OSError as e:
            self._fails += 1
            self._retry("network.PPP refused to connect (%s)" % e, now)
            return 0
        self._enter("connecting", now)
        return _POLL * 10
