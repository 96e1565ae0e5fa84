"""MSGin5G-1 JSON codec and validation for the reference server (CPython only).

Every parser raises Reject(code, reason) for input the contract refuses, so the CoAP layer
can answer with the contract's 4.xx code instead of failing. Member names: PROTOCOL.md §9.2
(PC-22); identifiers PC-03; Application ID PC-04; Message ID PC-05; JSON rules PC-12.
"""
import base64
import binascii
import datetime
import json
import re
import uuid

CF_TEXT = 0
CF_XML = 41  # application/xml, §9.3
CF_JSON = 50  # application/json, PC-09

MAX_BODY = 1152  # PC-11: no MSGin5G-1 CoAP message is larger; a bigger body gets 4.13
MAX_PAYLOAD = 2048  # stage-2 maximum of one (unsegmented) message payload, PC-26
MAX_SEGS = 128  # PC-31
MAX_AGGR = 16  # PC-29
MAX_TOPICS = 32

ADDR_TYPES = ("UE", "AS", "GROUP", "BC", "TOPIC")  # 29.538 AddressType
PRIORITIES = ("HIGH", "MIDDLE", "LOW")
DELIV_ST = ("REPT_DELY_SUCCESS", "REPT_DELY_FAILED")  # PC-27
RESULTS = ("SUCCESS", "FAILURE")

_UUID_RE = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)


class Reject(Exception):
    """A request the contract refuses: CoAP code (e.g. '4.00') + reason text."""

    def __init__(self, code, reason, body=None):
        Exception.__init__(self, reason)
        self.code = code
        self.reason = reason
        self.body = body


def bad(reason):
    return Reject("4.00", reason)


def dumps(obj):
    """Compact UTF-8 JSON (PC-12)."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def loads(payload):
    """JSON object from a request body, or Reject 4.00."""
    try:
        text = bytes(payload).decode("utf-8")
    except UnicodeDecodeError:
        raise bad("body is not UTF-8")
    if text.startswith("\ufeff"):
        raise bad("BOM not allowed")  # PC-12
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError):
        raise bad("body is not JSON")
    if not isinstance(obj, dict):
        raise bad("body is not a JSON object")
    try:  # "\ud800" escapes decode to lone surrogates, which are not UTF-8 (PC-12)
        json.dumps(obj, ensure_ascii=False).encode("utf-8")
    except (UnicodeEncodeError, ValueError):
        raise bad("body has invalid Unicode escapes")
    return obj


def new_msg_id():
    return str(uuid.uuid4())  # PC-05


def is_bool(v):
    return isinstance(v, bool)


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def ident(v, what):
    """Opaque UTF-8 identifier, 1-255 bytes (PC-03)."""
    if not isinstance(v, str):
        raise bad(what + " missing or not a string")
    try:
        n = len(v.encode("utf-8"))
    except UnicodeEncodeError:
        raise bad(what + " is not valid UTF-8")
    if not 1 <= n <= 255:
        raise bad(what + " must be 1-255 bytes")
    return v


def member(d, key, what=None):
    if key not in d:
        raise bad("missing member " + (what or key))
    return d[key]


def opt_bool(d, key, default=False):
    v = d.get(key, default)
    if v is None:
        return default
    if not is_bool(v):
        raise bad(key + " must be a boolean")
    return v


def opt_obj(d, key):
    v = d.get(key)
    if v is not None and not isinstance(v, dict):
        raise bad(key + " must be an object")
    return v


def address(d, key, types=ADDR_TYPES):
    """Address {addrType, addr} -> (addrType, addr)."""
    a = member(d, key)
    if not isinstance(a, dict):
        raise bad(key + " must be an object")
    t = a.get("addrType")
    if t not in types:
        raise bad(key + ".addrType must be one of " + "/".join(types))
    return t, ident(a.get("addr"), key + ".addr")


def addr_json(a):
    return {"addrType": a[0], "addr": a[1]}


def msg_id(v, what="msgId"):
    if not isinstance(v, str) or not _UUID_RE.match(v):
        raise bad(what + " must be a UUID string")  # PC-05
    return v


def app_id(v):
    """PC-04: decimal string 0-65535."""
    if v is None:
        return None
    if not isinstance(v, str) or not v.isdigit() or not v.isascii() or len(v) > 5 or int(v) > 65535:
        raise bad("appId must be a decimal string 0-65535")
    return v


def priority(v):
    if v is None:
        return None
    if v not in PRIORITIES:
        raise bad("priority must be HIGH/MIDDLE/LOW")
    return v


def b64decode(v, what="payload"):
    """Standard base64 with padding (PC-12)."""
    if not isinstance(v, str):
        raise bad(what + " must be a base64 string")
    try:
        return base64.b64decode(v.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise bad(what + " is not valid base64")


def b64encode(b):
    return base64.b64encode(bytes(b)).decode("ascii")


def parse_time(v, what):
    """RFC 3339 time -> POSIX seconds (PC-12)."""
    if not isinstance(v, str):
        raise bad(what + " must be an RFC 3339 string")
    s = v.strip()
    if s.endswith("Z") or s.endswith("z"):
        s = s[:-1] + "+00:00"
    try:
        t = datetime.datetime.fromisoformat(s)
    except ValueError:
        raise bad(what + " is not an RFC 3339 time")
    if t.tzinfo is None:
        raise bad(what + " needs a time zone (RFC 3339)")
    return t.timestamp()


def format_time(ts):
    dt = datetime.datetime.fromtimestamp(ts, datetime.timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


class Seg:
    """Segmentation IEs of one segment (PC-31)."""

    __slots__ = ("seg_id", "numb", "total", "last")

    def __init__(self, seg_id, numb, total=None, last=False):
        self.seg_id = seg_id
        self.numb = numb
        self.total = total
        self.last = last


class Msg:
    """One MSGin5G message (§6.3), unsegmented, a segment (seg set) or an aggregate (aggr set)."""

    __slots__ = (
        "ori", "dest", "msg_id", "app_id", "payload", "report", "priority",
        "sto_fw", "expires", "seg", "aggr", "set_id",
    )

    def __init__(self, ori, dest, msg_id, payload=b"", app_id=None, report=False,
                 priority=None, sto_fw=False, expires=None, seg=None, aggr=None, set_id=None):
        self.ori = ori
        self.dest = dest
        self.msg_id = msg_id
        self.payload = payload
        self.app_id = app_id
        self.report = report
        self.priority = priority
        self.sto_fw = sto_fw
        self.expires = expires
        self.seg = seg
        self.aggr = aggr
        # set_id: the segId reports refer to, kept when the server re-segments (PC-31)
        self.set_id = set_id

    def size(self):
        if self.aggr:
            return sum(len(i["payload"]) for i in self.aggr)
        return len(self.payload)


def parse_msg(d):
    """MSG request (§6.3, PC-22, PC-29 aggregates, PC-31 segments) -> Msg."""
    ori = address(d, "oriAddr", ADDR_TYPES)
    dest = address(d, "destAddr")
    mid = msg_id(member(d, "msgId"))
    sto_fw = opt_bool(d, "stoAndFwInd")
    expires = None
    sfp = opt_obj(d, "stoAndFwParams")
    if sfp is not None and "exprTime" in sfp:
        expires = parse_time(sfp["exprTime"], "stoAndFwParams.exprTime")
    m = Msg(ori, dest, mid, sto_fw=sto_fw, expires=expires)
    m.priority = priority(d.get("priority"))
    if opt_bool(d, "aggrInd"):
        if opt_bool(d, "segInd"):
            raise bad("aggregated messages are never segmented")  # 23.554 8.5.1
        items = member(d, "msgs")
        if not isinstance(items, list) or not 1 <= len(items) <= MAX_AGGR:
            raise bad("msgs must be a list of 1-%d messages" % MAX_AGGR)
        m.aggr = []
        for i, it in enumerate(items):
            if not isinstance(it, dict):
                raise bad("msgs[%d] must be an object" % i)
            m.aggr.append({
                "msgId": msg_id(member(it, "msgId", "msgs[].msgId"), "msgs[].msgId"),
                "appId": app_id(it.get("appId")),
                "payload": b64decode(member(it, "payload", "msgs[].payload"), "msgs[].payload"),
                "report": opt_bool(it, "delivStReqInd"),
                "priority": priority(it.get("priority")),
            })
        return m
    m.app_id = app_id(d.get("appId"))
    m.payload = b64decode(d["payload"]) if d.get("payload") is not None else b""
    if len(m.payload) > MAX_PAYLOAD:
        raise Reject("4.13", "payload larger than %d octets" % MAX_PAYLOAD)
    m.report = opt_bool(d, "delivStReqInd")
    if opt_bool(d, "segInd"):
        sp = member(d, "segParams")
        if not isinstance(sp, dict):
            raise bad("segParams must be an object")
        sid = msg_id(member(sp, "segId", "segParams.segId"), "segParams.segId")
        numb = sp.get("segNumb")
        if not is_int(numb) or not 1 <= numb <= MAX_SEGS:
            raise bad("segParams.segNumb must be an integer 1-%d" % MAX_SEGS)
        total = sp.get("totalSegCount")
        if total is not None and (not is_int(total) or not 1 <= total <= MAX_SEGS):
            raise bad("segParams.totalSegCount must be an integer 1-%d" % MAX_SEGS)
        if total is not None and numb > total:
            raise bad("segParams.segNumb beyond totalSegCount")
        last = opt_bool(sp, "lastSegFlag")
        if last and total is not None and total != numb:
            raise bad("lastSegFlag on a segment other than totalSegCount")
        m.seg = Seg(sid, numb, total, last)
        m.set_id = sid
    return m


def encode_msg(m, msg_id=None, seg=None, payload=None, report=None):
    """MSG JSON for a downlink (PC-22). seg: Seg to send this as a segment (PC-31)."""
    d = {"msgType": "MSG", "oriAddr": addr_json(m.ori), "destAddr": addr_json(m.dest),
         "msgId": msg_id or m.msg_id}
    if m.aggr:
        d["aggrInd"] = True
        items = []
        for it in m.aggr:
            e = {"msgId": it["msgId"], "payload": b64encode(it["payload"])}
            if it["appId"] is not None:
                e["appId"] = it["appId"]
            if it["report"]:
                e["delivStReqInd"] = True
            if it["priority"]:
                e["priority"] = it["priority"]
            items.append(e)
        d["msgs"] = items
    else:
        if m.app_id is not None:
            d["appId"] = m.app_id
        d["payload"] = b64encode(m.payload if payload is None else payload)
        if m.report if report is None else report:
            d["delivStReqInd"] = True
    if m.priority:
        d["priority"] = m.priority
    d["stoAndFwInd"] = bool(m.sto_fw)
    if seg is not None:
        d["segInd"] = True
        sp = {"segId": seg.seg_id, "segNumb": seg.numb}
        if seg.total is not None:
            sp["totalSegCount"] = seg.total
        if seg.last:
            sp["lastSegFlag"] = True
        d["segParams"] = sp
    return d


def parse_imdn(d):
    """IMDN (PC-27) or aggregated IMDN (PC-29) -> (ori, dest, msgId, reports list)."""
    ori = address(d, "oriAddr")
    dest = address(d, "destAddr", ("UE", "AS"))
    mid = msg_id(member(d, "msgId"))
    if opt_bool(d, "aggrInd"):
        reps = member(d, "reports")
        if not isinstance(reps, list) or not 1 <= len(reps) <= MAX_AGGR:
            raise bad("reports must be a list of 1-%d reports" % MAX_AGGR)
        out = []
        for r in reps:
            if not isinstance(r, dict):
                raise bad("reports[] must be objects")
            out.append(_report(r, msg_id(member(r, "msgId", "reports[].msgId"), "reports[].msgId")))
        return ori, dest, mid, out
    return ori, dest, mid, [_report(d, mid)]


def _report(r, mid):
    st = member(r, "delivSt")
    if st not in DELIV_ST:
        raise bad("delivSt must be REPT_DELY_SUCCESS/REPT_DELY_FAILED")
    fc = r.get("failureCause")
    if fc is not None and not isinstance(fc, str):
        raise bad("failureCause must be a string")
    return {"msgId": mid, "delivSt": st, "failureCause": fc}


def imdn_json(ori, dest, reports, outer_id=None):
    """IMDN for one report, aggregated IMDN (PC-29) for several."""
    d = {"msgType": "IMDN", "oriAddr": addr_json(ori), "destAddr": addr_json(dest)}
    if len(reports) == 1:
        r = reports[0]
        d["msgId"] = r["msgId"]
        d["delivSt"] = r["delivSt"]
        if r.get("failureCause"):
            d["failureCause"] = r["failureCause"]
        return d
    d["msgId"] = outer_id or new_msg_id()
    d["aggrInd"] = True
    d["reports"] = [dict((k, v) for k, v in r.items() if v is not None) for r in reports]
    return d


def msgresp_json(m_ori, msg_id_, status=None, cause=None):
    """MSGRESP (PC-25); status None = accepted."""
    d = {"msgType": "MSGRESP", "oriAddr": addr_json(m_ori), "msgId": msg_id_}
    if status:
        d["status"] = status
    if cause:
        d["failureCause"] = cause
    return d


def topics(d, allow_empty):
    t = member(d, "topics")
    if not isinstance(t, list) or len(t) > MAX_TOPICS or (not t and not allow_empty):
        raise bad("topics must be a list of 1-%d topics" % MAX_TOPICS)
    return [ident(x, "topic") for x in t]


def seg_numbers(v, what):
    if not isinstance(v, list) or len(v) > MAX_SEGS:
        raise bad(what + " must be a list of segment numbers")
    for n in v:
        if not is_int(n) or not 1 <= n <= MAX_SEGS:
            raise bad(what + " entries must be integers 1-%d" % MAX_SEGS)
    return v
