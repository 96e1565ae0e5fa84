"""CoAP message layer (RFC 7252 section 4) and its transmission parameters (4.8): CON
retransmission, NSTART with a bounded backlog, deduplication by (peer, Message ID), empty
ACK/RST handling and ping.

No sockets and no clock here: `send(data, addr)` is injected and every call that depends on time
takes `now` (a ticks_ms value). The upper layer (endpoint.Endpoint) learns how each CON ended
through one event, on_tx(tx, msg, err, now): an ACK gives (msg, None), a RST (None, 'reset'),
no answer after MAX_RETRANSMIT (None, 'timeout').
"""
import os
import time
from micropython import const

from coap.codec import CoapFormatError, decode, encode

_CON = const(0)
_NON = const(1)
_ACK = const(2)
_RST = const(3)


class Params:
    """RFC 7252 transmission parameters (section 4.8), named and configurable in one place.

    All times are milliseconds; set base values as keywords (Params(ack_timeout=300)). The
    derived values (4.8.2) are plain attributes computed once here, so the message layer reads
    them without a call:

        max_transmit_span   ACK_TIMEOUT * (2 ** MAX_RETRANSMIT - 1) * ACK_RANDOM_FACTOR
        max_transmit_wait   ACK_TIMEOUT * (2 ** (MAX_RETRANSMIT + 1) - 1) * ACK_RANDOM_FACTOR
        lifetime            EXCHANGE_LIFETIME = MAX_TRANSMIT_SPAN + 2 * MAX_LATENCY + PROCESSING_DELAY
        non_lifetime        NON_LIFETIME = MAX_TRANSMIT_SPAN + MAX_LATENCY
        ack_jitter          ACK_TIMEOUT * (ACK_RANDOM_FACTOR - 1): the spread of first timeouts

    Change a base value after creation only by making a new Params (the derived ones would
    not follow)."""

    def __init__(self, **kw):
        self.ack_timeout = 2000          # ACK_TIMEOUT
        self.ack_random_factor = 1.5     # ACK_RANDOM_FACTOR
        self.max_retransmit = 4          # MAX_RETRANSMIT
        self.nstart = 1                  # NSTART: outstanding interactions per peer
        self.max_latency = 100000        # MAX_LATENCY
        self.processing_delay = 2000     # PROCESSING_DELAY (= ACK_TIMEOUT)
        self.backlog = 8                 # requests waiting for NSTART, over all peers
        self.dedup_size = 16             # remembered (peer, MID) pairs for deduplication
        self.max_pending = 8             # requests awaiting a response
        self.max_message = 1152          # largest datagram sent or accepted (PC-11)
        self.response_timeout = None     # wait for a separate response; None = MAX_TRANSMIT_WAIT
        for k in kw:
            if not hasattr(self, k):
                raise AttributeError(k)
            setattr(self, k, kw[k])
        t = self.ack_timeout
        f = self.ack_random_factor
        n = 1 << self.max_retransmit
        self.max_transmit_span = s = int(t * (n - 1) * f)
        self.max_transmit_wait = int(t * (2 * n - 1) * f)
        self.lifetime = s + 2 * self.max_latency + self.processing_delay
        self.non_lifetime = s + self.max_latency
        self.ack_jitter = int(t * (f - 1))     # ACK_TIMEOUT * (ACK_RANDOM_FACTOR - 1)


class Tx:
    """An outgoing CON message waiting for its ACK or RST. `ctx` is the owner's object (a Req
    for requests), given back in on_tx. send_con sets addr/msg/ctx, _start data/timeout/due."""
    tries = 0


class MessageLayer:
    def __init__(self, send, params, upper, rand=None):
        self.send_raw = send
        self.p = params
        self.upper = upper
        self.rand = rand              # tests: a float in [0, 1) per CON; None: the LCG
        r = os.urandom(4)
        self._x = r[2] << 8 | r[3]
        self.mid = r[0] << 8 | r[1]   # random start (RFC 7252 4.4)
        self.pending = {}             # mid -> Tx
        self.busy = {}                # addr -> outstanding interactions
        self.backlog = []             # Tx waiting for NSTART
        n = params.dedup_size
        self._dk = [None] * n         # dedup ring: keys (addr, mid)
        self._dt = [0] * n            # expiry ticks
        self._dr = [None] * n         # stored reply datagram (None: not answered yet)
        self._di = {}                 # key -> slot
        self._next = 0
        # counters (read by status()/bench)
        self.sent = self.received = self.retransmitted = self.timeouts = 0
        self.duplicates = self.bad = self.send_errors = self.evicted = 0

    def _out(self, data, addr):
        try:
            self.send_raw(data, addr)
            self.sent += 1
        except OSError:
            # A link that is down looks like loss; retransmission or the caller recovers.
            self.send_errors += 1

    # ---- sending ----
    def send_con(self, addr, msg, now, ctx=None):
        """Queue or send a CON; returns the Tx, or None when the backlog is full."""
        tx = Tx()
        tx.addr = addr
        tx.msg = msg
        tx.ctx = ctx
        if self.busy.get(addr, 0) < self.p.nstart:
            self._start(tx, now)
        elif len(self.backlog) < self.p.backlog:
            self.backlog.append(tx)
        else:
            return None
        return tx

    def _start(self, tx, now):
        msg = tx.msg
        msg.mtype = _CON
        self.mid = m = (self.mid + 1) & 0xFFFF
        msg.mid = m
        tx.data = d = encode(msg)
        p = self.p
        if self.rand:
            r = int(self.rand() * 65536)
        else:
            # Retransmission jitter: a cheap LCG (no syscall, no float, small ints even on
            # 32-bit boards), seeded from os.urandom so that devices booted together do not
            # retransmit in step.
            self._x = r = (self._x * 75 + 74) % 65537
        # initial timeout in [ACK_TIMEOUT, ACK_TIMEOUT * ACK_RANDOM_FACTOR) (4.2)
        tx.timeout = t = p.ack_timeout + (p.ack_jitter * (r & 0xFFFF) >> 16)
        tx.due = time.ticks_add(now, t)
        self.pending[m] = tx
        a = tx.addr
        self.busy[a] = self.busy.get(a, 0) + 1
        self._out(d, a)

    def send_non(self, addr, msg):
        msg.mtype = _NON
        self.mid = msg.mid = (self.mid + 1) & 0xFFFF
        self._out(encode(msg), addr)

    def reply(self, addr, mid, data):
        """Send an ACK/RST (or piggybacked response) to a received message and remember it,
        so that a duplicate of that message gets the same reply (RFC 7252 4.5)."""
        s = self._di.get((addr, mid))
        if s is not None:
            self._dr[s] = data
        self._out(data, addr)

    def empty(self, addr, mid, h):
        """Reply with an empty ACK (h=0x60) or RST (h=0x70) to message `mid`."""
        self.reply(addr, mid, bytes((h, 0, mid >> 8, mid & 0xFF)))

    def cancel(self, tx, now):
        """Stop retransmitting tx (e.g. its separate response already arrived), or take it off
        the backlog if it never went out; the freed NSTART slot goes to the next in line."""
        if tx in self.backlog:
            self.backlog.remove(tx)
        elif self.pending.get(tx.msg.mid) is tx:
            self._free(tx, now)

    def _free(self, tx, now):
        """tx is over: release its NSTART slot and start whatever the backlog allows."""
        del self.pending[tx.msg.mid]
        a = tx.addr
        n = self.busy.get(a, 1) - 1
        if n > 0:
            self.busy[a] = n
        else:
            self.busy.pop(a, None)
        bl = self.backlog
        i = 0
        while i < len(bl):
            tx = bl[i]
            if self.busy.get(tx.addr, 0) < self.p.nstart:
                bl.pop(i)
                self._start(tx, now)
            else:
                i += 1

    # ---- receiving ----
    def receive(self, data, addr, now):
        """Process one datagram. Returns a Message for the upper layer (a request or a
        response in a CON/NON), or None when the message layer consumed it."""
        self.received += 1
        try:
            msg = decode(data)
        except CoapFormatError:
            self.bad += 1
            # RFC 7252 4.2: a CON with a format error past a valid header is rejected with RST;
            # any other garbage is silently dropped.
            if len(data) >= 4 and data[0] >> 4 == 4:
                self._out(bytes((0x70, 0, data[2], data[3])), addr)
            return None
        t = msg.mtype
        mid = msg.mid
        if t >= _ACK:
            tx = self.pending.get(mid)
            if tx is None or tx.addr != addr or (msg.code and msg.token != tx.msg.token):
                return None  # late or foreign ACK/RST, or a response for another token
            self._free(tx, now)
            if t == _ACK:
                self.upper.on_tx(tx, msg, None, now)
            else:
                self.upper.on_tx(tx, None, "reset", now)
            return None
        if msg.code == 0:
            if t == _CON:   # CoAP ping (RFC 7252 4.3): answer with RST
                self.empty(addr, mid, 0x70)
            return None
        key = (addr, mid)
        s = self._di.get(key)
        if s is not None and time.ticks_diff(self._dt[s], now) > 0:
            self.duplicates += 1
            if t == _CON and self._dr[s] is not None:
                self._out(self._dr[s], addr)
            return None
        # Remember (peer, MID) for EXCHANGE_LIFETIME (CON) or NON_LIFETIME, in a ring whose
        # oldest entry makes room (counted when it was still live).
        s = self._next
        dk = self._dk
        self._next = (s + 1) % len(dk)
        old = dk[s]
        if old is not None:
            self._di.pop(old, None)
            if time.ticks_diff(self._dt[s], now) > 0:
                self.evicted += 1
        dk[s] = key
        self._dt[s] = time.ticks_add(now, self.p.lifetime if t == _CON else self.p.non_lifetime)
        self._dr[s] = None
        self._di[key] = s
        return msg

    # ---- timers ----
    def tick(self, now):
        """Retransmit what is due; return ms until the next retransmission, or None."""
        while True:
            wait = None
            due = None
            for tx in self.pending.values():
                d = time.ticks_diff(tx.due, now)
                if d <= 0:
                    if due is None:
                        due = []
                    due.append(tx)
                elif wait is None or d < wait:
                    wait = d
            if due is None:
                return wait        # the usual case: nothing due, nothing allocated
            for tx in due:
                if tx.tries >= self.p.max_retransmit:
                    self.timeouts += 1
                    self._free(tx, now)
                    self.upper.on_tx(tx, None, "timeout", now)
                    continue
                tx.tries += 1
                tx.timeout *= 2
                tx.due = time.ticks_add(now, tx.timeout)
                self.retransmitted += 1
                self._out(tx.data, tx.addr)
