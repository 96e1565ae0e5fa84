"""M5Server: state, routing and delivery of the reference MSGin5G Server (CPython, aiocoap).

The CoAP front end (site.py) decodes requests and calls the on_* handlers here; each returns
(code, body) or raises wire.Reject. Everything runs on one asyncio loop; downlinks are tasks.
"""
import asyncio
import collections
import ipaddress
import socket
import sys
import time
import traceback

import aiocoap
from aiocoap import Code, Message
from aiocoap.messagemanager import MessageManager
from aiocoap.numbers.constants import TransportTuning

from . import config, wire
from .wire import Msg, Reject, Seg

MAX_REASM = 65536  # PC-32: reassembled message limit on unconstrained peers
MAX_SETS_PER_SENDER = 8
SEGREC_ROUNDS = 2  # PC-32


def hostinfo(remote):
    try:
        return remote.hostinfo
    except Exception:
        return str(remote)


def is_loopback(remote):
    try:
        host = remote.sockaddr[0].split("%")[0]
        ip = ipaddress.ip_address(host)
        if ip.version == 6 and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return ip.is_loopback
    except Exception:
        return False


def probe_port(host, port):
    """aiocoap binds with SO_REUSEPORT, so a second server on a busy port would silently
    share it; refuse instead (OSError EADDRINUSE)."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(fam, socket.SOCK_DGRAM)
    try:
        sock.bind((host, port))
    except OSError as e:
        raise OSError(e.errno, "UDP %s:%d: %s" % (host, port, e.strerror))
    finally:
        sock.close()


class Registration:
    __slots__ = ("ue_id", "remote", "ue_dev_id", "max_seg", "reachable", "since", "seen")

    def __init__(self, ue_id, remote, now):
        self.ue_id = ue_id
        self.remote = remote
        self.ue_dev_id = None
        self.max_seg = None
        self.reachable = True
        self.since = now
        self.seen = now


class Stored:
    __slots__ = ("recipient", "msg", "expires", "since")

    def __init__(self, recipient, msg, expires, since):
        self.recipient = recipient
        self.msg = msg
        self.expires = expires
        self.since = since


class Held:
    """Segments the server produced for one recipient, kept for SEGREC (PC-32)."""

    __slots__ = ("bodies", "expires")

    def __init__(self, bodies, expires):
        self.bodies = bodies
        self.expires = expires


class SegSet:
    """One segmentation set arriving from a UE (PC-31/32), keyed by (oriAddr, segId)."""

    def __init__(self, proto, now):
        self.proto = proto  # first segment seen: ori, dest, appId, priority, stoAndFw
        self.parts = {}
        self.size = 0
        self.total = None
        self.report = False
        self.modes = {}  # target -> 'fwd' | 'reasm' | 'store' | 'failed'
        self.last = now
        self.rounds = 0
        self.done = False
        self.notified = False

    def complete(self):
        return self.total is not None and all(i in self.parts for i in range(1, self.total + 1))

    def missing(self):
        top = self.total or max(self.parts, default=0)
        return [i for i in range(1, top + 1) if i not in self.parts]

    def needs_reasm(self):
        return any(m in ("reasm", "store") for m in self.modes.values())

    def assemble(self):
        p = self.proto
        sid = p.seg.seg_id
        return Msg(p.ori, p.dest, sid, b"".join(self.parts[i] for i in range(1, self.total + 1)),
                   app_id=p.app_id, report=self.report, priority=p.priority, sto_fw=p.sto_fw,
                   expires=p.expires, set_id=sid)


class M5Server:
    """Reference MSGin5G Server; see the package docstring for the API."""

    def __init__(self, host="127.0.0.1", port=5683, groups=None, devices=None, forbidden=(),
                 quiet=True, log=None, store_ttl=86400.0, reasm_timeout=60.0, seg_hold=None,
                 default_seg_size=512, max_seg_size=512, max_body=wire.MAX_BODY,
                 ack_timeout=None, max_retransmit=None, admin_any=False, advertise=None,
                 tick=0.25, max_sets=64, busy_retries=3, busy_wait_cap=60.0, store_retry=30.0):
        self.host = host
        # Stored messages go at the UE's next uplink or registration, and besides every
        # store_retry s while it is registered (None: never): one lost downlink marks a UE
        # unreachable and stores what follows, and a UE with nothing to send (a sensor that
        # only listens, a keep-alive that is a CoAP ping) would never get them.
        self.store_retry = store_retry
        self._store_tried = {}  # UE Service ID -> when its stored messages were last tried
        # A UE that answers a downlink 5.03 is busy (out of heap, reassembly slots full), not
        # gone: retry after its Max-Age (RFC 7252 5.9.3.4, default 60 s, capped here) this many
        # times before the delivery counts as failed.
        self.busy_retries = busy_retries
        self.busy_wait_cap = busy_wait_cap
        self.port = port
        self.groups = config.load_groups(groups)
        self.devices, forb = config.load_devices(devices)
        self.forbidden = set(forbidden) | forb
        self.quiet = quiet
        self._log_fn = log
        self.log_lines = collections.deque(maxlen=2000)
        self.store_ttl = store_ttl
        self.reasm_timeout = reasm_timeout
        self.seg_hold = seg_hold if seg_hold is not None else 3 * reasm_timeout  # PC-32
        self.default_seg_size = default_seg_size
        self.max_seg_size = max_seg_size
        self.max_body = max_body
        self.admin_any = admin_any
        self.advertise = advertise or "coap://%s:%d" % (
            ("[%s]" % host) if ":" in host else host, port)
        self.tick = tick
        self.max_sets = max_sets
        self._tuning = None
        if ack_timeout is not None or max_retransmit is not None:
            t = TransportTuning()
            if ack_timeout is not None:
                t.ACK_TIMEOUT = ack_timeout
            if max_retransmit is not None:
                t.MAX_RETRANSMIT = max_retransmit
            self._tuning = t
        self.regs = {}
        self.subs = {}  # topic -> {(kind, id): expires or None}
        self.store = {}  # UE Service ID -> [Stored]
        self.sets = {}  # (oriAddr, segId) -> SegSet
        self.held = {}  # (UE Service ID, segId) -> Held
        self.inboxes = {}  # AS Service ID -> [entry]
        self.as_reports_box = {}  # AS Service ID -> [entry]
        self._as_seq = {}
        self._locks = {}
        self._tasks = set()
        self._flushing = set()
        self._woke = {}  # UE Service ID -> Event set by its next uplink (see _attempt)
        self.counters = collections.Counter()
        self._seen_ids = {}  # (UE Service ID, msgId) of recent uplink MSGs, oldest first
        self.codes = collections.Counter()
        self.ctx = None
        self._hk = None

    # ---- life cycle -------------------------------------------------------------------

    @classmethod
    async def start(cls, host="127.0.0.1", port=5683, **kw):
        self = cls(host, port, **kw)
        from .site import Root

        if port:
            probe_port(host, port)

        self.ctx = await aiocoap.Context.create_server_context(
            Root(self), bind=(host, port), transports=["udp6"])
        self._hook_message_layer()
        self._hk = asyncio.get_running_loop().create_task(self._housekeeping())
        self.log("M5Server listening on %s:%d (advertised %s)" % (host, port, self.advertise))
        return self

    async def stop(self):
        if self._hk is not None:
            self._hk.cancel()
        for t in list(self._tasks):
            t.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.ctx is not None:
            await self.ctx.shutdown()
            self.ctx = None

    def _hook_message_layer(self):
        """Count CoAP retransmissions sent and duplicate requests received (aiocoap 0.4.17
        internals; the counters stay 0 if those internals change)."""
        for ri in getattr(self.ctx, "request_interfaces", ()):
            mm = getattr(ri, "token_interface", None)
            if not isinstance(mm, MessageManager):
                continue
            retr, dedup, ctr = mm._retransmit, mm._deduplicate_message, self.counters

            def _retransmit(message, timeout, n, _f=retr):
                if n < message.transport_tuning.MAX_RETRANSMIT:
                    ctr["retransmissions"] += 1
                return _f(message, timeout, n)

            def _dedup(message, _f=dedup):
                r = _f(message)
                if r is True:
                    ctr["duplicates"] += 1
                return r

            mm._retransmit = _retransmit
            mm._deduplicate_message = _dedup

    def log(self, line):
        self.log_lines.append(line)
        if self._log_fn is not None:
            self._log_fn(line)
        elif not self.quiet:
            print(line, flush=True)

    def spawn(self, coro):
        t = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(t)
        t.add_done_callback(self._task_done)
        return t

    def _task_done(self, t):
        self._tasks.discard(t)
        if not t.cancelled() and t.exception() is not None:
            e = t.exception()
            self.counters["internal_errors"] += 1
            print("m5server: background task failed:", file=sys.stderr)
            traceback.print_exception(type(e), e, e.__traceback__, file=sys.stderr)

    # ---- public in-process API -----------------------------------------------------------

    def stats(self):
        c = dict(self.counters)
        for k in ("received", "delivered", "stored", "expired", "failed", "reports",
                  "downlinks", "segments_in", "segments_out", "reassembled",
                  "retransmissions", "duplicates"):
            c.setdefault(k, 0)
        c["registered"] = len(self.regs)
        c["stored_now"] = sum(len(v) for v in self.store.values())
        c["reassembling_now"] = sum(1 for s in self.sets.values() if not s.done)
        c["topics"] = {t: len(s) for t, s in self.subs.items() if s}
        c["codes"] = dict(self.codes)
        return c

    def registrations(self):
        out = []
        for r in self.regs.values():
            out.append({"ueServiceId": r.ue_id, "ueId": r.ue_dev_id, "remote": hostinfo(r.remote),
                        "maxSegSize": r.max_seg, "segSize": self.seg_size(r),
                        "reachable": r.reachable, "since": wire.format_time(r.since),
                        "topics": sorted(t for t, s in self.subs.items() if ("UE", r.ue_id) in s),
                        "stored": len(self.store.get(r.ue_id, ()))})
        return out

    def as_inbox(self, as_id, since=0):
        """Messages UEs sent to AS as_id (payload as bytes), oldest first."""
        return [dict(e) for e in self.inboxes.get(as_id, ()) if e["seq"] > since]

    def as_reports(self, as_id, since=0):
        """IMDN / MSGRESP / SEGCONFIR / SEGREC entries addressed to AS as_id."""
        return [dict(e) for e in self.as_reports_box.get(as_id, ()) if e["seq"] > since]

    def as_clear(self, as_id):
        self.inboxes.pop(as_id, None)
        self.as_reports_box.pop(as_id, None)

    def as_subscribe(self, as_id, topics=(), unsubscribe=()):
        key = ("AS", as_id)
        for t in topics:
            self.subs.setdefault(t, {})[key] = None
        for t in unsubscribe:
            self.subs.get(t, {}).pop(key, None)
        return sorted(t for t, s in self.subs.items() if key in s)

    async def as_send(self, as_id, to, payload, app_id=None, report=False, to_type="UE",
                      store_fwd=False, expire=None, priority=None):
        """A2P send from AS as_id; waits for the delivery attempts.

        payload: bytes or str (UTF-8); app_id: int or decimal str (PC-04); expire: seconds
        from now for store-and-forward. Returns {"msgId", "status", "recipients", ...};
        status DELIVERED / STORED / PARTIAL / FAILED / NO_RECIPIENTS."""
        if isinstance(payload, str):
            payload = payload.encode("utf-8")
        if app_id is not None:
            app_id = wire.app_id(str(app_id))
        wire.ident(as_id, "AS Service ID")
        wire.ident(to, "to")
        if to_type not in ("UE", "GROUP", "BC", "TOPIC", "AS"):
            raise Reject("4.00", "toType must be UE/GROUP/BC/TOPIC/AS")
        m = Msg(("AS", as_id), (to_type, to), wire.new_msg_id(), bytes(payload), app_id=app_id,
                report=bool(report), priority=wire.priority(priority), sto_fw=bool(store_fwd),
                expires=(time.time() + expire) if expire is not None else None)
        self.counters["received"] += 1
        self.counters["as_sent"] += 1
        try:
            targets = self.resolve(m, exclude=("AS", as_id))
        except Reject as e:
            self.log("AS %s -> %s:%s id=%s -> FAILED (%s)" % (as_id, to_type, to, m.msg_id[:8], e.reason))
            return {"msgId": m.msg_id, "status": "FAILED", "failureCause": e.reason, "recipients": {}}
        results = {}
        waits = []
        for kind, tid in targets:
            if kind == "AS":
                self.to_as(tid, m)
                results[tid] = "DELIVERED"
                continue
            reg = self.regs.get(tid)
            if (reg is None or not reg.reachable) and m.sto_fw:
                self.store_msg(tid, m)
                results[tid] = "STORED"
            elif reg is None:
                results[tid] = "FAILED: not registered"
            else:
                waits.append((tid, self.deliver_and_handle(tid, m, notify=False)))
        if waits:
            done = await asyncio.gather(*(w[1] for w in waits))
            for (tid, _), r in zip(waits, done):
                results[tid] = r
        vals = list(results.values())
        if not vals:
            status = "NO_RECIPIENTS"
        elif all(v == "DELIVERED" for v in vals):
            status = "DELIVERED"
        elif all(v == "STORED" for v in vals):
            status = "STORED"
        elif all(v.startswith("FAILED") for v in vals):
            status = "FAILED"
        else:
            status = "PARTIAL"
        self.log("AS %s -> %s:%s id=%s (%d B) -> %s" % (
            as_id, to_type, to, m.msg_id[:8], len(m.payload), status))
        return {"msgId": m.msg_id, "status": status, "recipients": results}

    # ---- helpers ------------------------------------------------------------------------

    def lock(self, ue_id):
        lk = self._locks.get(ue_id)
        if lk is None:
            lk = self._locks[ue_id] = asyncio.Lock()
        return lk

    def seg_size(self, reg):
        """Payload octets per downlink segment for this UE (REG maxSegSize, PC-30/PC-11)."""
        s = reg.max_seg or self.default_seg_size
        return max(1, min(s, self.max_seg_size))

    def may_exist(self, ue_id):
        if ue_id in self.forbidden:
            return False
        if self.devices is None:
            return True
        return any(v.get("ueServiceId") == ue_id for v in self.devices.values())

    def subscribers(self, topic):
        now = time.time()
        return [k for k, exp in self.subs.get(topic, {}).items() if exp is None or exp > now]

    def resolve(self, m, exclude):
        """Targets [('UE'|'AS', id)] of message m. Raises Reject 4.04 (+ MSGRESP) when the
        recipient UE or group is unknown (PC-24/PC-25)."""
        t, a = m.dest
        if t == "UE":
            if a not in self.regs and not (m.sto_fw and self.may_exist(a)):
                raise Reject("4.04", "unknown recipient", wire.msgresp_json(
                    m.ori, m.set_id or m.msg_id, "DELY_FAILED", "unknown recipient"))
            return [("UE", a)]
        if t == "AS":
            return [("AS", a)]
        if t == "GROUP":
            if a not in self.groups:
                raise Reject("4.04", "unknown group", wire.msgresp_json(
                    m.ori, m.set_id or m.msg_id, "DELY_FAILED", "unknown group"))
            out = []
            for u in self.groups[a]:  # the sender is excluded
                if ("UE", u) != exclude and ("UE", u) not in out:
                    out.append(("UE", u))
            return out
        if t == "BC":  # broadcast area is opaque: every registered UE
            return [("UE", u) for u in self.regs if ("UE", u) != exclude]
        return [k for k in self.subscribers(a) if k != exclude]  # TOPIC

    def authenticate(self, d, remote, key="oriAddr"):
        """A UE may send only as itself: oriAddr must be the UE Service ID registered from
        this transport address (PC-09/PC-24, 33.501 Y.2 spirit) -> Registration, else 4.03."""
        t, a = wire.address(d, key)
        if t != "UE":
            raise Reject("4.03", "oriAddr must be the sending UE")
        reg = self.regs.get(a)
        if reg is None:
            raise Reject("4.03", "originator not registered")
        if reg.remote != remote:
            raise Reject("4.03", "oriAddr is not the UE registered from this address")
        reg.seen = time.time()
        self._awake(a)
        if not reg.reachable or self.store.get(a):
            reg.reachable = True  # it just talked to us
            self.spawn(self.flush(a))
        return reg

    def as_entry(self, box, as_id, entry):
        seq = self._as_seq.get(as_id, 0) + 1
        self._as_seq[as_id] = seq
        entry["seq"] = seq
        entry["time"] = wire.format_time(time.time())
        box.setdefault(as_id, []).append(entry)

    # ---- delivery -----------------------------------------------------------------------

    async def downlink(self, ue_id, body, what):
        """CON POST /msgin5g/ue/<id> to the address the UE registered from (PC-09).
        -> ('ok' | 'unreachable' | 'refused', detail)."""
        reg = self.regs.get(ue_id)
        if reg is None:
            return "unreachable", "not registered"
        payload = wire.dumps(body)

        def request():          # a new request (new MID and token) for each try
            req = Message(code=Code.POST, uri_path=("msgin5g", "ue", ue_id), payload=payload,
                          content_format=wire.CF_JSON)
            if self._tuning is not None:
                req.transport_tuning = self._tuning
            req.remote = reg.remote
            return self.ctx.request(req, handle_blockwise=False).response

        self.counters["downlinks"] += 1
        try:
            resp = await self._attempt(ue_id, request)
            for _ in range(self.busy_retries):
                if resp.code != Code.SERVICE_UNAVAILABLE or self.regs.get(ue_id) is not reg:
                    break
                ma = resp.opt.max_age
                wait = min(60 if ma is None else ma, self.busy_wait_cap)
                self.counters["downlink_busy_retries"] += 1
                self.log("DL %s %s => %s busy (5.03), again in %ss" % (
                    what, _short(body), ue_id, wait))
                await asyncio.sleep(wait)
                resp = await request()
        except asyncio.CancelledError:
            raise
        except Exception as e:  # timeouts, ICMP errors, shutdown
            res = ("unreachable", type(e).__name__)
        else:
            code = resp.code.dotted
            if resp.code.is_successful():
                res = ("ok", code)
            elif code == "4.04" or resp.code.class_ == 5:
                res = ("unreachable", code)  # a relay's 4.04 = not connected
            else:
                res = ("refused", code)
        self.log("DL %s %s => %s (%s) -> %s" % (
            what, _short(body), ue_id, hostinfo(reg.remote), res[1]))
        if self.regs.get(ue_id) is reg and res[0] != "refused":
            reg.reachable = res[0] == "ok"   # it answered: what comes next goes at once
        if res[0] == "unreachable":
            self.counters["downlink_failures"] += 1
        return res

    async def _attempt(self, ue_id, request):
        """One downlink request. A UE that sends anything meanwhile is awake (a duty-cycled
        UE just woke from deep sleep; a retransmission may be due only in tens of seconds,
        after it sleeps again): the request is dropped and sent again at once, new MID and
        token (the UE drops a copy it already took by msgId, PC-26), at most 3 times."""
        for _ in range(3):
            ev = self._woke.setdefault(ue_id, asyncio.Event())
            fut = asyncio.ensure_future(request())
            w = asyncio.ensure_future(ev.wait())
            await asyncio.wait((fut, w), return_when=asyncio.FIRST_COMPLETED)
            if fut.done():
                w.cancel()
                return fut.result()
            # Left to finish on its own, not cancelled: aiocoap 0.4.17 still sets the result
            # of a cancelled request when its response comes, and logs InvalidStateError.
            fut.add_done_callback(_ignore_result)
            self.counters["downlink_wake_resends"] += 1
        return await request()

    def _awake(self, ue_id):
        """ue_id just sent an uplink: downlinks waiting for its answer go again now."""
        ev = self._woke.pop(ue_id, None)
        if ev is not None:
            ev.set()

    def send_control(self, ue_id, body, what):
        """Fire-and-forget downlink of IMDN / MSGRESP / SEGREC / SEGCONFIR."""
        if ue_id not in self.regs:
            self.log("DL %s %s => %s dropped (not registered)" % (what, _short(body), ue_id))
            return
        self.spawn(self.downlink(ue_id, body, what))

    async def deliver(self, ue_id, m):
        """Deliver message m to one UE, segmenting for its segment size (PC-30/31)."""
        async with self.lock(ue_id):
            reg = self.regs.get(ue_id)
            if reg is None:
                return "unreachable", "not registered"
            seg = self.seg_size(reg)
            if not m.aggr:
                return await self._send_one(ue_id, m, self._fit(ue_id, m, seg))
            if m.size() <= seg and _coap_size(ue_id, wire.encode_msg(m)) <= wire.MAX_BODY:
                return await self.downlink(ue_id, wire.encode_msg(m), "MSG")
            # aggregate too big for the recipient (23.554 8.5.1): deliver the items one by one
            res = ("ok", "2.04")
            for it in m.aggr:
                one = Msg(m.ori, m.dest, it["msgId"], it["payload"], app_id=it["appId"],
                          report=it["report"], priority=it["priority"] or m.priority,
                          sto_fw=m.sto_fw)
                res = await self._send_one(ue_id, one, self._fit(ue_id, one, seg))
                if res[0] != "ok":
                    break
            return res

    def _fit(self, ue_id, m, seg):
        """Shrink the segment size so that a segment's whole CoAP message stays within
        1152 octets even with long identifiers (PC-11)."""
        probe = wire.encode_msg(m, payload=b"", seg=Seg(m.set_id or m.msg_id, 128, 128, True),
                                report=m.report)
        room = (wire.MAX_BODY - _coap_size(ue_id, probe)) // 4 * 3
        return max(16, min(seg, room))

    async def _send_one(self, ue_id, m, seg):
        if len(m.payload) <= seg:
            return await self.downlink(ue_id, wire.encode_msg(m), "MSG")
        n = (len(m.payload) + seg - 1) // seg
        if n > wire.MAX_SEGS:
            return "refused", "too large for the recipient's segment size"
        sid = m.set_id or m.msg_id  # PC-31: segId = the unsegmented message's msgId
        bodies = []
        for i in range(n):
            s = Seg(sid, i + 1, n if i == 0 else None, i == n - 1)
            bodies.append(wire.encode_msg(m, msg_id=wire.new_msg_id(), seg=s,
                                          payload=m.payload[i * seg:(i + 1) * seg],
                                          report=m.report and i == 0))
        self.held[(ue_id, sid)] = Held(bodies, time.time() + self.seg_hold)
        for b in bodies:
            res = await self.downlink(ue_id, b, "SEG")
            if res[0] != "ok":
                return res
            self.counters["segments_out"] += 1
        return "ok", "2.04"

    async def deliver_and_handle(self, ue_id, m, notify=True):
        """deliver(); on failure store (stoAndFwInd) or report DELY_FAILED (PC-25 b)."""
        kind, detail = await self.deliver(ue_id, m)
        if kind == "ok":
            self.counters["delivered"] += 1
            return "DELIVERED"
        if kind == "unreachable" and m.sto_fw:
            self.store_msg(ue_id, m)
            if notify:
                self.notify_sender(m, "DELY_STORED", None)
            return "STORED"
        self.counters["failed"] += 1
        cause = "recipient unreachable (%s)" % detail if kind == "unreachable" else \
            "recipient refused (%s)" % detail
        if notify:
            self.notify_sender(m, "DELY_FAILED", cause)
        return "FAILED: " + cause

    def notify_sender(self, m, status, cause):
        """Separate MSGRESP to the originator when the outcome is known later (PC-25 b)."""
        body = wire.msgresp_json(m.ori, m.set_id or m.msg_id, status, cause)
        if m.ori[0] == "UE":
            self.send_control(m.ori[1], body, "MSGRESP")
        elif m.ori[0] == "AS":
            self.as_entry(self.as_reports_box, m.ori[1], {
                "kind": "MSGRESP", "msgId": body["msgId"], "status": status,
                "failureCause": cause, "recipient": m.dest[1]})

    def send_reports(self, ori, dest, reports):
        """IMDN(s) from ori to dest (aggregated when several, PC-29)."""
        if dest[0] == "UE":
            self.send_control(dest[1], wire.imdn_json(ori, dest, reports), "IMDN")
        elif dest[0] == "AS":
            for r in reports:
                self.as_entry(self.as_reports_box, dest[1], {
                    "kind": "IMDN", "from": ori[1], "fromType": ori[0], "msgId": r["msgId"],
                    "delivSt": r["delivSt"], "failureCause": r.get("failureCause")})
        self.counters["reports"] += len(reports)

    def to_as(self, as_id, m, segmented=False):
        """P2A: the AS consumes the message (inbox) and, when asked, the server sends the
        IMDN on the AS's behalf (REPT_DELY_SUCCESS, PC-27)."""
        items = m.aggr or [{"msgId": m.msg_id, "appId": m.app_id, "payload": m.payload,
                            "report": m.report}]
        reps = []
        for it in items:
            self.as_entry(self.inboxes, as_id, {
                "from": m.ori[1], "fromType": m.ori[0], "to": list(m.dest), "msgId": it["msgId"],
                "appId": it["appId"], "payload": bytes(it["payload"]), "segmented": segmented,
                "aggregated": bool(m.aggr)})
            self.counters["delivered"] += 1
            if it["report"]:
                reps.append({"msgId": it["msgId"], "delivSt": "REPT_DELY_SUCCESS"})
        self.log("AS %s <= %s id=%s (%d B%s)" % (
            as_id, m.ori[1], m.msg_id[:8], m.size(), ", reassembled" if segmented else ""))
        if reps:
            self.send_reports(("AS", as_id), m.ori, reps)

    def store_msg(self, ue_id, m):
        """Store-and-forward (23.554 8.3.2 NOTE, 8.3.6); expiry from stoAndFwParams.exprTime."""
        lst = self.store.setdefault(ue_id, [])
        for s in lst:
            if s.msg.msg_id == m.msg_id and s.msg.ori == m.ori:
                return
        now = time.time()
        exp = m.expires if m.expires is not None else now + self.store_ttl
        lst.append(Stored(ue_id, m, exp, now))
        self.counters["stored"] += 1
        self.log("STORE %s -> %s id=%s until %s" % (m.ori[1], ue_id, m.msg_id[:8], wire.format_time(exp)))

    async def flush(self, ue_id):
        """Deliver stored messages after the UE (re-)registered or spoke again."""
        if ue_id in self._flushing:
            return
        self._flushing.add(ue_id)
        self._store_tried[ue_id] = time.time()
        try:
            while self.store.get(ue_id):
                s = self.store[ue_id].pop(0)
                if s.expires <= time.time():
                    self._expire(s)
                    continue
                kind, detail = await self.deliver(ue_id, s.msg)
                if kind == "ok":
                    self.counters["delivered"] += 1
                    self.counters["forwarded_stored"] += 1
                elif kind == "unreachable":
                    self.store.setdefault(ue_id, []).insert(0, s)
                    break
                else:
                    self.counters["failed"] += 1
                    self.notify_sender(s.msg, "DELY_FAILED", "recipient refused (%s)" % detail)
            if not self.store.get(ue_id):
                self.store.pop(ue_id, None)
        finally:
            self._flushing.discard(ue_id)

    def _expire(self, s):
        self.counters["expired"] += 1
        self.log("EXPIRED %s -> %s id=%s" % (s.msg.ori[1], s.recipient, s.msg.msg_id[:8]))
        self.notify_sender(s.msg, "DELY_FAILED", "STORE_EXPIRED")

    def dispatch(self, m, targets):
        """Route an uplink message to its targets; returns how many copies were stored now."""
        stored = 0
        for kind, tid in targets:
            if kind == "AS":
                self.to_as(tid, m)
                continue
            reg = self.regs.get(tid)
            if (reg is None or not reg.reachable) and m.sto_fw:
                self.store_msg(tid, m)
                stored += 1
            elif reg is None:
                self.counters["failed"] += 1
                self.log("SKIP %s -> %s id=%s (not registered)" % (m.ori[1], tid, m.msg_id[:8]))
            else:
                self.spawn(self.deliver_and_handle(tid, m))
        return stored

    # ---- uplink handlers (called by site.Root; d = decoded JSON object) -------------------

    def on_reg(self, d, remote):
        """REG (PC-14/15): 2.01 new, 2.04 refresh; 4.03 forbidden."""
        ue = wire.ident(d.get("ueServiceId"), "ueServiceId")
        ue_dev = d.get("ueId")
        if ue_dev is not None:
            wire.ident(ue_dev, "ueId")
        prof = wire.opt_obj(d, "clientProfile") or {}
        ms = prof.get("maxSegSize")
        if ms is not None and (not wire.is_int(ms) or ms < 1):
            raise wire.bad("clientProfile.maxSegSize must be a positive integer")
        wire.opt_obj(prof, "trigInfo")
        wire.opt_obj(prof, "commAvail")
        wire.opt_bool(d, "regUrgent")
        ex = d.get("regExpiry")
        if ex is not None and (not wire.is_int(ex) or ex < 0):
            raise wire.bad("regExpiry must be a non-negative integer")
        fail = {"msgType": "REG", "ueServiceId": ue, "result": "FAILURE"}
        if ue in self.forbidden or (ue_dev is not None and ue_dev in self.forbidden):
            fail["failureReason"] = "not authorized"
            raise Reject("4.03", "UE Service ID not authorized", fail)
        now = time.time()
        reg = self.regs.get(ue)
        if reg is None:
            reg = self.regs[ue] = Registration(ue, remote, now)
            code = "2.01"
        else:
            code = "2.04"
            reg.remote = remote  # refresh, possibly from a new address (PC-17)
        reg.ue_dev_id = ue_dev
        reg.max_seg = ms
        reg.reachable = True
        reg.seen = now
        self._awake(ue)
        self.counters["registrations"] += 1
        if self.store.get(ue):
            self.spawn(self.flush(ue))
        return code, {"msgType": "REG", "ueServiceId": ue, "result": "SUCCESS"}

    def on_dereg(self, d, remote):
        """DEREG (PC-16): 2.04; 4.04 when not registered; 4.03 from another address."""
        ue = wire.ident(d.get("ueServiceId"), "ueServiceId")
        reg = self.regs.get(ue)
        fail = {"msgType": "DEREG", "result": "FAILURE"}
        if reg is None:
            fail["failureReason"] = "not registered"
            raise Reject("4.04", "not registered", fail)
        if reg.remote != remote:
            fail["failureReason"] = "registered from another address"
            raise Reject("4.03", "registered from another address", fail)
        del self.regs[ue]
        for s in self.subs.values():  # subscriptions end with the registration (PC-33)
            s.pop(("UE", ue), None)
        return "2.04", {"msgType": "DEREG", "result": "SUCCESS"}

    def on_msg(self, d, remote):
        """MSG (PC-22/24/25, PC-29 aggregates, PC-31 segments)."""
        m = wire.parse_msg(d)
        reg = self.authenticate(d, remote)
        self.counters["messages"] += 1
        # A client re-sends a message whose CoAP exchange timed out with the same msgId
        # (PC-24): accept it again but route it once (the 2.04 may be all that was lost).
        if m.seg is not None:
            # Segments are not de-duplicated here: a SEGREC asks for the same msgId again
            # (PC-32), and reassembly drops copies itself.
            return self._on_segment(m, reg)
        key = (reg.ue_id, m.msg_id)
        if key in self._seen_ids:
            self.counters["duplicate_msgs"] += 1
            return "2.04", None
        targets = self.resolve(m, exclude=("UE", reg.ue_id))
        self._seen(key)     # only once it is routable: a refused message may come again
        stored = self.dispatch(m, targets)
        if stored:
            return "2.04", wire.msgresp_json(m.ori, m.msg_id, "DELY_STORED")
        return "2.04", None

    def _seen(self, key):
        self._seen_ids[key] = None
        while len(self._seen_ids) > 4096:
            self._seen_ids.pop(next(iter(self._seen_ids)))

    def _on_segment(self, m, reg):
        key = (m.ori, m.seg.seg_id)
        s = self.sets.get(key)
        now = time.time()
        if s is None:
            active = [x for k, x in self.sets.items() if k[0] == m.ori and not x.done]
            if len(active) >= MAX_SETS_PER_SENDER or len(self.sets) >= self.max_sets:
                raise Reject("5.03", "too many concurrent reassemblies")  # PC-32
            targets = self.resolve(m, exclude=("UE", reg.ue_id))
            s = SegSet(m, now)
            for t in targets:
                if t[0] == "AS":
                    s.modes[t] = "reasm"  # P2A: the server reassembles (23.554 8.5)
                    continue
                r = self.regs.get(t[1])
                if r is not None and (r.reachable or not m.sto_fw):
                    # forward segments that fit; reassemble and re-segment otherwise
                    s.modes[t] = "fwd" if len(m.payload) <= self.seg_size(r) else "reasm"
                elif m.sto_fw:
                    s.modes[t] = "store"
            self.sets[key] = s
        sg = m.seg
        tot = sg.total if sg.total is not None else (sg.numb if sg.last else None)
        if tot is not None:
            if s.total is not None and s.total != tot:
                raise wire.bad("segment count differs from an earlier segment")
            if tot < max(s.parts, default=0):
                raise wire.bad("segment count below a received segment number")
            s.total = tot
        elif s.total is not None and sg.numb > s.total:
            raise wire.bad("segNumb beyond the set's segment count")
        if sg.numb not in s.parts:
            s.size += len(m.payload)
            # PC-32: a set whose announced size exceeds the reassembly limit gets 4.13
            big = sg.total is not None and not sg.last and sg.total * len(m.payload) > MAX_REASM
            if big or s.size > MAX_REASM:
                del self.sets[key]
                raise Reject("4.13", "segmented message too large", wire.msgresp_json(
                    m.ori, sg.seg_id, "DELY_FAILED", "message too large"))
            s.parts[sg.numb] = m.payload
        if sg.numb == 1:
            s.report = m.report  # delivStReqInd travels in segment 1 (PC-31)
        s.last = now
        self.counters["segments_in"] += 1
        for t, mode in list(s.modes.items()):
            if mode == "fwd":
                self.spawn(self._fwd_segment(s, t, m))
        if not s.done and s.complete():
            s.done = True
            self._complete(s)
        if any(mo == "store" for mo in s.modes.values()):
            return "2.04", wire.msgresp_json(m.ori, m.msg_id, "DELY_STORED")
        return "2.04", None

    async def _fwd_segment(self, s, t, m):
        async with self.lock(t[1]):
            if s.modes.get(t) != "fwd":
                return
            kind, detail = await self.downlink(t[1], wire.encode_msg(m, seg=m.seg), "SEG")
        if kind == "ok":
            self.counters["segments_out"] += 1
            return
        if s.modes.get(t) != "fwd":
            return
        if kind == "unreachable" and s.proto.sto_fw:
            s.modes[t] = "store"
            if s.done:
                self.store_msg(t[1], s.assemble())
            self.notify_sender(_set_msg(s), "DELY_STORED", None)
        else:
            s.modes[t] = "failed"
            self.counters["failed"] += 1
            self.notify_sender(_set_msg(s), "DELY_FAILED", "recipient %s (%s)" % (kind, detail))

    def _complete(self, s):
        full = s.assemble()
        sender = s.proto.ori
        self.counters["reassembled"] += 1
        for t, mode in s.modes.items():
            if mode == "reasm" and t[0] == "AS":
                self.to_as(t[1], full, segmented=True)
                # PC-32: the server reassembled a P2A message -> SEGCONFIR to the originator
                self.send_control(sender[1], {
                    "msgType": "SEGCONFIR", "oriAddr": wire.addr_json(t),
                    "destAddr": wire.addr_json(sender), "msgId": wire.new_msg_id(),
                    "segId": full.msg_id, "result": "SUCCESS"}, "SEGCONFIR")
            elif mode == "reasm":
                self.spawn(self.deliver_and_handle(t[1], full))
            elif mode == "store":
                self.store_msg(t[1], full)

    def _reasm_timer(self, key, s, now):
        """T_REASM expiry with gaps: SEGREC rounds, then failure (PC-32)."""
        sender = s.proto.ori
        if s.rounds < SEGREC_ROUNDS:
            s.rounds += 1
            s.last = now
            body = {"msgType": "SEGREC", "oriAddr": wire.addr_json(s.proto.dest),
                    "destAddr": wire.addr_json(sender), "msgId": wire.new_msg_id(),
                    "segId": s.proto.seg.seg_id, "missingSegs": s.missing()}
            if s.total is None:
                body["fromSeg"] = max(s.parts, default=0) + 1
            self.send_control(sender[1], body, "SEGREC")
            return
        del self.sets[key]
        sid = s.proto.seg.seg_id
        self.counters["failed"] += 1
        self.log("REASM %s segId=%s failed: segments missing" % (sender[1], sid[:8]))
        ue_fail = False
        for t, mode in s.modes.items():
            if mode == "reasm" and t[0] == "AS":
                self.send_control(sender[1], {
                    "msgType": "SEGCONFIR", "oriAddr": wire.addr_json(t),
                    "destAddr": wire.addr_json(sender), "msgId": wire.new_msg_id(),
                    "segId": sid, "result": "FAILURE"}, "SEGCONFIR")
                if s.report:
                    self.send_reports(t, sender, [{"msgId": sid, "delivSt": "REPT_DELY_FAILED",
                                                   "failureCause": "SEGMENTS_MISSING"}])
            elif mode in ("reasm", "store"):
                ue_fail = True
        if ue_fail:
            self.notify_sender(_set_msg(s), "DELY_FAILED", "SEGMENTS_MISSING")

    def on_imdn(self, d, remote):
        """IMDN / aggregated IMDN (PC-27/28/29): forwarded to the original sender."""
        ori, dest, mid, reports = wire.parse_imdn(d)
        self.authenticate(d, remote)
        # PC-27: a report re-sent after a timed-out exchange is forwarded once, keyed by
        # (originator, recipient, msgId, delivSt).
        fresh = []
        for r in reports:
            key = ("IMDN", ori[1], dest[1], r["msgId"], r["delivSt"])
            if key in self._seen_ids:
                self.counters["duplicate_reports"] += 1
            else:
                fresh.append(r)
        if not fresh:
            return "2.04", None
        reports = fresh
        if dest[0] == "UE":
            if dest[1] not in self.regs:
                raise Reject("4.04", "report recipient not registered")
            self.send_control(dest[1], wire.imdn_json(ori, dest, reports, mid), "IMDN")
            self.counters["reports"] += len(reports)
        else:
            self.send_reports(ori, dest, reports)
        for r in reports:
            self._seen(("IMDN", ori[1], dest[1], r["msgId"], r["delivSt"]))
        return "2.04", None

    def on_segrec(self, d, remote):
        """SEGREC (PC-32): served by the server when it produced the segments, else
        forwarded end to end."""
        reg = self.authenticate(d, remote)
        dest = wire.address(d, "destAddr", ("UE", "AS"))
        wire.msg_id(wire.member(d, "msgId"))
        sid = wire.msg_id(wire.member(d, "segId"), "segId")
        missing = wire.seg_numbers(d.get("missingSegs", []), "missingSegs")
        frm = d.get("fromSeg")
        if frm is not None and (not wire.is_int(frm) or not 1 <= frm <= wire.MAX_SEGS):
            raise wire.bad("fromSeg must be an integer 1-%d" % wire.MAX_SEGS)
        if not missing and frm is None:
            raise wire.bad("SEGREC needs missingSegs or fromSeg")
        h = self.held.get((reg.ue_id, sid))
        if h is not None:
            want = set(missing)
            if frm is not None:
                want.update(range(frm, len(h.bodies) + 1))
            h.expires = time.time() + self.seg_hold
            self.spawn(self._resend(reg.ue_id, h, sorted(want)))
            return "2.04", None
        if dest[0] == "UE" and dest[1] in self.regs:
            self.send_control(dest[1], d, "SEGREC")
            return "2.04", None
        raise Reject("4.04", "unknown segmentation set")

    async def _resend(self, ue_id, h, numbers):
        async with self.lock(ue_id):
            for n in numbers:
                if 1 <= n <= len(h.bodies):
                    await self.downlink(ue_id, h.bodies[n - 1], "SEG")

    def on_segconfir(self, d, remote):
        """SEGCONFIR (PC-32): ends the server's hold; to an AS it is kept as a report,
        to a UE it is forwarded to the originator."""
        reg = self.authenticate(d, remote)
        dest = wire.address(d, "destAddr", ("UE", "AS"))
        wire.msg_id(wire.member(d, "msgId"))
        sid = wire.msg_id(wire.member(d, "segId"), "segId")
        res = d.get("result")
        if res not in wire.RESULTS:
            raise wire.bad("result must be SUCCESS/FAILURE")
        h = self.held.pop((reg.ue_id, sid), None)
        if dest[0] == "AS":
            self.as_entry(self.as_reports_box, dest[1], {
                "kind": "SEGCONFIR", "from": reg.ue_id, "fromType": "UE", "segId": sid,
                "result": res})
        elif dest[1] in self.regs:
            self.send_control(dest[1], d, "SEGCONFIR")
        elif h is None:
            raise Reject("4.04", "originator not registered")
        return "2.04", None

    def on_topicsub(self, d, remote):
        """TOPICSUB (PC-33): 2.01 new subscription, 2.04 refreshed."""
        reg = self.authenticate(d, remote)
        wire.msg_id(wire.member(d, "msgId"))
        tops = wire.topics(d, allow_empty=False)
        exp = None
        if d.get("expiration") is not None:
            exp = wire.parse_time(d["expiration"], "expiration")
            if exp <= time.time():
                raise wire.bad("expiration must be in the future")  # 23.554 8.8.1: > 0
        key = ("UE", reg.ue_id)
        new = False
        for t in tops:
            s = self.subs.setdefault(t, {})
            if key not in s:
                new = True
            s[key] = exp
        body = {"msgType": "TOPICSUB", "result": "SUCCESS", "topics": tops}
        if exp is not None:
            body["expiration"] = wire.format_time(exp)
        return ("2.01" if new else "2.04"), body

    def on_topicunsub(self, d, remote):
        """TOPICUNSUB (PC-33): 2.04; 4.04 when not subscribed; empty list = all."""
        reg = self.authenticate(d, remote)
        wire.msg_id(wire.member(d, "msgId"))
        tops = wire.topics(d, allow_empty=True)
        key = ("UE", reg.ue_id)
        if not tops:
            tops = [t for t, s in self.subs.items() if key in s]
        removed = [t for t in tops if self.subs.get(t, {}).pop(key, 0) != 0]
        if not removed:
            raise Reject("4.04", "not subscribed", {"msgType": "TOPICUNSUB", "result": "FAILURE"})
        return "2.04", {"msgType": "TOPICUNSUB", "result": "SUCCESS", "topics": removed}

    # ---- housekeeping ---------------------------------------------------------------------

    async def _housekeeping(self):
        while True:
            await asyncio.sleep(self.tick)
            try:
                self.sweep()
            except Exception:
                self.counters["internal_errors"] += 1
                traceback.print_exc(file=sys.stderr)

    def sweep(self, now=None):
        """Expire stored messages, topic subscriptions, reassembly timers and held segments."""
        now = time.time() if now is None else now
        for ue in list(self.store):
            if ue in self._flushing:
                continue
            keep = []
            for s in self.store[ue]:
                if s.expires <= now:
                    self._expire(s)
                else:
                    keep.append(s)
            if keep:
                self.store[ue] = keep
                if self.store_retry and ue in self.regs and now - self._store_tried.get(
                        ue, keep[0].since) >= self.store_retry:
                    self.spawn(self.flush(ue))
            else:
                del self.store[ue]
                self._store_tried.pop(ue, None)
        for t in list(self.subs):
            s = self.subs[t]
            for k in [k for k, e in s.items() if e is not None and e <= now]:
                del s[k]
            if not s:
                del self.subs[t]
        for key, s in list(self.sets.items()):
            idle = now - s.last
            if s.done or not s.needs_reasm():
                if idle > self.seg_hold:
                    del self.sets[key]
            elif idle > self.reasm_timeout:
                self._reasm_timer(key, s, now)
        for k in [k for k, h in self.held.items() if h.expires <= now]:
            del self.held[k]


def _coap_size(ue_id, body):
    """Octets of a downlink CoAP message carrying body: header 4 + token 8 + Uri-Path
    options (msgin5g, ue, id) + Content-Format + payload marker."""
    return 4 + 8 + 8 + 3 + 3 + len(ue_id.encode("utf-8")) + 2 + 1 + len(wire.dumps(body))


def _set_msg(s):
    """A Msg naming a segmentation set (for MSGRESP about it): msgId = segId."""
    p = s.proto
    return Msg(p.ori, p.dest, p.seg.seg_id, b"", sto_fw=p.sto_fw, set_id=p.seg.seg_id)


def _short(body):
    t = body.get("msgType", "?")
    o = body.get("oriAddr", {}).get("addr", "")
    mid = str(body.get("msgId", ""))[:8]
    extra = ""
    if body.get("segInd"):
        sp = body.get("segParams", {})
        extra = " seg %s/%s" % (sp.get("segNumb"), sp.get("totalSegCount", "?"))
    elif t == "MSGRESP":
        extra = " " + str(body.get("status", "ACCEPTED"))
    elif t == "IMDN":
        extra = " " + str(body.get("delivSt", "aggr"))
    return "%s from %s id=%s%s" % (t, o, mid, extra)


def _ignore_result(fut):
    # A downlink sent again meanwhile: this try's outcome no longer matters (and an
    # exception nobody retrieves would be logged).
    if not fut.cancelled():
        fut.exception()
