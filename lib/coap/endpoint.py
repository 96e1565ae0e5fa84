"""CoAP request layer: tokens, client requests, server resources, separate responses.

An Endpoint is both client and server on one socket (PC-08). It never touches a socket or a
clock itself: the I/O adapter (coap.udp) calls received(data, addr) and tick(), and gives the
endpoint a send(data, addr) function. Tests drive it the same way without sockets.

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

from coap.codec import Message, encode

_CON = const(0)
_NON = const(1)
_ACK = const(2)
_EMPTY = const(0)
_BAD_OPTION = const(0x82)
_NOT_FOUND = const(0x84)
_METHOD_NOT_ALLOWED = const(0x85)
_INTERNAL_SERVER_ERROR = const(0xA0)
_SERVICE_UNAVAILABLE = const(0xA3)
_CONTENT_FORMAT = const(12)
from coap.message import MessageLayer, Params

# Options this stack recognises; an unknown critical (odd) option in a CON request gets 4.02.
_KNOWN = const((1, 3, 4, 5, 6, 7, 8, 11, 12, 14, 15, 17, 20, 23, 27, 28, 35, 39, 60, 258))


class Req:
    """A client request in flight. `code` is the response code once done (None without a
    response); `retransmits` counts its CON retransmissions."""
    tx = None
    deadline = None
    done = False
    response = None
    error = None
    code = None
    retransmits = 0
    ping = False

    def __init__(self, addr, msg, callback):
        self.addr = addr
        self.msg = msg
        self.token = msg.token
        self.callback = callback


class Endpoint:
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
        if options:
            for n, v in options:
                msg.add(n, v)       # int, str or bytes values
        if req.mtype != _CON:
            self.ml.send_non(req.addr, msg)
        elif not req.acked:
            req.acked = True
            self.ml.reply(req.addr, req.mid, encode(msg))
        else:
            self.ml.send_con(req.addr, msg, self.clock(), None)
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
        msg = Message(_CON if con else _NON, code, 0, self._rnd[i:i + 4], [], payload)
        if path:
            msg.set_path(path)
        if cf is not None:
            msg.add(_CONTENT_FORMAT, cf)
        if options:
            for n, v in options:
                msg.add(n, v)
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
        req.timeout = timeout
        if msg.mtype == _NON:
            self.ml.send_non(addr, msg)
            req.deadline = time.ticks_add(now, timeout or self.p.non_lifetime)
        else:
            req.tx = self.ml.send_con(addr, msg, now, req)
            if req.tx is None:
                self._end(req, None, "backlog full")
                return req
            if timeout:
                req.deadline = time.ticks_add(now, timeout)
        self.kick()
        return req

    def ping(self, addr, callback=None):
        """CoAP ping: an empty CON; the peer's RST means it is alive (r.error is None)."""
        req = Req(addr, Message(_CON, _EMPTY), callback)
        req.ping = True
        req.tx = self.ml.send_con(addr, req.msg, self.clock(), req)
        if req.tx is None:
            self._end(req, None, "backlog full")
        self.kick()
        return req

    def cancel(self, req):
        if req.tx:
            self.ml.cancel(req.tx, self.clock())
        self._end(req, None, "cancelled")

    def _end(self, req, resp, err):
        """Finish req once: record the outcome, forget its token, call its callback."""
        if req.done:
            return
        if self._reqs.get(req.token) is req:
            del self._reqs[req.token]
        if req.tx:
            req.retransmits = req.tx.tries
        req.done = True
        req.response = resp
        req.error = err
        if resp:
            req.code = resp.code
        if req.callback:
            req.callback(req)

    def on_tx(self, tx, msg, err, now):
        """Message-layer event: the CON `tx` was answered by an ACK (msg), a RST
        (err 'reset') or nothing (err 'timeout')."""
        req = tx.ctx
        if req is None:
            return
        if msg is not None and msg.code == _EMPTY:
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
            if req is not None and req.addr == addr:
                if con:
                    self.ml.empty(addr, mid, 0x60)
                if req.tx:
                    self.ml.cancel(req.tx, now)  # its ACK was lost; the response implies it
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
                self.respond(msg, _NOT_FOUND)
                return
            if found[2] is not None and c not in found[2]:
                self.respond(msg, _METHOD_NOT_ALLOWED)
                return
            try:
                out = found[3](msg)
            except MemoryError:
                # Out of heap (or too fragmented) for this request: ask the peer to retry later.
                self.handler_errors += 1
                out = (_SERVICE_UNAVAILABLE, b"", None, [(14, 2)])   # Max-Age 2 s
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

    def tick(self):
        """Run timers; return ms until the next one (None when idle)."""
        now = self.clock()
        wait = self.ml.tick(now)
        late = None
        for req in self._reqs.values():
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
                if req.tx:
                    self.ml.cancel(req.tx, now)
                self._end(req, None, "timeout")
        return wait

