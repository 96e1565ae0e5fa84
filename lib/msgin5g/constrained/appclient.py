"""Annex A Application Client of a constrained UE without MSGin5G Client (role `cue`): talks to
the MSGin5G Client of a Gateway UE (TS 24.538 6.3.2.2, 6.4.2.3; PROTOCOL.md 5.1, 5.2, 10).

One API, two links (chosen by the constructor):
  A.3 (PC-38)  AppClient(gw, app_id, ep=endpoint)  CoAP POST to Uri-Path msgin5g-gw; serves
               msgin5g-app/<app_id> for the gateway's deliveries. The endpoint does the rest.
  A.2 (PC-37)  AppClient(gw, app_id, send=fn, clock=ticks_ms)  L3 datagrams via send(data, addr);
               the I/O adapter feeds received(data, addr) and calls tick() (retransmission
               after 2 s, 4 times; a repeated delivery is answered again, not delivered twice).

    ac.on_message(None, h)   h(m), m = {msgId, payload (bytes), oriAddr {addrType, addr}, appId,
                             delivStReqInd}; return False or raise -> MESSAGE RECEIVED RESPONSE
                             failure. Success + delivStReqInd -> DELIVERY REPORT SENDING REQUEST
                             (DELIVERED) on the next tick (PC-19); on failure the gateway reports.
    ac.on_report(h)          h(msg_id, "DELIVERED"|"FAILED", reason, None), msg_id = our message
    ac.start()               REGISTRATION REQUEST (Application ID -> Registration ID)
    ac.send(dest, payload, dest_type="UE", app_id=None, report=False, done=None) -> msgId
                             done(msg_id, "ACCEPTED"|"FAILED", reason): taken by the gateway or not;
                             while registering it goes out once registered, else it fails at once
    ac.report(dest, msg_id, ok=True, cause=None, dest_type=None)
    ac.deregister(done=None); ac.tick() -> ms to the next timer; ac.status()
    ac.state                 CONFIGURED, REGISTERING, REGISTERED, REJECTED / BACKOFF (retry after
                             30 s doubling to 1 h; 5.03 Max-Age), DEREGISTERED. A 4.03 / cause
                             0x02 answer to a request means the gateway forgot us (it restarted,
                             or dropped us after a delivery went unanswered): register again and
                             send that request again, once, with its Message ID (as PC-24).
Deep sleep (deepSleep, msgin5g.dutycycle), as the Client: ac.resume(left_ms, seen, reports,
reg_id) takes up the registration kept across the sleep, ac.snapshot() says what to keep,
ac.idle(reports) whether it may sleep; reg_ms, last_io. Deliveries are remembered by Message ID
(ring.Seen, kept in the sleep record) so a retransmission after a sleep is answered, not
delivered again; the gateway keeps no deliveries for a sleeping cue (it retransmits, A.2 2 s x 4,
A.3 CoAP's CON, then drops the cue).
The names mirror msgin5g.client.Client so the echo and sensor apps run on a cue unchanged.
"""
import time

from micropython import const
from msgin5g import ids
from msgin5g.ring import Seen

_POST = const(2)
_CF = const(50)
_MAX_AGE = const(14)
_CHANGED = const(0x44)
_BAD = const(0x80)
_ERROR = const(0xA0)
_UNAVAILABLE = const(0xA3)
_TT = ("UE", "AS", "GROUP")  # A.2 Target Type 1..3 (PC-37)
_R = b"R"  # A.2 key of the (de)registration in flight: 0x02/0x04 carry no Message ID
_SEEN = const(8)  # deliveries remembered by Message ID (as the Client's, PC-26) ...
_SEEN_MS = const(600000)  # ... for 10 min


def _nop():
    pass


class AppClient:
    def __init__(self, gw, app_id, ep=None, send=None, clock=None, retry_ms=2000, retries=4,
                 backoff_ms=30000, log=None):
        self.gw = gw
        self.app_id = app_id
        self.ep = ep
        self.log = log
        self.state = "CONFIGURED"
        self.reg_id = None
        self.kick = _nop        # set by the I/O adapter: wake its timer after a send
        self._mh = self._rh = None
        self._later = []        # reports to send on the next tick
        self._due = None        # registration retry
        self._bo = self.backoff_ms = backoff_ms
        self._again = []        # requests to send after the registration under way (_request)
        self._open = 0          # A.3 requests in flight
        self._tx = {}           # A.2 requests in flight: key -> [datagram, due, retries, cb, job]
        self._ids = Seen(_SEEN, _SEEN_MS)
        self.reg_ms = None      # clock of the last successful registration
        self.last_io = None     # clock of the last answer or delivery (deep sleep)
        self.rx = 0
        if ep:
            from msgin5g.constrained import a3 as c
            ep.resource((c.URI_APP, str(app_id)), self._a3_in, methods=(_POST,))
            self.clock = ep.clock
        else:
            from msgin5g.constrained import a2 as c
            self._send = send
            self.clock = clock or time.ticks_ms
            self.retry_ms = retry_ms
            self.retries = retries
            self._seen = []     # [(msg_id, answer)] of the last deliveries
        self.c = c

    # ---------------------------------------------------------------- application API
    def on_message(self, app_id, handler):
        self._mh = handler

    def on_report(self, handler):
        self._rh = handler

    def start(self):
        """Register at the gateway (6.3.2.2.1)."""
        self.state = "REGISTERING"
        self._due = None
        c = self.c
        self._call(c.reg_req(self.app_id) if self.ep else {"type": 1, "app_id": self.app_id},
                   _R, self._on_reg)

    def _on_reg(self, ok, why, r):
        rid = ok and r and r.get("registrationId" if self.ep else "reg_id")
        again = self._again
        self._again = []
        if rid:
            self.reg_id = rid
            self.state = "REGISTERED"
            self.reg_ms = self.clock()
            self._bo = self.backoff_ms
        else:  # rejected (4.03 / result 1), no answer or 5.03: retry, doubling up to 1 h
            self.state = "REJECTED" if ok is False else "BACKOFF"
            self._due = time.ticks_add(self.clock(), self._bo)
            self._bo = min(self._bo * 2, 3600000)
            self.kick()
        if self.log:
            self.log("gateway: %s %s", self.state, rid or why)
        for job in again:       # sent during it, or refused as unknown before it
            if rid:
                self._request(job[0], job[1], job[2], 1)
            elif job[2]:
                job[2](False, why or "not registered", None)

    def deregister(self, done=None):
        """De-register with the Registration ID (6.3.2.2.2)."""
        rid = self.reg_id
        self._due = None
        self._dd = done
        if rid is None:
            return self._dereg(False, None, None)
        self._call(self.c.dereg_req(rid) if self.ep else {"type": 3, "reg_id": rid}, _R,
                   self._dereg)

    def _dereg(self, ok, why, r):
        self.state = "DEREGISTERED"
        self.reg_id = None
        if self._dd:
            self._dd(ok)

    def send(self, dest, payload, dest_type="UE", app_id=None, report=False, done=None):
        """MESSAGE SENDING REQUEST (6.4.2.3.1); returns its Message ID (UUID text)."""
        if isinstance(payload, str):
            payload = payload.encode()
        mid = ids.new_msg_id()
        rep = report or None
        if self.ep:
            m = self.c.msg_send_req(mid, dest, payload, dest_type, app_id, rep)
        else:
            m = {"type": 5, "target": dest, "msg_id": ids.to_bytes(mid), "payload": payload,
                 "app_id": app_id, "report": rep,
                 "target_type": _TT.index(dest_type) + 1 if dest_type in _TT else 9}

        def fin(ok, why, r):
            if done:
                done(mid, "ACCEPTED" if ok else "FAILED", why)

        st = self.state
        if st == "REGISTERED" or st == "REGISTERING":   # the latter: sent once registered
            self._call(m, m.get("msg_id", mid), fin, st != "REGISTERED")
        else:
            fin(False, "not registered", None)
        return mid

    def report(self, dest, msg_id, ok=True, cause=None, dest_type=None):
        """DELIVERY REPORT SENDING REQUEST for a delivered message (6.4.2.3.2)."""
        rid = ids.new_msg_id()
        if self.ep:
            m = self.c.rpt_send_req(rid, msg_id, ok, cause)
        else:
            m = {"type": 6, "msg_id": ids.to_bytes(rid), "reply_to": ids.to_bytes(msg_id),
                 "status": 0 if ok else 1, "cause": None if ok else 1}
        self._call(m, m.get("msg_id", rid), None)

    def status(self):
        return {"state": self.state, "applicationId": self.app_id, "registrationId": self.reg_id,
                "received": self.rx}

    # ---------------------------------------------------------------- deep sleep (issue 13)
    def resume(self, left_ms, seen=(), reports=(), reg_id=None):
        """Carry on after deep sleep: the deliveries' Message IDs and the reports still to send
        kept from before it, and, when left_ms > 0 and reg_id is known, the registration made
        before it (REGISTERED without a REGISTRATION REQUEST). True if it was taken up."""
        now = self.clock()
        for a, b, age_ms in seen:
            self._ids.restore(a, b, age_ms, now)
        for mid, ori in reports:
            self._later.append((ori, mid))
        if left_ms <= 0 or not reg_id:
            return False
        self.reg_id = reg_id
        self.state = "REGISTERED"
        self.kick()
        return True

    def snapshot(self):
        """(registered, [(a, b, age_ms)] Message IDs delivered, [(msgId, originator)] reports
        still to send): what resume() takes after deep sleep (with reg_id)."""
        return (self.state == "REGISTERED", self._ids.export(self.clock()),
                [(mid, ori) for ori, mid in self._later])

    def idle(self, reports=False):
        """Nothing in flight or waiting to be sent again, no registration under way (and with
        reports=True no report waiting to be sent): a duty-cycled cue may sleep."""
        return not (self._open or self._tx or self._again or self.state == "REGISTERING" or
                    (reports and self._later))

    # ---------------------------------------------------------------- requests to the gateway
    def _call(self, m, key, cb, later=False):
        # cb(ok, reason, answer dict) once; ok None = no answer (timeout). later: after the
        # registration under way
        try:
            data = self.c.encode(m)
        except ValueError:  # A2Error / A3Error: a value the link cannot carry
            return self._fin(cb, False, "PROTOCOL_ERROR", None)
        if later:
            self._again.append((data, key, cb, 0))
        else:
            self._request(data, key, cb, None if key is _R else 0)

    def _request(self, data, key, cb, again):
        # again: None for a (de)registration; else 0, or 1 when sent again after the gateway
        # refused it as unknown (4.03 / cause 0x02) and a new registration (once only)
        job = None if again is None else (data, key, cb, again)
        if self.ep:
            self._open += 1
            self.ep.request(self.gw, _POST, self.c.URI_GW, data, cf=_CF,
                            callback=lambda r: self._a3_done(r, cb, job))
        else:
            self._tx[key] = [data, time.ticks_add(self.clock(), self.retry_ms), 0, cb, job]
            self._out(data)
            self.kick()

    def _a3_done(self, r, cb, job):
        self._open -= 1
        if r.error:
            return self._fin(cb, None, r.error, None)
        c = self.c
        code = r.code
        d = None
        try:
            d = c.decode(r.response.payload)
        except c.A3Error:
            pass
        why = None
        if code >= _BAD:
            why = d and d.get("failureReason") or "%d.%02d" % (code >> 5, code & 31)
            if code == _UNAVAILABLE:  # 5.03: Max-Age is the retry hint (PC-38)
                self._bo = r.response.uint(_MAX_AGE, 60) * 1000
                why = "GATEWAY_NOT_REGISTERED"
        self._fin(cb, code < _BAD, why, d, job)

    def _fin(self, cb, ok, why, d, job=None):
        self.last_io = self.clock()
        if job and why == "NOT_AUTHORIZED":
            # 4.03 / cause 0x02: the gateway forgot our transport address (it restarted, or
            # we slept through a delivery): register again, then send this request again
            if self.state == "REGISTERED":
                self.state = "BACKOFF"
                self._due = self.clock()
                self.kick()
            if job[3] == 0 and self.state != "REJECTED":
                self._again.append(job)
                return
        if cb:
            cb(ok, why, d)

    def _out(self, data):
        try:
            self._send(data, self.gw)
        except OSError:
            pass  # looks like loss: retransmission recovers

    # ---------------------------------------------------------------- gateway deliveries
    def _deliver(self, mid, ori, otype, app, payload, report):
        # MESSAGE DELIVERY REQUEST (PC-19) -> (ok, reason) for the MESSAGE RECEIVED RESPONSE.
        self.last_io = self.clock()
        if self._ids.check(mid, self.last_io):
            return True, None   # taken before (its answer lost, maybe before a deep sleep)
        self.rx += 1
        h = self._mh
        ok, why = h is not None, "no application"
        if ok:
            try:
                if h({"msgId": mid, "payload": payload, "appId": app, "delivStReqInd": report,
                      "oriAddr": {"addrType": otype, "addr": ori}}) is False:
                    ok, why = False, "refused by application"
            except Exception:
                ok, why = False, "application error"
        if ok and report:
            self._later.append((ori, mid))
            self.kick()
        return ok, None if ok else why

    def _report_in(self, reply_to, delivered, why):
        # DELIVERY REPORT DELIVERY REQUEST (PC-19): the report on a message we sent.
        if self._rh:
            self._rh(reply_to, "DELIVERED" if delivered else "FAILED", why, None)
        return True, None

    def _a3_in(self, req):
        c = self.c
        try:
            d = c.decode(req.payload)
        except c.A3Error as e:
            return e.code
        t = d["messageType"]
        g = d.get
        if t == c.MSG_DELIV_REQ:
            ok, why = self._deliver(d["messageId"], d["originatorAddress"], d["originatorType"],
                                    g("applicationId"), d["payload"],
                                    bool(g("deliveryStatusRequired")))
        elif t == c.RPT_DELIV_REQ:
            ok, why = self._report_in(d["replyToMessageId"], d["deliveryStatus"] == "DELIVERED",
                                      g("failureReason"))
        else:
            return _BAD
        return _CHANGED if ok else _ERROR, c.encode(c.msg_recv_resp(ok, why)), _CF

    def received(self, data, addr):
        """A.2: one datagram from the link."""
        c = self.c
        try:
            m = c.decode(data)
        except c.A2Error:
            return  # unknown type or malformed: ignored (PC-37)
        t = m["type"]
        g = m.get
        if t in (2, 4, 7):  # answers: 0x02/0x04 to the (de)registration, 0x07 by Message ID
            tx = self._tx.pop(g("msg_id", _R) if t == 7 else _R, None)
            if tx:
                ok = m["result"] == 0
                self._fin(tx[3], ok, None if ok else _text(c, g("cause")), m, tx[4])
            return
        if t < 8:
            return
        mid = m["msg_id"]
        for s in self._seen:
            if s[0] == mid:
                return self._out(s[1])
        if t == 8:
            tt = g("target_type") or 1
            ok, why = self._deliver(ids.from_bytes(mid), m["target"], _TT[tt - 1], g("app_id"),
                                    m["payload"], bool(g("report")))
        else:
            ok, why = self._report_in(ids.from_bytes(m["reply_to"]), m["status"] == 0,
                                      _text(c, g("cause")) if m["status"] else None)
        a = c.encode({"type": 7, "msg_id": mid, "result": 0 if ok else 1,
                      "cause": None if ok else 1})
        self._seen.append((mid, a))
        if len(self._seen) > 4:
            self._seen.pop(0)
        self._out(a)

    # ---------------------------------------------------------------- timers
    def tick(self):
        """Send deferred reports, retry registration, retransmit (A.2); ms to the next timer."""
        now = self.clock()
        while self._later and self.state == "REGISTERED":
            ori, mid = self._later.pop(0)
            self.report(ori, mid)
        due = self._due
        if due is not None and time.ticks_diff(due, now) <= 0:
            self.start()
            due = None
        w = None if due is None else time.ticks_diff(due, now)
        if not self.ep:
            tx = self._tx
            for k in list(tx):
                e = tx.get(k)
                if e is None:
                    continue
                d = time.ticks_diff(e[1], now)
                if d <= 0:
                    if e[2] >= self.retries:
                        del tx[k]
                        self._fin(e[3], None, "timeout", None)
                        continue
                    e[2] += 1
                    e[1] = time.ticks_add(now, self.retry_ms)
                    self._out(e[0])
                    d = self.retry_ms
                if w is None or d < w:
                    w = d
        return w


def _text(c, cause):
    # Failure Reason octet -> text; absent or reserved reads as UNSPECIFIED (TS 24.007 rule).
    t = c.CAUSE_TEXT
    return t[cause if cause and cause < len(t) else 1]
