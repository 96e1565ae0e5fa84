"""Quectel BG95 / BG96 / BG77: +QIACT contexts and QI UDP sockets (MODEM.md 5), RAT choice
with AT+QCFG="iotopmode" / "nwscanmode", RAI through +QISENDEX (MODEM.md 3.4)."""
import binascii

from .at import DONE, AtError, Modem, Raw, arg_int, resolve

MAX_QI = 1460
MAX_READ = 1500
MAX_HEX = 512


class Bg95(Modem):
    MANUFACTURER = "Quectel"
    MODEL = "BG95-M3"
    REVISION = "BG95M3LAR02A03"
    # MODEM.md 7 names RDY and APP RDY; the +CFUN/+CPIN lines between them are what BG9x
    # firmware prints as far as we know (unconfirmed): a driver must let any URC pass.
    BANNER = ("RDY", "+CFUN: 1", "+CPIN: READY", "APP RDY")
    CMEE_DEFAULT = 1        # Quectel's factory default as we know it (unconfirmed)
    CI = "0012BEEF"
    PWRKEY_OFF_MS = 650     # 650-1500 ms turns a BG95 off (MODEM.md 7)
    POWER_DOWN_URC = "POWERED DOWN"
    # Quectel's command line buffer is not in MODEM.md; AT+QISENDEX takes 512 octets as hex
    # (MODEM.md 3.4), so at least AT+QISENDEX=11,"<1024 hex digits>",2: 1043 characters
    # (derived; SIMCom's 559 would refuse the command with most of its documented range).
    MAX_LINE = 1043

    def reset_model(self):
        # AT+QCFG settings and the QICSGP context stay over a reset (NV; our choice).
        self.qcfg = getattr(self, "qcfg", {"iotopmode": "0", "nwscanmode": "0",
                                           "nwscanseq": "020301"})
        self.ctx_apn = getattr(self, "ctx_apn", {1: ""})
        self.qi_err = 0

    def act(self):
        return 9 if self.qcfg["iotopmode"] == "1" else 7   # 2 (both): we camp on eMTC

    def rat_ok(self):
        return self.qcfg["nwscanmode"] != "1"               # GSM only: not simulated

    # ----- settings --------------------------------------------------------------------------
    def at_QCFG(self, kind, args):
        # AT+QCFG="<name>"[,<value>[,<effect>]] (syntax from Quectel's manuals as we know them:
        # unconfirmed in MODEM.md). iotopmode 0 eMTC, 1 NB-IoT, 2 both; nwscanmode 0 auto,
        # 1 GSM, 3 LTE. Other names are kept and read back, with no effect.
        if kind == "test":
            return ['+QCFG: "iotopmode",(0-2),(0,1)', '+QCFG: "nwscanmode",(0,1,3),(0,1)']
        if kind != "set" or not args[0]:
            raise AtError()
        name = args[0].lower()
        if len(args) == 1:
            if name not in self.qcfg:
                raise AtError()
            return ['+QCFG: "%s",%s' % (name, self.qcfg[name])]
        value = args[1]
        if name == "iotopmode" and value not in ("0", "1", "2") or \
                name == "nwscanmode" and value not in ("0", "1", "3"):
            raise AtError()
        old, self.qcfg[name] = self.qcfg.get(name), value
        if name in ("iotopmode", "nwscanmode") and old != value and self.cfun == 1:
            self.register()         # a new RAT: search again
        return None

    def at_QCCID(self, kind, args):
        if kind == "test":
            return []
        self.need_sim()
        return ["+QCCID: " + self.iccid]

    def at_CCID(self, kind, args):
        self.need_sim()
        return ["+CCID: " + self.iccid]     # BG9x answers AT+CCID too (unconfirmed)

    def at_QPOWD(self, kind, args):
        self._final([], "OK")               # OK, then POWERED DOWN (MODEM.md 7)
        self.power_off(self.POWER_DOWN_URC if arg_int(args, 0, 0, 1, 1) else None)
        return DONE

    def at_QSCLK(self, kind, args):
        if kind == "read":
            return ["+QSCLK: 0"]
        # sleep mode needs DTR / WAKEUP_IN, which a pty has not: accepted, never entered

    def at_QIGETERROR(self, kind, args):
        text = "operation successful" if self.qi_err == 0 else \
            {552: "invalid parameters", 561: "open PDP context failed",
             563: "socket identity has been used", 565: "DNS parse failed"}.get(
                self.qi_err, "unknown error")
        return ["+QIGETERROR: %d,%s" % (self.qi_err, text)]

    def psm_enter_urcs(self):
        return ["PSM POWER DOWN"]           # MODEM.md 3.2; on waking: nothing (unconfirmed)

    # ----- PDP ---------------------------------------------------------------------------------
    def radio_off(self, fun):
        for ctx in sorted(self.pdp):
            self.after_ok('+QIURC: "pdpdeact",%d' % ctx)
        self._break(self.pdp)
        return []

    def _break(self, ctxs):
        for sock in self.sockets.values():
            if sock.ctx in ctxs:
                sock.broken = True
        self.pdp = {c: ip for c, ip in self.pdp.items() if c not in ctxs}

    def drop_pdp(self):
        """`+QIURC: "pdpdeact",<ctx>`; the sockets on it stay allocated but dead until the
        host closes them (MODEM.md 5)."""
        ctxs = sorted(self.pdp)
        for ctx in ctxs:
            self.urc('+QIURC: "pdpdeact",%d' % ctx)
        self._break(ctxs)

    def at_QICSGP(self, kind, args):
        if kind == "test":
            return ['+QICSGP: (1-16),(1-3),"APN","USERNAME","PASSWORD",(0-3)']
        if kind != "set":
            raise AtError()
        ctx = arg_int(args, 0, 1, 16)
        if len(args) == 1:
            return ['+QICSGP: 1,"%s","","",0' % self.ctx_apn.get(ctx, "")]
        arg_int(args, 1, 1, 3)
        self.ctx_apn[ctx] = args[2] if len(args) > 2 else ""
        return None

    def at_QIACT(self, kind, args):
        if kind == "read":
            return ['+QIACT: %d,1,1,"%s"' % (c, ip) for c, ip in sorted(self.pdp.items())]
        if kind == "test":
            return ["+QIACT: (1-16)"]
        if kind != "set":
            raise AtError()
        ctx = arg_int(args, 0, 1, 16)
        if ctx in self.pdp or not self.on_air():
            # already active, or not registered: ERROR (our choice). After a "pdpdeact" the
            # host may activate again without AT+QIDEACT first (tolerant; unconfirmed).
            raise AtError()
        self.pdp[ctx] = self.ip if ctx == 1 else "10.94.37.%d" % ctx
        return None

    def at_QIDEACT(self, kind, args):
        if kind == "test":
            return ["+QIDEACT: (1-16)"]
        ctx = arg_int(args, 0, 1, 16)
        for sock in [s for s in self.sockets.values() if s.ctx == ctx]:
            self.close_socket(sock.key)
        self.pdp.pop(ctx, None)

    # ----- QI sockets --------------------------------------------------------------------------
    def at_QIOPEN(self, kind, args):
        if kind == "test":
            return ['+QIOPEN: (1-16),(0-11),"TCP/UDP/TCP LISTENER/UDP SERVICE",'
                    '"<IP_address>/<domain_name>",<remote_port>,<local_port>,(0-2)']
        if kind != "set" or len(args) < 5:
            raise AtError()
        ctx = arg_int(args, 0, 1, 16)
        cid = arg_int(args, 1, 0, 11)
        proto, host = args[2].upper(), args[3]
        port = arg_int(args, 4, 0, 65535)
        local = arg_int(args, 5, 0, 65535, 0)
        mode = arg_int(args, 6, 0, 2, 0)
        ip = resolve(host)
        service = proto == "UDP SERVICE"
        if cid in self.sockets:
            err = 563
        elif proto not in ("UDP", "UDP SERVICE") or mode == 2:
            err = 552       # TCP and transparent mode are not simulated
        elif ctx not in self.pdp:
            err = 561
        elif ip is None and not service:
            err = 565
        elif not service and port == 0:
            err = 552
        else:
            sock = self.open_socket(cid, proto, None if service else (ip, port), ctx, mode)
            sock.local_port = local
            err = 0
        self.qi_err = err
        self.after_ok("+QIOPEN: %d,%d" % (cid, err))    # OK first, then the result (MODEM.md 5)
        return None

    def _sock(self, args, live=True):
        sock = self.sockets.get(arg_int(args, 0, 0, 11))
        if sock is None or (live and sock.broken):
            raise AtError()
        return sock

    def at_QICLOSE(self, kind, args):
        if kind == "test":
            return ["+QICLOSE: (0-11),(0-65535)"]
        arg_int(args, 0, 0, 11)
        self.close_socket(int(args[0]))     # OK also when it was not open (our choice)

    def at_QISEND(self, kind, args):
        if kind != "set":
            raise AtError()
        sock = self._sock(args)
        service = sock.remote is None
        if len(args) >= 2 and args[1] == "0" and len(args) == 2:
            # the counters form; UDP has no acks: acked and unacked are 0 (our choice)
            return ["+QISEND: %d,0,0" % sock.total_tx]
        rai = 0
        if service:         # AT+QISEND=<id>,<len>,"<ip>",<port>
            if len(args) < 4:
                raise AtError()
            ip = resolve(args[2])
            if ip is None:
                raise AtError()
            addr = (ip, arg_int(args, 3, 1, 65535))
        else:
            addr = sock.remote
            # a third number as RAI: unconfirmed (MODEM.md 3.4); accepted
            rai = arg_int(args, 2, 0, 2, 0)
        length = arg_int(args, 1, 1, MAX_QI) if len(args) > 1 else None

        def done(payload):
            if sock.key not in self.sockets or sock.broken:
                return [], "SEND FAIL"
            self.uplink(sock, payload, addr, rai)
            return [], "SEND OK"        # queued, not delivered (MODEM.md 5)
        # No length: data up to Ctrl-Z (not binary-safe). A Quectel input time is not
        # documented: we give up after input_timeout with ERROR.
        return self.start_data(length, done, self.input_timeout)

    def at_QISENDEX(self, kind, args):
        if kind != "set" or len(args) < 2:
            raise AtError()
        sock = self._sock(args)
        if sock.remote is None:
            raise AtError()                 # not for UDP SERVICE (MODEM.md 3.4)
        try:
            data = binascii.unhexlify(args[1])
        except (binascii.Error, ValueError):
            raise AtError()
        if not data or len(data) > MAX_HEX:
            raise AtError()
        self.uplink(sock, data, sock.remote, arg_int(args, 2, 0, 2, 0))
        self.counters["uart_rx_payload"] += len(data)   # in hex: two UART octets per octet
        return ["SEND OK"]

    def recv_urc(self, sock):
        return '+QIURC: "recv",%d' % sock.key

    def _addr(self, sock, addr):
        return ',"%s",%d' % addr if sock.remote is None else ""

    def push(self, sock, data, addr):
        if sock.mode != 1:
            return False
        sock.total_read += len(data)
        self.push_frame('+QIURC: "recv",%d,%d%s' % (sock.key, len(data), self._addr(sock, addr)),
                        data)
        return True

    def at_QIRD(self, kind, args):
        if kind != "set":
            raise AtError()
        sock = self._sock(args, live=False)     # what came before a pdpdeact can be read
        length = arg_int(args, 1, 0, MAX_READ, MAX_READ)
        if length == 0:
            return ["+QIRD: %d,%d,%d" % (sock.total_rx, sock.total_read, sock.rx_bytes)]
        data, addr = self.take(sock, length)
        if not data:
            return ["+QIRD: 0"]
        # +QIRD: <len><CR><LF><data><CR><LF> then OK (MODEM.md 5)
        return ["+QIRD: %d%s" % (len(data), self._addr(sock, addr)), Raw(data + b"\r\n")]

    def at_QISTATE(self, kind, args):
        socks = sorted(self.sockets.values(), key=lambda s: s.key)
        if kind == "set":
            which = arg_int(args, 0, 0, 1)
            n = arg_int(args, 1, 0, 16)
            socks = [s for s in socks if (s.key if which else s.ctx) == n]
        return ['+QISTATE: %d,"%s","%s",%d,%d,%d,%d,0,%d,"uart1"' % (
            s.key, s.proto, s.remote[0] if s.remote else "127.0.0.1",
            s.remote[1] if s.remote else 0, s.local_port, 4 if s.broken else 2, s.ctx, s.mode)
            for s in socks]
