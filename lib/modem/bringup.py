"""The procedures that bring the link up or back, as generators the Link runs: bring-up per
TS 27.007, the wake-up of a silent or sleeping modem (also in the middle of a procedure: rouse),
the resume after the MCU's deep sleep, a lost PDP context, a coverage gap.

A procedure yields a Cmd (the link sends it and resumes the generator with it finished) or
a number of ms to wait (a URC may end the wait early); it raises LinkError with a sentence a
person can act on. Tests drive them through a Link over a fake UART [MODEM.md 2, 7, 8].

The link imports this module when one of them starts and forgets it once the link is up
(modem.link procedures()): a link that carries datagrams does not keep it in RAM. So nothing
the running link needs lives here (LinkError, check, ok: modem.at).
"""
from modem.at import Cmd, LinkError, check, ok
from modem.fields import after, fields, to_int
from modem.codes import active_bits, cme_is, cme_text, csq_dbm, edrx_bits, rsrp_dbm, tau_bits

REG_WAIT = 180000       # registration (+CEREG 1/5) [MODEM.md 9.4]


def sync(link, tries):
    """Send AT until OK (autobaud locks on it, MODEM.md 8): True when the modem answered."""
    link.syncing = True
    try:
        for _ in range(tries):
            c = yield Cmd("AT", None, 500)
            if c.result is not None and c.result != "timeout":
                return True
        return False
    finally:
        link.syncing = False


def pulse(link):
    """Press PWRKEY for the model's pulse, then give the UART time to come up (MODEM.md 7)."""
    link.pwrkey(1)
    yield link.d.pwrkey_ms
    link.pwrkey(0)
    link.pulses += 1
    yield 2000


def wake(link, first_tries=10):
    """Reach a modem that does not answer: AT first (it may be slow or autobauding), then a
    PWRKEY pulse (it wakes a modem in PSM, MODEM.md 3.2, or turns an off modem on), then a
    second pulse (the first may have turned an on-but-deaf modem off, MODEM.md 7). Never a
    power-cycle on a guess: without a pwrkey callback it only asks."""
    if (yield from sync(link, first_tries)):
        return
    if link.pwrkey is not None:
        for _ in range(2):
            yield from pulse(link)
            if (yield from sync(link, 10)):
                return
    raise LinkError("modem: no answer to AT (power, wiring, baud rate%s)"
                    % ("" if link.pwrkey else "; no pwrkey pin to wake it"))


def sim(link):
    """+CPIN?: READY, or one clear error (no SIM, PIN or PUK needed)."""
    for _ in range(10):
        c = yield Cmd("AT+CPIN?", "+CPIN:")
        s = c.line("+CPIN:") or ""
        if c.ok and "READY" in s and "NOT" not in s:
            return
        if c.ok and ("PIN" in s or "PUK" in s):
            raise LinkError("modem: the SIM needs its %s (%s): unlock the SIM in a phone first"
                            % ("PUK" if "PUK" in s else "PIN", s.strip()), "fatal")
        if cme_is(c.err, 10) or "NOT INSERTED" in s:
            raise LinkError("modem: no SIM card (SIM not inserted): insert one, then power "
                            "the modem on again", "fatal")
        if cme_is(c.err, 11) or cme_is(c.err, 12):
            raise LinkError("modem: the SIM needs its PIN/PUK (%s)" % cme_text(c.err), "fatal")
        if c.result == "timeout":
            check(c)
        yield 1000              # SIM busy, NOT READY after power-on: ask again
    raise LinkError("modem: SIM not ready (%s)" % (cme_text(c.err) if c.err else s))


def power_saving(link):
    """PSM (+CPSMS, timers coded from seconds) and eDRX (+CEDRXS) as configured; a modem or
    network without them is no error, the status shows what was granted."""
    p = link.psm
    if p:
        link.psm_req = (tau_bits(p.get("tauSec", 3600)), active_bits(p.get("activeSec", 10)))
        yield from ok('AT+CPSMS=1,,,"%s","%s"' % link.psm_req)
        yield from link.d.psm_extra()
    else:
        yield Cmd("AT+CPSMS=0")         # a known state; old firmware may refuse: tolerated
    e = link.edrx
    for act in edrx_acts(link):
        if e:
            link.edrx_req = edrx_bits(e.get("cycleSec", 20.48))
            c = yield Cmd('AT+CEDRXS=2,%d,"%s"' % (act, link.edrx_req))
            if not c.ok:        # mode 2 (with +CEDRXP) unknown: mode 1 without the URC
                yield from ok('AT+CEDRXS=1,%d,"%s"' % (act, link.edrx_req))
        else:
            yield Cmd("AT+CEDRXS=0")


def identity(link):
    """IMEI, IMSI and ICCID for status(); none of them stops a bring-up."""
    c = yield Cmd("AT+CGSN", "")
    link.imei = c.line() if c.ok else None
    c = yield Cmd("AT+CIMI", "")
    link.imsi = c.line() if c.ok else None
    text, prefix = link.d.ICCID
    c = yield Cmd(text, prefix)
    s = c.line() if c.ok else None
    link.iccid = s[after(s):].strip() if s and prefix else s


def registration(link, wait=REG_WAIT):
    """Until +CEREG says 1 (home) or 5 (roaming), followed through URCs; 3 = denied."""
    c = yield Cmd("AT+CEREG?", "+CEREG:")
    if c.ok and c.lines:
        link.cereg(c.lines[0], True)
    left = wait
    while link.reg not in (1, 5):
        if link.reg == 3:
            raise LinkError("modem: registration denied by the network (+CEREG: 3): check the "
                            "SIM's subscription, the APN and the RAT")
        if left <= 0:
            raise LinkError("modem: not registered after %d s (+CEREG: %s, %s)"
                            % (wait // 1000, link.reg, "out of coverage" if link.reg == 4 else
                               "searching"))
        t0 = link.clock()
        yield 10000             # a +CEREG URC ends the wait
        left -= max(1, link.elapsed(t0))
        if not link.woken:
            c = yield Cmd("AT+CEREG?", "+CEREG:")
            if c.ok and c.lines:
                link.cereg(c.lines[0], True)


def signal(link):
    c = yield Cmd("AT+CSQ", "+CSQ:")
    if c.ok and c.lines:
        link.dbm = csq_dbm(to_int(fields(c.lines[0], 6)[0]))
    c = yield Cmd("AT+CESQ", "+CESQ:")
    if c.ok and c.lines:
        f = fields(c.lines[0], 7)
        if len(f) >= 6:
            link.rsrp = rsrp_dbm(to_int(f[5]))


def bringup(link):
    """The whole TS 27.007 bring-up, then the dialect's PDP context: the link is up after it."""
    d = link.d
    yield from wake(link)
    link.fresh = False          # from now on a boot banner means a new reset
    yield from ok("ATE0")                               # echo off (it is echoed once)
    yield from ok("AT+CMEE=%d" % link.cmee)             # +CME ERROR: numeric 1 / verbose 2
    yield from sim(link)
    yield from ok("AT+CFUN=1")
    if link.apn:
        yield from ok('AT+CGDCONT=1,"IP","%s"' % link.apn, None, "setting the APN")
    yield from d.rat(link.rat)
    yield from power_saving(link)
    c = yield Cmd("AT+CEREG=4")        # with the granted PSM timers [MODEM.md 2.1]
    if not c.ok:
        yield from ok("AT+CEREG=2")
    yield from identity(link)
    yield from registration(link)
    yield from signal(link)
    yield from d.activate()
    link.bringups += 1


def edrx_acts(link):
    """AcT-types for +CEDRXS: 4 LTE-M, 5 NB-IoT (MODEM.md 3.3)."""
    return {"ltem": (4,), "nbiot": (5,)}.get(link.rat, (4, 5))


# ---- back up after a loss (Link._next: what link._need says) ----

def wake_up(link):
    """A modem that does not answer, or sleeps in PSM: wake it (AT, then PWRKEY). If it
    lost its PDP context meanwhile, it was reset: bring it up again."""
    yield from wake(link, 3)
    link.asleep = False
    yield from kept_state(link)


def kept_state(link):
    """After a wake: still registered, the PDP context kept? If not, the modem was reset
    meanwhile: bring it up again."""
    yield from registration(link)
    if not (yield from link.d.pdp_active()):
        raise LinkError("modem: it lost its state while silent: bringing it up again",
                        "reset")


def resume(link):
    """After the MCU's deep sleep (Link.resume()): the modem kept its registration, PDP
    context and socket, and in PSM it looks dead (MODEM.md 3.2, 9.5). One AT that may go
    unheard, then a PWRKEY pulse (the model's, MODEM.md 7) and AT until it answers; then the
    PDP context (one command: a context up means attached) and the socket (one command).
    A socket gone is reopened before the next datagram; no answer or no PDP context (the
    modem was reset meanwhile) raises: Link._failed() starts a full bring-up."""
    link.resumes += 1
    c = yield Cmd("AT", None, 300)
    if c.result is None or c.result == "timeout":
        if link.pwrkey is None:
            raise LinkError("modem: no answer to AT after the sleep, no pwrkey to wake it",
                            "silent")
        link._log("modem: resume: no answer (PSM): PWRKEY %d ms" % link.d.pwrkey_ms)
        link.wakes += 1
        link.pwrkey(1)
        yield link.d.pwrkey_ms
        link.pwrkey(0)
        link.pulses += 1
        if not (yield from sync(link, 10)):
            raise LinkError("modem: resume: no answer to AT after PWRKEY", "silent")
    link.fresh = False          # from now on a boot banner means a reset
    link.asleep = False
    if not (yield from link.d.pdp_active()):
        raise LinkError("modem: resume: no PDP context (reset meanwhile?): bringing it up")
    for s in link.socks:
        if s.open and not (yield from link.d.sock_ok(s)):
            s.open = False          # closed, then reopened before the next datagram
            link._log("modem: resume: socket %d gone: reopened on the next send" % s.id)
    link._log("modem: resume: PDP context up (%s), socket checked" % link.ip)


def reactivate(link):
    """The PDP context went (Link.pdp_lost): registered again, then the dialect's context."""
    yield from registration(link)
    yield from link.d.activate()


def reattach(link):
    """After a coverage gap (+CEREG 2/4): registered again; the context if it went."""
    yield from registration(link, 600000)
    if not (yield from link.d.pdp_active()):
        yield from link.d.activate()


def rouse(link, c, again):
    """A command went unheard (again: it was sent; not one octet came within QUIET ms),
    or is about to go to a modem that may sleep: PSM runs on the network's timers (T3324,
    MODEM.md 3.2), also in the middle of a bring-up, and the UART is then deaf. One AT
    (1 s); silent: the model's PWRKEY pulse wakes it (MODEM.md 3.2, 7), then AT until it
    answers; then the command goes (again) and the procedure carries on with its outcome
    (link._rc: Link._step hands it to the procedure the rouse interrupted).
    Still silent, or no pwrkey: the command's timeout goes to the procedure (its own error
    path). A boot banner meanwhile (the pulse turned a powered-off modem on): a bring-up."""
    link._rouses += 1
    link._rc = c
    p = yield Cmd("AT", None, 1000)
    if p.result == "timeout":
        c.result = "timeout"        # unless it is sent below: for the procedure,
        c.silent = True             # not to be roused again
        c.quiet = 0
        link.silences += 1
        if link.pwrkey is None:
            link._log("modem: no answer to %s nor AT; no pwrkey to wake it" % c.text)
            return
        link._log("modem: no answer to %s nor AT: asleep (PSM)? PWRKEY %d ms"
                  % (c.text, link.d.pwrkey_ms))
        link.wakes += 1
        link.booted = False
        yield from pulse(link)
        if not (yield from sync(link, 10)):
            return
        if link.booted:
            raise LinkError("modem: it restarted when woken: bringing it up again", "reset")
        link.asleep = False
        if link.state == "up":      # as wake_up
            yield from kept_state(link)
    link.asleep = False
    if c.result is not None:
        n = Cmd(c.text, c.prefix, c.timeout, c.data)
        if c.raw is not None:
            n.raw = c.raw
            n.rawline = c.rawline
        c = n
    link._rc = yield c
