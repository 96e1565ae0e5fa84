"""The deep-sleep duty cycle of a device with `deepSleep` (issue 13): wake, carry on, sleep.

A duty-cycled device does not de-register before sleeping. Across the sleep it keeps one
record (msgin5g.sleepstate): whether it was registered and when, the msgIds it saw (PC-26),
the reports it awaits, the local port it used, the application's counter and the modem's
state (lib/modem Link.snapshot()). The record lives in RTC memory where the board has it, else in `stateFile`.

The device's client (dev.client) is the MSGin5G Client (role ue, registered at the server)
or the Annex A Application Client of a constrained UE (role cue, registered at its Gateway UE;
its Registration ID is kept too). Both offer what the cycle uses: resume(left_ms, seen,
reports[, reg_id]), snapshot(), idle(reports), reg_ms, last_io, reg_id (cue only).

On wake (Device.__init__ makes a DutyCycle before the socket: it binds the port of the
record again, so the server sees the same address):
  * the record is loaded; none, torn or corrupt, or a board that says it did not wake from
    deep sleep (power-on) -> a normal registration (REG), never a crash;
  * else, when the registration is younger than `regTrustSec` (default `reRegPeriodSec`),
    the client takes it up (Client.resume): REGISTERED without a REG, and the first message
    goes out at once. A server that no longer knows the UE answers 4.03 without body: the
    client re-registers and sends the same msgId again (PC-24, PC-15). A gateway that no
    longer knows a cue (restarted, or it dropped the cue after a delivery went unanswered)
    answers 4.03 NOT_AUTHORIZED (A.3) / cause 0x02 (A.2): the cue does the same there.

Before sleeping (the application calls sleep_when_done()):
  * the record is saved as soon as the application says its work is done (save(): the
    reading's outcome is in), and again at sleep only if it changed (a downlink came);
  * the device stays awake `awakeSec` after the last exchange (response or downlink): the
    contract has no way for the server to say "nothing stored for you", and the reference
    server delivers stored messages right after a UE's uplink (store-and-forward). With
    awakeSec 0 it sleeps as soon as the last expected response is in. Left unset it is 2 s,
    or, over a modem granted PSM, the granted Active-Time (T3324): after the radio is
    released the modem stays reachable (paged) exactly that long, then enters PSM and hears
    nothing, so a longer wake is wasted and a shorter one misses downlinks it could take.
  * a modem link (dev.link; host links have none) takes what is still queued and, where RAI
    applies, asks for the release (Link.release()); the modem is NOT powered down: it keeps
    its registration, PDP context and socket in PSM, and their description goes into the
    record (Link.snapshot()), so the next wake resumes the link (Link.resume(): wake the
    modem by PWRKEY, check PDP context and socket) instead of a full bring-up. Then
    board.deepsleep(ms). The unix board prints `SLEEP <ms>` and exits 0; whoever started it
    starts it again.

Time: boards lose their tick counter in deep sleep and some their clock, so the record keeps
its own time line in seconds: the record's clock is when the next boot starts (scheduled
wake), and each boot counts from there.
"""
import asyncio
import os
import time

from msgin5g import log, sleepstate

_MIN_SLEEP_MS = 100
_MAX_AWAKE_MS = 30000       # a wake that cannot finish (server gone) sleeps after 30 s


class DutyCycle:
    def __init__(self, dev):
        self.dev = dev
        cfg = dev.cfg
        self.period_ms = cfg["periodSec"] * 1000
        self.store = sleepstate.open_store(dev.board, cfg.get("stateFile") or "sleep.state")
        try:
            st = self.store.load()
        except Exception as e:          # a bad file system: register as after power loss
            log.warn("sleep state: %r", e)
            st = None
        b = dev.board
        woke = b.woke_from_deepsleep() if b is not None and hasattr(b, "woke_from_deepsleep") \
            else None
        self.cold = st is None
        self.woke = woke
        if st is None:
            st = sleepstate.State()
        self.st = st
        self.boot_s = st.clock          # this boot on the time line
        trust = cfg.get("regTrustSec")
        if trust is None:
            trust = cfg.get("reRegPeriodSec") or 0
        age = self.boot_s - st.reg_at
        self.left_ms = (trust - age) * 1000 if st.registered and woke is not False else 0
        if not cfg.get("listenPort"):   # bind the port of the last wake again
            if not st.port:
                r = os.urandom(2)
                st.port = 49152 + ((r[0] << 8 | r[1]) & 0x3FFF)
            cfg["listenPort"] = st.port
        st.port = cfg["listenPort"]
        self._resumed = False
        log.info("wake: %s", "cold boot" if self.cold else
                 "registration kept (%d s left)" % (self.left_ms // 1000) if self.left_ms > 0
                 else "registering")

    def awake_ms(self):
        """awakeSec; unset: the granted Active-Time (T3324) of a modem in PSM, else 2 s."""
        a = self.dev.cfg.get("awakeSec")
        if a is None:
            lk = self.dev.link
            g = lk.psm_granted if lk is not None else None
            a = g[0] if g else 2
        return a * 1000

    def now_s(self):
        return self.boot_s + self.dev.uptime_ms() // 1000

    def resume(self, client):
        """Take up the registration and the memories of the record (once); False when the
        client has to register (Client.start())."""
        if self._resumed:
            return False
        self._resumed = True
        st = self.st
        # ages in the record count from its clock, this boot's start
        up = self.dev.uptime_ms()
        seen = [(a, b, age * 1000 + up) for a, b, age in st.seen]
        rid = (st.reg_id,) if st.reg_id else ()     # a cue's Registration ID at its gateway
        return client.resume(self.left_ms - up, seen, st.reports, *rid)

    def save(self, sleep_ms=None):
        """Write the record (only if it changed). The next boot is planned periodSec after
        this one's start (or sleep_ms from now when given)."""
        dev = self.dev
        c = dev.client
        st = self.st
        up = dev.uptime_ms()
        now_s = self.boot_s + up // 1000
        if sleep_ms is None:
            sleep_ms = max(self.period_ms - up, self.awake_ms(), _MIN_SLEEP_MS)
        wake_s = self.boot_s + (up + sleep_ms + 500) // 1000
        if c is not None:
            reg, seen, st.reports = c.snapshot()
            st.registered = reg
            st.reg_id = reg and getattr(c, "reg_id", None) or 0
            if c.reg_ms is not None:
                st.reg_at = self.boot_s + time.ticks_diff(c.reg_ms, dev.t0) // 1000
            d = wake_s - now_s
            st.seen = [(a, b, d + age // 1000) for a, b, age in seen]
        st.clock = wake_s
        if dev.link is not None:
            st.modem = dev.link.snapshot()      # b"" unless up: the next wake brings it up
        try:
            self.store.save(st)
        except Exception as e:      # e.g. flash full: the next wake registers again
            log.warn("sleep state not saved: %r", e)

    def can_sleep(self):
        """ms to wait before sleeping, 0 = sleep now: the client idle and awakeSec passed
        since the last exchange, or the wake has lasted _MAX_AWAKE_MS."""
        dev = self.dev
        c = dev.client
        up = dev.uptime_ms()
        aw = self.awake_ms()
        if up >= _MAX_AWAKE_MS + aw:
            return 0
        if c is not None and not c.idle(True):
            return 20
        last = c.last_io if c is not None and c.last_io is not None else dev.t0
        return max(aw - time.ticks_diff(time.ticks_ms(), last), 0)

    async def sleep_when_done(self):
        while True:
            w = self.can_sleep()
            if w <= 0:
                break
            await asyncio.sleep_ms(w)
        self.sleep()

    def sleep(self):
        dev = self.dev
        if dev.link is not None:
            dev.link.release()      # what is queued goes out; RAI; the modem stays powered
        ms = max(self.period_ms - dev.uptime_ms(), _MIN_SLEEP_MS)
        self.save(ms)
        dev.asleep = True
        log.info("deep sleep %d ms", ms)
        if dev.board is not None:
            dev.board.deepsleep(ms)
