"""The modem link: runs the procedures over the AT channel, carries datagrams, recovers.

    link = Link(uart, "sim7080", apn="iot", rat="nbiot", psm={"tauSec": 3600, "activeSec": 10},
                edrx=None, rai=True, pwrkey=pin_fn, on_change=lambda up, why: ...)
    link.start()
    while True:
        link.tick()                 # never waits; returns ms until it wants to run again

One procedure (a generator: modem.bringup, the dialect's) runs at a time; it yields a Cmd
to send or ms to wait. What runs next, in order: recovery (bring-up after a reset or a
failure, with back-off), waking a silent or sleeping modem, re-activating a lost PDP context,
waiting for registration after a coverage gap, then data: reads first, then the bounded
datagram queue. The UART is never waited on.

Recovery is bounded and backs off (2 s doubling to 64 s): a boot banner mid-session (RDY,
APP RDY, SMS Ready, *ATREADY; MODEM.md 7) restarts the bring-up and reopens the sockets;
+CEREG 2/4 (or 0) is link down until 1/5; a PDP-down URC re-activates the context; a modem
that stops answering is woken (AT, then PWRKEY) before anything else, never power-cycled on a
guess (MODEM.md 9.5). PSM runs on the network's timers, also halfway through a bring-up: a
command that brings not one octet within 2 s (modem.at QUIET), or a +CPSMSTATUS ENTER / PSM
POWER DOWN while it waits, is the modem asleep: AT, PWRKEY when that is silent too, then the
command again, at most 3 times per procedure (rouse); a command that may work silently for
long (+QIACT, +CFUN, ...) after a quiet spell gets an AT first. on_change(up, reason) tells the device, which re-registers on up
(PC-17). A fatal error (no SIM, PIN) stops until start() is called again.

sendto(data, addr) is the socket-like entry the CoAP endpoint uses; addresses are
(host, port) tuples; a datagram over 1460 octets is refused with OSError (MODEM.md 4, 5).
"""
import sys
import time
from micropython import const

from modem.at import QUIET, AtChannel, Cmd, LinkError, ignore
from modem.fields import fields, to_int

MAX_DATAGRAM = const(1460)
_EMSGSIZE = const(90)
_ENOTCONN = const(107)
_BACKOFF_MAX = const(64000)


# Modules a link that is up does not need, imported where a rare event needs them:
# modem.bringup, the procedures that bring the link up or back (bring-up, wake, rouse, resume,
# PDP context, coverage gap), and modem.codes (a +CEREG or +CEDRXP URC, an error's text; the
# bring-up's timer codings). forget_rare() drops them once the link is up: a running link then
# holds none of their functions (1.1 KB of heap on a 32-bit board), and the next rare event
# imports them again (frozen on a board: no file is read, no bytecode copied to RAM).
_RARE = (("modem.bringup", "bringup"), ("modem.codes", "codes"))


def backoff_ms(fails):
    """The wait before trying again after `fails` failures in a row: 2 s doubling to 64 s."""
    return min(_BACKOFF_MAX, 1000 << min(fails, 6))


def procedures():
    """modem.bringup, imported if it is not (forget_rare)."""
    from modem import bringup
    return bringup


def forget_rare():
    """Drop the _RARE modules from sys.modules and from the package (an import sets them on
    it as attributes): the garbage collector frees them once nothing of theirs runs."""
    pkg = sys.modules.get("modem")
    for name, attr in _RARE:
        if sys.modules.pop(name, None) is not None and hasattr(pkg, attr):
            delattr(pkg, attr)


class Sock:
    """One modem socket: a connected UDP socket to one peer."""
    id = 0
    open = False
    used = False        # opened before: close it first when reopening
    rx = False          # the modem says data waits
    result = None       # open result from an async +CAOPEN / +QIOPEN URC

    def __init__(self, i, addr=None):
        self.id = i
        self.addr = addr


class Link:
    def __init__(self, uart, model="sim7080", apn="", rat="auto", psm=None, edrx=None,
                 rai=False, pwrkey=None, clock=None, on_change=None, log=None, cmee=2,
                 peers=2, queue=4):
        self.clock = clock or time.ticks_ms
        self.ch = ch = AtChannel(uart, self.clock)
        if model == "sim7080":
            from modem.sim7080 import Dialect
        elif model in ("bg95", "bg96", "bg77"):
            from modem.bg95 import Dialect
        else:
            raise ValueError("modem model %r: sim7080 or bg95" % (model,))
        if rat not in ("ltem", "nbiot", "auto"):
            raise ValueError("modem rat %r: ltem, nbiot or auto" % (rat,))
        self.model = model
        self.apn = apn
        self.rat = rat
        self.psm = psm
        self.edrx = edrx
        self.rai = rai
        self.pwrkey = pwrkey            # pwrkey(1) presses, pwrkey(0) releases (board inverts)
        self.cmee = cmee
        self.on_change = on_change
        self.on_datagram = None         # on_datagram(view, addr), set by ModemEndpoint
        self.log = log
        self.d = Dialect(self)
        self.socks = [Sock(i) for i in range(peers)]
        self._q = [None] * queue        # (data, addr, release) ring
        self._qh = self._qn = 0
        # state
        self.state = "off"              # off starting searching up failed
        self.up = False
        self.error = None
        self.reg = None                 # last +CEREG <stat>
        self.act = None                 # AcT: 7 LTE-M, 9 NB-IoT
        self.pdp = False
        self.asleep = False             # the modem said it entered PSM
        self.syncing = False
        self.fresh = True               # no bring-up has reached the modem since (re)start
        self.woken = False
        self.dbm = self.rsrp = self.imei = self.imsi = self.iccid = self.ip = None
        self.psm_req = self.psm_granted = self.edrx_req = self.edrx_granted = None
        self._job = None
        self._cmd = None
        self._until = None
        self._need = None               # 'bringup', 'wake', 'pdp', 'reattach'
        self._retry = None
        self._fails = 0
        self._release = False
        # counters
        self.tx_datagrams = self.rx_datagrams = self.tx_octets = self.rx_octets = 0
        self.dropped = self.oversize = self.send_failed = self.resets = self.wakes = 0
        self.pdp_losses = self.coverage_losses = self.bringups = self.pulses = 0
        self.rai_marks = self.rai_unavailable = self.resumes = 0
        ch.on_urc = self._urc
        ch.on_data = self._pushed

    # ---------------- public API ----------------
    def start(self):
        """Bring the link up (again, also after a fatal error)."""
        self._stop_job()
        self.state = "starting"
        self.error = None
        self._fails = 0
        self._retry = None
        self._need = "bringup"
        self.fresh = True

    def sendto(self, data, addr):
        """Queue one datagram to addr ((host, port)); the oldest goes when the queue is full
        (CoAP retransmits). Over 1460 octets, or with the link stopped: OSError."""
        n = len(data)
        if n > MAX_DATAGRAM:
            self.oversize += 1
            self.error = "modem: datagram of %d octets refused: the modem carries at most %d" \
                % (n, MAX_DATAGRAM)
            self._log(self.error)
            raise OSError(_EMSGSIZE, self.error)
        if self.state in ("off", "failed") and self._retry is None:
            raise OSError(_ENOTCONN, "modem link %s" % self.state)
        if not isinstance(data, bytes):
            data = bytes(data)      # coap.message sends a view of its scratch buffer: the
            #                         datagram waits for the modem's prompt, so copy it now
        q = self._q
        if self._qn == len(q):
            self._qh = (self._qh + 1) % len(q)
            self._qn -= 1
            self.dropped += 1
        q[(self._qh + self._qn) % len(q)] = (data, addr, self._release)
        self._qn += 1
        self._release = False
        return n

    def release_after_next(self, rai=1):
        """Mark the next datagram as the last uplink of an exchange (RAI): where the model
        and RAT allow it (NB-IoT; MODEM.md 3.4) the radio is released right after it (rai 1:
        no further uplink or downlink expected), or after the one downlink that answers it
        (rai 2: a CON request whose response is all that is still expected)."""
        self._release = rai

    released = 0        # 1: the radio was released (RAI 1, AT+CNMPSD, or RAI 2 and then its
    #                     one downlink); 2: it will be after the next downlink (RAI 2)

    def release(self, ms=3000):
        """Before the MCU's deep sleep (msgin5g.dutycycle): the modem stays powered and keeps
        its state. Let it take what is queued (a plain loop, at most ms), then, where RAI
        applies (rai on NB-IoT) and the last uplink did not carry it, ask for the release
        with AT+CNMPSD (TS 27.007 "no more PS data"; unconfirmed on SIM7080 and BG95,
        MODEM.md 3.4: a refusal is tolerated). Elsewhere nothing more: the network releases
        the radio after its inactivity timer, then T3324 runs and the modem enters PSM."""
        t0 = self.clock()
        asked = False
        while self.elapsed(t0) < ms:
            if self._job is None:
                if self.state != "up":
                    break               # nothing will go out now
                if not self._qn and self._user is None:
                    if asked or self.released or self.asleep or not (self.rai and self.act == 9):
                        break
                    asked = True
                    self.released = 1
                    self._user = ("AT+CNMPSD", "", ignore)
            w = self.tick()
            time.sleep_ms(2 if w is None or w > 2 else w)

    def snapshot(self):
        """The modem's state for the sleep record (msgin5g.sleepstate's modem slot; b"" unless
        the link is up): what the modem keeps while the MCU deep-sleeps and it sits in PSM
        (MODEM.md 3.2: PSM keeps the registration and the PDP context). Version 1, big-endian:
        flags (1 registered, 2 PDP context, 4 socket open), AcT, granted Active-Time s (u16,
        0xFFFF none), periodic TAU s (u32, 0xFFFFFFFF none), eDRX cycle ms (u32, 0 none),
        socket id, peer port (u16), peer host (the rest)."""
        if self.state != "up":
            return b""
        s = None
        for x in self.socks:
            if x.open:
                s = x                   # the first open socket (a device has one peer)
                break
        g = self.psm_granted
        e = self.edrx_granted
        out = bytearray(b"\x01")
        out.append((1 if self.reg in (1, 5) else 0) | (2 if self.pdp else 0) | (4 if s else 0))
        out.append(self.act or 0)
        out.extend((0xFFFF if g is None else min(g[0], 0xFFFE)).to_bytes(2, "big"))
        out.extend((0xFFFFFFFF if g is None or g[1] is None else g[1]).to_bytes(4, "big"))
        out.extend((0 if e is None else int(e * 1000)).to_bytes(4, "big"))
        if s is not None:
            out.append(s.id)
            out.extend(s.addr[1].to_bytes(2, "big"))
            out.extend(str(s.addr[0]).encode())
        return bytes(out)

    def resume(self, data):
        """Take up the state snapshot() saved before the MCU's deep sleep instead of a full
        bring-up: the link wakes the modem (it is likely in PSM), checks its PDP context and
        socket (two AT commands) and carries on; anything amiss means a full bring-up. False
        (nothing done: call start()) when data is not a valid snapshot of a link that was up."""
        b = data
        if not b or len(b) < 13 or b[0] != 1 or not b[1] & 2:
            return False
        self._stop_job()
        self.reg = 1 if b[1] & 1 else None
        self.act = b[2] or None
        a = int.from_bytes(b[3:5], "big")
        t = int.from_bytes(b[5:9], "big")
        self.psm_granted = None if a == 0xFFFF else (a, None if t == 0xFFFFFFFF else t)
        e = int.from_bytes(b[9:13], "big")
        self.edrx_granted = e / 1000 if e else None
        if b[1] & 4 and len(b) > 16 and b[13] < len(self.socks):
            s = self.socks[b[13]]
            s.addr = (str(b[16:], "utf-8"), int.from_bytes(b[14:16], "big"))
            s.open = s.used = True
        self.pdp = True
        self.state = "starting"
        self.error = None
        self._fails = 0
        self._retry = None
        self.fresh = True
        self._need = "resume"
        return True

    def recover(self, why, proc=None):
        """Take the modem back from outside (modem.ppp: the PPP call dropped): the link is down
        now (on_change), then proc(link) runs (a procedure as modem.bringup's: it yields Cmds
        and waits) or, without one, a full bring-up. A failure backs off as any (2 s doubling
        to 64 s, then a bring-up); a proc that ends well is the link up ("registered")."""
        self._restart(why)
        if proc is not None:
            self.fresh = False      # the modem was up: a boot banner now is a reset
            self._need = proc

    def command(self, text, callback, prefix=""):
        """Run one AT command between data operations (the REPL's at()); callback(cmd)."""
        self._user = (text, prefix, callback)

    _user = None

    def status(self):
        g = self.psm_granted
        return {"state": self.state, "model": self.model, "error": self.error,
                "rat": {7: "ltem", 9: "nbiot"}.get(self.act, self.rat), "reg": self.reg,
                "dbm": self.dbm, "rsrp": self.rsrp, "ip": self.ip, "imei": self.imei,
                "imsi": self.imsi, "iccid": self.iccid,
                "psm": {"requested": self.psm_req,
                        "granted": None if g is None else {"activeSec": g[0], "tauSec": g[1]}},
                "edrx": {"requested": self.edrx_req, "granted": self.edrx_granted},
                "tx": [self.tx_datagrams, self.tx_octets], "rx": [self.rx_datagrams,
                                                                   self.rx_octets],
                "at": [self.ch.tx_octets, self.ch.rx_octets],
                "dropped": self.dropped, "oversize": self.oversize, "resets": self.resets,
                "wakes": self.wakes, "resumes": self.resumes, "pdpLosses": self.pdp_losses,
                "coverageLosses": self.coverage_losses, "raiMarks": self.rai_marks}

    # ---------------- the loop ----------------
    def tick(self):
        """Do what can be done now; return ms until the next deadline (None: idle)."""
        now = self.clock()
        w = self.ch.service(now)
        for _ in range(16):
            if not self._step(now):
                break
            w = self.ch.service(now)
        if w == 0:
            return 0
        for t in (self._until if self._cmd is None else None, self._retry):
            if t is not None:
                d = max(0, time.ticks_diff(t, now))
                w = d if w is None or d < w else w
        return w

    def elapsed(self, t0):
        return time.ticks_diff(self.clock(), t0)

    def _step(self, now):
        job = self._job
        val = None
        if job is None:
            job = self._next(now)
            if job is None:
                return False
            self._job = job
        elif self._cmd is not None:
            val = self._cmd
            if val.result is None:
                return False
            self._cmd = None
            if val.silent and val.quiet and self._can_rouse():
                # not one octet within QUIET ms: asleep? Ask, wake, send the command again
                self._outer = job
                job = self._job = procedures().rouse(self, val, True)
                val = None
        elif self._until is not None:
            if not self.woken and time.ticks_diff(self._until, now) > 0:
                return False
            self._until = None
        try:
            y = job.send(val)
        except StopIteration:
            self._job = None
            o = self._outer
            if o is not None:           # the rouse ended: its command's outcome goes on
                self._outer = None
                self._job = o
                self._cmd = self._rc
                self._rc = None
                return True
            self._done(now)
            return True
        except LinkError as e:
            self._job = None
            self._drop_outer()
            self._failed(e, now)
            return True
        if isinstance(y, Cmd) and self._can_rouse() and (
                self.asleep or not y.quiet and y.timeout > QUIET
                and time.ticks_diff(now, self.ch.heard_at) > QUIET):
            # the modem said it sleeps, or a command that may work silently for long follows
            # a quiet spell (it may have entered PSM meanwhile): ask AT first
            self._outer = job
            self._job = procedures().rouse(self, y, False)
            y = self._job.send(None)
        if isinstance(y, Cmd):
            # _cmd first: on the unix port a signal raises KeyboardInterrupt in the UART write
            # (the stop path), and the job must not be left waiting for no command
            self._cmd = y
            self.ch.send(y)
        else:
            self.woken = False
            self._until = time.ticks_add(now, y)
        return True

    _outer = None       # the procedure a rouse interrupted
    _rc = None          # the rouse's command, finished, for the procedure
    _rouses = 0         # rouses in the running procedure
    silences = 0        # commands that went unheard (the modem was asleep or deaf)

    def _can_rouse(self):
        return self._outer is None and self._rouses < 3 and self._running not in ("wake",
                                                                                  "resume")

    def _drop_outer(self):
        o = self._outer
        self._outer = self._rc = None
        if o is not None:
            try:
                o.close()
            except Exception:
                pass

    booted = False      # a boot banner came while the link synced (rouse)

    def _next(self, now):
        self._rouses = 0
        if self._retry is not None:
            if time.ticks_diff(self._retry, now) > 0:
                return None
            self._retry = None
            self._need = "bringup"
        n = self._need
        if n is not None:
            self._running = n
            p = procedures()
            if n == "bringup":
                self.state = "starting"
                return p.bringup(self)
            if not isinstance(n, str):  # a caller's procedure (recover())
                return n(self)
            if n == "wake":
                self.wakes += 1
                return p.wake_up(self)
            if n == "resume":
                return p.resume(self)
            if n == "pdp":
                return p.reactivate(self)
            return p.reattach(self)
        self._running = None
        if self.state != "up":
            return None
        u = self._user
        if u is not None:
            self._user = None
            return self._user_job(u)
        for s in self.socks:
            if s.rx and s.open:
                return self._read(s)
        if self._qn:
            if self.asleep:
                self._need = "wake"
                return self._next(now)
            return self._send()
        return None

    _running = None
    socket_error = None     # the last datagram lost to a socket that would not open

    def _done(self, now):
        """A procedure ended well."""
        n = self._running
        if n is not None:
            self._need = None
            if n in ("bringup", "pdp", "reattach", "wake", "resume") or not isinstance(n, str):
                self._fails = 0
                self.error = None
                self._set_up(True, "PDP context re-activated" if n == "pdp" else
                             "resumed" if n == "resume" else "registered")
        if self.up:
            forget_rare()           # (also after a data job a rouse interrupted)

    def _failed(self, e, now):
        k = e.kind
        msg = e.args[0] if e.args else str(e)
        self._log(msg)
        if k == "socket":
            self.send_failed += 1
            self.socket_error = msg
            return
        self.error = msg
        if k == "silent" and self._running != "wake" and self.state == "up":
            self._need = "wake"         # a PSM modem looks dead: wake it first (MODEM.md 9.5)
            return
        if k == "reset" or self._running == "resume":
            if k == "reset":
                self.resets += 1
            self._restart(msg)      # a resume that fails: a full bring-up at once
            return
        self._need = None
        self._lose_sockets()
        self._set_up(False, msg)
        self.state = "failed"
        if k != "fatal":
            self._fails += 1
            self._retry = time.ticks_add(now, backoff_ms(self._fails))

    def _set_up(self, up, why):
        if up:
            self.state = "up"
        if up == self.up:
            return
        self.up = up
        self._log("modem: link %s (%s)" % ("up" if up else "down", why))
        if self.on_change is not None:
            self.on_change(up, why)

    def _stop_job(self):
        if self._job is not None:
            try:
                self._job.close()
            except Exception:
                pass
        self._job = None
        self._drop_outer()
        self._cmd = None
        self._until = None
        self.ch.abort()

    def _lose_sockets(self):
        for s in self.socks:
            s.open = s.rx = False
        self.pdp = False

    def _log(self, msg):
        if self.log is not None:
            self.log(msg)

    # ---------------- URCs ----------------
    rxsock = None           # the socket of a datagram pushed with its URC (the dialect sets it)

    def _urc(self, line):
        """The AT channel's on_urc: the dialect's URCs, then the link's; None when the line is
        no URC, else the octets of a datagram that follows it (push receive modes)."""
        n = self.d.urc(line)
        if n is not None:
            return n
        if line.startswith("+CEREG:"):
            self.cereg(line)
        elif line.startswith(("RDY", "APP RDY", "SMS Ready", "*ATREADY")):
            self._reset_urc(line)
        elif line.startswith("+CEDRXP:"):
            f = fields(line, 8)
            if len(f) >= 3:
                from modem import codes         # on demand (forget_rare)
                self.edrx_granted = codes.edrx_seconds(f[2]) if f[0] != "0" else None
        elif line.startswith(("NORMAL POWER DOWN", "POWERED DOWN")):
            if self.state != "off":
                self._restart("modem powered down (%s)" % line)
        else:
            return None
        return 0

    def _pushed(self, n):
        """The AT channel's on_data: a datagram came with its URC; it is in ch.data."""
        s = self.rxsock
        self.rxsock = None
        if s is not None:
            self._deliver(n, s)

    def _deliver(self, n, s):
        """The n octets in the AT channel's buffer are a datagram from socket s's peer. The
        endpoint gets a view of that buffer, valid during the call (coap.codec copies what it
        keeps): no copy of a datagram is made."""
        self.rx_datagrams += 1
        self.rx_octets += n
        self.released = 1 if self.released == 2 else 0   # RAI 2's one downlink
        if self.on_datagram is not None:
            self.on_datagram(self.ch._dm[:n], s.addr)

    def _reset_urc(self, line):
        """A boot banner: the modem restarted (MODEM.md 7). Ignored while we sync (power-on),
        before start() and until a bring-up has reached the modem (one boot prints several:
        RDY ... SMS Ready / APP RDY)."""
        if self.syncing:
            self.booted = True
        if self.syncing or self.fresh or self.state == "off" or (self.state == "failed"
                                                                   and self._retry is None):
            return
        self.resets += 1
        self._restart("modem reset (%s)" % line)

    def _restart(self, why):
        self._stop_job()
        self._lose_sockets()
        for s in self.socks:
            s.used = False              # the reset closed them: nothing to close first
        self.fresh = True
        self.asleep = False
        if not self.up:             # down already (modem.ppp's recovery): say it all the same
            self._log("modem: link down (%s): bringing it up again" % why)
        self._set_up(False, why)
        self.state = "starting"
        self._retry = None
        self._need = "bringup"

    def cereg(self, line, read=False):
        """+CEREG (URC, or the answer to AT+CEREG? with read=True): registration, AcT and the
        granted PSM timers (n=4, MODEM.md 2.1)."""
        from modem import codes                 # on demand (forget_rare)
        stat, act, active, tau = codes.cereg(line, read)
        if stat is None:
            return
        self.reg = stat
        if act is not None:
            self.act = act
        if active is not None or tau is not None:
            a = codes.active_seconds(active)
            self.psm_granted = None if a is None else (a, codes.tau_seconds(tau))
        self.woken = True
        if stat in (1, 5):
            return
        if self.state == "up":
            self.coverage_losses += 1
            self.state = "searching"
            self._set_up(False, "registration denied (+CEREG: 3)" if stat == 3 else
                         "out of coverage (+CEREG: %d)" % stat)
            if self._need is None:
                self._need = "reattach"

    def pdp_lost(self):
        """The dialect saw the PDP context go (MODEM.md 4, 5): re-activate it."""
        was = self.pdp
        self.pdp = False
        for s in self.socks:
            s.open = s.rx = False
        if self.state == "up" and was:
            self.pdp_losses += 1
            self._set_up(False, "PDP context lost")
            self.state = "starting"
            if self._need is None:
                self._need = "pdp"

    def psm_state(self, entered):
        """The modem said it entered (True) or left PSM: a send first wakes it; a command
        that waits will not be answered (the link rouses the modem and sends it again)."""
        self.asleep = entered
        if entered:
            self.ch.hush()

    def _user_job(self, u):
        c = yield Cmd(u[0], u[1])
        u[2](c)

    def sock_by_id(self, field):
        """The socket whose modem id is the URC field `field` (text), or None."""
        i = to_int(field, -1)
        for s in self.socks:
            if s.id == i:
                return s
        return None

    def _sock(self, addr):
        free = None
        for s in self.socks:
            if s.addr == addr:
                return s
            if free is None and not s.open:
                free = s
        s = free or self.socks[0]     # all busy: reuse the first (bounded, rare)
        s.addr = addr
        s.open = False
        return s

    def _send(self):
        q = self._q
        data, addr, release = q[self._qh]
        q[self._qh] = None
        self._qh = (self._qh + 1) % len(q)
        self._qn -= 1
        s = self._sock(addr)
        if not s.open:
            yield from self.d.open(s)
        # NB-IoT only, and as long as the dialect's RAI form carries (MODEM.md 3.4): a mark it
        # cannot send is rai_unavailable, and release() then asks AT+CNMPSD
        rai = release if self.rai and self.act == 9 and len(data) <= self.d.rai_max else 0
        if release:
            self.rai_marks += 1
            if not rai:
                self.rai_unavailable += 1
        ok = yield from self.d.send(s, data, rai)
        self.released = rai if ok else 0
        if ok:
            self.tx_datagrams += 1
            self.tx_octets += len(data)
        else:
            self.send_failed += 1

    def _read(self, s):
        s.rx = False
        empty = False
        try:
            for _ in range(8):          # bounded: the URC comes again for more
                n = yield from self.d.read(s)
                if not n:
                    empty = True
                    return
                self._deliver(n, s)
        finally:
            # Not read empty (8 reads, or an exception out of a handler: on the unix port a
            # stop signal raises KeyboardInterrupt wherever the program is): read again later.
            # BG95 buffer mode sends no new "recv" URC until the buffer was read empty.
            if not empty:
                s.rx = True
