"""SIMCom SIM7080G dialect: RAT, PDP (+CNACT), UDP over CA sockets (MODEM.md 2, 4, 3.4).

    AT+CNACT=0,1            OK, then +APP PDP: 0,ACTIVE   (+APP PDP: 0,DEACTIVE when lost)
    AT+CAOPEN=<cid>,0,"UDP","<host>",<port>,1   +CAOPEN: <cid>,<result> OK (or OK first, then
                                                the +CAOPEN line with ASYNCOPEN: both taken)
    AT+CASEND=<cid>,<len>   "> "  <len raw octets>  OK   (no Ctrl-Z: binary-safe)
    +CAURC: "recv",<cid>,<len> CR LF <len raw octets>    recv_mode 1: the datagram comes with
                            its URC, no read command (33 octets per datagram instead of 68)
    +CADATAIND: <cid>       recv_mode 0 (a firmware that refuses mode 1: TinyGSM saw one,
                            MODEM.md 4): data waits, no length, so it is read until empty:
    AT+CARECV=<cid>,1460    +CARECV: <len>,<len raw octets on the same line> OK; +CARECV: 0
"""
from modem.at import Cmd, LinkError, check, ok, received
from modem.fields import fields, listed, to_int


class Dialect:
    pwrkey_ms = 1500    # Zephyr's SIM7080 pulse; SIM7070 HW: 1-12.6 s (MODEM.md 7)
    rai_max = 1460      # AT+CRAI before any CASEND (MODEM.md 3.4)
    ICCID = ("AT+CCID", "")     # bare ICCID line (not in MODEM.md: unconfirmed, tolerated)

    push = True         # open sockets in recv_mode 1 (False once the modem refused it)

    def __init__(self, link):
        self.link = link

    # ---- URCs ----
    def urc(self, line):
        """A URC of this dialect: 0, or the octets of the datagram that follows it (recv_mode
        1); None when the line is none of them. One method, not one per URC: each costs heap."""
        link = self.link
        if line.startswith("+CAURC:"):
            f = fields(line, 7)
            if f[0] == "recv" and len(f) > 2:   # "recv",<cid>,<len>[,<ip>,<port>] CR LF data
                link.rxsock = self.link.sock_by_id(f[1])
                return max(to_int(f[2], 0), 0)
            return 0                    # "buffer full": +CADATAIND comes again when read
        if line.startswith("+CADATAIND:"):
            s = self.link.sock_by_id(fields(line, 12)[0])
            if s is not None:
                s.rx = True
        elif line.startswith("+APP PDP:"):
            f = fields(line, 9)
            if f[0] == "0" and len(f) > 1:
                if f[1] == "ACTIVE":
                    link.pdp = link.woken = True
                elif f[1] == "DEACTIVE":
                    link.pdp_lost()
        elif line.startswith("+CASTATE:"):
            f = fields(line, 10)
            s = self.link.sock_by_id(f[0])
            if s is not None and len(f) > 1 and f[1] == "0":
                s.open = False          # closed by the network: reopened on the next send
        elif line.startswith("+CAOPEN:"):
            f = fields(line, 8)
            s = self.link.sock_by_id(f[0])
            if s is not None and len(f) > 1:
                s.result = to_int(f[1], -1)
                link.woken = True
        elif line.startswith("+CPSMSTATUS:"):
            if "ENTER" in line:
                link.psm_state(True)
            elif "EXIT" in line:
                link.psm_state(False)
        elif not line.startswith(("+CASEND:", "+CPIN:", "+CFUN:")):
            # recognised only: the +CASEND <cid>,<result>,<sendlen> variant (MODEM.md 4);
            # +CPIN NOT READY / READY and +CFUN around CFUN changes (MODEM.md 9.5)
            return None
        return 0

    # ---- procedures ----
    def rat(self, rat):
        yield from ok("AT+CNMP=38")                     # LTE only (2 = auto would allow GSM)
        # 1 Cat-M, 2 NB-IoT, 3 both (a tuple constant stays in flash; a dict is built in RAM)
        yield from ok("AT+CMNB=%d" % (1 + ("ltem", "nbiot", "auto").index(rat)))

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
        host, port = s.addr
        while True:
            s.result = None
            push = self.push
            c = yield Cmd('AT+CAOPEN=%d,0,"UDP","%s",%d%s' % (s.id, host, port,
                                                             ",1" if push else ""), "+CAOPEN:")
            if c.ok:
                ln = c.line()
                if ln is not None:
                    s.result = to_int(fields(ln, 8)[1], -1)
                for _ in range(90):     # ASYNCOPEN: the result comes after OK (90 s, 9.4)
                    if s.result is not None:
                        break
                    yield 1000
            # recv_mode refused (ERROR, or result 4 parameter invalid / 7 not supported): a
            # firmware without it (TinyGSM saw one, MODEM.md 4): mode 0 from now on
            if not push or c.result == "timeout" or c.ok and s.result not in (4, 7):
                break
            self.push = False
        check(c, "opening a socket")
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
        return listed(check(c).lines, s.id, 1, "1")

    def read(self, s):
        c = Cmd("AT+CARECV=%d,1460" % s.id, "+CARECV:")
        c.raw = "+CARECV: "
        c.rawline = True
        return received((yield c), s)
