"""The AT channel: one command at a time over a UART, URCs whenever they come (MODEM.md 1, 9).

A state machine over bytes: service() reads what the UART has, frames lines, and finishes
the pending Cmd on its final result; it never waits. The UART is anything with any(),
readinto(buf) and write(buf) (machine.UART, modem.port.PtyUart, a test's fake).

- Lines end at CR or LF; empty lines are skipped. Echoed command lines (echo is on until
  ATE0) start with "AT" and are skipped too [MODEM.md 9.2].
- Final results: OK, ERROR, +CME ERROR: <n> and +CME ERROR: <text> (numeric and verbose,
  CMEE 1/2), +CMS ERROR, SEND OK / SEND FAIL (Quectel), CONNECT / NO CARRIER (dial).
- A line that starts with the pending command's response prefix is its information line;
  any other line goes to on_urc(line), also between an information line and its OK
  [MODEM.md 9.1]. on_urc returns None for a line that is no URC, else the number of raw octets
  that follow it (0 mostly; a receive mode that pushes the datagram with its URC gives its
  length: they land in self.data, then on_data(n) is called). One dispatcher, not a table of
  (prefix, handler) pairs: each pair held a tuple and a bound method, about 35 octets of heap
  per URC on a 32-bit board (19 URCs: 670 octets). A command with prefix "" (+CGSN,
  +CIMI) takes bare lines that are no URC.
- The data prompt `>` (SIMCom sends "> ", no newline) is matched at the start of a line
  when the pending command has data; the data then goes out in chunks of _CHUNK octets per
  service() so that a 1460-octet datagram never holds the loop for its whole UART time. A
  command line longer than _CHUNK (AT+QISENDEX with its datagram in hex) goes out the same way.
- Raw data by length, binary-safe: `+CARECV: <len>,<data>` (data after the comma on the same
  line) and `+QIRD: <len>[,"ip",port]` CR LF <data> (next line). It lands in self.data
  (preallocated), its length in self.dlen. The buffer holds 1461 octets, one more than the
  largest datagram a modem carries: a longer one fills it and the rest is skipped, so the
  endpoint sees it was cut (as coap.udp reads one octet more than it accepts).

Buffers are allocated once; nothing is allocated per byte (one str per line).

Also here, as all the procedures (modem.bringup, the dialects) and the running link need them:
LinkError, and check() / ok() / received() on a finished Cmd (the fields of a line: modem.fields).
"""
import time
from micropython import const

_CHUNK = const(256)     # octets written per service(): about 22 ms at 115200 baud
_RD = const(64)         # octets read per readinto()
_RDMAX = const(48)      # readinto() calls per service(): 3 KB at most, then let others run

# Per-command timeouts in ms by the text after "AT" [MODEM.md 9.4]; others 5 s (derived).
TIMEOUTS = (("+CFUN", 15000), ("+COPS", 180000), ("+CGATT", 60000), ("+CNACT", 120000),
            ("+CAOPEN", 90000), ("+CDNSGIP", 210000), ("+QIACT", 150000),
            ("+QIDEACT", 40000), ("+QIOPEN", 150000), ("+QISEND", 120000),
            ("+QIRD", 120000), ("+QICLOSE", 10000), ("+CACLOSE", 10000),
            ("+CASEND", 10000), ("+CARECV", 10000), ("+CGDCONT", 10000))
DEFAULT_TIMEOUT = 5000
# A modem in PSM hears nothing (MODEM.md 3.2): a command that brings no octet at all (no echo,
# no prompt, no line) within QUIET ms ends as a 'timeout' with silent set, and the link checks
# whether the modem sleeps, instead of waiting out the command's timeout. Except commands that
# may work silently for long (MODEM.md 4, 5, 9.4: +CFUN 10 s, +QIACT until the context is up,
# a sync +CAOPEN, a dial): before one of those the link asks AT first when the modem has been
# quiet. +CNACT, +QIOPEN, +CASEND, +QISEND answer (OK or the prompt) at once.
QUIET = 2000
SLOW = ("+CFUN", "+COPS", "+CGATT", "+QIACT", "+QIDEACT", "+CDNSGIP", "+QICLOSE", "+CACLOSE",
        "+CAOPEN", "D")


def timeout_for(text):
    for p, ms in TIMEOUTS:
        if text.startswith(p, 2):
            return ms
    return DEFAULT_TIMEOUT


def slow(text):
    for p in SLOW:
        if text.startswith(p, 2):
            return True
    return False


class Cmd:
    """One AT command and, once done, its outcome. Attributes stored only when they differ
    from these class defaults (a command is a short-lived object)."""
    result = None       # None while pending; 'OK', 'ERROR', 'CME', 'SEND OK', 'SEND FAIL',
    #                     'CONNECT', 'NO CARRIER', 'timeout'
    err = None          # +CME ERROR value: int (CMEE=1) or text (CMEE=2)
    data = None         # octets written after the prompt
    raw = None          # response prefix that carries raw data
    rawline = False     # True: data on the same line after <len>, (+CARECV); else next line
    got = -1            # octets of raw data received (in the channel's data buffer)
    prompted = False    # the data prompt came (the data went out)
    quiet = QUIET       # ms without any octet after which the modem may sleep (0: none)
    silent = False      # ended as 'timeout' with not one octet heard since it was sent

    def __init__(self, text, prefix=None, timeout=None, data=None):
        self.text = text
        self.prefix = prefix
        self.timeout = t = timeout or timeout_for(text)
        self.lines = []
        if data is not None:
            self.data = data
        if t <= QUIET or slow(text):
            self.quiet = 0

    @property
    def ok(self):
        return self.result in ("OK", "SEND OK", "CONNECT")

    def line(self, prefix=None):
        """The first information line (starting with prefix, when given) or None."""
        for ln in self.lines:
            if prefix is None or ln.startswith(prefix):
                return ln
        return None

    def __repr__(self):
        return "<Cmd %s %s %r>" % (self.text, self.result, self.err)


class LinkError(Exception):
    """What a procedure raises, with a sentence a person can act on. kind: 'fatal' (needs a
    person: SIM), 'retry' (back-off, then bring-up again), 'silent' (no answer: wake the modem
    first), 'socket' (this datagram is lost, the link is not)."""

    def __init__(self, msg, kind="retry"):
        super().__init__(msg)
        self.kind = kind


# What the procedures (modem.bringup, the dialects) do with a finished Cmd. They live here, not
# in modem.bringup, so that a link that is up runs without that module loaded (modem.link).

def check(c, what=None):
    """Raise LinkError unless the command c ended OK."""
    if c.ok:
        return c
    if c.result == "timeout":
        raise LinkError("modem: no answer to %s" % c.text, "silent")
    err = c.result
    if err == "CME":
        from modem.codes import cme_text        # on demand: see modem.codes
        err = cme_text(c.err)
    raise LinkError("modem: %s failed: %s" % (what or c.text, err))


def ok(text, prefix=None, what=None):
    """A procedure step: send text, raise LinkError unless it ends OK."""
    c = yield Cmd(text, prefix)
    return check(c, what)


def received(c, s):
    """Octets a socket read command c brought (0: none); a refused read closes socket s."""
    if c.result == "timeout":
        check(c)
    if not c.ok:
        s.open = False
        return 0
    return max(c.got, 0)


def ignore(c):
    """A callback for a command whose outcome does not matter (Link.command)."""


_FINALS = ("OK", "ERROR", "SEND OK", "SEND FAIL", "NO CARRIER")


class AtChannel:
    on_urc = None       # on_urc(line): None (no URC) or the raw octets that follow (0: none)
    on_data = None      # on_data(n): n raw octets pushed with a URC are in self.data
    on_other = None     # lines nobody claims (a default URC handler)
    _push = False       # the raw data being read came with a URC, not as an answer
    # counters of rare events (stored in the instance only once they count)
    stray = garbled = long_lines = timeouts = 0

    def __init__(self, uart, clock=None, line=160, data=1461):
        self.uart = uart
        self.clock = clock or time.ticks_ms
        self._lb = bytearray(line)
        self._n = 0                 # octets in the line buffer
        self._rb = bytearray(_RD)
        self._rbm = memoryview(self._rb)
        self.data = bytearray(data)
        self._dm = memoryview(self.data)
        self.dlen = 0               # raw octets held in data
        self._need = 0              # raw octets still to come
        self._eatlf = False         # skip one LF before raw data (the header ended with CR)
        self._space = False         # skip one space after the prompt
        self.cmd = None
        self._dl = self._t0 = 0     # the pending command's deadline, when it was sent (ticks)
        self._heard = False         # an octet came since the pending command was sent
        self.heard_at = self.clock()    # when the modem last sent an octet (ticks)
        self._out = None            # memoryview of data still to write after the prompt
        self._oi = 0
        # counters
        self.rx_octets = self.tx_octets = self.urcs = 0

    # ---- commands ----
    def send(self, cmd):
        """Start cmd (one at a time: the caller waits for cmd.result)."""
        if self.cmd is not None:
            raise RuntimeError("AT busy")
        self.cmd = cmd
        self._t0 = t = self.clock()
        self._dl = time.ticks_add(t, cmd.timeout)
        self._heard = False
        self._stream(cmd.text.encode() + b"\r")   # a long line (BG95's hex datagram) in chunks
        return cmd

    def busy(self):
        return self.cmd is not None

    def abort(self):
        """Forget the pending command (reset detected): it ends with 'timeout'."""
        c = self.cmd
        if c is not None:
            self._finish("timeout")
        self._out = None
        self._need = 0
        self._push = False
        self._n = 0
        return c


    def _finish(self, result, err=None):
        c = self.cmd
        self.cmd = None
        self._out = None
        c.result = result
        if err is not None:
            c.err = err

    # ---- the loop ----
    def service(self, now=None):
        """Read and parse what the UART has, write pending data, check the deadline.
        Returns ms until the deadline (0: more data to write now; None: nothing pending)."""
        u = self.uart
        for _ in range(_RDMAX):
            if not u.any():
                break
            n = u.readinto(self._rb)
            if not n:
                break
            self.rx_octets += n
            self._heard = True
            self.heard_at = self.clock()
            self.feed(self._rbm, n)
        if self._out is not None:
            self._send_chunk()
        c = self.cmd
        if c is None:
            return None
        if self._out is not None:
            return 0
        if now is None:
            now = self.clock()
        d = time.ticks_diff(self._dl, now)
        q = c.quiet
        if q and not self._heard:
            q = time.ticks_diff(time.ticks_add(self._t0, q), now)
            if q <= 0:
                d = 0                   # not one octet: the modem may sleep (MODEM.md 3.2)
            elif q < d:
                d = q
        if d <= 0 and self._need == 0:
            self.timeouts += 1
            if not self._heard:
                c.silent = True
            self._finish("timeout")
            return None
        return max(d, 0)

    def hush(self):
        """The modem said it enters PSM while a command waits: it will not answer it."""
        if self.cmd is not None and self._need == 0:
            self.cmd.silent = True
            self._finish("timeout")

    def _send_chunk(self):
        o = self._out
        i = self._oi
        k = min(_CHUNK, len(o) - i)
        n = self.uart.write(o[i:i + k])
        if n is None:
            n = k                   # machine.UART on some ports returns None when all went
        self.tx_octets += n
        self._oi = i + n
        if self._oi >= len(o):
            self._out = None

    def feed(self, b, n):
        """Parse n octets of b (a bytes-like object)."""
        i = 0
        lb = self._lb
        while i < n:
            if self._need:
                if self._eatlf:
                    self._eatlf = False
                    if b[i] == 10:
                        i += 1
                        continue
                k = min(self._need, n - i)
                d = self.dlen
                m = min(k, len(self.data) - d)      # past the buffer: skipped (cut)
                if m > 0:
                    self._dm[d:d + m] = b[i:i + m]
                    self.dlen = d + m
                self._need -= k
                i += k
                if not self._need:
                    self._raw_done()
                continue
            c = b[i]
            i += 1
            if c == 13 or c == 10:
                self._eatlf = False
                if self._n:
                    self._line(c == 13)
                continue
            if self._n == 0:
                if self._space:
                    self._space = False
                    if c == 32:
                        continue
                cm = self.cmd
                if c == 62 and cm is not None and cm.data is not None and not cm.prompted:
                    self._prompt(cm)
                    continue
            if self._n < len(lb):
                lb[self._n] = c
                self._n += 1
            else:
                self.long_lines += 1
                continue
            if c == 44 and self.cmd is not None and self.cmd.rawline:
                self._rawhead()

    def _prompt(self, cm):
        self._space = True
        cm.prompted = True
        self._stream(cm.data)

    def _stream(self, b):
        """Write b: _CHUNK octets now, the rest one chunk per service() (never the loop held
        for a long line's or datagram's UART time; a partial write keeps what is left)."""
        self._out = memoryview(b)
        self._oi = 0
        self._send_chunk()

    def _text(self, k):
        try:
            return bytes(self._lb[:k]).decode()
        except UnicodeError:
            self.garbled += 1
            return None

    def _rawhead(self):
        """A comma in a line of a command whose raw data follows on the same line
        (+CARECV: [<ip>,<port>,]<len>,<data>): once <len>, has come, read the data."""
        c = self.cmd
        p = c.raw
        k = self._n - 1
        if k < len(p) or bytes(self._lb[:len(p)]) != p.encode():
            return
        s = self._text(k)
        if s is None:
            return
        f = s[len(p):].split(",")
        if f[0].strip().isdigit():
            if len(f) != 1:
                return
            n = int(f[0])
        elif len(f) == 3 and f[2].strip().isdigit():    # with the remote address (CASRIP)
            n = int(f[2])
        else:
            return
        c.lines.append(s)
        self._n = 0
        self._start_raw(n)

    def _start_raw(self, n):
        self.dlen = 0
        self._need = n
        if n > len(self.data):
            self.long_lines += 1    # longer than the buffer: cut, the rest skipped
        if not n:
            self.cmd.got = 0

    def _raw_done(self):
        if self._push:
            self._push = False
            self.on_data(self.dlen)
        elif self.cmd is not None:
            self.cmd.got = self.dlen

    def _line(self, cr):
        k = self._n
        self._n = 0
        s = self._text(k)
        if not s:
            return
        c = self.cmd
        if s[:2] in ("AT", "at"):
            return                  # echo (ATE1): the command line comes back first
        if c is not None:
            if s in _FINALS:
                self._finish(s)
                return
            if s.startswith("+CME ERROR:") or s.startswith("+CMS ERROR:"):
                e = s[11:].strip()
                self._finish("CME", int(e) if e.isdigit() else e)
                return
            if s.startswith("CONNECT"):
                self._finish("CONNECT")
                return
            p = c.prefix
            if p and s.startswith(p):
                c.lines.append(s)
                if c.raw is not None and not c.rawline and s.startswith(c.raw):
                    n = s[len(c.raw):].split(",")[0].strip()
                    if n.isdigit() and int(n):
                        self._eatlf = cr
                        self._start_raw(int(n))
                    else:
                        c.got = 0
                return
        u = self.on_urc
        r = None if u is None else u(s)
        if r is not None:
            self.urcs += 1
            if r > 0:               # the datagram follows its URC (push receive modes)
                self._eatlf = cr
                self._push = True
                self._start_raw(r)
            return
        if c is not None and c.prefix == "":
            c.lines.append(s)
        elif self.on_other is not None:
            self.on_other(s)
        else:
            self.stray += 1
