"""CoAP endpoint state machines, no I/O: the message layer (RFC 7252 section 4) and the
request/response layer (section 5) on top of it, with their transmission parameters (4.8).

One module for both layers because on a board every module costs RAM for its own copy of the
names it uses; the layers stay separate classes:

MessageLayer: CON retransmission, NSTART with a bounded backlog, deduplication by (peer,
Message ID), empty ACK/RST handling and ping. `send(data, addr)` is injected and every call
that depends on time takes `now` (a ticks_ms value). The upper layer learns how each CON
ended through one event, on_tx(tx, msg, err, now): an ACK gives (msg, None), a RST
(None, 'reset'), no answer after MAX_RETRANSMIT (None, 'timeout').

Endpoint: tokens, client requests, server resources, separate responses. An Endpoint is both
client and server on one socket (PC-08). It never touches a socket or a clock itself: the I/O
adapter (coap.udp) calls received(data, addr) (too_long(data, addr) for a datagram longer
than bufsize) and tick(), and gives the endpoint a send(data, addr) function. Tests drive it
the same way without sockets.

Server side:   ep.resource('msgin5g/ue', handler, prefix=True, methods=(POST,))
               handler(req) -> (code, payload=b'', content_format=None, options=None) | code | None
               None means 'answer later' with ep.respond(req, code, ...): an empty ACK goes out now
               and a separate CON response later (RFC 7252 5.2.2).
Client side:   r = ep.request(addr, POST, 'msgin5g', payload, cf=50, callback=fn)
               fn(r) is called once with r.response (a Message) or r.error ('timeout', 'reset',
               'backlog full', 'busy'); r.done tells the same for polling code.
"""
import os
import time
from micropython import const

from coap.codec import CoapFormatError, Message, decode, decode_header, encode

_CON = const(0)
_NON = const(1)
_ACK = const(2)
_RST = const(3)
_BAD_OPTION = const(0x82)
_NOT_FOUND = const(0x84)
_METHOD_NOT_ALLOWED = const(0x85)
_TOO_LARGE = const(0x8D)
_INTERNAL_SERVER_ERROR = const(0xA0)
_SERVICE_UNAVAILABLE = const(0xA3)
_CONTENT_FORMAT = const(12)
_SIZE1 = const(60)
_SLOT = const(16)           # octets kept per reply in the dedup ring (an ACK with a token fits)

# Options this stack recognises; an unknown critical (odd) option in a CON request gets 4.02.
_KNOWN = const((1, 3, 4, 5, 6, 7, 8, 11, 12, 14, 15, 17, 20, 23, 27, 28, 35, 39, 60, 258))


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

    ack_timeout = 2000          # ACK_TIMEOUT
    ack_random_factor = 1.5     # ACK_RANDOM_FACTOR
    max_retransmit = 4          # MAX_RETRANSMIT
    nstart = 1                  # NSTART: outstanding interactions per peer
    max_latency = 100000        # MAX_LATENCY
    processing_delay = 2000     # PROCESSING_DELAY (= ACK_TIMEOUT)
    backlog = 8                 # requests waiting for NSTART, over all peers
    dedup_size = 16             # remembered (peer, MID) pairs for deduplication
    max_pending = 8             # requests awaiting a response
    response_timeout = None     # wait for a separate response; None = MAX_TRANSMIT_WAIT

    def __init__(self, **kw):
        for k in kw:            # only known names: a typo is an AttributeError naming it
            getattr(self, k)
            setattr(self, k, kw[k])
        t = self.ack_timeout
        f = self.ack_random_factor
        n = 1 << self.max_retransmit
        self.max_transmit_span = s = int(t * (n - 1) * f)
        self.max_transmit_wait = int(t * (2 * n - 1) * f)
        self.lifetime = s + 2 * self.max_latency + self.processing_delay
        self.non_lifetime = s + self.max_latency
        self.ack_jitter = int(t * (f - 1))     # ACK_TIMEOUT * (ACK_RANDOM_FACTOR - 1)


class MessageLayer:
    def __init__(self, send, params, upper, rand=None):
        self.send_raw = send
        self.p = params
        self.upper = upper
        self.rand = rand              # tests: a float in [0, 1) per CON; None: the LCG
        r = os.urandom(4)
        self._x = r[2] << 8 | r[3]
        self.mid = r[0] << 8 | r[1]   # random start (RFC 7252 4.4)
        self.pending = {}             # mid -> Req of a CON in flight
        self.busy = {}                # addr -> outstanding interactions
        self.backlog = []             # Req waiting for NSTART
        # Deduplication ring. Nothing in it is allocated per datagram: such objects outlive a
        # few hundred others and cut a small heap into pieces too short for a large message.
        # A key is a small int, peer index << 16 | MID, the peer's address object is kept once
        # in _peers, and a short reply is copied into _rb.
        n = params.dedup_size
        self._dk = [-1] * n           # keys, -1: free
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
        """Queue or send the CON tx.msg to tx.addr (tx: a Req, which is its own transmission
        record: no object more per message); returns tx, or None when the backlog is full."""
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
        # peer's (an answer is read later, by received(); a finished tx ignores its timer).
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

    def send_non(self, addr, msg):
        msg.mtype = _NON
        self.mid = msg.mid = (self.mid + 1) & 0xFFFF
        self._out(encode(msg), addr)

    def reply(self, addr, mid, data):
        """Send an ACK/RST (or piggybacked response) to a received message and remember it,
        so that a duplicate of that message gets the same reply (RFC 7252 4.5)."""
        k = self._key(addr, mid, False)
        dk = self._dk
        if k in dk:
            s = dk.index(k)
            n = len(data)
            if n <= _SLOT:          # kept in the ring's buffer: no object per reply
                self._rb[s * _SLOT:s * _SLOT + n] = data
                self._dr[s] = n
            else:
                self._dr[s] = data
        self._out(data, addr)

    def _key(self, addr, mid, add):
        """(peer, MID) as a small int, or -2 for a peer not in the table when add is false. A
        new peer takes the next of dedup_size places, round robin; entries of the one it
        replaces are dropped."""
        ps = self._peers
        if addr not in ps:
            if not add:
                return -2
            i = self._pi
            self._pi = (i + 1) % len(ps)
            ps[i] = addr
            dk = self._dk
            for s in range(len(dk)):
                if dk[s] >> 16 == i:
                    dk[s] = -1
        return ps.index(addr) << 16 | mid

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
        return msg if self.first(addr, mid, t, now) else None

    def first(self, addr, mid, t, now):
        """Deduplication of a CON/NON (type t) from addr (RFC 7252 4.5): True the first time
        (remembered from now on); False for a duplicate, whose stored reply, if any, goes out
        again to a CON."""
        key = self._key(addr, mid, True)
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
            dk[s] = -1      # expired: the new entry below is the only one with this key
        # Remember (peer, MID) for EXCHANGE_LIFETIME (CON) or NON_LIFETIME, in a ring whose
        # oldest entry makes room (counted when it was still live).
        s = self._next
        self._next = (s + 1) % len(dk)
        if dk[s] >= 0 and time.ticks_diff(self._dt[s], now) > 0:
            self.evicted += 1
        dk[s] = key
        self._dt[s] = time.ticks_add(now, self.p.lifetime if t == _CON else self.p.non_lifetime)
        self._dr[s] = None
        return True

    # ---- timers ----
    def tick(self, now):
        """Retransmit what is due; return ms until the next retransmission, or None."""
        while True:
            wait = None
            due = None
            pend = self.pending
            for m in pend:          # iterating keys allocates nothing; .values() would
                tx = pend[m]
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
                if tx.retransmits >= self.p.max_retransmit:
                    self.timeouts += 1
                    self._free(tx, now)
                    self.upper.on_tx(tx, None, "timeout", now)
                    continue
                tx.retransmits += 1
                tx.timeout *= 2
                tx.due = time.ticks_add(now, tx.timeout)
                self.retransmitted += 1
                self._out(encode(tx.msg, True), tx.addr)


class Req:
    """A client request in flight. `code` is the response code once done (None without a
    response); `retransmits` counts its CON retransmissions. A CON request is also its own
    message-layer transmission (`retransmits`, `timeout`, `due` belong to that role); a
    separate response goes out as a Req that no one waits for.

    Defaults are class attributes and an instance stores only what differs: every attribute
    stored grows the instance's table (one allocation per two), on each request."""
    callback = None
    deadline = None
    done = False
    response = None
    error = None
    code = None
    retransmits = 0
    ping = False

    def __init__(self, addr, msg, callback=None):
        self.addr = addr
        self.msg = msg
        if callback:
            self.callback = callback


class Endpoint:
    bufsize = 1280      # largest datagram accepted (the I/O adapter's receive buffer)

    def __init__(self, send, params=None, clock=None, rand=None, log=None):
        self.p = params or Params()
        self.clock = clock or time.ticks_ms
        self.ml = MessageLayer(send, self.p, self, rand)
        self.log = log
        self._res = []          # (segments, prefix, methods, handler)
        self._reqs = {}         # token -> Req
        self.kick = int         # a no-op until an async runner sets its wake-up (int() is free)
        self.handler_errors = 0
        self._rnd = b""         # random octets for tokens, fetched 64 at a time
        self._ri = 0
        self._last = (1,)   # request(): (path, cf, options, built options)

    # ---------------- server side ----------------
    def resource(self, path, handler, prefix=False, methods=None):
        """Serve path ('a/b' or a list of segments); prefix=True also serves a/b/..."""
        segs = Message().set_path(path).path()     # the same parsing as requests get
        self._res.append((segs, prefix, methods, handler))

    def respond(self, req, code, payload=b"", cf=None, options=None):
        """Answer a received request (piggybacked if still possible, else separate)."""
        msg = Message(_ACK, code, req.mid, req.token, [], payload)
        if cf is not None:
            msg.add(_CONTENT_FORMAT, cf)
        for o in options or ():
            msg.add(*o)         # int, str or bytes values
        if req.mtype != _CON:
            self.ml.send_non(req.addr, msg)
        elif not req.acked:
            req.acked = True
            self.ml.reply(req.addr, req.mid, encode(msg))
        else:
            self.ml.send_con(Req(req.addr, msg), self.clock())
            self.kick()

    # ---------------- client side ----------------
    def request(self, addr, code, path=None, payload=b"", cf=None, con=True, options=None,
                callback=None, timeout=None):
        """Send a request; returns its Req. `options` is a list of (number, value) with int,
        str or bytes values, e.g. [(3, 'host'), (15, 'a=1'), (17, 41)] for Uri-Host,
        Uri-Query and Accept."""
        # Tokens: 4 random octets (RFC 7252 5.3.1), from a block read once per 16 requests.
        i = self._ri
        if i >= len(self._rnd):
            self._rnd = os.urandom(64)
            i = 0
        self._ri = i + 4
        # A device sends the same path/format/options again and again: reuse the options
        # built last time, as a tuple nobody changes (encode() then copies the encoding it
        # made for that tuple). The key is compared by value, never by identity.
        c = self._last
        k = c[0] == path and c[1] == cf and c[2] == options
        msg = Message(_CON if con else _NON, code, 0, self._rnd[i:i + 4], c[3] if k else None,
                      payload)
        if not k:
            if path:
                msg.set_path(path)
            if cf is not None:
                msg.add(_CONTENT_FORMAT, cf)
            for o in options or ():
                msg.add(*o)
            self._last = (path if path is None or isinstance(path, str) else 1, cf,
                          options and list(options), tuple(msg.options))
        return self.send_request(addr, msg, callback, timeout)

    def send_request(self, addr, msg, callback=None, timeout=None):
        """Send a prepared request Message (its token is used as given)."""
        req = Req(addr, msg, callback)
        reqs = self._reqs
        if len(reqs) >= self.p.max_pending or msg.token in reqs:
            self._end(req, None, "busy")   # a token in use: never orphan the older request
            return req
        now = self.clock()
        reqs[msg.token] = req
        if msg.mtype == _NON:
            self.ml.send_non(addr, msg)
            req.deadline = time.ticks_add(now, timeout or self.p.non_lifetime)
        else:
            if self.ml.send_con(req, now) is None:
                self._end(req, None, "backlog full")
                return req
            if timeout:
                req.deadline = time.ticks_add(now, timeout)
        self.kick()
        return req

    def ping(self, addr, callback=None):
        """CoAP ping: an empty CON; the peer's RST means it is alive (r.error is None)."""
        req = Req(addr, Message(), callback)     # an empty CON
        req.ping = True
        if self.ml.send_con(req, self.clock()) is None:
            self._end(req, None, "backlog full")
        self.kick()
        return req

    def cancel(self, req):
        self.ml.cancel(req, self.clock())
        self._end(req, None, "cancelled")

    def _end(self, req, resp, err):
        """Finish req once: record the outcome, forget its token, call its callback."""
        if req.done:
            return
        t = req.msg.token
        if self._reqs.get(t) is req:
            del self._reqs[t]
        req.done = True
        req.error = err         # the 8th attribute at most: no larger table than without it
        if resp:
            req.response = resp
            req.code = resp.code
        if req.callback:
            req.callback(req)

    def on_tx(self, req, msg, err, now):
        """Message-layer event: the CON `req` was answered by an ACK (msg), a RST
        (err 'reset') or nothing (err 'timeout')."""
        if msg and not msg.code:        # an empty ACK
            if req.ping:
                self._end(req, None, "not a ping reply")
                return
            # Separate response follows (RFC 7252 5.2.2): wait for it.
            dl = time.ticks_add(now, self.p.response_timeout or self.p.max_transmit_wait)
            if req.deadline is None or time.ticks_diff(dl, req.deadline) < 0:
                req.deadline = dl
            return
        if req.ping and err == "reset":
            err = None          # the peer is alive
        self._end(req, msg, err)

    # ---------------- I/O entry points ----------------
    def received(self, data, addr):
        now = self.clock()
        msg = self.ml.receive(data, addr, now)
        if msg is None:
            return
        c = msg.code
        mid = msg.mid
        con = msg.mtype == _CON
        if c >= 64:                     # a response in a CON or NON (separate)
            req = self._reqs.get(msg.token)
            if req and req.addr == addr:
                if con:
                    self.ml.empty(addr, mid, 0x60)
                self.ml.cancel(req, now)    # a CON's ACK was lost; the response implies it
                self._end(req, msg, None)
                return
        elif c < 32:                    # a request: serve it
            msg.addr = addr
            msg.acked = False
            for n, _ in msg.options:
                if n & 1 and n not in _KNOWN:
                    if con:
                        self.respond(msg, _BAD_OPTION)
                    return  # NON with unknown critical option: rejected silently
            try:
                segs = msg.path()
            except UnicodeError:
                segs = None
            found = None
            if segs is not None:
                k = len(segs)
                for r in self._res:
                    rs = r[0]
                    n = len(rs)
                    if (k == n or (r[1] and k > n)) and segs[:n] == rs:
                        found = r
                        break
            if found is None:
                out = _NOT_FOUND
            elif found[2] is not None and c not in found[2]:
                out = _METHOD_NOT_ALLOWED
            else:
                try:
                    out = found[3](msg)
                except MemoryError:
                    # Out of heap (or too fragmented) for this request: ask the peer to retry
                    # later.
                    self.handler_errors += 1
                    out = (_SERVICE_UNAVAILABLE, b"", None, [(14, 2)])   # Max-Age 2 s
                    if self.log:
                        self.log("handler: out of memory, answered 5.03")
                except Exception as e:  # a handler bug must not kill the loop
                    self.handler_errors += 1
                    if self.log:
                        self.log("handler error: %r" % (e,))
                    out = _INTERNAL_SERVER_ERROR
            if out is None:
                # Deferred: acknowledge now, answer later with a separate response.
                if con:
                    self.ml.empty(addr, mid, 0x60)
                    msg.acked = True
            elif isinstance(out, int):
                self.respond(msg, out)
            else:
                self.respond(msg, *out)
            return
        # An unexpected response (RFC 7252 5.3.2) or a reserved code class: reject a CON.
        if con:
            self.ml.empty(addr, mid, 0x70)

    def too_long(self, data, addr):
        """A datagram longer than bufsize, of which the I/O adapter read only the start (PC-26:
        one that fills the receive buffer is truncated). It never reaches a resource: a request
        gets 4.13 Request Entity Too Large with Size1 = bufsize, the largest size accepted
        (RFC 7252 5.9.2.9, 5.10.9), piggybacked on the ACK of a CON (a retransmission gets the
        same reply from deduplication) or in a NON to a NON. Anything else, or a header and
        token that do not parse, is dropped: what the rest held is unknown."""
        ml = self.ml
        ml.received += 1
        ml.too_long += 1
        try:
            msg = decode_header(data)
        except CoapFormatError:
            return
        if msg.mtype > _NON or not 0 < msg.code < 32:
            return
        if ml.first(addr, msg.mid, msg.mtype, self.clock()):
            msg.addr = addr
            msg.acked = False
            self.respond(msg, _TOO_LARGE, options=((_SIZE1, self.bufsize),))

    def tick(self):
        """Run timers; return ms until the next one (None when idle)."""
        now = self.clock()
        wait = self.ml.tick(now)
        late = None
        reqs = self._reqs
        for t in reqs:              # iterating keys allocates nothing; .values() would
            req = reqs[t]
            dl = req.deadline
            if dl is None:
                continue
            d = time.ticks_diff(dl, now)
            if d <= 0:
                if late is None:
                    late = []
                late.append(req)
            elif wait is None or d < wait:
                wait = d
        if late:
            for req in late:
                self.ml.cancel(req, now)
                self._end(req, None, "timeout")
        return wait

