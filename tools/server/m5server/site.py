"""CoAP front end of the reference server: one root resource that routes every path.

  POST /msgin5g                                   MSGin5G-1 uplink (PC-09), any Uri-Host
  GET  /su-uc/v1/val-services/msgin5g/ue-configurations?val-ue-id=..   (PC-13, §9.3)
  admin (loopback peers only unless admin_any):
  POST /as/<asId>/send     GET|DELETE /as/<asId>/inbox     GET|POST /as/<asId>/topics
  GET  /stats              GET /ues                        GET /groups

Errors never escape as tracebacks: contract errors are wire.Reject -> 4.xx (JSON body when
the contract defines one, else a diagnostic text payload without Content-Format, RFC 7252
5.5.2); anything unexpected -> 5.00 and a traceback on stderr.
"""
import sys
import time
import traceback

from aiocoap import Code, Message
from aiocoap import resource as ares

from . import config, wire
from .server import hostinfo, is_loopback
from .wire import Reject

ADMIN_MAX_BODY = 65536


def code_of(s):
    c, d = s.split(".")
    return Code((int(c) << 5) + int(d))


def json_resp(code, obj):
    return Message(code=code_of(code), payload=wire.dumps(obj), content_format=wire.CF_JSON)


def _s(v):
    return v if isinstance(v, str) else "?"


def _addr(d, key):
    a = d.get(key) if isinstance(d, dict) else None
    if isinstance(a, dict):
        return "%s:%s" % (_s(a.get("addrType")), _s(a.get("addr")))
    return "?"


def describe(d):
    """Short log text for a decoded uplink body (which may be malformed)."""
    t = d.get("msgType")
    if t in ("REG", "DEREG"):
        return _s(d.get("ueServiceId"))
    ori = d.get("oriAddr")
    ori = _s(ori.get("addr")) if isinstance(ori, dict) else "?"
    mid = _s(d.get("msgId"))[:8]
    if t == "MSG":
        extra = ""
        sp = d.get("segParams")
        if d.get("segInd") and isinstance(sp, dict):
            extra = " seg %s/%s" % (sp.get("segNumb"), sp.get("totalSegCount", "?"))
        elif d.get("aggrInd") and isinstance(d.get("msgs"), list):
            extra = " aggr x%d" % len(d["msgs"])
        elif isinstance(d.get("payload"), str):
            extra = " (%d B)" % (len(d["payload"]) * 3 // 4)
        return "%s -> %s id=%s%s" % (ori, _addr(d, "destAddr"), mid, extra)
    if t in ("TOPICSUB", "TOPICUNSUB"):
        tops = d.get("topics")
        return "%s %s" % (ori, ",".join(x for x in tops if isinstance(x, str))
                          if isinstance(tops, list) else "?")
    return "%s -> %s id=%s" % (ori, _addr(d, "destAddr"), mid)


class Root(ares.Resource, ares.PathCapable):
    def __init__(self, server):
        ares.Resource.__init__(self)
        self.s = server
        self.uplink = {
            "REG": server.on_reg, "DEREG": server.on_dereg, "MSG": server.on_msg,
            "IMDN": server.on_imdn, "SEGREC": server.on_segrec,
            "SEGCONFIR": server.on_segconfir, "TOPICSUB": server.on_topicsub,
            "TOPICUNSUB": server.on_topicunsub,
        }

    async def needs_blockwise_assembly(self, request):
        return True

    def get_link_description(self):
        return None

    async def render(self, req):
        path = tuple(req.opt.uri_path)
        kind, desc = "?", "/" + "/".join(path)
        try:
            if path == ("msgin5g",):
                kind, desc = "UL", "/msgin5g"
                kind, desc, resp = await self._uplink(req)
            elif path[:3] == config.CONFIG_PATH and len(path) == 5 and path[4] == "ue-configurations":
                kind = "CONFIG"
                desc, resp = self._config(req, path[3])
            elif path and path[0] in ("as", "stats", "ues", "groups"):
                kind = "ADMIN"
                resp = await self._admin(req, path)
            else:
                raise Reject("4.04", "no such resource")
            reason = ""
        except Reject as e:
            kind = getattr(e, "kind", kind)
            desc = getattr(e, "desc", desc)
            reason = " (%s)" % e.reason
            if e.body is not None:
                resp = json_resp(e.code, e.body)
            else:
                resp = Message(code=code_of(e.code), payload=e.reason.encode("utf-8"))
            if e.code == "4.13":
                resp.opt.size1 = self.s.max_body
            if e.code == "5.03":
                resp.opt.max_age = 30  # PC-32
        except Exception:
            self.s.counters["internal_errors"] += 1
            print("m5server: internal error on %s from %s:" % (desc, hostinfo(req.remote)),
                  file=sys.stderr)
            traceback.print_exc(file=sys.stderr)
            resp = Message(code=Code.INTERNAL_SERVER_ERROR, payload=b"internal error")
            reason = " (internal error)"
        code = resp.code.dotted
        self.s.codes[code] += 1
        if kind != "ADMIN" or reason:
            self.s.log("%s %s from %s -> %s%s" % (kind, desc, hostinfo(req.remote), code, reason))
        return resp

    async def _uplink(self, req):
        s = self.s
        s.counters["received"] += 1
        if req.code != Code.POST:
            raise Reject("4.05", "POST only")
        cf = req.opt.content_format
        if cf is None or int(cf) != wire.CF_JSON:
            raise Reject("4.15", "Content-Format must be 50 (application/json)")  # PC-09
        if len(req.payload) > s.max_body:
            raise Reject("4.13", "body larger than %d octets" % s.max_body)  # PC-11
        d = wire.loads(req.payload)
        t = d.get("msgType")
        h = self.uplink.get(t) if isinstance(t, str) else None
        if h is None:
            raise Reject("4.00", "unknown msgType %r" % (t,))  # PC-35
        s.counters["rx_" + t] += 1
        try:
            code, body = h(d, req.remote)
        except Reject as e:
            e.kind, e.desc = t, describe(d)
            raise
        if body is None:
            return t, describe(d), Message(code=code_of(code))
        return t, describe(d), json_resp(code, body)

    def _config(self, req, service):
        """SEAL UE configuration (PC-13): 2.05 XML / 4.03 forbidden / 4.04 unknown."""
        s = self.s
        if service != config.VAL_SERVICE_ID:
            raise Reject("4.04", "unknown VAL service")
        if req.code != Code.GET:
            raise Reject("4.05", "GET only")
        acc = req.opt.accept
        if acc is not None and int(acc) != wire.CF_XML:
            raise Reject("4.06", "only application/xml (41)")
        q = config.parse_query(req.opt.uri_query)
        vid = q.get("val-ue-id")
        if not vid:
            raise Reject("4.00", "val-ue-id query missing")
        uid = q.get("val-user-id") or None
        if vid in s.forbidden or (uid is not None and uid in s.forbidden):
            raise Reject("4.03", "configuration refused for " + vid)
        server_addr, seg = s.advertise, s.default_seg_size
        if s.devices is not None:
            e = s.devices.get(vid)
            if e is None or (uid is not None and uid != e["ueServiceId"]):
                raise Reject("4.04", "no configuration for " + vid)
            ue_sid = e["ueServiceId"]
            seg = e.get("segmentSize", seg)
            server_addr = e.get("server", server_addr)
            if ue_sid in s.forbidden:
                raise Reject("4.03", "configuration refused for " + vid)
        else:
            ue_sid = uid or vid
        doc = config.document(server_addr, ue_sid, seg)
        resp = Message(code=Code.CONTENT, payload=doc, content_format=wire.CF_XML)
        resp.opt.etag = config.etag(doc)
        resp.opt.max_age = 3600
        return vid, resp

    # ---- admin API (application-server side) --------------------------------------------

    async def _admin(self, req, path):
        s = self.s
        if not (s.admin_any or is_loopback(req.remote)):
            raise Reject("4.03", "admin API is for loopback peers only")
        if path in (("stats",), ("ues",), ("groups",)):
            if req.code != Code.GET:
                raise Reject("4.05", "GET only")
            obj = {"stats": s.stats, "ues": lambda: {"ues": s.registrations()},
                   "groups": lambda: {"groups": s.groups}}[path[0]]()
            return json_resp("2.05", obj)
        if len(path) != 3 or path[0] != "as":
            raise Reject("4.04", "no such resource")
        as_id, op = path[1], path[2]
        wire.ident(as_id, "AS Service ID")
        if op == "send":
            if req.code != Code.POST:
                raise Reject("4.05", "POST only")
            return await self._as_send(req, as_id)
        if op == "inbox":
            if req.code == Code.DELETE:
                s.as_clear(as_id)
                return Message(code=Code.DELETED)
            if req.code != Code.GET:
                raise Reject("4.05", "GET or DELETE only")
            since = config.parse_query(req.opt.uri_query).get("since", "0")
            if not since.isdigit():
                raise Reject("4.00", "since must be a number")
            msgs = []
            for e in s.as_inbox(as_id, int(since)):
                p = e.pop("payload")
                e["payload"] = wire.b64encode(p)
                try:
                    e["text"] = p.decode("utf-8")
                except UnicodeDecodeError:
                    e["text"] = None
                msgs.append(e)
            return json_resp("2.05", {"asId": as_id, "messages": msgs,
                                      "reports": s.as_reports(as_id, int(since))})
        if op == "topics":
            if req.code == Code.GET:
                return json_resp("2.05", {"asId": as_id, "topics": s.as_subscribe(as_id)})
            if req.code != Code.POST:
                raise Reject("4.05", "GET or POST only")
            d = self._admin_json(req)
            sub = d.get("subscribe", [])
            uns = d.get("unsubscribe", [])
            if not isinstance(sub, list) or not isinstance(uns, list):
                raise Reject("4.00", "subscribe/unsubscribe must be lists")
            sub = [wire.ident(t, "topic") for t in sub]
            uns = [wire.ident(t, "topic") for t in uns]
            return json_resp("2.04", {"asId": as_id, "topics": s.as_subscribe(as_id, sub, uns)})
        raise Reject("4.04", "no such resource")

    def _admin_json(self, req):
        cf = req.opt.content_format
        if cf is None or int(cf) != wire.CF_JSON:
            raise Reject("4.15", "Content-Format must be 50 (application/json)")
        if len(req.payload) > ADMIN_MAX_BODY:
            raise Reject("4.13", "body too large")
        return wire.loads(req.payload)

    async def _as_send(self, req, as_id):
        d = self._admin_json(req)
        to = wire.ident(d.get("to"), "to")
        to_type = d.get("toType", "UE")
        enc = d.get("encoding", "text")
        p = d.get("payload", "")
        if not isinstance(p, str):
            raise Reject("4.00", "payload must be a string")
        if enc == "text":
            payload = p.encode("utf-8")
        elif enc == "base64":
            payload = wire.b64decode(p)
        else:
            raise Reject("4.00", "encoding must be text or base64")
        app = d.get("appId")
        if app is not None and not (isinstance(app, str) or wire.is_int(app)):
            raise Reject("4.00", "appId must be a number or decimal string")
        ttl = d.get("ttl")
        if d.get("exprTime") is not None:
            ttl = wire.parse_time(d["exprTime"], "exprTime") - time.time()
        elif ttl is not None and (not isinstance(ttl, (int, float)) or isinstance(ttl, bool)):
            raise Reject("4.00", "ttl must be seconds")
        res = await self.s.as_send(
            as_id, to, payload, app_id=app, report=wire.opt_bool(d, "report"), to_type=to_type,
            store_fwd=wire.opt_bool(d, "storeFwd"), expire=ttl, priority=d.get("priority"))
        return json_resp("4.04" if "failureCause" in res else "2.04", res)
