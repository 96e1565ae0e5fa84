"""The part of a simulated modem both AT dialects share: UART framing, echo, errors, the
TS 27.007 bring-up commands, registration, PSM/eDRX and the radio connection.

A `Modem` is a plain object fed with bytes (`feed`), asked for what it wrote (`read`) and
driven by a clock (`poll` runs what is due, `next_deadline` says when): no pty, no socket.
Datagrams leave through `net.send(key, data, (host, port))` and arrive through
`deliver(key, data, (host, port))`; `tools/host/modemsim/bridge.py` puts real I/O around it.
Facts come from ../shared/spec/MODEM.md (section numbers below); where it is silent a
comment says what we chose.
"""
import time

from . import timers

MAX_LINE = 559          # SIMCom's command line buffer (MODEM.md 1); longer lines get ERROR
MAX_DATAGRAM = 1460     # per CASEND / QISEND (MODEM.md 4, 5)

# TS 27.007 9.2 codes with their +CMEE=2 texts (MODEM.md 9.3); Quectel's 5xx (MODEM.md 5).
CME_TEXT = {
    0: "phone failure", 3: "operation not allowed", 4: "operation not supported",
    10: "SIM not inserted", 11: "SIM PIN required", 12: "SIM PUK required", 13: "SIM failure",
    14: "SIM busy", 15: "SIM wrong", 16: "incorrect password", 30: "no network service",
    31: "network timeout", 32: "network not allowed - emergency calls only",
    50: "incorrect parameters", 100: "unknown",
    550: "unknown error", 552: "invalid parameters", 561: "open PDP context failed",
    563: "socket identity has been used", 567: "socket has been closed",
    568: "operation busy", 569: "operation timeout", 570: "PDP context broken down",
}

COUNTERS = (
    "ul_datagrams", "ul_octets", "dl_datagrams", "dl_octets",   # on air, each way
    "ul_dropped", "dl_dropped",            # not on air (gap, PSM, not registered, buffer full)
    "uart_rx_octets", "uart_tx_octets",    # everything on the UART: host->modem, modem->host
    "uart_rx_payload", "uart_tx_payload",  # of which datagram payload (hex: 2 per octet)
    "uart_ignored",                        # octets the modem did not hear (PSM, powered off)
    "rai_marks", "rai_ignored",            # uplinks marked with RAI (ignored: not on NB-IoT)
    "psm_requested", "psm_granted", "edrx_requested", "edrx_granted",
    "psm_entries", "psm_wakes", "resets", "connected_ms",   # connected_ms: RRC connected time
    "ppp_octets",                          # host octets swallowed in PPP data mode
)

KNOBS = {   # name: default; set at construction or later with Modem.set(**knobs)
    "reg_delay": 1.0,       # s from searching (+CEREG: 2) to registered
    "roaming": False,       # registered as 5 instead of 1
    "deny": False,          # registration denied (+CEREG: 3)
    "sim": "ready",         # "ready", "missing" or "pin"
    "pin": "1234",
    "interleave": None,     # a URC put between every info line and its final result
    "rsrp": -95,            # dBm; +CSQ/+CESQ derive from it
    "rsrq": 20,             # +CESQ index 0..34
    "rrc_inactivity": 10.0,  # s without traffic before the network releases the RRC connection
    "async_delay": 0.0,     # s between OK and a result URC that follows it (+QIOPEN, +APP PDP)
    "grant_psm": True,      # True: as requested; False: refused; ("tau", "active"): these
    "grant_edrx": True,     # True: as requested; False: refused; "0101": this value
    "rx_buffer": 8192,      # octets a socket holds before datagrams are dropped
    "input_timeout": 5.0,   # s to wait for a Quectel payload (SIMCom: the CASEND inputtime)
    "imei": "869951040000017", "imsi": "001010123456789", "iccid": "89882390000012345678",
    "ip": "10.94.36.44",    # address the network gives the PDP context
    "psm_before": None,     # "AT+CNACT": PSM (as if T3324 ran out) just before the modem hears
    #                         the first command starting with this text, which goes unheard
    #                         (once; a registered modem with PSM granted); tests a host that
    #                         is slower than the Active-Time
}


class AtError(Exception):
    """A command failed: code None -> `ERROR`, an int -> `+CME ERROR:` as +CMEE says."""

    def __init__(self, code=None):
        Exception.__init__(self, code)
        self.code = code


class Raw(bytes):
    """Response bytes written as they are (payload after +QIRD), not as a <CR><LF> line."""


PROMPT = object()       # a handler's answer: the `> ` prompt goes out, payload octets follow
DONE = object()         # a handler's answer: it wrote its final result itself


class Socket:
    def __init__(self, key, proto, remote, ctx, mode=0):
        self.key, self.proto, self.remote, self.ctx, self.mode = key, proto, remote, ctx, mode
        self.rx = []            # [(data, (host, port))], datagram boundaries kept
        self.rx_bytes = 0
        self.total_rx = self.total_read = self.total_tx = 0
        self.local_port = 0
        self.broken = False     # PDP lost under it (Quectel keeps the id until QICLOSE)


class LoopNet:
    """The network for tests without sockets: uplinks are recorded in `sent`."""

    def __init__(self):
        self.sent = []
        self.open_keys = set()

    def open(self, key):
        self.open_keys.add(key)

    def send(self, key, data, addr):
        self.sent.append((key, bytes(data), addr))

    def close(self, key):
        self.open_keys.discard(key)


def split_commands(body):
    """'E0', '+CMEE=2;+CEREG=2', '+IPR=115200;&W' -> command strings (V.250 5.4)."""
    out, i, n = [], 0, len(body)
    while i < n:
        c = body[i]
        if c in " ;":
            i += 1
            continue
        j = i + 1
        if c in "+$%":
            quoted = False
            while j < n and (quoted or body[j] != ";"):
                quoted ^= body[j] == '"'
                j += 1
        elif c in "Dd":         # D takes the rest of the line: its dial string (V.250 6.3.1)
            j = n
        elif c == "&" or c.isalpha():
            j += c == "&"
            while j < n and body[j].isdigit():
                j += 1
        else:
            raise AtError()
        out.append(body[i:j].strip())
        i = j
    return out


def split_args(s):
    """'1,"IP","a,b"' -> ['1', 'IP', 'a,b'] (quotes removed, empty fields kept as '')."""
    out, cur, quoted = [], [], False
    for c in s:
        if c == '"':
            quoted = not quoted
        elif c == "," and not quoted:
            out.append("".join(cur).strip())
            cur = []
        else:
            cur.append(c)
    out.append("".join(cur).strip())
    return out


def arg_int(args, i, lo, hi, default=None):
    """args[i] as an int in lo..hi; a missing or empty one is `default` (None: ERROR)."""
    if i >= len(args) or args[i] == "":
        if default is None:
            raise AtError()
        return default
    try:
        v = int(args[i])
    except ValueError:
        raise AtError()
    if not lo <= v <= hi:
        raise AtError()
    return v


def resolve(host):
    """A dotted IPv4 address as it is, 'localhost' as 127.0.0.1, anything else None (the
    simulator has no DNS: tests and `make sim` use addresses)."""
    if host.lower() == "localhost":
        return "127.0.0.1"
    parts = host.split(".")
    if len(parts) == 4 and all(p.isdigit() and int(p) < 256 for p in parts):
        return host
    return None


class Modem:
    """What both dialects share. Subclasses set the class constants and add their commands
    as `at_NAME(kind, args)` methods: kind is 'exec', 'read' ('?'), 'test' ('=?') or 'set'."""
    MANUFACTURER = MODEL = REVISION = ""
    BANNER = ()             # start-up URCs (MODEM.md 7)
    CEREG_MODES = (0, 1, 2, 3, 4, 5)
    CMEE_DEFAULT = 0
    CI = "0012BEEF"         # +CEREG cell id as this model prints it
    TAC = "5B57"
    PWRKEY_OFF_MS = 1200    # a press this long turns a running modem off (MODEM.md 7)
    OPERATOR = "SIM OP"
    MAX_LINE = MAX_LINE     # characters of a command line; longer lines get ERROR

    def __init__(self, net=None, clock=time.monotonic, **knobs):
        self.net = net or LoopNet()
        self.clock = clock
        for k, v in KNOBS.items():
            setattr(self, k, v)
        self.set(**knobs)
        self.counters = dict.fromkeys(COUNTERS, 0)
        self._out = bytearray()
        self._timers = []           # [due, seq, tag, fn]
        self._seq = 0
        self._between = []          # one-shot URCs for the next info response
        self.psm_mode, self.req_tau, self.req_active = 0, "00100001", "00000101"
        self.nw_tau = self.nw_active = None
        self.edrx = {}              # AcT-type (4, 5) -> requested value
        self.edrx_mode = 0
        self.edrx_nw = None         # (act, value) granted
        self.rrc = False
        self._pwrkey_low_at = None
        self.mode = "off"
        self.boot()

    # ----- knobs, time ---------------------------------------------------------------------
    def set(self, **knobs):
        for k, v in knobs.items():
            if k not in KNOBS:
                raise TypeError("unknown modem knob %r (knobs: %s)" % (k, ", ".join(KNOBS)))
            setattr(self, k, v)

    def after(self, delay, fn, tag=None):
        self._seq += 1
        self._timers.append([self.clock() + delay, self._seq, tag, fn])
        self._timers.sort()

    def cancel(self, tag):
        self._timers = [t for t in self._timers if t[2] != tag]

    def next_deadline(self):
        return self._timers[0][0] if self._timers else None

    def poll(self):
        """Run the timers that are due (bounded: a timer may add timers)."""
        for _ in range(1000):
            if not self._timers or self._timers[0][0] > self.clock():
                return
            self._timers.pop(0)[3]()

    # ----- UART ------------------------------------------------------------------------------
    def read(self):
        """What the modem wrote since the last call."""
        out = bytes(self._out)
        self._out.clear()
        return out

    def _emit(self, b):
        self._out += b
        self.counters["uart_tx_octets"] += len(b)

    def _line(self, text):
        if isinstance(text, Raw):
            self._emit(text)
            return
        line = text if isinstance(text, bytes) else text.encode("latin-1")
        self._emit(b"\r\n" + line + b"\r\n")

    def urc(self, text):
        """An unsolicited result code, now (nothing while the modem sleeps or is off). One
        that a command causes (a +CEREG change, +APP PDP) follows the command's final result."""
        if self._executing:
            self._post.append(text)
        elif self.mode not in ("psm", "off"):
            self._line(text)

    def inject_between(self, text):
        """Put `text` between the next info line and its final result (once)."""
        self._between.append(text)

    def feed(self, data):
        """Bytes the host wrote to the UART."""
        self.counters["uart_rx_octets"] += len(data)
        i, n = 0, len(data)
        while i < n:
            if self.mode in ("psm", "off"):
                self.counters["uart_ignored"] += n - i
                return
            if self.mode == "data":
                take = min(self._need - len(self._data), n - i)
                self._data += data[i:i + take]
                i += take
                if len(self._data) == self._need:
                    self._data_done()
            elif self.mode == "ppp":
                self._feed_ppp(data[i:])
                return
            elif self.mode == "ctrlz":
                b = data[i]
                i += 1
                if b == 0x1A:
                    self._data_done()
                elif b == 0x1B:     # Esc cancels (MODEM.md 5); the answer is our choice
                    self._data_end()
                    self._line("SEND FAIL")
                elif len(self._data) < MAX_DATAGRAM:
                    self._data.append(b)
            else:
                b = data[i]
                i += 1
                if self.echo:       # the modem echoes each octet as it comes (MODEM.md 9.2)
                    self._emit(bytes((b,)))
                if b == 13:
                    line = bytes(self._cmd)
                    self._cmd.clear()
                    self._execute(line)
                elif b in (8, 127):
                    del self._cmd[-1:]
                elif b != 10 and len(self._cmd) <= self.MAX_LINE:
                    self._cmd.append(b)

    # ----- command lines -----------------------------------------------------------------------
    def _execute(self, line):
        text = line.decode("latin-1").strip()
        if text[:2].upper() != "AT":
            return      # V.250: what does not start with AT is not a command (no answer)
        if self.psm_before and text.upper().startswith(self.psm_before.upper()) \
                and self.registered() and self.nw_active is not None:
            self.psm_before = None
            self._enter_psm()           # T3324 ran out just before: this line goes unheard
            self.counters["uart_ignored"] += len(line) + 1
            return
        info = []
        self._executing = True
        try:
            if len(line) > self.MAX_LINE:
                raise AtError()
            for cmd in split_commands(text[2:]) or [""]:
                r = self._run(cmd)
                if r is DONE:
                    return
                if r is PROMPT:
                    self._executing = False
                    for t in info:
                        self._line(t)
                    self._emit(b"\r\n> ")    # no <CR><LF> after it (MODEM.md 1)
                    return
                info += r or ()
        except AtError as e:
            self._final(info, self.error_text(e.code))
            return
        self._final(info, "OK")

    def _run(self, cmd):
        if cmd == "":
            return None
        if cmd[0] in "+$%":
            cut = len(cmd)
            for ch in "=?":
                p = cmd.find(ch)
                if p >= 0:
                    cut = min(cut, p)
            name, rest = cmd[:cut].upper(), cmd[cut:]
            if rest == "":
                kind, args = "exec", []
            elif rest == "?":
                kind, args = "read", []
            elif rest == "=?":
                kind, args = "test", []
            elif rest[0] == "=":
                kind, args = "set", split_args(rest[1:])
            else:
                raise AtError()
            handler = getattr(self, "at_" + name[1:], None)
        else:
            name = cmd[:2].upper() if cmd[0] == "&" else cmd[0].upper()
            handler = getattr(self, "at_" + name.replace("&", "AND_"), None)
            kind, args = "set", [cmd[len(name):]]
        if handler is None:
            raise AtError()      # an unknown command is a plain ERROR, whatever +CMEE says
        return handler(kind, args)

    def _final(self, info, final):
        self._executing = False
        for t in info:
            self._line(t)
        if info and (self._between or self.interleave):
            self._line(self._between.pop(0) if self._between else self.interleave)
        self._line(final)
        post, self._post = self._post, []
        if post and self.async_delay > 0:
            self.after(self.async_delay, lambda: [self.urc(t) for t in post])
        else:
            for t in post:
                self.urc(t)

    def after_ok(self, text):
        """A result URC that follows the final result (+QIOPEN, +APP PDP, async +CAOPEN)."""
        self._post.append(text)

    def error_text(self, code):
        if code is None or self.cmee == 0:
            return "ERROR"
        if self.cmee == 1:
            return "+CME ERROR: %d" % code
        return "+CME ERROR: " + CME_TEXT.get(code, "unknown")

    # ----- payload after the prompt --------------------------------------------------------------
    def start_data(self, length, done, timeout):
        """Take `length` raw octets (None: up to Ctrl-Z), then `done(payload)` -> (info, final)."""
        self.mode = "data" if length else "ctrlz"
        self._need, self._data, self._done = length, bytearray(), done
        self.after(timeout, self._data_timeout, tag="input")
        return PROMPT

    def _data_end(self):
        self.cancel("input")
        self.mode = "cmd"

    def _data_done(self):
        self._data_end()
        payload = bytes(self._data)
        self._executing = True
        try:
            info, final = self._done(payload)
        except AtError as e:
            info, final = [], self.error_text(e.code)
        self._final(info, final)

    def _data_timeout(self):
        # Fewer octets than announced within the input time: ERROR and nothing is sent
        # (MODEM.md 11 says this is unconfirmed).
        if self.mode in ("data", "ctrlz"):
            self._data_end()
            self._line("ERROR")

    # ----- PPP: as far as CONNECT and the escape (MODEM.md 6) -----------------------------------
    def at_D(self, kind, args):
        """ATD*99#, ATD*99***<cid>#: CONNECT, then the UART carries PPP. The simulator has no
        PPP peer: frames are swallowed (ppp_octets); +++ with 1 s guard times returns to
        command mode (OK), ATO goes back (CONNECT), ATH ends the call (OK)."""
        dial = args[0].strip().upper()
        if not (dial.startswith("*99") and dial.endswith("#")):
            raise AtError()     # voice and other calls are not simulated
        return self._connect()

    def at_CGDATA(self, kind, args):
        if kind == "test":
            return ['+CGDATA: ("PPP")']
        if kind != "set" or args[0].upper() != "PPP":
            raise AtError()
        return self._connect()

    def _connect(self):
        if not self.on_air():
            self._final([], "NO CARRIER")
            return DONE
        self.ppp_call = True
        self._final([], "CONNECT 150000000")     # the rate is our choice
        self._enter_ppp()
        return DONE

    def _enter_ppp(self):
        self.mode = "ppp"
        self._plus, self._ppp_last = 0, self.clock()

    def _feed_ppp(self, data):
        self.counters["ppp_octets"] += len(data)
        now = self.clock()
        for b in data:
            if b == 0x2B and self._plus < 3 and (self._plus or now - self._ppp_last >= 1.0):
                self._plus += 1
                if self._plus == 3:
                    self._esc_at = now
                    self.after(1.0, self._escape, tag="esc")
            else:
                self._plus = 0
                self.cancel("esc")
            self._ppp_last = now

    def _escape(self):
        if self.mode == "ppp" and self._plus == 3 and self._ppp_last == self._esc_at:
            self.mode = "cmd"
            self._plus = 0
            self._line("OK")

    def at_O(self, kind, args):
        if not self.ppp_call:
            self._final([], "NO CARRIER")
            return DONE
        self._final([], "CONNECT 150000000")
        self._enter_ppp()
        return DONE

    def at_H(self, kind, args):
        self.ppp_call = False

    def ppp_drop(self):
        """The data call is gone (PDP lost, radio off): NO CARRIER."""
        if self.ppp_call:
            self.ppp_call = False
            if self.mode == "ppp":
                self.mode = "cmd"
            self.urc("NO CARRIER")

    # ----- power ---------------------------------------------------------------------------------
    def boot(self):
        """Power on or reset: sockets and PDP gone, echo on, start-up URCs, then registration."""
        for s in list(getattr(self, "sockets", {}).values()):
            self.net.close(s.key)
        self.sockets = {}
        self.pdp = {}           # context id -> address
        self._timers = []
        self._between = []
        self._post = []
        self._executing = False
        self._cmd = bytearray()
        self.mode = "cmd"
        self.echo = True
        self.cmee = self.CMEE_DEFAULT
        self.cereg_n = 0
        self.cfun = 1
        self.stat = 0
        self.gap_until = 0
        self.rrc = False
        self.ppp_call = False
        self._release_after_dl = False
        self.apn = getattr(self, "apn", "")     # in the modem's NV memory: kept
        self.reset_model()
        for t in self.banner():
            self._line(t)
        self.register()

    def banner(self):
        sim = {"ready": "READY", "pin": "SIM PIN"}.get(self.sim, "NOT INSERTED")
        return [t.replace("READY", sim) if t.startswith("+CPIN:") else t for t in self.BANNER]

    def reset(self):
        """The modem resets by itself (brown-out, watchdog): the host sees only the banner."""
        self.counters["resets"] += 1
        self._release()
        self.boot()

    def power_off(self, urc=None):
        if urc and self.mode not in ("psm", "off"):
            self._line(urc)     # the last thing it says, also in the middle of a command
        self._release()
        for s in list(self.sockets.values()):
            self.net.close(s.key)
        self.sockets, self.pdp, self._timers = {}, {}, []
        self.stat = 0
        self.mode = "off"

    def pwrkey(self, ms=None):
        """A press of PWRKEY (or PON_TRIG) of `ms` milliseconds; None = a short wake pulse.
        In PSM any press wakes the modem; when off, a press turns it on; when on, only a press
        of PWRKEY_OFF_MS or more turns it off (a short one does nothing)."""
        if self.mode == "psm":
            self.wake()
        elif self.mode == "off":
            self.boot()
        elif ms is not None and ms >= self.PWRKEY_OFF_MS:
            self.power_off(self.POWER_DOWN_URC)

    def pwrkey_level(self, level):
        """The PWRKEY line itself (0 = pressed, low): a press is timed from low to high. A modem
        in PSM wakes on the falling edge; that press then counts for nothing more."""
        now = self.clock()
        if not level:
            if self.mode == "psm":
                self.wake()
                self._pwrkey_low_at = None
            elif self._pwrkey_low_at is None:
                self._pwrkey_low_at = now
        elif self._pwrkey_low_at is not None:
            ms = (now - self._pwrkey_low_at) * 1000
            self._pwrkey_low_at = None
            self.pwrkey(ms)

    # ----- registration ---------------------------------------------------------------------------
    def registered(self):
        return self.stat in (1, 5)

    def on_air(self):
        return self.registered() and self.mode not in ("psm", "off")

    def set_stat(self, stat):
        if stat != self.stat:
            self.stat = stat
            if self.cereg_n:
                self.urc("+CEREG: " + self.cereg_fields())

    def register(self):
        self.cancel("reg")
        if self.cfun != 1 or self.sim != "ready" or self.mode == "off":
            self.set_stat(0)
            return
        self.set_stat(2)
        if self.rat_ok():
            self.after(self.reg_delay, self._registration_done, tag="reg")
        # else: searching for a RAT this simulator has not (GSM only): stays at 2

    def _registration_done(self):
        if self.gap_until:
            return          # the gap's end registers
        if self.deny:
            self.set_stat(3)
            return
        self.grant_psm_edrx(urc=False)
        self.set_stat(5 if self.roaming else 1)
        self.traffic()      # the attach itself is an RRC connection

    def gap(self, seconds):
        """Out of coverage for `seconds` (+CEREG: 4), then registered again; datagrams are
        dropped meanwhile. The PDP context and sockets stay (EPS bearers survive idle mode)."""
        self.cancel("reg")
        self.cancel("gap")
        self.gap_until = self.clock() + seconds
        self._release()
        self.cancel("psm")
        self.set_stat(4)
        self.after(seconds, self._gap_end, tag="gap")

    def _gap_end(self):
        self.gap_until = 0
        if self.cfun == 1 and self.sim == "ready" and self.mode != "off":
            self._registration_done()
        else:
            self.register()

    def act(self):
        """AcT of the serving cell: 7 LTE-M, 9 NB-IoT."""
        return 7

    def rat_ok(self):
        return True

    def cereg_fields(self, read=False):
        n, reg = self.cereg_n, self.registered()
        f = [str(self.stat)]
        if n >= 2:
            f += ['"%s"' % self.TAC, '"%s"' % self.CI, str(self.act())] if reg else ["", "", ""]
            # cause type 0, EMM cause 15 "no suitable cells in tracking area" when denied
            f += ["0", "15"] if n in (3, 5) and self.stat == 3 else ["", ""]
            if n >= 4 and reg and self.nw_active is not None:
                f += ['"%s"' % self.nw_active, '"%s"' % self.nw_tau]
            while f[-1] == "":
                f.pop()
        return ("%d," % n if read else "") + ",".join(f)

    # ----- PSM, eDRX and the radio connection ---------------------------------------------------
    def grant_psm_edrx(self, urc=True):
        """The network's answer to what was requested (at attach, or when a request changes)."""
        if self.psm_mode == 1 and self.grant_psm:
            self.nw_tau, self.nw_active = ((self.req_tau, self.req_active)
                                           if self.grant_psm is True else self.grant_psm)
            self.counters["psm_granted"] += 1
        else:
            self.nw_tau = self.nw_active = None
        act = self.edrx_act()
        if self.edrx_mode in (1, 2) and act in self.edrx and self.grant_edrx:
            nw = self.edrx[act] if self.grant_edrx is True else self.grant_edrx
            self.edrx_nw = (act, nw)
            self.counters["edrx_granted"] += 1
            if self.edrx_mode == 2:
                self.urc('+CEDRXP: %d,"%s","%s","%s"' % (act, self.edrx[act], nw, "0011"))
        else:
            self.edrx_nw = None
        if urc and self.cereg_n >= 4 and self.registered():
            self.urc("+CEREG: " + self.cereg_fields())
        if not self.rrc:
            self._arm_psm()

    def edrx_act(self):
        return 5 if self.act() == 9 else 4

    def traffic(self, rai=0, downlink=False):
        """A datagram went over the air (or the attach): RRC connected; released after
        rrc_inactivity, at once after an uplink marked RAI 1, or after the next downlink
        when it was marked RAI 2 (MODEM.md 3.4)."""
        if not self.rrc:
            self.rrc, self._rrc_since = True, self.clock()
        self.cancel("psm")
        self.cancel("rrc")
        if rai == 2:
            self._release_after_dl = True
        if rai == 1 or (downlink and self._release_after_dl):
            self._release_after_dl = False
            self._release()
        else:
            self.after(self.rrc_inactivity, self._release, tag="rrc")

    def _release(self):
        self.cancel("rrc")
        if self.rrc:
            self.rrc = False
            self.counters["connected_ms"] += int((self.clock() - self._rrc_since) * 1000)
        self._arm_psm()

    def release(self):
        """The host says no more data (AT+CNMPSD): the RRC connection ends now."""
        self._release_after_dl = False
        self._release()

    def _arm_psm(self):
        """After the release, T3324 (the granted Active-Time) runs; then PSM."""
        self.cancel("psm")
        if self.registered() and self.nw_active is not None and self.mode == "cmd":
            secs = timers.active_seconds(self.nw_active)
            if secs is not None:
                self.after(secs, self._enter_psm, tag="psm")

    def _enter_psm(self):
        if self.mode != "cmd" or not self.registered():
            return
        for t in self.psm_enter_urcs():
            self.urc(t)
        self.mode = "psm"
        self._cmd.clear()
        self.counters["psm_entries"] += 1

    def wake(self):
        """PWRKEY / PON_TRIG in PSM: the UART answers again; the modem is still registered with
        its PDP context and sockets (PSM keeps the NAS state; that the socket layer survives
        is our choice, MODEM.md is silent). Leaving PSM the modem signals the network (TS 24.301
        5.3.11: a TAU or service request), so it is connected for rrc_inactivity, then T3324
        runs again before the next PSM."""
        self.mode = "cmd"
        self.counters["psm_wakes"] += 1
        for t in self.psm_exit_urcs():
            self.urc(t)
        self.traffic()

    # ----- datagrams ------------------------------------------------------------------------------
    def uplink(self, sock, data, addr, rai=0):
        """A payload the host handed over; on air when registered and in coverage."""
        self.counters["uart_rx_payload"] += len(data)
        sock.total_tx += len(data)
        if not self.on_air():
            self.counters["ul_dropped"] += 1
            return
        if rai:
            nb = self.act() == 9    # RAI is NB-IoT only (MODEM.md 3.4)
            self.counters["rai_marks" if nb else "rai_ignored"] += 1
            rai = rai if nb else 0
        self.net.send(sock.key, data, addr)
        self.counters["ul_datagrams"] += 1
        self.counters["ul_octets"] += len(data)
        self.traffic(rai=rai)

    def deliver(self, key, data, addr):
        """A datagram from the network for socket `key` (host, port: where it came from)."""
        sock = self.sockets.get(key)
        if sock is None or sock.broken or not self.on_air() or \
                sock.rx_bytes + len(data) > self.rx_buffer:
            self.counters["dl_dropped"] += 1
            if sock is not None and self.on_air() and not sock.broken:
                self.buffer_full(sock)
            return
        self.counters["dl_datagrams"] += 1
        self.counters["dl_octets"] += len(data)
        self.traffic(downlink=True)
        sock.total_rx += len(data)
        if self.push(sock, data, addr):
            return
        was_empty = not sock.rx
        sock.rx.append((bytes(data), addr))
        sock.rx_bytes += len(data)
        if was_empty:
            # One URC when the buffer goes from empty to not empty: Quectel documents it
            # (MODEM.md 5); for SIMCom it is our choice. A driver that reads until the buffer
            # says 0 works with either.
            self.urc(self.recv_urc(sock))

    def take(self, sock, maxlen):
        """Up to maxlen octets of the oldest datagram (never two datagrams in one read; the
        rest of a datagram longer than maxlen stays for the next read: our choice)."""
        if not sock.rx:
            return b"", None
        data, addr = sock.rx[0]
        if len(data) > maxlen:
            sock.rx[0] = (data[maxlen:], addr)
            data = data[:maxlen]
        else:
            sock.rx.pop(0)
        sock.rx_bytes -= len(data)
        sock.total_read += len(data)
        self.counters["uart_tx_payload"] += len(data)
        return data, addr

    def close_socket(self, key):
        sock = self.sockets.pop(key, None)
        if sock is not None:
            self.net.close(key)
        return sock

    def open_socket(self, key, proto, remote, ctx, mode=0):
        sock = self.sockets[key] = Socket(key, proto, remote, ctx, mode)
        self.net.open(key)
        return sock

    # ----- what each dialect fills in -------------------------------------------------------------
    POWER_DOWN_URC = None

    def reset_model(self):
        pass

    def psm_enter_urcs(self):
        return ()

    def psm_exit_urcs(self):
        return ()

    def recv_urc(self, sock):
        raise NotImplementedError

    def push(self, sock, data, addr):
        """Direct-push receive mode: write the datagram now and return True."""
        return False

    def push_frame(self, header, data):
        """`<CR><LF>header<CR><LF>data<CR><LF>`: the payload is read by its length; that a
        <CR><LF> follows it is our choice (MODEM.md is silent), harmless to a line parser."""
        self.urc(header)
        self._emit(data + b"\r\n")
        self.counters["uart_tx_payload"] += len(data)

    def buffer_full(self, sock):
        pass

    def pdp_loss(self):
        """The network drops the PDP context: a PPP call ends, then the dialect's URCs."""
        self.ppp_drop()
        self.drop_pdp()

    def drop_pdp(self):
        raise NotImplementedError

    # ----- state for tests and the control port ---------------------------------------------------
    def state(self):
        return {
            "model": self.MODEL, "mode": self.mode, "echo": self.echo, "cmee": self.cmee,
            "cfun": self.cfun, "sim": self.sim, "stat": self.stat, "act": self.act(),
            "pdp": dict(self.pdp), "sockets": sorted(self.sockets), "rrc": self.rrc,
            "psm": {"mode": self.psm_mode, "req": [self.req_tau, self.req_active],
                    "nw": None if self.nw_active is None else [self.nw_tau, self.nw_active]},
            "edrx": {"mode": self.edrx_mode, "req": dict(self.edrx), "nw": self.edrx_nw},
        }

    # ----- TS 27.007 / V.250 commands both dialects have -----------------------------------------
    def at_E(self, kind, args):
        if args[0] not in ("", "0", "1"):
            raise AtError()
        self.echo = args[0] == "1"

    def at_V(self, kind, args):
        if args[0] not in ("", "1"):
            raise AtError()     # numeric result codes (V0) are not simulated

    def at_Z(self, kind, args):
        self.echo = True

    def at_AND_W(self, kind, args):
        pass

    at_AND_F = at_AND_D = at_AND_W

    def at_I(self, kind, args):
        return [self.MANUFACTURER, self.MODEL, "Revision: " + self.REVISION]

    def at_CGMI(self, kind, args):
        return [self.MANUFACTURER]

    def at_CGMM(self, kind, args):
        return [self.MODEL]

    def at_CGMR(self, kind, args):
        return ["Revision:" + self.REVISION]

    def at_CGSN(self, kind, args):
        if kind == "test":
            return []
        if kind == "set" and args[0] == "1":
            return ['+CGSN: "%s"' % self.imei]
        return [self.imei]          # a bare line, no prefix (MODEM.md 2)

    at_GSN = at_CGSN

    def at_CMEE(self, kind, args):
        if kind == "read":
            return ["+CMEE: %d" % self.cmee]
        if kind == "test":
            return ["+CMEE: (0-2)"]
        self.cmee = arg_int(args, 0, 0, 2, 0)

    def need_sim(self):
        if self.sim == "missing":
            raise AtError(10)
        if self.sim == "pin":
            raise AtError(11)

    def at_CPIN(self, kind, args):
        if kind == "read":
            if self.sim == "missing":
                raise AtError(10)
            return ["+CPIN: " + ("SIM PIN" if self.sim == "pin" else "READY")]
        if kind == "set":
            if self.sim == "missing":
                raise AtError(10)
            if self.sim == "pin":
                if args[0] != self.pin:
                    raise AtError(16)
                self.sim = "ready"
                self.after_ok("+CPIN: READY")
                self.register()
            return None
        if kind == "test":
            return []
        raise AtError()

    def at_CFUN(self, kind, args):
        if kind == "read":
            return ["+CFUN: %d" % self.cfun]
        if kind == "test":
            return ["+CFUN: (0,1,4),(0,1)"]
        if kind != "set":
            raise AtError()
        fun = arg_int(args, 0, 0, 7)
        rst = arg_int(args, 1, 0, 1, 0)
        if fun not in self.CFUN_VALUES:
            raise AtError()
        if rst or fun == 6:
            # OK first, then the reset and its banner (MODEM.md 2: OK with a fixed baud rate).
            self._final([], "OK")
            self.boot()
            return DONE
        return self.set_cfun(fun)

    CFUN_VALUES = (0, 1, 4)

    def set_cfun(self, fun):
        old, self.cfun = self.cfun, fun
        info = []
        if fun != 1 and old == 1:
            self.ppp_drop()
            self._release()
            info = self.radio_off(fun)
        if fun == 1 and old != 1:
            info = self.radio_on(old)
        self.register()
        return info

    def radio_off(self, fun):
        """CFUN 0/4: the PDP contexts and sockets are gone; the dialect's lines before OK."""
        return []

    def radio_on(self, old):
        return []

    def at_CGDCONT(self, kind, args):
        if kind == "read":
            return ['+CGDCONT: 1,"IP","%s","0.0.0.0",0,0' % self.apn]
        if kind == "test":
            return ['+CGDCONT: (1-15),"IP",,,(0-2),(0-4)']
        if kind != "set":
            raise AtError()
        arg_int(args, 0, 1, 15)
        if len(args) > 1 and args[1] not in ("IP", "IPV6", "IPV4V6", "Non-IP", "NONIP"):
            raise AtError()
        self.apn = args[2] if len(args) > 2 else ""

    def at_CGACT(self, kind, args):
        if kind == "read":
            return ["+CGACT: 1,%d" % (1 if self.registered() else 0)]
        if kind == "test":
            return ["+CGACT: (0,1)"]
        arg_int(args, 0, 0, 1)      # the default bearer follows the attach in LTE

    def at_COPS(self, kind, args):
        if kind == "read":
            if not self.registered():
                return ["+COPS: 0"]
            return ['+COPS: 0,0,"%s",%d' % (self.OPERATOR, self.act())]
        if kind == "test":
            return ['+COPS: (2,"%s","%s","00101",%d),,(0-4),(0-2)'
                    % (self.OPERATOR, self.OPERATOR, self.OPERATOR, self.act())]
        if kind == "set":
            mode = arg_int(args, 0, 0, 4)
            if mode == 2:
                self.set_stat(0)
            elif not self.registered():
                self.register()

    def at_CEREG(self, kind, args):
        if kind == "read":
            return ["+CEREG: " + self.cereg_fields(read=True)]
        if kind == "test":
            modes = self.CEREG_MODES
            r = "0-5" if modes == (0, 1, 2, 3, 4, 5) else "0-2,4"
            return ["+CEREG: (%s)" % r]
        n = arg_int(args, 0, 0, 5, 0)
        if n not in self.CEREG_MODES:
            raise AtError()
        self.cereg_n = n

    def at_CGATT(self, kind, args):
        if kind == "read":
            return ["+CGATT: %d" % (1 if self.registered() else 0)]
        if kind == "test":
            return ["+CGATT: (0,1)"]
        if arg_int(args, 0, 0, 1):
            if not self.registered():
                self.register()
        else:
            self.cancel("reg")
            self.set_stat(0)

    def at_CSQ(self, kind, args):
        if kind == "test":
            return ["+CSQ: (0-31,99),(0-7,99)"]
        if not self.registered():
            return ["+CSQ: 99,99"]
        # On LTE the vendor derives CSQ from RSSI (MODEM.md 2.2, unconfirmed how): we take
        # RSSI = RSRP + 20 dB (a 1.4 MHz carrier's 6 resource blocks), dBm = -113 + 2 * rssi.
        rssi = max(0, min(31, (self.rsrp + 20 + 113) // 2))
        return ["+CSQ: %d,99" % rssi]

    def at_CESQ(self, kind, args):
        if kind == "test":
            return ["+CESQ: (0-63,99),(0-7,99),(0-96,255),(0-49,255),(0-34,255),(0-97,255)"]
        if not self.registered():
            return ["+CESQ: 99,99,255,255,255,255"]
        rsrp = max(0, min(97, self.rsrp + 141))
        return ["+CESQ: 99,99,255,255,%d,%d" % (self.rsrq, rsrp)]

    def at_CGPADDR(self, kind, args):
        if kind == "test":
            return ["+CGPADDR: (1)"]
        ip = self.ip if self.registered() else "0.0.0.0"
        return ['+CGPADDR: 1,"%s"' % ip]

    def at_CIMI(self, kind, args):
        if kind == "test":
            return []
        self.need_sim()
        return [self.imsi]

    def at_CCLK(self, kind, args):
        if kind == "read":
            return [time.strftime('+CCLK: "%y/%m/%d,%H:%M:%S+00"', time.gmtime())]
        if kind == "exec":
            raise AtError()

    def at_IPR(self, kind, args):
        if kind == "read":
            return ["+IPR: 115200"]
        if kind == "test":
            return ["+IPR: (0,9600,19200,38400,57600,115200),(230400,460800,921600)"]
        arg_int(args, 0, 0, 4000000)

    def at_IFC(self, kind, args):
        if kind == "read":
            return ["+IFC: 0,0"]
        if kind == "test":
            return ["+IFC: (0,2),(0,2)"]

    def at_CPSMS(self, kind, args):
        if kind == "read":
            return ['+CPSMS: %d,,,"%s","%s"' % (self.psm_mode, self.req_tau, self.req_active)]
        if kind == "test":
            return ['+CPSMS: (0-2),,,("00000000"-"11111111"),("00000000"-"11111111")']
        mode = arg_int(args, 0, 0, 2, 0)     # a bare AT+CPSMS= disables (MODEM.md 3.1)
        tau = args[3] if len(args) > 3 and args[3] else self.req_tau
        active = args[4] if len(args) > 4 and args[4] else self.req_active
        if not (timers.is_bits(tau, 8) and timers.is_bits(active, 8)):
            raise AtError()
        if mode == 2:
            tau, active = "00100001", "00000101"
        self.psm_mode, self.req_tau, self.req_active = min(mode, 1), tau, active
        if mode == 1:
            self.counters["psm_requested"] += 1
        if self.registered():
            self.grant_psm_edrx()

    def at_CEDRXS(self, kind, args):
        if kind == "read":
            return ['+CEDRXS: %d,"%s"' % (a, v) for a, v in sorted(self.edrx.items())]
        if kind == "test":
            return ['+CEDRXS: (0-3),(4,5),("0000"-"1111")']
        mode = arg_int(args, 0, 0, 3, 0)
        act = arg_int(args, 1, 4, 5, self.edrx_act())
        if mode in (1, 2):
            value = args[2] if len(args) > 2 and args[2] else self.edrx.get(act, "0010")
            if not timers.is_bits(value, 4):
                raise AtError()
            self.edrx[act] = value
            self.counters["edrx_requested"] += 1
        elif mode == 3:
            self.edrx = {}
        else:
            self.edrx.pop(act, None)
        self.edrx_mode = mode if self.edrx else 0
        if self.registered():
            self.grant_psm_edrx(urc=False)

    def at_CEDRXRDP(self, kind, args):
        if kind == "test":
            return []
        if self.edrx_nw is None:
            return ["+CEDRXRDP: 0"]
        act, nw = self.edrx_nw
        return ['+CEDRXRDP: %d,"%s","%s","0011"' % (act, self.edrx.get(act, nw), nw)]

    def at_CNMPSD(self, kind, args):
        # TS 27.007 "no more PS data": we release the RRC connection at once (that SIM7080
        # and BG95 have it is unconfirmed, MODEM.md 3.4).
        self.release()

