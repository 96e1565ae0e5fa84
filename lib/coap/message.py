"""CoAP message layer (RFC 7252 section 4) and its transmission parameters (4.8), no I/O.

MessageLayer: CON retransmission, NSTART with a bounded backlog, deduplication by (peer,
Message ID), empty ACK/RST handling and ping. `send(data, addr)` is injected and every call
that depends on time takes `now` (a ticks_ms value); tests drive it without sockets.

The layer above (coap.endpoint) hands it transmissions: any object with `addr`, `msg` (a
codec Message) and `retransmits` (0 to start with); the layer adds `timeout` and `due`. It
learns how each CON ended through one event, upper.on_tx(tx, msg, err, now): an ACK gives
(msg, None), a RST (None, 'reset'), no answer after MAX_RETRANSMIT (None, 'timeout').
Requests and responses in a CON or NON come back from receive() as Messages.
"""
import os
import time
from micropython import const

from coap.codec import CoapFormatError, decode, encode

_CON = const(0)
_NON = const(1)
_ACK = const(2)
_EMPTY_ACK = const(0x60)    # first octet of an empty ACK (version 1, type ACK, no token)
_EMPTY_RST = const(0x70)    # ... of an empty RST
_SLOT = const(16)           # octets kept per reply in the dedup ring (an ACK with a token fits)
_FREE = const(-1)           # a dedup ring slot that holds no key


class Params:
    """RFC 7252 transmission parameters (section 4.8), named and configurable in one place.

    All times are milliseconds; give base values as keywords (Params(ack_timeout=300)). The
    derived values (4.8.2) are plain attributes computed once here, so the message layer reads
    them without a call:

        max_transmit_span   ACK_TIMEOUT * (2 ** MAX_RETRANSMIT - 1) * ACK_RANDOM_FACTOR
        max_transmit_wait   ACK_TIMEOUT * (2 ** (MAX_RETRANSMIT + 1) - 1) * ACK_RANDOM_FACTOR
        lifetime            EXCHANGE_LIFETIME = MAX_TRANSMIT_SPAN + 2 * MAX_LATENCY + PROCESSING_DELAY
        non_lifetime        NON_LIFETIME = MAX_TRANSMIT_SPAN + MAX_LATENCY
        ack_jitter          ACK_TIMEOUT * (ACK_RANDOM_FACTOR - 1): the spread of first timeouts

    Change a base value after creation only by making a new Params (the derived ones would
    not follow)."""

    def __init__(self, ack_timeout=2000, ack_random_factor=1.5, max_retransmit=4, nstart=1,
                 max_latency=100000, processing_delay=2000, backlog=8, dedup_size=16,
                 max_pending=8, response_timeout=None):
        self.ack_timeout = ack_timeout                  # ACK_TIMEOUT
        self.ack_random_factor = ack_random_factor      # ACK_RANDOM_FACTOR
        self.max_retransmit = max_retransmit            # MAX_RETRANSMIT
        self.nstart = nstart                            # NSTART: interactions per peer
        self.max_latency = max_latency                  # MAX_LATENCY
        self.processing_delay = processing_delay        # PROCESSING_DELAY (= ACK_TIMEOUT)
        self.backlog = backlog                  # requests waiting for NSTART, over all peers
        self.dedup_size = dedup_size            # (peer, MID) pairs remembered for dedup
        self.max_pending = max_pending          # requests awaiting a response
        self.response_timeout = response_timeout    # separate response; None: MAX_TRANSMIT_WAIT
        t = ack_timeout
        f = ack_random_factor
        n = 1 << max_retransmit
        self.max_transmit_span = s = int(t * (n - 1) * f)
        self.max_transmit_wait = int(t * (2 * n - 1) * f)
        self.lifetime = s + 2 * max_latency + processing_delay
        self.non_lifetime = s + max_latency
        self.ack_jitter = int(t * (f - 1))


def run_timers(owner, table, attr, now):
    """Fire the timers of the objects in `table` (a dict), each an absolute tick in the
    object's attribute `attr` (None: no timer): owner._expired(obj, now) is called for every
    one whose time has passed, and must end or move its timer. Returns the ms until the next
    timer, or None. Both layers run theirs with it (retransmissions here, request deadlines
    in coap.endpoint).

    The objects due are collected before any fires (a firing changes the table). The usual
    tick finds none and allocates nothing: iterating a dict's keys needs no object
    (.values() would), and the list is made only when something is due."""
    while True:
        wait = None
        due = None
        for k in table:
            x = table[k]
            t = getattr(x, attr)
            if t is None:
                continue
            d = time.ticks_diff(t, now)
            if d <= 0:
                if due is None:
                    due = []
                due.append(x)
            elif wait is None or d < wait:
                wait = d
        if due is None:
            return wait
        for x in due:
            owner._expired(x, now)


class MessageLayer:
    def __init__(self, send, params, upper, rand=None):
        self.send_raw = send
        self.p = params
        self.upper = upper
        self.rand = rand              # tests: a float in [0, 1) per CON; None: the LCG
        r = os.urandom(4)
        self._x = r[2] << 8 | r[3]
        self.mid = r[0] << 8 | r[1]   # random start (RFC 7252 4.4)
        self.pending = {}             # mid -> transmission of a CON in flight
        self.busy = {}                # addr -> outstanding interactions
        self.backlog = []             # transmissions waiting for NSTART
        # Deduplication ring. Nothing in it is allocated per datagram: such objects outlive a
        # few hundred others and cut a small heap into pieces too short for a large message.
        # A key is a small int, peer index << 16 | MID, the peer's address object is kept once
        # in _peers, and a short reply is copied into _rb.
        n = params.dedup_size
        self._dk = [_FREE] * n        # keys
        self._dt = [0] * n            # expiry ticks
        self._dr = [None] * n         # reply: None (not yet), its length in _rb, or bytes
        self._rb = bytearray(n * _SLOT)
        self._peers = [None] * n      # request senders, index = place in the keys
        self._pi = 0
        self._next = 0
        # counters (read by status()/bench)
        self.sent = self.received = self.retransmitted = self.timeouts = 0
        self.duplicates = self.bad = self.send_errors = self.evicted = self.too_long = 0

    def _out(self, data, addr):
        try:
            self.send_raw(data, addr)
            self.sent += 1
        except OSError:
            # A link that is down looks like loss; retransmission or the caller recovers.
            self.send_errors += 1

    # ---- sending ----
    def send_con(self, tx, now):
        """Queue or send the CON tx.msg to tx.addr (tx: the upper layer's object, which is
        its own transmission record: no object more per message); returns tx, or None when
        the backlog is full."""
        if self.busy.get(tx.addr, 0) < self.p.nstart:
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
        self.pending[m] = tx
        a = tx.addr
        self.busy[a] = self.busy.get(a, 0) + 1
        self._out(encode(msg, True), a)     # no copy: a retransmission encodes again
        # The timer is set while the datagram is on its way: this work then overlaps the
        # peer's (an answer is read later, by receive(); a finished tx ignores its timer).
        if self.rand:
            r = int(self.rand() * 65536)
        else:
            # Retransmission jitter: a cheap LCG (no syscall, no float, small ints even on
            # 32-bit boards), seeded from os.urandom so that devices booted together do not
            # retransmit in step.
            self._x = r = (self._x * 75 + 74) % 65537
        # initial timeout in [ACK_TIMEOUT, ACK_TIMEOUT * ACK_RANDOM_FACTOR) (4.2)
        p = self.p
        tx.timeout = t = p.ack_timeout + (p.ack_jitter * (r & 0xFFFF) >> 16)
        tx.due = time.ticks_add(now, t)

    def send_non(self, addr, msg):
        msg.mtype = _NON
        self.mid = msg.mid = (self.mid + 1) & 0xFFFF
        self._out(encode(msg), addr)

    def reply(self, addr, mid, data):
        """Send an ACK/RST (or piggybacked response) to a received message and remember it,
        so that a duplicate of that message gets the same reply (RFC 7252 4.5)."""
        s = self._slot(addr, mid)
        if s is not None:
            n = len(data)
            if n <= _SLOT:          # kept in the ring's buffer: no object per reply
                self._rb[s * _SLOT:s * _SLOT + n] = data
                self._dr[s] = n
            else:
                self._dr[s] = data
        self._out(data, addr)

    def ack(self, addr, mid):
        """Reply with an empty ACK to message `mid` (remembered, as every reply)."""
        self.reply(addr, mid, bytes((_EMPTY_ACK, 0, mid >> 8, mid & 0xFF)))

    def reject(self, addr, mid):
        """Reply with an empty RST to message `mid` (remembered, as every reply)."""
        self.reply(addr, mid, bytes((_EMPTY_RST, 0, mid >> 8, mid & 0xFF)))

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
                self._out(bytes((_EMPTY_RST, 0, data[2], data[3])), addr)
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
                self.reject(addr, mid)
            return None
        return msg if self.first(addr, mid, t, now) else None

    def first(self, addr, mid, t, now):
        """Deduplication of a CON/NON (type t) from addr (RFC 7252 4.5): True the first time
        (remembered from now on); False for a duplicate, whose stored reply, if any, goes out
        again to a CON."""
        key = self._key(addr, mid)
        dk = self._dk
        if key in dk:
            s = dk.index(key)
            if time.ticks_diff(self._dt[s], now) > 0:
                self.duplicates += 1
                r = self._dr[s]
                if t == _CON and r is not None:
                    if isinstance(r, int):
                        r = memoryview(self._rb)[s * _SLOT:s * _SLOT + r]
                    self._out(r, addr)
                return False
            dk[s] = _FREE   # expired: the new entry below is the only one with this key
        # Remember (peer, MID) for EXCHANGE_LIFETIME (CON) or NON_LIFETIME, in a ring whose
        # oldest entry makes room (counted when it was still live).
        s = self._next
        self._next = (s + 1) % len(dk)
        if dk[s] != _FREE and time.ticks_diff(self._dt[s], now) > 0:
            self.evicted += 1
        dk[s] = key
        self._dt[s] = time.ticks_add(now, self.p.lifetime if t == _CON else self.p.non_lifetime)
        self._dr[s] = None
        return True

    def _key(self, addr, mid):
        """(peer, MID) as a small int. A new peer takes the next of dedup_size places, round
        robin; entries of the one it replaces are dropped."""
        ps = self._peers
        if addr not in ps:
            i = self._pi
            self._pi = (i + 1) % len(ps)
            ps[i] = addr
            dk = self._dk
            for s in range(len(dk)):
                if dk[s] >> 16 == i:
                    dk[s] = _FREE
        return ps.index(addr) << 16 | mid

    def _slot(self, addr, mid):
        """The ring slot remembering (addr, mid), or None."""
        ps = self._peers
        if addr not in ps:
            return None
        k = ps.index(addr) << 16 | mid
        dk = self._dk
        return dk.index(k) if k in dk else None

    # ---- timers ----
    def tick(self, now):
        """Retransmit what is due; return ms until the next retransmission, or None."""
        return run_timers(self, self.pending, "due", now)

    def _expired(self, tx, now):
        """tx's retransmission timer fired: send it again with a doubled timeout (4.2), or
        give up after MAX_RETRANSMIT."""
        if self.pending.get(tx.msg.mid) is not tx:
            return              # ended by the event of another one due at the same time
        if tx.retransmits >= self.p.max_retransmit:
            self.timeouts += 1
            self._free(tx, now)
            self.upper.on_tx(tx, None, "timeout", now)
            return
        tx.retransmits += 1
        tx.timeout *= 2
        tx.due = time.ticks_add(now, tx.timeout)
        self.retransmitted += 1
        self._out(encode(tx.msg, True), tx.addr)
