"""CoAP message layer (RFC 7252 section 4): CON retransmission, NSTART with a bounded backlog,
deduplication by (peer, Message ID), empty ACK/RST handling and ping.

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


class Tx:
    """An outgoing CON message waiting for its ACK or RST. `ctx` is the owner's object (a Req
    for requests), given back in on_tx."""
    addr = msg = ctx = data = None
    due = timeout = tries = 0


class MessageLayer:
    def __init__(self, send, params, upper, rand=None):
        self.send_raw = send
        self.p = params
        self.upper = upper
        self.rand = rand              # None: the xorshift in _start()
        r = os.urandom(6)
        self._x = (r[2] << 24 | r[3] << 16 | r[4] << 8 | r[5]) or 1
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
            r = self.rand()
        else:
            # Retransmission jitter: a cheap xorshift (no syscall per message), seeded from
            # os.urandom so that devices booted together do not retransmit in step.
            x = self._x
            x ^= (x << 13) & 0xFFFFFFFF
            x ^= x >> 17
            x ^= (x << 5) & 0xFFFFFFFF
            self._x = x
            r = (x & 0xFFFF) / 65536
        tx.timeout = t = int(p.ack_timeout * (1 + (p.ack_random_factor - 1) * r))
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

    def cancel(self, tx, now):
        """Stop retransmitting tx (e.g. its separate response already arrived), or take it off
        the backlog if it never went out; the freed NSTART slot goes to the next in line."""
        if tx in self.backlog:
            self.backlog.remove(tx)
        elif self.pending.get(tx.msg.mid) is tx:
            self._release(tx)
            self._drain_backlog(now)

    def _release(self, tx):
        del self.pending[tx.msg.mid]
        n = self.busy.get(tx.addr, 1) - 1
        if n > 0:
            self.busy[tx.addr] = n
        else:
            self.busy.pop(tx.addr, None)

    def _drain_backlog(self, now):
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
            self._release(tx)
            if t == _ACK:
                self.upper.on_tx(tx, msg, None, now)
            else:
                self.upper.on_tx(tx, None, "reset", now)
            self._drain_backlog(now)
            return None
        if msg.code == 0:
            if t == _CON:   # CoAP ping (RFC 7252 4.3): answer with RST
                self._out(bytes((0x70, 0, mid >> 8, mid & 0xFF)), addr)
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
                    self._release(tx)
                    self.upper.on_tx(tx, None, "timeout", now)
                    self._drain_backlog(now)
                    continue
                tx.tries += 1
                tx.timeout *= 2
                tx.due = time.ticks_add(now, tx.timeout)
                self.retransmitted += 1
                self._out(tx.data, tx.addr)
