"""SIMCom SIM7080G: +CNACT PDP contexts and "CA" UDP sockets (MODEM.md 4), +CNMP/+CMNB RAT
choice, +CRAI release assistance, +CPSMRDP/+CPSMSTATUS (MODEM.md 3)."""
from . import timers
from .at import DONE, AtError, Modem, arg_int, resolve

MAX_CA = 1460


class Sim7080(Modem):
    MANUFACTURER = "SIMCOM INCORPORATED"
    MODEL = "SIMCOM_SIM7080"            # AT+CGMM (MODEM.md 2)
    REVISION = "1951B16SIM7080"
    BANNER = ("RDY", "+CFUN: 1", "+CPIN: READY", "SMS Ready")    # fixed baud (MODEM.md 7)
    CEREG_MODES = (0, 1, 2, 4)          # AT+CEREG=? -> (0-2,4) (MODEM.md 2.1)
    CMEE_DEFAULT = 0                    # the 27.007 default; SIMCom's own is unconfirmed
    CI = "195071B"                      # not zero-padded on SIM7080 (MODEM.md 2.1)
    PWRKEY_OFF_MS = 1200
    POWER_DOWN_URC = "NORMAL POWER DOWN"
    CFUN_VALUES = (0, 1, 4, 5, 6, 7)

    def reset_model(self):
        # +CNMP / +CMNB are kept over a reset (saved in NV; our choice).
        self.cnmp = getattr(self, "cnmp", 2)
        self.cmnb = getattr(self, "cmnb", 3)
        self.async_open = False
        self.casrip = False
        self.cpsmstatus = False
        self.crai = (0, 0)

    def act(self):
        # CMNB 3 (Cat-M and NB-IoT): we camp on Cat-M.
        return 9 if self.cmnb == 2 else 7

    def rat_ok(self):
        return self.cnmp != 13              # GSM only: no LTE cell to register on here

    # ----- RAT ------------------------------------------------------------------------------
    def _rat(self, kind, args, name, values):
        if kind == "read":
            return ["+%s: %d" % (name, getattr(self, name.lower()))]
        if kind == "test":
            return ["+%s: (%s)" % (name, ",".join(map(str, values)))]
        v = arg_int(args, 0, 0, 99)
        if v not in values:
            raise AtError()
        if v != getattr(self, name.lower()):
            setattr(self, name.lower(), v)
            if self.cfun == 1 and self.mode == "cmd":
                self.register()             # a new RAT: search again
        return None

    def at_CNMP(self, kind, args):
        return self._rat(kind, args, "CNMP", (2, 13, 38, 51))

    def at_CMNB(self, kind, args):
        return self._rat(kind, args, "CMNB", (1, 2, 3))

    def at_CBANDCFG(self, kind, args):
        if kind == "read":
            return ['+CBANDCFG: "CAT-M",1,2,3,4,5,8,12,13,18,19,20,26,28',
                    '+CBANDCFG: "NB-IOT",1,2,3,4,5,8,12,13,18,19,20,26,28']

    def at_CCID(self, kind, args):
        self.need_sim()
        return [self.iccid]                 # a bare line, as +CGSN and +CIMI

    def at_CPOWD(self, kind, args):
        mode = arg_int(args, 0, 0, 1, 1)
        self.power_off("NORMAL POWER DOWN" if mode else None)   # no OK (MODEM.md 7)
        return DONE

    def at_CSCLK(self, kind, args):
        if kind == "read":
            return ["+CSCLK: 0"]
        # Sleep mode needs DTR, which a pty has not: accepted, never entered.

    def radio_off(self, fun):
        self.pdp_gone(urc_after_ok=True)
        return ["+CPIN: NOT READY"] if fun == 0 else []     # before OK (MODEM.md 2)

    def radio_on(self, old):
        if old == 0:
            self.after_ok("+CPIN: READY")
        return []

    # ----- PDP -----------------------------------------------------------------------------
    def pdp_gone(self, urc_after_ok=False, castate=False):
        for idx in sorted(self.pdp):
            text = "+APP PDP: %d,DEACTIVE" % idx
            self.after_ok(text) if urc_after_ok else self.urc(text)
            for sock in [s for s in self.sockets.values() if s.ctx == idx]:
                self.close_socket(sock.key)
                if castate:
                    self.urc("+CASTATE: %d,0" % sock.key)
        self.pdp = {}

    def drop_pdp(self):
        """The network drops the context: `+APP PDP: <n>,DEACTIVE`, then `+CASTATE: <cid>,0`
        for each socket on it (the order is our choice)."""
        self.pdp_gone(castate=True)

    def at_CNCFG(self, kind, args):
        if kind == "read":
            return ['+CNCFG: %d,1,"%s","","",0' % (i, self.apn if i == 0 else "")
                    for i in range(4)]
        if kind == "set":
            idx = arg_int(args, 0, 0, 3)
            arg_int(args, 1, 0, 2, 1)
            if idx == 0 and len(args) > 2:
                self.apn = args[2]

    def at_CGNAPN(self, kind, args):
        if not self.registered():
            return ['+CGNAPN: 0,""']
        return ['+CGNAPN: 1,"%s"' % (self.apn or "simnet")]

    def at_CNACT(self, kind, args):
        if kind == "read":
            return ['+CNACT: %d,%d,"%s"' % (i, i in self.pdp, self.pdp.get(i, "0.0.0.0"))
                    for i in range(4)]
        if kind == "test":
            return ["+CNACT: (0-3),(0-2)"]
        if kind != "set":
            raise AtError()
        idx = arg_int(args, 0, 0, 3)
        action = arg_int(args, 1, 0, 2)
        if action == 0:
            if idx not in self.pdp:
                raise AtError()
            del self.pdp[idx]
            for sock in [s for s in self.sockets.values() if s.ctx == idx]:
                self.close_socket(sock.key)
            self.after_ok("+APP PDP: %d,DEACTIVE" % idx)
            return None
        if idx in self.pdp:
            raise AtError()     # already active -> ERROR (MODEM.md 4)
        if not self.on_air():
            raise AtError()     # not registered: our choice (the real one may wait, then fail)
        self.pdp[idx] = self.ip if idx == 0 else "10.94.36.%d" % (44 + idx)
        self.after_ok("+APP PDP: %d,ACTIVE" % idx)
        return None

    # ----- CA sockets ----------------------------------------------------------------------
    def at_CACID(self, kind, args):
        if kind == "set":
            arg_int(args, 0, 0, 12)

    def at_CASRIP(self, kind, args):
        if kind == "read":
            return ["+CASRIP: %d" % self.casrip]
        if kind == "set":
            self.casrip = bool(arg_int(args, 0, 0, 1))

    def at_CACFG(self, kind, args):
        if kind != "set" or not args[0]:
            return None
        if args[0].upper() == "ASYNCOPEN":
            self.async_open = bool(arg_int(args, 1, 0, 1))
        # other settings (REMOTEADDR, TIMEOUT, ...) are accepted and have no effect here

    def at_CAOPEN(self, kind, args):
        if kind == "test":
            return ['+CAOPEN: (0-12),(0-4),("TCP","UDP","NONIP"),64,(1-65535),(0,1)']
        if kind == "read":
            return ['+CAOPEN: %d,%d,"UDP","%s",%d' % (s.key, s.ctx, s.remote[0], s.remote[1])
                    for s in sorted(self.sockets.values(), key=lambda s: s.key)]
        if kind != "set":
            raise AtError()
        cid = arg_int(args, 0, 0, 12)
        pdp = arg_int(args, 1, 0, 4)
        if len(args) < 5:
            raise AtError()
        proto, host = args[2].upper(), args[3]
        port = arg_int(args, 4, 1, 65535)
        mode = arg_int(args, 5, 0, 1, 0)
        ip = resolve(host)
        if cid in self.sockets:
            result = 1          # socket error (our choice for "this cid is open")
        elif proto != "UDP":
            result = 7          # not supported: the simulator carries UDP only
        elif len(host) > 64:
            result = 4
        elif pdp not in self.pdp:
            result = 21         # network not active
        elif ip is None:
            result = 20         # cannot resolve host
        else:
            self.open_socket(cid, proto, (ip, port), pdp, mode)
            result = 0
        line = "+CAOPEN: %d,%d" % (cid, result)
        if self.async_open:     # OK first, then the result (MODEM.md 4)
            self.after_ok(line)
            return None
        return [line]

    def _sock(self, args):
        sock = self.sockets.get(arg_int(args, 0, 0, 12))
        if sock is None:
            raise AtError()
        return sock

    def at_CASEND(self, kind, args):
        if kind == "test":
            return ["+CASEND: (0-12),(1-1460),(100-10000)"]
        if kind != "set":
            raise AtError()
        sock = self._sock(args)
        if len(args) == 1:
            return ["+CASEND: %d" % MAX_CA]        # free TX buffer (MODEM.md 4)
        length = arg_int(args, 1, 1, MAX_CA)
        inputtime = arg_int(args, 2, 100, 10000, 5000)

        def done(payload):
            rai, valid = self.crai
            if valid == 0:
                self.crai = (0, 0)      # valid_time 0: the next uplink only (MODEM.md 3.4)
            if sock.key in self.sockets:
                self.uplink(sock, payload, sock.remote, rai)
            return [], "OK"
        return self.start_data(length, done, inputtime / 1000.0)

    def at_CRAI(self, kind, args):
        if kind == "read":
            return ["+CRAI: %d,%d" % self.crai]
        if kind == "test":
            return ["+CRAI: (0-2),(0,1)"]
        if kind == "set":
            # Accepted on any RAT; the mark only counts on NB-IoT (rai_ignored otherwise).
            self.crai = (arg_int(args, 0, 0, 2), arg_int(args, 1, 0, 1, 0))

    def recv_urc(self, sock):
        return "+CADATAIND: %d" % sock.key          # no length (MODEM.md 4)

    def _addr(self, addr):
        # remote IP unquoted, as MODEM.md writes it (unconfirmed)
        return "%s,%d," % addr if self.casrip else ""

    def push(self, sock, data, addr):
        if sock.mode != 1:
            return False
        sock.total_read += len(data)
        extra = ",%s,%d" % addr if self.casrip else ""
        self.push_frame('+CAURC: "recv",%d,%d%s' % (sock.key, len(data), extra), data)
        return True

    def buffer_full(self, sock):
        self.urc('+CAURC: "buffer full"')

    def at_CARECV(self, kind, args):
        if kind == "read":
            return ["+CARECV: %d,%d" % (s.key, s.rx_bytes)
                    for s in sorted(self.sockets.values(), key=lambda s: s.key)]
        if kind == "test":
            return ["+CARECV: (0-12),(1-1460)"]
        if kind != "set":
            raise AtError()
        sock = self._sock(args)
        data, addr = self.take(sock, arg_int(args, 1, 1, MAX_CA))
        if not data:
            return ["+CARECV: 0"]
        # the data follows the comma on the same line (MODEM.md 4)
        return [("+CARECV: %s%d," % (self._addr(addr), len(data))).encode() + data]

    def at_CASTATE(self, kind, args):
        return ["+CASTATE: %d,1" % k for k in sorted(self.sockets)]

    def at_CAACK(self, kind, args):
        return ["+CAACK: %d,0" % self._sock(args).total_tx]

    def at_CACLOSE(self, kind, args):
        if kind != "set":
            raise AtError()
        self.close_socket(self._sock(args).key)

    # ----- power saving --------------------------------------------------------------------
    def at_CPSMRDP(self, kind, args):
        def secs(f, bits):
            v = f(bits) if bits else 0
            return v or 0
        nw_active = secs(timers.active_seconds, self.nw_active)
        nw_tau = secs(timers.tau_seconds, self.nw_tau)
        return ["+CPSMRDP: %d,%d,%d,%d,%d,3240" % (
            self.psm_mode, secs(timers.active_seconds, self.req_active),
            secs(timers.tau_seconds, self.req_tau), nw_active, nw_tau)]

    def at_CPSMSTATUS(self, kind, args):
        if kind == "read":
            return ["+CPSMSTATUS: %d" % self.cpsmstatus]
        if kind == "set":
            self.cpsmstatus = bool(arg_int(args, 0, 0, 1))

    def psm_enter_urcs(self):
        return ['+CPSMSTATUS: "ENTER PSM"'] if self.cpsmstatus else []

    def psm_exit_urcs(self):
        return ['+CPSMSTATUS: "EXIT PSM"'] if self.cpsmstatus else []
