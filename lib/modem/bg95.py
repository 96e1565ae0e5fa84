"""Quectel BG95/BG96/BG77 dialect: RAT, PDP (+QIACT), UDP over QI sockets (MODEM.md 5, 3.4).

    AT+QICSGP=1,1,"<apn>","",""  OK;  AT+QIACT=1  OK   (+QIURC: "pdpdeact",1 when lost)
    AT+QIOPEN=1,<id>,"UDP","<host>",<port>,0,1  OK, then +QIOPEN: <id>,<err>   (direct push)
    AT+QISEND=<id>,<len>    ">"  <len raw octets>  SEND OK   (fixed length: binary-safe)
    +QIURC: "recv",<id>,<len> CR LF <len raw octets>     direct push: the datagram comes with
                            its URC, no read command (38 octets per datagram instead of 73)
    +QIURC: "recv",<id>     buffer mode (a modem that ignored access_mode 1): data waits, and
                            no new URC comes until read empty, so it is read until empty:
    AT+QIRD=<id>,1500       +QIRD: <len> CR LF <len raw octets> CR LF OK;  +QIRD: 0 OK
    RAI (NB-IoT, <= 512 octets): AT+QISENDEX=<id>,"<hex>",1   (a command line of up to 1043
                            characters: AT+QISENDEX documents 512 octets as hex, MODEM.md 3.4)
"""
import binascii

from modem.at import Cmd, LinkError, check, ok, received
from modem.fields import fields, listed, to_int


class Dialect:
    pwrkey_ms = 750     # BG95: 500-1000 ms low (Zephyr bg9x; MODEM.md 7)
    rai_max = 512       # AT+QISENDEX takes <= 512 octets (MODEM.md 3.4); longer: no RAI
    ICCID = ("AT+QCCID", "+QCCID:")     # unconfirmed in MODEM.md: tolerated

    def __init__(self, link):
        self.link = link
        self.deact = False

    # ---- URCs ----
    def urc(self, line):
        """A URC of this dialect: 0, or the octets of the datagram that follows it (direct
        push); None when the line is none of them. One method, not one per URC: each costs
        heap."""
        link = self.link
        if line.startswith("+QIURC:"):
            f = fields(line, 7)
            if len(f) < 2:
                return 0
            if f[0] == "pdpdeact":
                self.deact = True
                link.pdp_lost()
                return 0
            s = self.link.sock_by_id(f[1])
            if f[0] == "recv":
                if len(f) > 2:          # direct push: "recv",<id>,<len> CR LF <data>
                    link.rxsock = s
                    return max(to_int(f[2], 0), 0)
                if s is not None:
                    s.rx = True
            elif f[0] == "closed" and s is not None:
                s.open = False          # AT+QICLOSE still needed: done before reopening
        elif line.startswith("+QIOPEN:"):
            f = fields(line, 8)
            s = self.link.sock_by_id(f[0])
            if s is not None and len(f) > 1:
                s.result = to_int(f[1], -1)
                link.woken = True
        elif line.startswith("PSM POWER DOWN"):
            link.psm_state(True)
        elif not line.startswith(("+CPIN:", "+CFUN:", "+QPSMTIMER:")):
            # recognised only: +CPIN/+CFUN around CFUN changes; +QPSMTIMER exists per some
            # sources (unconfirmed), not needed
            return None
        return 0

    # ---- procedures ----
    def rat(self, rat):
        # AT+QCFG="iotopmode" 0 eMTC, 1 NB-IoT, 2 both; "nwscanseq" 02 eMTC, 03 NB-IoT. Not in
        # MODEM.md (Quectel's usual forms, unconfirmed): a refusal is tolerated. Tuples, not a
        # dict: a tuple constant stays in flash, a dict is built in RAM.
        m = ("ltem", "nbiot", "auto").index(rat)
        seq = ("02", "03", "0203")[m]
        yield Cmd('AT+QCFG="iotopmode",%d,1' % m)
        yield Cmd('AT+QCFG="nwscanseq",%s,1' % seq)

    def psm_extra(self):
        return
        yield

    def pdp_active(self):
        link = self.link
        c = yield Cmd("AT+QIACT?", "+QIACT:")
        check(c)
        link.pdp = False
        for ln in c.lines:
            f = fields(ln, 7)
            if f[0] == "1" and len(f) > 3 and f[1] == "1":
                link.pdp = True
                link.ip = f[3]
        return link.pdp

    def activate(self):
        link = self.link
        for s in link.socks:            # after "pdpdeact": close all sockets, QIDEACT, QIACT
            if s.used:
                yield Cmd("AT+QICLOSE=%d" % s.id)
                s.used = s.open = False
        if self.deact:
            yield Cmd("AT+QIDEACT=1")
            self.deact = False
        yield from ok('AT+QICSGP=1,1,"%s","",""' % link.apn, None, "setting the APN")
        c = yield Cmd("AT+QIACT=1")
        if c.result == "timeout":
            check(c)
        # ERROR when already active: ask instead of failing
        if not (yield from self.pdp_active()):
            raise LinkError("modem: the PDP context did not come up (AT+QIACT=1: %s): "
                            "check the APN" % c.result)

    def open(self, s):
        if s.used:
            yield Cmd("AT+QICLOSE=%d" % s.id)
        s.used = True
        s.result = None
        host, port = s.addr
        # access_mode 1, direct push: the datagram comes with its URC (MODEM.md 5)
        c = yield Cmd('AT+QIOPEN=1,%d,"UDP","%s",%d,0,1' % (s.id, host, port), "+QIOPEN:")
        check(c, "opening a socket")
        ln = c.line()
        if ln is not None:
            s.result = to_int(fields(ln, 8)[1], -1)
        for _ in range(150):            # +QIOPEN URC within 150 s (MODEM.md 9.4)
            if s.result is not None:
                break
            yield 1000
        if s.result != 0:
            if s.result is None:
                yield Cmd("AT+QICLOSE=%d" % s.id)
            raise LinkError("modem: socket to %s:%d not opened (+QIOPEN error %s)"
                            % (host, port, s.result), "socket")
        s.open = True

    def send(self, s, data, rai):
        # hex form with RAI 1 (no further UL/DL) or 2 (one DL): <= rai_max octets (the link
        # marks nothing longer, MODEM.md 3.4). Not 256 for SIMCom's 559-character line (MODEM.md
        # 1): that left every MSGin5G MSG (a sensor reading's is 281 octets) without RAI on a
        # BG95. The long line goes out in chunks (modem.at), the hex costs 2 UART octets per
        # octet: a few ms at 115200 baud against seconds of radio kept up without RAI.
        if rai:
            c = yield Cmd('AT+QISENDEX=%d,"%s",%d' % (s.id, binascii.hexlify(data).decode(), rai))
        else:
            c = yield Cmd("AT+QISEND=%d,%d" % (s.id, len(data)), None, None, data)
        if c.result == "timeout":
            check(c)
        if c.result == "ERROR" or c.result == "CME":
            s.open = False
        return c.ok

    def sock_ok(self, s):
        """Socket s still open (after the MCU's deep sleep): +QISTATE state 2 (connected)."""
        c = yield Cmd("AT+QISTATE=1,%d" % s.id, "+QISTATE:")
        return listed(check(c).lines, s.id, 5, "2")

    def read(self, s):
        c = Cmd("AT+QIRD=%d,1500" % s.id, "+QIRD:")
        c.raw = "+QIRD: "
        return received((yield c), s)
