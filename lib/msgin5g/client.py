"""The MSGin5G Client over MSGin5G-1 (TS 24.538 6.1 a; PROTOCOL.md sections 4, 6, 7, 8).

Runs on a coap Endpoint (client and server on one socket, PC-08) and never touches a socket or
a board itself: tests drive it through an Endpoint with a fake send function and a fake clock.

    c = Client(ep, server_addr, "ue-1", "msgin5g.example.net")
    c.on_message(7, lambda m: print(m["payload"]))   # by Application ID; None = default
    c.on_report(lambda msg_id, status, cause, ori: ...)
    c.start()                                        # registers (REG), then flushes the queue
    c.send("as-42", b"21.5", dest_type="AS", app_id=7, report=True)
    ... call c.tick() (returns ms to the next timer) next to the endpoint's poll/run ...
    c.deregister()
"""
import time

from micropython import const

from msgin5g import ids, segment, wire
from msgin5g.ring import Ring, Seen
from msgin5g.registration import (BACKOFF, CONFIGURED, DEREGISTERED, DEREGISTERING,
                                  REGISTERED, REGISTERING, Backoff, reg_outcome)

_POST = const(2)
_CF_JSON = const(50)
_MAX_AGE = const(14)
_CHANGED = const(0x44)
_FORBIDDEN = const(0x83)
_NOT_FOUND = const(0x84)
_TOO_LARGE = const(0x8D)
_UNSUPPORTED_CF = const(0x8F)
_UNAVAILABLE = const(0xA3)
_SEEN = const(32)        # remembered msgIds for duplicate suppression (PC-26)
_SEEN_MS = const(600000)  # ... for 10 min
_RETRIES = const(3)      # PC-24: 5.03 / timeout retries
_AGGR_ITEM = const(64)   # PC-29: only payloads up to 64 octets are aggregated
_AGGR_BYTES = const(800)  # ... and the aggregate stays well under 1152 octets (PC-11)

ACCEPTED = "ACCEPTED"
STORED = "STORED"
FAILED = "FAILED"


class Out:
    """One queued uplink request: a message (or all segments of one), a report, a topic
    request. Sent one body at a time, in order."""

    rereg = False               # re-registered once for it after a 4.03 without body

    def __init__(self, kind, bodies, msg_id, cb=None, store=None):
        self.kind = kind
        self.bodies = bodies
        self.i = 0
        self.msg_id = msg_id
        self.cb = cb
        self.store = store        # (payload, size, kw) to re-segment on 4.13
        self.tries = 0
        self.not_before = None
        self.status = ACCEPTED
        self.cause = None


class Client:
    def __init__(self, ep, server, ue_service_id, host, seg_size=512, ue_id=None,
                 keepalive_ms=120000, rereg_ms=86400000, queue_max=8, backoff_ms=30000,
                 backoff_cap_ms=3600000, max_rx=8192, log=None, journal=None, aggr_ms=0,
                 history=8):
        self.ep = ep
        self.server = server
        self.host = host
        self._hopt = [(3, host)] if host else None    # Uri-Host on every request
        self.id = ue_service_id
        self.ue_id = ue_id
        self.me = wire.addr(wire.UE, ue_service_id)
        self.seg = segment.eff_segment_size(seg_size)
        self.keepalive_ms = keepalive_ms
        self.rereg_ms = rereg_ms
        self.queue_max = queue_max
        self.log = log
        self.state = CONFIGURED
        self.backoff = Backoff(backoff_ms, backoff_cap_ms)
        self._small = False       # REG without clientProfile after 4.13/4.15
        self._due = None          # registration timer (retry, re-registration)
        self._ka_due = None       # keep-alive ping timer
        self._ping = None
        self.reg_ms = None        # clock of the last successful registration
        self.last_io = None       # clock of the last response or downlink (early sleep)
        self._q = []              # queued Out, FIFO (PC-39)
        self._cur = None          # Out whose body is in flight
        self._req = None          # CoAP request in flight (REG, DEREG or _cur's body)
        self._rx = False          # inside a downlink handler
        self._handlers = {}
        self._report_cb = None
        self._result_cb = None
        self._seen = Seen(_SEEN, _SEEN_MS)
        self._reports = {}        # msgId -> dest of messages awaiting an IMDN
        self._stored = {}         # msgId -> callback of messages stored by the server
        self.topics = {}          # subscribed topic -> expiration or None
        # The last `history` messages and reports received, for the REPL's inbox()/reports():
        # 1.8 KB at 8, so a device without the REPL keeps none (history=0).
        self._inbox = Ring(history, 128) if history else None
        self._outcomes = Ring(history, 96) if history else None
        self.reasm = segment.Reassembler(max_bytes=max_rx, me=self.me)
        self.hold = segment.SegmentHold()
        self.count = {"sent": 0, "accepted": 0, "stored": 0, "failed": 0, "received": 0,
                      "duplicates": 0, "refused": 0, "reports_in": 0, "reports_out": 0,
                      "registrations": 0, "retries": 0}
        ep.resource("msgin5g/ue", self._downlink, prefix=True, methods=(_POST,))
        self.aggr_ms = aggr_ms     # PC-29 aggregated sending window (0 = off)
        self._aggr = {}            # "type:addr" -> [deadline, destAddr, [items], bytes]
        self.journal = journal
        if journal is not None:
            # Journaled messages are never dropped on overflow: the journal's own bound (send()
            # raises JournalFull) is the limit, and a restored backlog fits the queue.
            self.queue_max = max(queue_max, journal.max_records + 8)
            self._restore()

    # ------------------------------------------------------------ application API
    def on_message(self, app_id, handler):
        """handler(msg) for messages to app_id (None: any other). msg is the decoded dict:
        payload (bytes), oriAddr, destAddr, msgId, appId. Raise to report a failure."""
        self._handlers[app_id] = handler

    def on_report(self, handler):
        """handler(msg_id, delivSt, failureCause, oriAddr) for every delivery report."""
        self._report_cb = handler

    def on_result(self, handler):
        """handler(msg_id, status, cause) for the outcome of every send(): ACCEPTED,
        STORED or FAILED (PC-24)."""
        self._result_cb = handler

    def send(self, dest, payload, dest_type=wire.UE, app_id=None, report=False, priority=None,
             store_fwd=False, expire=None, done=None):
        """Queue a message; returns its msgId. Segmented when larger than the segment size.
        done(msg_id, status, cause) is called once with the outcome."""
        if isinstance(payload, str):
            payload = payload.encode()
        msg_id = ids.new_msg_id()
        d = wire.addr(dest_type, dest)
        kw = (d, app_id, report, priority, store_fwd, expire)
        if self.journal is not None:
            # On flash before anything else: survives a reset (raises JournalFull when full).
            self.journal.add(msg_id, wire.encode(wire.msg(self.me, d, msg_id, payload, app_id,
                                                          report, priority, store_fwd, expire)))
        if self.aggr_ms and len(payload) <= _AGGR_ITEM and priority != "HIGH" and not store_fwd \
                and expire is None:
            self._aggregate(msg_id, payload, d, app_id, report, priority, done)
        else:
            self._queue_msg(msg_id, payload, kw, done)
        return msg_id

    # PC-29: small messages to one destination within aggr_ms go as one aggregated MSG
    def _aggregate(self, msg_id, payload, d, app_id, report, prio, done):
        key = d["addrType"] + ":" + d["addr"]
        a = self._aggr.get(key)
        if a is None:
            a = self._aggr[key] = [time.ticks_add(self.ep.clock(), self.aggr_ms), d, [], 0]
        a[2].append((msg_id, payload, app_id, report, prio, done))
        a[3] += len(payload) * 4 // 3 + 110     # JSON size estimate of one item
        if report:
            self._remember_report(msg_id, d["addr"])
        if len(a[2]) >= wire.MAX_AGGR or a[3] >= _AGGR_BYTES:
            self._flush_aggr(key)

    def _flush_aggr(self, key):
        dl, d, items, _ = self._aggr.pop(key)
        if len(items) == 1:
            mid, p, app, rep, prio, done = items[0]
            self._queue_msg(mid, p, (d, app, False, prio, False, None), done)
            return
        outer = ids.new_msg_id()
        body = wire.msg_aggr(self.me, d, outer, [wire.aggr_item(m, p, a, r, pr)
                                                for m, p, a, r, pr, _ in items])
        out = Out(wire.MSG, [body], outer)
        out.items = [(i[0], i[5]) for i in items]
        self._enqueue(out)

    def _queue_msg(self, msg_id, payload, kw, done=None):
        out = Out(wire.MSG, self._bodies(msg_id, payload, self.seg, kw), msg_id, done,
                  (payload, kw))
        if kw[2]:
            self._remember_report(msg_id, kw[0]["addr"])
        self._enqueue(out)

    def _restore(self):
        """Queue again what was accepted before a reset, with the same msgIds (receivers
        drop what already arrived, PC-26)."""
        for key, data in self.journal.pending():
            try:
                m = wire.decode(data)
            except wire.WireError:
                self.journal.done(key)
                continue
            app = m.get("appId")
            exp = m.get("stoAndFwParams")
            kw = (m["destAddr"], int(app) if app is not None else None,
                  m.get("delivStReqInd") is True, m.get("priority"), m.get("stoAndFwInd") is True,
                  exp.get("exprTime") if exp else None)
            self._q.append(Out(wire.MSG, self._bodies(key, m.get("payload") or b"", self.seg, kw),
                               key, None, (m.get("payload") or b"", kw)))
            self.count["restored"] = self.count.get("restored", 0) + 1

    def report(self, dest, msg_id, ok=True, cause=None, dest_type=wire.UE):
        """Send a delivery status report (IMDN, PC-27) for a received message."""
        st = wire.DELIV_SUCCESS if ok else wire.DELIV_FAILED
        self._enqueue(Out(wire.IMDN, [wire.imdn(self.me, wire.addr(dest_type, dest), msg_id, st,
                                                cause)], msg_id))

    def subscribe(self, topics, expiration=None, done=None):
        """Subscribe to messaging topics (PC-33)."""
        for t in topics:
            self.topics[t] = expiration
        m = ids.new_msg_id()
        self._enqueue(Out(wire.TOPICSUB, [wire.topicsub(self.me, m, list(topics), expiration)],
                          m, done))

    def unsubscribe(self, topics=(), done=None):
        for t in topics or list(self.topics):
            self.topics.pop(t, None)
        m = ids.new_msg_id()
        self._enqueue(Out(wire.TOPICUNSUB, [wire.topicunsub(self.me, m, list(topics))], m, done))

    def queued(self):
        return len(self._q)   # the one in flight (_cur) stays in _q until it is done

    def last_messages(self, n=5):
        """The last n messages received, oldest first: (msgId, from, appId, payload's first
        64 octets). Text fields come back as str."""
        return _recs(self._inbox, n, 3, True)

    def last_reports(self, n=5):
        """The last n delivery reports received: (msgId, delivSt, failureCause, from)."""
        return _recs(self._outcomes, n, 4, False)

    def status(self):
        s = {"state": self.state, "ueServiceId": self.id, "queued": self.queued(),
             "segmentSize": self.seg, "topics": list(self.topics),
             "awaitingReports": len(self._reports), "reassembling": len(self.reasm)}
        s.update(self.count)
        return s

    # ------------------------------------------------------------ registration (4.3, 4.4)
    def start(self):
        """Register (PC-17: on every boot / network attach)."""
        self._register()

    def _register(self):
        self.state = REGISTERING
        self._due = None
        body = wire.reg(self.id, None if self._small else self.seg, self.ue_id)
        self._send_now(body, self._on_reg)

    def _on_reg(self, r):
        self._req = None
        code = r.code
        was_new = code == 0x41
        state, action = reg_outcome(code or 0, r.error)
        self._log("REG -> %s %s", _cs(code) if code else r.error, state)
        now = self.last_io = self.ep.clock()
        if state == REGISTERED:
            self.state = REGISTERED
            self.reg_ms = now
            self.count["registrations"] += 1
            self.backoff.reset()
            self._small = False
            self._due = time.ticks_add(now, self.rereg_ms)
            self._ka_arm(now)
            if was_new and self.topics:   # PC-33: re-subscribe after a new registration
                self._resubscribe()
            self.ep.kick()
            return
        self.state = state
        if action == "stop":
            self._due = time.ticks_add(now, 86400000)  # 24 h or operator action (PC-15)
            return
        if action == "retry_small" and not self._small:
            self._small = True
            wait = 0
        elif action == "retry_after":
            wait = r.response.uint(_MAX_AGE, 60) * 1000
        else:
            wait = self.backoff.next()
        self.state = BACKOFF
        self._due = time.ticks_add(now, wait)
        self.ep.kick()          # wake the timer for the retry (it may be sleeping up to 60 s)

    def _resubscribe(self):
        for o in self._q:
            if o.kind == wire.TOPICSUB:
                return          # a subscription is already queued
        m = ids.new_msg_id()
        self._q.insert(0, Out(wire.TOPICSUB, [wire.topicsub(self.me, m, list(self.topics))], m))

    def deregister(self, done=None):
        """De-register (PC-16); 2.04, 4.04 and a timeout all end in DEREGISTERED."""
        self.state = DEREGISTERING
        self._due = self._ka_due = None

        def fin(r):
            self.state = DEREGISTERED
            if done:
                done(r.code)

        self.ep.request(self.server, _POST, "msgin5g", wire.encode(wire.dereg(self.id)),
                        cf=_CF_JSON, options=self._hopt, callback=fin)

    # ------------------------------------------------------------ deep sleep (issue 13)
    def resume(self, left_ms, seen=(), reports=()):
        """Carry on after deep sleep: the msgIds and awaited reports kept from before it, and,
        when left_ms > 0, the registration made before it (REGISTERED without a REG; the next
        one due in left_ms, PC-17). Returns True if the registration was taken up. A server
        that no longer knows us answers 4.03 without body: re-register, send again (_on_out)."""
        now = self.ep.clock()
        for a, b, age_ms in seen:
            self._seen.restore(a, b, age_ms, now)
        for mid, dest in reports:
            self._reports[mid] = dest
        if left_ms <= 0:
            return False
        self.state = REGISTERED
        self._due = time.ticks_add(now, left_ms)
        self.count["resumed"] = self.count.get("resumed", 0) + 1
        self._pump(now)
        self.ep.kick()
        return True

    def snapshot(self):
        """(registered, [(a, b, age_ms)] msgIds seen, [(msgId, dest)] awaited reports): what
        resume() takes after deep sleep."""
        return (self.state == REGISTERED, self._seen.export(self.ep.clock()),
                list(self._reports.items()))

    def idle(self, reports=False):
        """Nothing queued, in flight, collected or reassembled, no registration under way
        (and with reports=True no delivery report awaited): a duty-cycled device may sleep."""
        return not (self._q or self._req is not None or self._aggr or len(self.reasm) or
                    self.state == REGISTERING or (reports and self._reports))

    def last_request(self):
        """The request in flight is the client's last work: its response is the one downlink
        still expected (a modem link marks it RAI 2). Registered, nothing queued behind it, its
        last segment, no delivery report awaited, nothing collected or reassembled."""
        out = self._cur
        q = self._q
        return (self.state == REGISTERED and out is not None and len(q) == 1 and q[0] is out
                and out.i + 1 >= len(out.bodies) and not self._reports and not self._aggr
                and not len(self.reasm) and not self._rx)

    def _ka_arm(self, now):
        self._ka_due = time.ticks_add(now, self.keepalive_ms) if self.keepalive_ms else None

    def _on_ping(self, r):
        self._ping = None
        if r.error and self.state == REGISTERED:
            self._log("keep-alive lost: re-registering")
            if self._req is None:
                self._register()
            else:                   # a request is in flight: re-register once it is done
                self._due = self.ep.clock()
                self.ep.kick()

    # ------------------------------------------------------------ sending (6.4, PC-24)
    def _bodies(self, msg_id, payload, size, kw):
        d, app_id, report, prio, sf, exp = kw
        if len(payload) <= size:
            return [wire.msg(self.me, d, msg_id, payload, app_id, report, prio, sf, exp)]
        return segment.Segments(self.me, d, msg_id, payload, size, app_id, report, prio, sf, exp)

    def _enqueue(self, out):
        if len(self._q) >= self.queue_max:
            # PC-39: drop the oldest and say so - but never the one in flight (its outcome is
            # still to come: it would be reported FAILED and then ACCEPTED)
            i = 1 if self._q[0] is self._cur else 0
            if i < len(self._q):
                self._finish(self._q.pop(i), FAILED, "queue overflow")
        self._q.append(out)
        self._pump(self.ep.clock())
        self.ep.kick()

    def _send_now(self, body, cb):
        self.count["sent"] += 1
        self._req = self.ep.request(self.server, _POST, "msgin5g", wire.encode(body), cf=_CF_JSON,
                                    options=self._hopt, callback=cb)

    def _pump(self, now):
        if self._rx or self._req is not None or self.state != REGISTERED or not self._q:
            return
        out = self._q[0]
        if out.not_before is not None and time.ticks_diff(out.not_before, now) > 0:
            return
        self._cur = out
        self._send_now(out.bodies[out.i], self._on_out)

    def _on_out(self, r):
        self._req = None
        out = self._cur
        if out is None:
            return
        now = self.last_io = self.ep.clock()
        code = r.code
        resp = None
        if r.response and r.response.payload:
            try:
                resp = wire.decode(r.response.payload, True)
            except wire.WireError:
                resp = None
        if r.error or code == _UNAVAILABLE:
            out.tries += 1
            self.count["retries"] += 1
            if out.tries > _RETRIES:
                return self._done(out, FAILED, r.error or "service unavailable")
            wait = r.response.uint(_MAX_AGE, 60) * 1000 if code == _UNAVAILABLE else \
                self.backoff.first >> 3 << out.tries
            out.not_before = time.ticks_add(now, wait)
            self.ep.kick()      # wake the timer: nothing else may come before the retry is due
            return
        if code < 0x80:
            st = resp.get("status") if resp and resp.get("msgType") == wire.MSGRESP else None
            if st == wire.DELY_FAILED:
                return self._done(out, FAILED, resp.get("failureCause"))
            if st == wire.DELY_STORED:
                out.status = STORED
            out.i += 1
            out.tries = 0
            if out.i < len(out.bodies):
                self._pump(now)
                return
            if len(out.bodies) > 1:
                self.hold.hold(out.bodies, now)  # kept for SEGREC (PC-32)
            return self._done(out, out.status, None)
        # 4.xx: no retry, except 4.13 once with half the segment size (PC-24)
        if code == _TOO_LARGE and out.store and out.i == 0 and out.tries == 0:
            out.tries = 1
            payload, kw = out.store
            out.bodies = self._bodies(out.msg_id, payload, max(self.seg // 2, 64), kw)
            return
        cause = resp.get("failureCause") if resp else None
        if code == _FORBIDDEN and resp is None and self.state == REGISTERED and not out.rereg:
            # PC-24/PC-15: 4.03 without body = the server does not know us (it lost our
            # registration, or we woke from deep sleep at another address): re-register
            # once, then send the same request (same msgId) again
            out.rereg = True
            self._cur = None
            self._register()
            return
        if out.kind in (wire.TOPICUNSUB,) and code == _NOT_FOUND:
            return self._done(out, ACCEPTED, None)  # PC-33: was not subscribed
        self._done(out, FAILED, cause or _CAUSES.get(code) or _cs(code))

    def _done(self, out, status, cause):
        if out in self._q:  # not always the head: SEGCONFIR/SEGREC/... jump the queue
            self._q.remove(out)
        self._cur = None
        self._finish(out, status, cause)
        self._pump(self.ep.clock())

    def _finish(self, out, status, cause):
        if out.kind != wire.MSG:
            if out.cb:
                out.cb(out.msg_id, status, cause)
            return
        items = getattr(out, "items", None)
        if items:                     # an aggregate: one outcome for each message in it
            for mid, cb in items:
                sub = Out(wire.MSG, (), mid, cb)
                self._finish(sub, status, cause)
            return
        if self.journal is not None and out.msg_id in self.journal:
            self.journal.done(out.msg_id)
        self.count[{ACCEPTED: "accepted", STORED: "stored"}.get(status, "failed")] += 1
        if status == FAILED:
            self._reports.pop(out.msg_id, None)
        elif status == STORED and out.cb:
            self._stored[out.msg_id] = out.cb
            _trim(self._stored)
        self._log("MSG %s -> %s %s", out.msg_id, status, cause or "")
        if out.cb:
            out.cb(out.msg_id, status, cause)
        if self._result_cb:
            self._result_cb(out.msg_id, status, cause)

    def _remember_report(self, msg_id, dest):
        self._reports[msg_id] = dest
        _trim(self._reports)

    # ------------------------------------------------------------ receiving (6.6, PC-26)
    def _downlink(self, req):
        # Requests queued while handling go out after our response, on the next tick.
        self._rx = True
        self.last_io = self.ep.clock()
        try:
            return self._downlink2(req)
        finally:
            self._rx = False

    def _downlink2(self, req):
        p = req.path()
        if len(p) != 3 or p[2] != self.id:
            return _NOT_FOUND           # PC-09: not addressed to me
        if req.addr != self.server:
            self.count["refused"] += 1
            return _FORBIDDEN           # downlinks come only from the server (or our first hop)
        if req.uint(12) != _CF_JSON:
            return _UNSUPPORTED_CF
        try:
            d = wire.decode(req.payload)
        except wire.WireError as e:
            self.count["refused"] += 1
            m = e.msg
            if m and m.get("msgType") == wire.MSG and isinstance(m.get("msgId"), str):
                # PC-25: a refused message is answered with an MSGRESP body
                return e.code, wire.encode(wire.msgresp(self.me, m["msgId"], wire.DELY_FAILED,
                                                        e.reason)), _CF_JSON
            return e.code
        t = d["msgType"]
        now = self.ep.clock()
        if t == wire.MSG:
            return self._rx_msg(d, now)
        if t == wire.IMDN:
            for r in d["reports"] if d.get("aggrInd") else (d,):
                self._rx_report(d["oriAddr"], r)
        elif t == wire.MSGRESP:
            cb = self._stored.pop(d["msgId"], None)
            st = FAILED if d.get("status") == wire.DELY_FAILED else STORED
            if st == FAILED:
                self.count["failed"] += 1
            if cb:
                cb(d["msgId"], st, d.get("failureCause"))
            if self._result_cb:
                self._result_cb(d["msgId"], st, d.get("failureCause"))
        elif t == wire.SEGREC:
            segs = self.hold.resend(d["segId"], d.get("missingSegs") or (), d.get("fromSeg"), now)
            if segs:
                self._q.insert(0, Out(wire.MSG, segs, d["segId"]))
                self._q[0].kind = wire.SEGREC   # resent segments: no app callback
        elif t == wire.SEGCONFIR:
            self.hold.confirm(d["segId"])
        elif t == wire.REG:
            pass  # a bulked registration's final answer (PC-15); nothing more to do here
        else:
            return 0x80  # PC-35: not a downlink message type
        return _CHANGED

    def _rx_msg(self, d, now):
        if d.get("aggrInd"):            # PC-29: each element as a single message
            for it in d.get("msgs", ()):
                m = dict(d)
                m.pop("msgs")
                m.update(it)
                self._rx_one(m, now)
            return _CHANGED
        if d.get("segInd"):
            r = self.reasm.add(d, now)
            if r[0] == "complete":
                first = r[2]
                first["payload"] = r[1]
                self._q.insert(0, Out(wire.SEGCONFIR, [r[3]], first["segParams"]["segId"]))
                first["msgId"] = first["segParams"]["segId"]  # reports use segId (PC-31)
                self._rx_one(first, now)
            elif r[0] == "reject":
                if r[1] == _UNAVAILABLE:
                    return r[1], b"", None, [(_MAX_AGE, 30)]
                return r[1]
            return _CHANGED
        self._rx_one(d, now)
        return _CHANGED

    def _rx_one(self, d, now):
        mid = d["msgId"]
        if self._seen.check(mid, now):   # PC-26: a msgId seen in the last 10 min
            self.count["duplicates"] += 1
            return
        self.count["received"] += 1
        app = d.get("appId")
        _note(self._inbox, (mid, d["oriAddr"]["addr"], app), d.get("payload") or b"")
        h = self._handlers.get(int(app) if app is not None else None) or self._handlers.get(None)
        ok, cause = True, None
        if h is None:
            ok, cause = False, "no application for appId %s" % app
        else:
            try:
                if h(d) is False:
                    ok, cause = False, "refused by application"
            except Exception as e:
                ok, cause = False, "application error: %r" % (e,)
        if d.get("delivStReqInd"):
            self.count["reports_out"] += 1
            o = d["oriAddr"]
            self.report(o["addr"], mid, ok, cause, o["addrType"])

    def _rx_report(self, ori, r):
        mid = r["msgId"]
        self.count["reports_in"] += 1
        self._reports.pop(mid, None)
        _note(self._outcomes, (mid, r.get("delivSt"), r.get("failureCause"), ori["addr"]), b"")
        if self._report_cb:
            self._report_cb(mid, r.get("delivSt"), r.get("failureCause"), ori)

    # ------------------------------------------------------------ timers
    def tick(self):
        """Run due timers and send what can go; return ms until the next timer (or None)."""
        now = self.ep.clock()
        if self._due is not None and time.ticks_diff(self._due, now) <= 0:
            if self.state in (BACKOFF, REGISTERED) or self.state.startswith("REG_"):
                if self._req is None:
                    self._register()
                else:
                    self._due = time.ticks_add(now, 1000)
        if self._ka_due is not None and time.ticks_diff(self._ka_due, now) <= 0:
            self._ka_arm(now)
            if self.state == REGISTERED and self._ping is None:
                self._ping = self.ep.ping(self.server, self._on_ping)
        for key in list(self._aggr):
            if time.ticks_diff(self._aggr[key][0], now) <= 0:
                self._flush_aggr(key)
        for m in self.reasm.poll(now):
            self._q.insert(0, Out(m["msgType"], [m], m["msgId"]))
        self.hold.expire(now)
        self._pump(now)
        w = None
        for t in [a[0] for a in self._aggr.values()] + [
                  self._due, self._ka_due, self._q[0].not_before if self._q else None,
                  time.ticks_add(now, 1000) if len(self.reasm) or len(self.hold) else None]:
            if t is not None:
                d = max(time.ticks_diff(t, now), 0)
                if w is None or d < w:
                    w = d
        return w

    def _log(self, fmt, *a):
        if self.log:
            self.log(fmt, *a)


_CAUSES = {0x80: "bad request", 0x81: "unauthorized", 0x83: "forbidden",
           0x84: "unknown recipient", 0x8D: "too large"}


def _cs(code):
    return "%d.%02d" % (code >> 5, code & 31)


def _note(ring, fields, tail):
    # One record: the fields as text and the first octets of tail, split by 0x1f (US).
    if ring is None:
        return
    ring.put(b"\x1f".join(b"" if f is None else str(f).encode() for f in fields) + b"\x1f" +
             memoryview(tail)[:64])


def _recs(ring, n, nf, tail):
    # Records back as tuples: nf text fields (None for empty), then the octets kept of tail.
    out = []
    for r in ring.last(n) if ring is not None else ():
        f = r.split(b"\x1f")
        t = [x.decode() or None for x in f[:nf]] + [None] * (nf - len(f))
        if tail:
            t.append(b"\x1f".join(f[nf:]))
        out.append(tuple(t))
    return out


def _trim(d, n=16):
    while len(d) > n:
        d.pop(next(iter(d)))
