"""CoAP request/response layer (RFC 7252 section 5), no I/O, on the message layer
(coap.message, which also holds Params: re-exported here, `from coap.endpoint import Params`).

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

from coap.codec import CoapFormatError, Message, decode_header, encode
from coap.message import MessageLayer, Params, run_timers  # noqa: F401 (Params: re-exported)

_CON = const(0)
_NON = const(1)
_ACK = const(2)
_BAD_OPTION = const(0x82)
_NOT_FOUND = const(0x84)
_METHOD_NOT_ALLOWED = const(0x85)
_TOO_LARGE = const(0x8D)
_INTERNAL_SERVER_ERROR = const(0xA0)
_SERVICE_UNAVAILABLE = const(0xA3)
_CONTENT_FORMAT = const(12)
_MAX_AGE = const(14)
_SIZE1 = const(60)

# The critical (odd) options this stack recognises; any other critical option in a CON
# request gets 4.02 Bad Option, in a NON the request is dropped (RFC 7252 5.4.1): If-Match,
# Uri-Host, If-None-Match, Uri-Port, Uri-Path, Uri-Query, Accept, Proxy-Uri, Proxy-Scheme.
# Not Block1 (27) or Block2 (23): without block-wise transfer (RFC 7959) a handler would take
# the first block for the whole body and the peer would take the transfer as complete.
_KNOWN = const((1, 3, 5, 7, 11, 15, 17, 35, 39))


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
        self.handler_errors = 0
        self._rnd = b""         # random octets for tokens, fetched 64 at a time
        self._ri = 0
        self._last = None       # request(): (path, cf, options, options built for them)

    def kick(self):
        """Wake the runner's timer after new work; coap.aio.run sets its own (an instance
        attribute); a plain poll() loop needs none."""

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
        msg = Message(_CON if con else _NON, code, 0, self._rnd[i:i + 4],
                      self._options(path, cf, options), payload)
        return self.send_request(addr, msg, callback, timeout)

    def _options(self, path, cf, options):
        """A request's options as a tuple nobody changes (msg.add() on it raises). A device
        sends the same path, format and options again and again: the tuple built last time
        serves again when they are equal (compared by value, never by identity; lists are
        copied, their owner may change them), and encode() then copies the encoding it kept
        for that tuple."""
        last = self._last
        if last is not None and last[0] == path and last[1] == cf and last[2] == options:
            return last[3]
        msg = Message()
        if path:
            msg.set_path(path)
        if cf is not None:
            msg.add(_CONTENT_FORMAT, cf)
        for o in options or ():
            msg.add(*o)
        built = tuple(msg.options)
        self._last = (path if path is None or isinstance(path, str) else list(path), cf,
                      None if options is None else list(options), built)
        return built

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
        con = msg.mtype == _CON
        if c >= 64:                     # a response in a CON or NON (separate)
            req = self._reqs.get(msg.token)
            if req and req.addr == addr:
                if con:
                    self.ml.ack(addr, msg.mid)
                self.ml.cancel(req, now)    # a CON's ACK was lost; the response implies it
                self._end(req, msg, None)
                return
        elif c < 32:                    # a request
            msg.addr = addr
            msg.acked = False
            self._serve(msg)
            return
        # An unexpected response (RFC 7252 5.3.2) or a reserved code class: reject a CON.
        if con:
            self.ml.reject(addr, msg.mid)

    def _serve(self, msg):
        """Answer a request (msg.addr, msg.acked set) from its resource."""
        con = msg.mtype == _CON
        for n, _ in msg.options:
            if n & 1 and n not in _KNOWN:
                if con:
                    self.respond(msg, _BAD_OPTION)
                return  # NON with an unknown critical option: rejected silently
        res = self._resource(msg)
        if res is None:
            out = _NOT_FOUND
        elif res[2] is not None and msg.code not in res[2]:
            out = _METHOD_NOT_ALLOWED
        else:
            out = self._handle(res[3], msg)
        if out is None:
            # Deferred: acknowledge now, answer later with a separate response.
            if con:
                self.ml.ack(msg.addr, msg.mid)
                msg.acked = True
        elif isinstance(out, int):
            self.respond(msg, out)
        else:
            self.respond(msg, *out)

    def _resource(self, msg):
        """The first resource serving the request's path (or a prefix of it), or None."""
        try:
            segs = msg.path()
        except UnicodeError:
            return None         # not a path of ours: 4.04
        k = len(segs)
        for r in self._res:
            rs = r[0]
            n = len(rs)
            if (k == n or (r[1] and k > n)) and segs[:n] == rs:
                return r
        return None

    def _handle(self, handler, msg):
        """handler(msg), whose failure is an answer, never the end of the loop."""
        try:
            return handler(msg)
        except MemoryError:
            # Out of heap (or too fragmented) for this request: ask the peer to retry later.
            self.handler_errors += 1
            if self.log:
                self.log("handler: out of memory, answered 5.03")
            return (_SERVICE_UNAVAILABLE, b"", None, [(_MAX_AGE, 2)])   # Max-Age 2 s
        except Exception as e:  # a handler bug must not kill the loop
            self.handler_errors += 1
            if self.log:
                self.log("handler error: %r" % (e,))
            return _INTERNAL_SERVER_ERROR

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
        d = run_timers(self, self._reqs, "deadline", now)
        if wait is None or d is not None and d < wait:
            wait = d
        return wait

    def _expired(self, req, now):
        """req's deadline passed (no response in time)."""
        self.ml.cancel(req, now)
        self._end(req, None, "timeout")

    # ---- loops over poll(ms), which a transport provides (coap.udp, modem.endpoint) ----
    def run_until(self, done, timeout_ms=None):
        """Poll until done() is true or timeout_ms passes. Returns done()."""
        t0 = time.ticks_ms()
        while not done():
            if timeout_ms is not None and time.ticks_diff(time.ticks_ms(), t0) >= timeout_ms:
                break
            self.poll(50)
        return done()

    def call(self, *args, **kw):
        """Blocking request for plain loops, scripts and the REPL: request()'s arguments
        (callback excepted); returns the finished Req."""
        r = self.request(*args, **kw)
        while not r.done:       # the request's own timers end it (timeout, reset)
            self.poll(1000)
        return r

    def run(self):
        """Coroutine serving this endpoint forever under asyncio (coap.aio.run: plain-loop
        devices never load it; awaitable requests there)."""
        from coap.aio import run
        return run(self)
