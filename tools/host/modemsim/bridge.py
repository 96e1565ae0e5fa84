"""ModemSim: a simulated modem on a pseudo-terminal, its sockets bridged to real UDP.

One host UDP socket per modem socket (bound to `host`, port chosen by the kernel), so a server
sees each modem socket as its own address. A control UDP port takes text commands (PWRKEY,
reset, coverage gap, ...; see `control`). The loop (selectors-free: select() on a fresh fd list
each turn, so other threads may open and close sockets under the lock) runs in a thread
(`start`) or in the caller (`run`).
"""
import json
import os
import select
import socket
import termios
import threading
import time
import tty

from . import make_modem

PENDING_MAX = 65536     # octets of modem output kept while nobody reads the pty


class ModemSim:
    """with ModemSim("bg95", reg_delay=0.1) as sim: open(sim.path, ...) ... sim.counters()"""

    def __init__(self, model="sim7080", link=None, host="127.0.0.1", control_port=0, **knobs):
        self.host = host
        self.link = link
        self._lock = threading.RLock()
        self._socks = {}        # modem socket key -> host UDP socket
        self._dead = []         # host sockets to close once select() has returned
        self._events = []       # [(monotonic time, control command)] from `at`
        self._stop = False
        self._dump = False
        self._thread = None
        self._pending = bytearray()     # modem output not yet taken by the pty
        self.log = []           # replies to scheduled commands
        self.modem = make_modem(model, net=self, **knobs)
        self.master, self._slave = os.openpty()
        # Raw mode from the side that creates the pty, fd kept open (TOOLCHAIN.md): the unix
        # port has no termios, and a cooked pty echoes and rewrites CR/LF.
        tty.setraw(self._slave)
        os.set_blocking(self.master, False)
        self.path = os.ttyname(self._slave)
        if link:
            if os.path.islink(link):
                os.unlink(link)
            os.symlink(self.path, link)
        self._ctl = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._ctl.bind((host, control_port))
        self._ctl.setblocking(False)
        self.control_addr = self._ctl.getsockname()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)

    # ----- life ----------------------------------------------------------------------------------
    def start(self):
        self._thread = threading.Thread(target=self.run, name="modemsim", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._stop = True
        self._wake()
        if self._thread is not None:
            self._thread.join(5)
        self._close_all()

    def _close_all(self):
        with self._lock:
            for s in list(self._socks.values()) + self._dead + [self._ctl, self._wake_r,
                                                               self._wake_w]:
                s.close()
            self._socks, self._dead = {}, []
            for fd in (self.master, self._slave):
                try:
                    os.close(fd)
                except OSError:
                    pass
            if self.link and os.path.islink(self.link) and os.readlink(self.link) == self.path:
                os.unlink(self.link)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _wake(self):
        try:
            self._wake_w.send(b"w")
        except OSError:
            pass

    def request_dump(self):
        """Ask the loop to print the counters (for a SIGUSR1 handler: no lock taken here)."""
        self._dump = True
        self._wake()

    def at(self, delay, command):
        """Run control `command` `delay` seconds from now (the CLI's --at)."""
        with self._lock:
            self._events.append((time.monotonic() + delay, command))
            self._events.sort()
        self._wake()

    # ----- the loop ----------------------------------------------------------------------------
    def run(self, on_dump=None):
        while not self._stop:
            with self._lock:
                self._collect()
                rd = [self.master, self._ctl, self._wake_r] + list(self._socks.values())
                wr = [self.master] if self._pending else []
                timeout = self._timeout()
            try:
                r, w, _ = select.select(rd, wr, [], timeout)
            except (OSError, ValueError):
                r, w = [], []       # a socket closed by another thread: take a new list
            with self._lock:
                for s in self._dead:
                    s.close()
                self._dead = []
                self._turn(r, w)
            if self._dump:
                self._dump = False
                if on_dump:
                    on_dump(self.counters())

    def _timeout(self):
        due = [t for t in (self.modem.next_deadline(),
                           self._events[0][0] if self._events else None) if t is not None]
        if not due:
            return 1.0
        return max(0.0, min(1.0, min(due) - time.monotonic()))

    def _turn(self, r, w):
        if self._wake_r in r:
            try:
                self._wake_r.recv(4096)
            except OSError:
                pass
        if self.master in r:
            try:
                data = os.read(self.master, 4096)
            except (BlockingIOError, OSError):
                data = b""
            if data:
                self.modem.feed(data)
        for key, s in list(self._socks.items()):
            if s in r:
                self._receive(key, s)
        if self._ctl in r:
            self._control_datagram()
        now = time.monotonic()
        while self._events and self._events[0][0] <= now:
            self.log.append(self.control(self._events.pop(0)[1]))
        self.modem.poll()
        self._collect()
        if self._pending:
            self._write()

    def _receive(self, key, s):
        for _ in range(64):         # bounded: other work gets its turn
            try:
                data, addr = s.recvfrom(65535)
            except (BlockingIOError, OSError):
                return
            if self._socks.get(key) is not s:
                return
            self.modem.deliver(key, data, addr[:2])

    def _collect(self):
        out = self.modem.read()
        room = PENDING_MAX - len(self._pending)
        self._pending += out[:max(0, room)]    # a UART nobody reads loses what does not fit

    def _write(self):
        try:
            n = os.write(self.master, self._pending)
        except (BlockingIOError, OSError):
            return      # the pty's buffer is full (nobody reads): kept for later
        del self._pending[:n]

    def _control_datagram(self):
        for _ in range(16):
            try:
                data, addr = self._ctl.recvfrom(4096)
            except (BlockingIOError, OSError):
                return
            reply = self.control(data.decode("utf-8", "replace").strip())
            try:
                self._ctl.sendto(json.dumps(reply).encode(), addr)
            except OSError:
                pass

    # ----- the network side (called by the modem, under the lock) ---------------------------
    def open(self, key):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((self.host, 0))
        s.setblocking(False)
        old = self._socks.pop(key, None)
        if old is not None:
            self._dead.append(old)
        self._socks[key] = s
        self._wake()

    def send(self, key, data, addr):
        s = self._socks.get(key)
        if s is not None:
            try:
                s.sendto(data, addr)
            except OSError:
                pass        # as on air: a datagram that cannot go is lost

    def close(self, key=None):
        if key is None:
            return self._close_all()
        s = self._socks.pop(key, None)
        if s is not None:
            self._dead.append(s)
            self._wake()
        return None

    # ----- API for tests and the control port ----------------------------------------------------
    def _call(self, fn, *args, **kw):
        with self._lock:
            r = fn(*args, **kw)
            self._collect()
        self._wake()
        return r

    def udp_address(self, key):
        """The host address (ip, port) a server sees for modem socket `key`."""
        with self._lock:
            return self._socks[key].getsockname()

    def counters(self):
        with self._lock:
            return dict(self.modem.counters)

    def state(self):
        with self._lock:
            return self.modem.state()

    def pwrkey(self, ms=None):
        """A PWRKEY (PON_TRIG) press: wakes from PSM, powers on when off; `ms` >= the model's
        power-off time turns a running modem off."""
        self._call(self.modem.pwrkey, ms)

    def pwrkey_level(self, level):
        """The PWRKEY line, as a driver's pin callback drives it: 0 pressed (low), 1 released."""
        self._call(self.modem.pwrkey_level, level)

    def reset(self):
        self._call(self.modem.reset)

    def gap(self, seconds):
        self._call(self.modem.gap, seconds)

    def pdp_loss(self):
        self._call(self.modem.pdp_loss)

    def urc(self, text):
        self._call(self.modem.urc, text)

    def inject_between(self, text):
        self._call(self.modem.inject_between, text)

    def set(self, **knobs):
        self._call(self.modem.set, **knobs)

    def enter_psm(self):
        """PSM now, as if T3324 had run out (tests that do not want to wait)."""
        self._call(self.modem._enter_psm)

    def discard_unread(self):
        """Throw away what the modem wrote that nobody has read yet (the start-up banner)."""
        with self._lock:
            self._collect()
            self._pending.clear()
            termios.tcflush(self._slave, termios.TCIFLUSH)

    def control(self, line):
        """One control command (the control port's datagram, the CLI's --at) -> a dict:
          pwrkey [MS|press|release] (press = line low)   reset   gap SECONDS   pdp-loss
          psm   urc TEXT
          between TEXT (a URC between the next info line and OK)   set KNOB=VALUE ...
          sim ready|missing|pin   deny on|off   counters   state"""
        word, _, rest = line.strip().partition(" ")
        word, rest = word.lower(), rest.strip()
        try:
            if word == "pwrkey":
                if rest in ("low", "high", "press", "release"):
                    self.pwrkey_level(0 if rest in ("low", "press") else 1)
                else:
                    self.pwrkey(float(rest) if rest else None)
            elif word == "reset":
                self.reset()
            elif word == "gap":
                self.gap(float(rest))
            elif word == "pdp-loss":
                self.pdp_loss()
            elif word == "psm":
                self.enter_psm()
            elif word == "urc":
                self.urc(rest)
            elif word == "between":
                self.inject_between(rest)
            elif word == "sim":
                self.set(sim=rest)
            elif word == "deny":
                self.set(deny=rest != "off")
            elif word == "set":
                self.set(**dict(_knob(kv) for kv in rest.split()))
            elif word == "counters":
                return {"ok": True, "counters": self.counters()}
            elif word != "state":
                return {"ok": False, "error": "unknown command %r" % word}
            return {"ok": True, "state": self.state()}
        except (TypeError, ValueError) as e:
            return {"ok": False, "error": str(e)}


def _knob(kv):
    k, _, v = kv.partition("=")
    try:
        return k, json.loads(v)
    except ValueError:
        return k, v
