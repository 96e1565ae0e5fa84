"""Gateway UE: the MSGin5G Client of an unconstrained UE acting for the Application Clients of
constrained UEs without MSGin5G Client (CUEs) over MSGin5G-5 (TS 24.538 6.3.2.1, 6.4.2.2-6.4.2.3;
PROTOCOL.md 5.1, 5.2, 10; PC-06, PC-19, PC-20, PC-27, PC-37, PC-38).

    gw = Gateway(client, allowed=None, max_devices=16)
    gw.attach_a3(ep)               A.3: resource msgin5g-gw on its own coap Endpoint (gatewayPort)
    gw.attach_a2(send)             A.2: send(data, addr) of a plain datagram socket (gatewayL3Port);
    gw.a2_received(data, addr)     ... whose adapter feeds datagrams in
    gw.a2_tick() -> ms             ... and runs the A.2 retransmission (2 s x 4, PC-37)

Registration (6.3.2.1): Application ID allowed (allowedAppIds, else 4.03 / cause 0x02) and room
(maxDevices, else 4.03 / 0x03) -> a random non-zero 32-bit Registration ID (PC-06) and the
mapping transport identifier (link, address) <-> Application ID. A repeated request from the
same address keeps its Registration ID; one for an Application ID held by another address
replaces that registration (a rebooted CUE comes back from a new port).
Uplink (PC-20): a CUE's MESSAGE SENDING REQUEST becomes an MSG of the gateway's own Client, its
originator the gateway's UE Service ID with appId = the CUE's Application ID (the request's
applicationId is not forwarded), so replies and reports come back here. The gateway answers at
once: A.3 2.04 / A.2 0x07 success; 4.03 / 0x02 from an unregistered address; 5.03 + Max-Age /
0x08 while the gateway itself is not registered to its server. DELIVERY REPORT SENDING REQUEST
-> IMDN with msgId = the reported message's ID (PC-27).
Downlink: an MSG with appId X goes to the CUE registered with X as MESSAGE DELIVERY REQUEST
(A.3: CON POST msgin5g-app/X to its address; A.2: 0x08), one at a time per CUE, at most
queue_max waiting. An IMDN on a CUE's message becomes DELIVERY REPORT DELIVERY REQUEST with
replyToMessageId = the CUE's Message ID. MESSAGE RECEIVED RESPONSE failure -> failure IMDN
(when a report was asked); no answer -> failure IMDN and the CUE is dropped (it vanished).

Relies on the Client calling the on_message handler before it looks at delivStReqInd: the
handler pops it and reports itself once the CUE has answered.
"""
import os
import time

from micropython import const
from coap.codec import uint_bytes
from msgin5g import ids, wire
from msgin5g.constrained import a2, a3

_POST = const(2)
_CF = const(50)
_MAX_AGE = const(14)
_CREATED = const(0x41)
_CHANGED = const(0x44)
_BAD = const(0x80)
_FORBIDDEN = const(0x83)
_NOT_FOUND = const(0x84)
_UNSUPPORTED_CF = const(0x8F)
_UNAVAILABLE = const(0xA3)
_MSG = const(0)
_RPT = const(1)
_TT = ("UE", "AS", "GROUP")
_A2_SEEN = const(8)        # answered A.2 requests kept to answer a retransmission again
_A2_SEEN_MS = const(30000)
_MAP = const(32)           # remembered msgIds awaiting a report, each way

# A.3 response code per refusal cause (PC-38)
_CODE = {a2.CAUSE_NOT_AUTHORIZED: _FORBIDDEN, a2.CAUSE_NO_RESOURCES: _FORBIDDEN,
         a2.CAUSE_UNKNOWN_REG_ID: _NOT_FOUND, a2.CAUSE_UNREACHABLE: _NOT_FOUND,
         a2.CAUSE_GW_NOT_REGISTERED: _UNAVAILABLE}


def _text(cause):
    return a2.CAUSE_TEXT[cause if 0 < cause < len(a2.CAUSE_TEXT) else 1]


class Cue:
    """One registered Application Client of a constrained UE."""

    def __init__(self, addr, l3, app_id, reg_id):
        self.addr = addr        # transport identifier (6.3.2.1.1 NOTE 2)
        self.l3 = l3            # True: A.2 link, False: A.3
        self.app = app_id
        self.rid = reg_id
        self.q = []             # deliveries waiting: [_MSG, msgId, oriAddr, payload, report]
        self.cur = None         # ... or [_RPT, msgId, replyTo, ok, reason] in flight
        self.req = None         # A.3 request in flight
        self.tx = None          # A.2: [datagram, due, retries, msgId octets]


class Gateway:
    def __init__(self, client, allowed=None, max_devices=16, queue_max=4, retry_ms=2000,
                 retries=4, max_age=30, log=None):
        self.c = client
        self.clock = client.ep.clock
        self.allowed = allowed
        self.max_devices = max_devices
        self.queue_max = queue_max
        self.retry_ms = retry_ms
        self.retries = retries
        self.max_age = max_age
        self.log = log
        self.cues = []
        self.ep = None          # A.3 endpoint
        self._send2 = None      # A.2 send(data, addr)
        self._ori = _Map()      # downlink msgId -> (Cue, oriAddr): the CUE may report on it
        self._up = _Map()       # uplink msgId -> (Cue, CUE Message ID): awaiting an IMDN
        self._seen = []         # A.2 [addr, request, answer, expiry]
        self.count = {"registered": 0, "rejected": 0, "uplink": 0, "reports_up": 0,
                      "delivered": 0, "refused": 0, "unreachable": 0, "reports_down": 0,
                      "dropped": 0, "bad": 0}
        self._prev_report = getattr(client, "_report_cb", None)
        client.on_report(self._report)

    def attach_a3(self, ep):
        self.ep = ep
        ep.resource(a3.URI_GW, self._a3_in, methods=(_POST,))

    def attach_a2(self, send):
        self._send2 = send

    def status(self):
        s = {"cues": [(c.app, c.rid, "A.2" if c.l3 else "A.3") for c in self.cues]}
        s.update(self.count)
        return s

    def _log(self, fmt, *a):
        if self.log:
            self.log(fmt, *a)

    # ------------------------------------------------------------ registration (6.3.2.1)
    def _by_app(self, app_id):
        for c in self.cues:
            if c.app == app_id:
                return c
        return None

    def _from(self, addr, l3, app_id=None):
        # The registration a request from this transport address belongs to (None: unknown).
        first = None
        for c in self.cues:
            if c.addr == addr and c.l3 == l3:
                if c.app == app_id:
                    return c
                first = first or c
        return first

    def register(self, addr, l3, app_id):
        """-> (Cue, 0) when accepted, (None, cause) when not."""
        if self.allowed is not None and app_id not in self.allowed:
            self.count["rejected"] += 1
            return None, a2.CAUSE_NOT_AUTHORIZED
        old = self._by_app(app_id)
        if old is not None:
            if old.addr == addr and old.l3 == l3:
                return old, 0   # repeated request (lost response, reboot): same Registration ID
            self._drop(old, "replaced by a new registration")
        if len(self.cues) >= self.max_devices:
            self.count["rejected"] += 1
            return None, a2.CAUSE_NO_RESOURCES
        rid = 0
        while not rid or any(c.rid == rid for c in self.cues):
            rid = int.from_bytes(os.urandom(4), "big")   # PC-06: 32 bits, never 0
        cue = Cue(addr, l3, app_id, rid)
        self.cues.append(cue)
        self.c.on_message(app_id, self._downlink)
        self.count["registered"] += 1
        self._log("gw: CUE app %d registered (%s) rid %d", app_id, "A.2" if l3 else "A.3", rid)
        return cue, 0

    def deregister(self, addr, l3, rid):
        """-> (Cue, 0) or (None, cause) (6.3.2.1.2)."""
        for cue in self.cues:
            if cue.rid == rid:
                if cue.addr != addr or cue.l3 != l3:
                    return None, a2.CAUSE_NOT_AUTHORIZED
                self._drop(cue, None)
                return cue, 0
        return None, a2.CAUSE_UNKNOWN_REG_ID

    def _drop(self, cue, why):
        if cue not in self.cues:
            return
        self.cues.remove(cue)
        self.c.on_message(cue.app, None)   # back to the default handler, if any
        items = ([cue.cur] if cue.cur else []) + cue.q
        cue.cur = None
        cue.q = []
        cue.tx = None
        if cue.req is not None and self.ep:
            self.ep.cancel(cue.req)
        for it in items:
            if it[0] == _MSG:
                self._fail_msg(it, why or "recipient de-registered")
        self._log("gw: CUE app %d removed%s", cue.app, (": " + why) if why else "")

    # ------------------------------------------------------------ uplink (6.4.2.3, PC-20)
    def _gw_ready(self):
        return self.c.state == "REGISTERED"

    def send_up(self, cue, cue_mid, target, target_type, payload, report):
        """MESSAGE SENDING REQUEST -> MSG of the gateway's Client. -> cause (0 = accepted)."""
        if not self._gw_ready():
            return a2.CAUSE_GW_NOT_REGISTERED
        self.count["uplink"] += 1

        def done(msg_id, status, cause):
            if status == "FAILED":
                e = self._up.pop(msg_id)
                if e is not None:
                    self._queue_report(e[0], e[1], False, cause or "UNSPECIFIED")

        m = self.c.send(target, payload, dest_type=target_type or "UE", app_id=cue.app,
                        report=report, done=done)
        if report:
            self._up.put(m, (cue, cue_mid))
        return 0

    def report_up(self, cue, reply_to, ok, reason):
        """DELIVERY REPORT SENDING REQUEST -> IMDN on message reply_to (PC-27). -> cause."""
        if not self._gw_ready():
            return a2.CAUSE_GW_NOT_REGISTERED
        e = self._ori.get(reply_to)
        if e is None or e[0] is not cue:
            return a2.CAUSE_UNREACHABLE    # no such message delivered to this CUE
        self._ori.pop(reply_to)
        o = e[1]
        self.count["reports_up"] += 1
        self.c.report(o["addr"], reply_to, ok, None if ok else reason or "UNSPECIFIED",
                      o["addrType"])
        return 0

    # ------------------------------------------------------------ downlink (PC-19)
    def _downlink(self, d):
        # on_message handler of the gateway's Client for the Application ID of a CUE.
        app = d.get("appId")
        cue = self._by_app(int(app)) if app is not None else None
        if cue is None or len(cue.q) >= self.queue_max:
            self.count["refused"] += 1
            return False        # the Client reports the failure (PC-26)
        report = bool(d.pop("delivStReqInd", None))  # we report once the CUE answered
        o = d["oriAddr"]
        it = [_MSG, d["msgId"], o, d["payload"], report]
        if report:
            self._ori.put(d["msgId"], (cue, o))
        cue.q.append(it)
        self._pump(cue)
        return True

    def _report(self, msg_id, deliv_st, cause, ori):
        # on_report of the gateway's Client: an IMDN on a message sent for a CUE?
        e = self._up.pop(msg_id)
        if e is None:
            if self._prev_report:
                self._prev_report(msg_id, deliv_st, cause, ori)
            return
        self._queue_report(e[0], e[1], deliv_st == wire.DELIV_SUCCESS, cause)

    def _queue_report(self, cue, cue_mid, ok, reason):
        if cue not in self.cues or len(cue.q) >= self.queue_max:
            self.count["dropped"] += 1
            return
        cue.q.append([_RPT, ids.new_msg_id(), cue_mid, ok, None if ok else reason])
        self._pump(cue)

    def _fail_msg(self, it, why):
        # A message the CUE did not take: failure IMDN if its sender asked for a report.
        if it[4]:
            self._ori.pop(it[1])
            o = it[2]
            self.c.report(o["addr"], it[1], False, why, o["addrType"])

    def _pump(self, cue):
        if cue.cur is not None or not cue.q:
            return
        it = cue.cur = cue.q.pop(0)
        try:
            if cue.l3:
                data = a2.encode(self._a2_item(it))
            else:
                data = a3.encode(self._a3_item(it, cue))
        except ValueError:      # e.g. an originator address A.2 cannot carry
            return self._done(cue, False, "PROTOCOL_ERROR")
        if cue.l3:
            cue.tx = [data, time.ticks_add(self.clock(), self.retry_ms), 0, ids.to_bytes(it[1])]
            self._out2(data, cue.addr)
        else:
            cue.req = self.ep.request(cue.addr, _POST, (a3.URI_APP, str(cue.app)), data, cf=_CF,
                                      callback=lambda r: self._a3_done(cue, it, r))

    def _a3_item(self, it, cue):
        if it[0] == _MSG:
            o = it[2]
            return a3.msg_deliv_req(it[1], o["addr"], o["addrType"] if o["addrType"] == "AS"
                                    else "UE", it[3], cue.app, it[4] or None)
        return a3.rpt_deliv_req(it[1], it[2], it[3], it[4])

    def _a2_item(self, it):
        if it[0] == _MSG:
            o = it[2]
            return {"type": a2.MSG_DELIV_REQ, "target": o["addr"], "msg_id": ids.to_bytes(it[1]),
                    "payload": it[3], "report": it[4] or None,
                    "target_type": 2 if o["addrType"] == "AS" else 1}
        return {"type": a2.RPT_DELIV_REQ, "msg_id": ids.to_bytes(it[1]),
                "reply_to": ids.to_bytes(it[2]), "status": 0 if it[3] else 1,
                "cause": None if it[3] else _cause(it[4])}

    def _a3_done(self, cue, it, r):
        if cue.cur is not it:
            return              # dropped meanwhile
        cue.req = None
        if r.error:
            return self._done(cue, False, "RECIPIENT_UNREACHABLE", True)
        why = None
        if r.code >= _BAD:
            try:
                why = a3.decode(r.response.payload).get("failureReason")
            except a3.A3Error:
                pass
            why = why or "recipient refused (%d.%02d)" % (r.code >> 5, r.code & 31)
        self._done(cue, r.code < _BAD, why)

    def _done(self, cue, ok, why, gone=False):
        # MESSAGE RECEIVED RESPONSE (or its absence) for the delivery in flight.
        it = cue.cur
        cue.cur = None
        cue.tx = None
        if it[0] == _MSG:
            if ok:
                self.count["delivered"] += 1
            else:
                self.count["unreachable" if gone else "refused"] += 1
                self._fail_msg(it, why)
        else:
            self.count["reports_down"] += 1
        if gone:
            self._drop(cue, "unreachable")
        else:
            self._pump(cue)

    # ------------------------------------------------------------ A.3 link (PC-38)
    def _a3_in(self, req):
        if req.uint(12) != _CF:
            return _UNSUPPORTED_CF
        try:
            d = a3.decode(req.payload)
        except a3.A3Error as e:
            self.count["bad"] += 1
            return e.code       # 4.00 malformed, 4.13 too large
        t = d["messageType"]
        a = req.addr
        if t == a3.REG_REQ:
            cue, cause = self.register(a, False, d["applicationId"])
            if cue:
                return _CREATED, a3.encode(a3.reg_resp(cue.rid)), _CF
            return _FORBIDDEN, a3.encode(a3.reg_resp(None, _text(cause))), _CF
        if t == a3.DEREG_REQ:
            rid = d["registrationId"]
            cue, cause = self.deregister(a, False, rid)
            if cue:
                return _CHANGED, a3.encode(a3.dereg_resp(rid)), _CF
            return _CODE[cause], a3.encode(a3.dereg_resp(None, _text(cause))), _CF
        if t != a3.MSG_SEND_REQ and t != a3.RPT_SEND_REQ:
            self.count["bad"] += 1
            return _BAD         # a response or gateway-to-CUE type sent to the gateway
        cue = self._from(a, False, d.get("applicationId"))
        g = d.get
        if cue is None:
            cause = a2.CAUSE_NOT_AUTHORIZED
        elif t == a3.MSG_SEND_REQ:
            cause = self.send_up(cue, d["messageId"], d["targetAddress"], g("targetType"),
                                 d["payload"], bool(g("deliveryStatusRequired")))
        else:
            cause = self.report_up(cue, d["replyToMessageId"], d["deliveryStatus"] == "DELIVERED",
                                   g("failureReason"))
        body = a3.encode(a3.msg_recv_resp(not cause, _text(cause) if cause else None))
        if not cause:
            return _CHANGED, body, _CF
        opts = None
        if cause == a2.CAUSE_GW_NOT_REGISTERED:
            opts = [(_MAX_AGE, uint_bytes(self.max_age))]   # retry hint (PC-38)
        return _CODE[cause], body, _CF, opts

    # ------------------------------------------------------------ A.2 link (PC-37)
    def _out2(self, data, addr):
        try:
            self._send2(data, addr)
        except OSError:
            pass

    def a2_received(self, data, addr):
        """One datagram from the A.2 socket."""
        now = self.clock()
        data = bytes(data)
        for e in self._seen:   # a retransmitted request whose answer was lost: same answer
            if e[0] == addr and e[1] == data and time.ticks_diff(e[3], now) > 0:
                return self._out2(e[2], addr)
        try:
            m = a2.decode(data)
        except a2.A2Error as e:
            self.count["bad"] += 1
            if e.reason != "unknown type" and data and data[0] in (a2.REG_REQ, a2.DEREG_REQ):
                self._out2(bytes((data[0] + 1, 1, 0x0B, 1, a2.CAUSE_PROTOCOL_ERROR)), addr)
            return  # unknown type: ignored (PC-37); other garbage cannot be answered
        t = m["type"]
        if t == a2.MSG_RECV_RESP:
            return self._a2_answer(m, addr)
        if t == a2.REG_REQ:
            cue, cause = self.register(addr, True, m["app_id"])
            ans = {"type": a2.REG_RESP, "result": 0, "reg_id": cue.rid} if cue else \
                {"type": a2.REG_RESP, "result": 1, "cause": cause}
            if cue:     # answers before it are stale: a CUE refused as unknown (0x02) sends
                #         the same request again once registered (it slept through our restart)
                self._seen = [e for e in self._seen if e[0] != addr]
        elif t == a2.DEREG_REQ:
            cue, cause = self.deregister(addr, True, m["reg_id"])
            ans = {"type": a2.DEREG_RESP, "result": 0, "reg_id": m["reg_id"]} if cue else \
                {"type": a2.DEREG_RESP, "result": 1, "cause": cause}
        elif t == a2.MSG_SEND_REQ or t == a2.RPT_SEND_REQ:
            cue = self._from(addr, True, m.get("app_id"))
            if cue is None:
                cause = a2.CAUSE_NOT_AUTHORIZED
            elif t == a2.MSG_SEND_REQ:
                tt = m.get("target_type") or 1
                cause = self.send_up(cue, ids.from_bytes(m["msg_id"]), m["target"], _TT[tt - 1],
                                     m["payload"], bool(m.get("report")))
            else:
                cause = self.report_up(cue, ids.from_bytes(m["reply_to"]), m["status"] == 0,
                                       _text(m.get("cause") or 1))
            ans = {"type": a2.MSG_RECV_RESP, "msg_id": m["msg_id"], "result": 1 if cause else 0,
                   "cause": cause or None}
        else:
            return      # 0x02/0x04/0x08/0x09 are not requests to a gateway: ignored
        out = a2.encode(ans)
        self._seen.append([addr, data, out, time.ticks_add(now, _A2_SEEN_MS)])
        if len(self._seen) > _A2_SEEN:
            self._seen.pop(0)
        self._out2(out, addr)

    def _a2_answer(self, m, addr):
        # MESSAGE RECEIVED RESPONSE from a CUE to our 0x08/0x09.
        for cue in self.cues:
            tx = cue.tx
            if cue.l3 and cue.addr == addr and tx and tx[3] == m["msg_id"]:
                ok = m["result"] == 0
                return self._done(cue, ok, None if ok else _text(m.get("cause") or 1))

    def a2_tick(self):
        """Retransmit A.2 deliveries (2 s, 4 times, PC-37); ms to the next, or None."""
        now = self.clock()
        w = None
        for cue in list(self.cues):
            tx = cue.tx
            if tx is None:
                continue
            d = time.ticks_diff(tx[1], now)
            if d <= 0:
                if tx[2] >= self.retries:
                    self._done(cue, False, "RECIPIENT_UNREACHABLE", True)
                    continue
                tx[2] += 1
                tx[1] = time.ticks_add(now, self.retry_ms)
                self._out2(tx[0], cue.addr)
                d = self.retry_ms
            if w is None or d < w:
                w = d
        return w


def _cause(reason):
    # Failure Reason text (A.3 / MSGin5G-1) -> A.2 cause octet.
    try:
        return a2.CAUSE_TEXT.index(reason, 1)
    except ValueError:
        return a2.CAUSE_UNSPECIFIED


class _Map:
    """A bounded map that forgets its oldest entry (MicroPython dicts keep no order)."""

    def __init__(self):
        self.d = {}
        self.keys = []

    def put(self, k, v):
        if k not in self.d:
            self.keys.append(k)
        self.d[k] = v
        if len(self.keys) > _MAP:
            self.d.pop(self.keys.pop(0), None)

    def get(self, k):
        return self.d.get(k)

    def pop(self, k):
        v = self.d.pop(k, None)
        if v is not None:
            self.keys.remove(k)
        return v

    def __len__(self):
        return len(self.d)
