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
_URI_HOST = const(3)
_CONTENT_FORMAT = const(12)
_URI_QUERY = const(15)
_ACCEPT = const(17)
from coap.message import MessageLayer
from coap.params import Params

# Options this stack recognises; an unknown critical (odd) option in a CON request gets 4.02.
_KNOWN = (1, 3, 4, 5, 6, 7, 8, 11, 12, 14, 15, 17, 20, 23, 27, 28, 35, 39, 60, 258)


class Req:
    """A client request in flight."""

    def __init__(self, addr, msg, callback):
        self.addr = addr
        self.msg = msg
        self.token = msg.token
        self.callback = callback
        self.tx = None
        self.deadline = None
        self.done = False
        self.response = None
        self.error = None
        self.retransmits = 0

    def finish(self, response, error):
        if self.done:
            return
        self.done = True
        self.response = response
        self.error = error
        if self.callback:
            self.callback(self)

    @property
    def code(self):
        return self.response.code if self.response else None


class Endpoint:
    def __init__(self, send, params=None, clock=None, rand=None, log=None):
        self.p = params or Params()
        self.clock = clock or time.ticks_ms
        self.ml = MessageLayer(send, self.p, self, rand)
        self.log = log
        self._res = []          # (segments, prefix, methods, handler)
        self._reqs = {}         # token -> Req
        self.kick = _nothing    # set by an async runner to wake its timer
        self.handler_errors = 0

    # ---------------- server side ----------------
    def resource(self, path, handler, prefix=False, methods=None):
        segs = [s for s in path.split("/") if s] if isinstance(path, str) else list(path)
        self._res.append((segs, prefix, methods, handler))

    def _find(self, segs):
        for r in self._res:
            rs = r[0]
            n = len(rs)
            if (len(segs) == n or (r[1] and len(segs) > n)) and segs[:n] == rs:
                return r
        return None

    def _serve(self, req, addr, now):
        req.addr = addr
        req.acked = False
        for n, _ in req.options:
            if n & 1 and n not in _KNOWN:
                if req.mtype == _CON:
                    self.respond(req, _BAD_OPTION)
                return  # NON with unknown critical option: rejected silently
        try:
            segs = req.path()
        except UnicodeError:
            segs = None
        r = self._find(segs) if segs is not None else None
        if r is None:
            self.respond(req, _NOT_FOUND)
            return
        if r[2] is not None and req.code not in r[2]:
            self.respond(req, _METHOD_NOT_ALLOWED)
            return
        try:
            out = r[3](req)
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
            if req.mtype == _CON:
                self.ml.reply(addr, req.mid, bytes((0x60, 0, req.mid >> 8, req.mid & 0xFF)))
                req.acked = True
            return
        if isinstance(out, int):
            self.respond(req, out)
        else:
            self.respond(req, *out)

    def respond(self, req, code, payload=b"", cf=None, options=None):
        """Answer a received request (piggybacked if still possible, else separate)."""
        msg = Message(_ACK, code, req.mid, req.token, [], payload)
        if cf is not None:
            msg.add(_CONTENT_FORMAT, cf)
        if options:
            for n, v in options:
                msg.add(n, v)       # int, str or bytes values
        if req.mtype == _CON and not req.acked:
            req.acked = True
            self.ml.reply(req.addr, req.mid, encode(msg))
        elif req.mtype == _CON:
            self.ml.send_con(req.addr, msg, self.clock(), None)
            self.kick()
        else:
            self.ml.send_non(req.addr, msg)

    # ---------------- client side ----------------
    def request(self, addr, code, path=None, payload=b"", cf=None, con=True, options=None,
                callback=None, host=None, query=None, accept=None, timeout=None):
        """Send a request; returns its Req. `options` is a list of (number, value)."""
        msg = Message(_CON if con else _NON, code, 0, os.urandom(4), [], payload)
        if host:
            msg.add(_URI_HOST, host)
        if path:
            msg.set_path(path)
        if cf is not None:
            msg.add(_CONTENT_FORMAT, cf)
        if query:
            for q in query:
                msg.add(_URI_QUERY, q)
        if accept is not None:
            msg.add(_ACCEPT, accept)
        if options:
            for n, v in options:
                msg.add(n, v)
        return self.send_request(addr, msg, callback, timeout)

    def send_request(self, addr, msg, callback=None, timeout=None):
        """Send a prepared request Message (its token is used as given)."""
        req = Req(addr, msg, callback)
        if len(self._reqs) >= self.p.max_pending:
            req.finish(None, "busy")
            return req
        if msg.token in self._reqs:
            req.finish(None, "busy")   # token in use: never orphan the older request
            return req
        now = self.clock()
        self._reqs[msg.token] = req
        req.timeout = timeout
        if msg.mtype == _NON:
            self.ml.send_non(addr, msg)
            req.deadline = time.ticks_add(now, timeout or self.p.non_lifetime())
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
            req.finish(None, "backlog full")
        self.kick()
        return req

    def cancel(self, req):
        if req.tx:
            self.ml.cancel(req.tx, self.clock())
        self._end(req, None, "cancelled")

    def _end(self, req, resp, err):
        if self._reqs.get(req.token) is req:
            del self._reqs[req.token]
        if req.tx:
            req.retransmits = req.tx.tries
        req.finish(resp, err)

    # events from the message layer
    def on_ack(self, tx, msg, now):
        req = tx.ctx
        if req is None:
            return
        if msg.code == _EMPTY:
            if getattr(req, "ping", False):
                req.finish(None, "not a ping reply")
                return
            # Separate response follows (RFC 7252 5.2.2): wait for it.
            wait = self.p.response_timeout or self.p.max_transmit_wait()
            dl = time.ticks_add(now, wait)
            if req.deadline is None or time.ticks_diff(dl, req.deadline) < 0:
                req.deadline = dl
            return
        self._end(req, msg, None)

    def on_rst(self, tx, now):
        req = tx.ctx
        if req is None:
            return
        if getattr(req, "ping", False):
            req.retransmits = tx.tries
            req.finish(None, None)
        else:
            self._end(req, None, "reset")

    def on_timeout(self, tx, now):
        req = tx.ctx
        if req is None:
            return
        if getattr(req, "ping", False):
            req.retransmits = tx.tries
            req.finish(None, "timeout")
        else:
            self._end(req, None, "timeout")

    def _response(self, msg, addr):
        req = self._reqs.get(msg.token)
        if req is None or req.addr != addr:
            if msg.mtype == _CON:  # unexpected response: reject (RFC 7252 5.3.2)
                self.ml.reply(addr, msg.mid, bytes((0x70, 0, msg.mid >> 8, msg.mid & 0xFF)))
            return
        if msg.mtype == _CON:
            self.ml.reply(addr, msg.mid, bytes((0x60, 0, msg.mid >> 8, msg.mid & 0xFF)))
        if req.tx:
            self.ml.cancel(req.tx, self.clock())  # its ACK was lost; the response implies it
        self._end(req, msg, None)

    # ---------------- I/O entry points ----------------
    def received(self, data, addr):
        now = self.clock()
        msg = self.ml.receive(data, addr, now)
        if msg is None:
            return
        if msg.is_request():
            self._serve(msg, addr, now)
        elif msg.is_response():
            self._response(msg, addr)
        elif msg.mtype == _CON:  # reserved code class: reject
            self.ml.reply(addr, msg.mid, bytes((0x70, 0, msg.mid >> 8, msg.mid & 0xFF)))

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
                    self.ml.cancel(req.tx, self.clock())
                self._end(req, None, "timeout")
        return wait


def _nothing():
    pass
