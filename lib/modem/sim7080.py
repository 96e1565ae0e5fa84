"""SIMCom SIM7080G dialect: RAT, PDP (+CNACT), UDP over CA sockets (MODEM.md 2, 4, 3.4).

    AT+CNACT=0,1            OK, then +APP PDP: 0,ACTIVE   (+APP PDP: 0,DEACTIVE when lost)
    AT+CAOPEN=<cid>,0,"UDP","<host>",<port>     +CAOPEN: <cid>,<result> OK (or OK first, then
                                                the +CAOPEN line with ASYNCOPEN: both taken)
    AT+CASEND=<cid>,<len>   "> "  <len raw octets>  OK   (no Ctrl-Z: binary-safe)
    +CADATAIND: <cid>       data waits (no length)
    AT+CARECV=<cid>,1460    +CARECV: <len>,<len raw octets on the same line> OK; +CARECV: 0
"""
from modem.at import Cmd
from modem.bringup import LinkError, check, ignore as _ignore, ok, received
from modem.codes import fields, to_int

_CMNB = {"ltem": 1, "nbiot": 2, "auto": 3}


class Dialect:
    pwrkey_ms = 1500    # Zephyr's SIM7080 pulse; SIM7070 HW: 1-12.6 s (MODEM.md 7)
    ICCID = ("AT+CCID", "")     # bare ICCID line (not in MODEM.md: unconfirmed, tolerated)

    def __init__(self, link):
        self.link = link

    def urcs(self, ch):
        ch.urc("+APP PDP:", self._pdp)
        ch.urc("+CADATAIND:", self._data)
        ch.urc("+CASTATE:", self._state)
        ch.urc("+CAOPEN:", self._opened)
        ch.urc("+CPSMSTATUS:", self._psm)
        ch.urc("+CASEND:", _ignore)      # the <cid>,<result>,<sendlen> variant (MODEM.md 4)
        ch.urc("+CAURC:", _ignore)       # "buffer full": +CADATAIND comes again when read
        ch.urc("+CPIN:", _ignore)        # NOT READY / READY around CFUN changes (MODEM.md 9.5)
        ch.urc("+CFUN:", _ignore)

    def _sock(self, f):
        i = to_int(f[0], -1)
        for s in self.link.socks:
            if s.id == i:
                return s
        return None

    # ---- URCs ----
    def _pdp(self, line):
        f = fields(line, 9)
        if f[0] != "0" or len(f) < 2:
            return
        if f[1] == "ACTIVE":
            self.link.pdp = True
            self.link.woken = True
        elif f[1] == "DEACTIVE":
            self.link.pdp_lost()

    def _data(self, line):
        s = self._sock(fields(line, 12))
        if s is not None:
            s.rx = True

    def _state(self, line):
        f = fields(line, 10)
        s = self._sock(f)
        if s is not None and len(f) > 1 and f[1] == "0":
            s.open = False              # closed by the network: reopened on the next send

    def _opened(self, line):
        f = fields(line, 8)
        s = self._sock(f)
        if s is not None and len(f) > 1:
            s.result = to_int(f[1], -1)
            self.link.woken = True

    def _psm(self, line):
        if "ENTER" in line:
            self.link.psm_state(True)
        elif "EXIT" in line:
            self.link.psm_state(False)

    # ---- procedures ----
    def rat(self, rat):
        yield from ok("AT+CNMP=38")                     # LTE only (2 = auto would allow GSM)
        yield from ok("AT+CMNB=%d" % _CMNB[rat])        # 1 Cat-M, 2 NB-IoT, 3 both

    def psm_extra(self):
        yield Cmd("AT+CPSMSTATUS=1")    # ENTER/EXIT PSM URCs; tolerated if refused

    def pdp_active(self):
        link = self.link
        c = yield Cmd("AT+CNACT?", "+CNACT:")
        check(c)
        for ln in c.lines:
            f = fields(ln, 7)
            if f[0] == "0" and len(f) > 2:
                link.pdp = f[1] == "1"
                if link.pdp:
                    link.ip = f[2]
        return link.pdp

    def activate(self):
        link = self.link
        link.pdp = False
        c = yield Cmd("AT+CNACT=0,1")
        if c.result == "timeout":
            check(c)
        if c.ok:                        # then +APP PDP: 0,ACTIVE [MODEM.md 4]
            for _ in range(60):
                if link.pdp:
                    break
                yield 1000
        # ERROR when already active (MODEM.md 4, seen in a log): ask instead of failing
        if not (yield from self.pdp_active()):
            raise LinkError("modem: the PDP context did not come up (AT+CNACT=0,1: %s): "
                            "check the APN" % c.result)

    def open(self, s):
        if s.used:
            yield Cmd("AT+CACLOSE=%d" % s.id)   # ERROR if already closed: fine
        s.used = True
        s.result = None
        host, port = s.addr
        c = yield Cmd('AT+CAOPEN=%d,0,"UDP","%s",%d' % (s.id, host, port), "+CAOPEN:")
        check(c, "opening a socket")
        ln = c.line()
        if ln is not None:
            s.result = to_int(fields(ln, 8)[1], -1)
        for _ in range(90):             # ASYNCOPEN: the result comes after OK (90 s, 9.4)
            if s.result is not None:
                break
            yield 1000
        if s.result != 0:
            if s.result == 21:          # network not active
                self.link.pdp_lost()
            raise LinkError("modem: socket to %s:%d not opened (+CAOPEN result %s)"
                            % (host, port, s.result), "socket")
        s.open = True

    def send(self, s, data, rai):
        if rai:                         # 1 or 2, one time: "before the last packet" (3.4)
            yield Cmd("AT+CRAI=%d,0" % rai)
        c = yield Cmd("AT+CASEND=%d,%d" % (s.id, len(data)), "+CASEND:", None, data)
        if c.result == "timeout":
            check(c)
        if not c.ok:
            s.open = False              # reopened before the next datagram
        return c.ok

    def sock_ok(self, s):
        """Socket s still open (after the MCU's deep sleep): +CASTATE? lists <cid>,1."""
        c = yield Cmd("AT+CASTATE?", "+CASTATE:")
        check(c)
        for ln in c.lines:
            f = fields(ln, 10)
            if to_int(f[0], -1) == s.id and len(f) > 1 and f[1] == "1":
                return True
        return False

    def read(self, s):
        c = Cmd("AT+CARECV=%d,1460" % s.id, "+CARECV:")
        c.raw = "+CARECV: "
        c.rawline = True
        return received((yield c), s)
