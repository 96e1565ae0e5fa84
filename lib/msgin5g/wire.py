"""MSGin5G-1 JSON codec.

PROTOCOL.md PC-12, PC-14..16, PC-22, PC-25, PC-27, PC-29, PC-31..33, PC-35.

Builders return plain dicts; `encode(d)` turns any such dict into compact UTF-8 JSON with the
members in one fixed order (MicroPython dicts are not insertion-ordered, so the order comes
from `_ORDER`, which makes the bytes identical on every port). A bytes-like value (the
`payload`) is written as standard base64 with padding and no newline (PC-12); builders keep
the raw bytes (or a memoryview) so that held segments cost no copy.

`decode(body)` is the receive side: it never raises anything but `WireError`, whose `code`
is the CoAP response code to answer with (4.00, 4.13) and `str()` a short reason. It returns
the parsed dict with every `payload` (also inside aggregated `msgs`) decoded to bytes.
"""
import json
from binascii import a2b_base64, b2a_base64

from micropython import const

# CoAP response codes (class * 32 + detail) used by MSGin5G procedures.
CREATED = const(0x41)  # 2.01
CHANGED = const(0x44)  # 2.04
CONTENT = const(0x45)  # 2.05
BAD_REQUEST = const(0x80)  # 4.00
UNAUTHORIZED = const(0x81)  # 4.01
FORBIDDEN = const(0x83)  # 4.03
NOT_FOUND = const(0x84)  # 4.04
REQUEST_TOO_LARGE = const(0x8D)  # 4.13
UNSUPPORTED_FORMAT = const(0x8F)  # 4.15
SERVICE_UNAVAILABLE = const(0xA3)  # 5.03

MAX_PAYLOAD = const(2048)  # stage-2 maximum payload of one request (PC-26)
MAX_AGGR = const(16)  # entries in an aggregated MSG / IMDN (PC-29)
MAX_SEGS = const(128)  # segments per message (PC-31)
_MAX_B64 = const(2732)  # base64 length of MAX_PAYLOAD octets
_MAX_ID = const(255)  # identifiers are 1-255 chars (PC-03)

# Message Type values (24.538 7.1) and the project additions (PC-35).
REG = "REG"
DEREG = "DEREG"
MSG = "MSG"
MSGRESP = "MSGRESP"
IMDN = "IMDN"
SEGREC = "SEGREC"
SEGCONFIR = "SEGCONFIR"
TOPICSUB = "TOPICSUB"
TOPICUNSUB = "TOPICUNSUB"

# Address types (29.538 AddressType).
UE = "UE"
AS = "AS"
GROUP = "GROUP"
BC = "BC"
TOPIC = "TOPIC"
ADDR_TYPES = (UE, AS, GROUP, BC, TOPIC)

# Delivery status of an IMDN (PC-27), MSGRESP status (PC-25), results, priorities.
DELIV_SUCCESS = "REPT_DELY_SUCCESS"
DELIV_FAILED = "REPT_DELY_FAILED"
DELIV_STATUSES = (DELIV_SUCCESS, DELIV_FAILED)
DELY_FAILED = "DELY_FAILED"
DELY_STORED = "DELY_STORED"
RESP_STATUSES = (DELY_FAILED, DELY_STORED)
SUCCESS = "SUCCESS"
FAILURE = "FAILURE"
RESULTS = (SUCCESS, FAILURE)
PRIORITIES = ("HIGH", "MIDDLE", "LOW")
SEGMENTS_MISSING = "SEGMENTS_MISSING"  # failureCause after failed reassembly (PC-32)


class WireError(ValueError):
    """A received body that must be refused: `code` = CoAP response code, `str()` = reason.

    `msg` is the parsed dict when the body was a JSON object (so that a refusal can quote
    its msgId / oriAddr in an MSGRESP, PC-25), else None.
    """

    def __init__(self, code, reason, msg=None):
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.msg = msg


# ---------------------------------------------------------------- builders (PC-22 names)

def addr(addr_type, addr):
    """An Address object {addrType, addr} (29.538)."""
    return {"addrType": addr_type, "addr": addr}


def app_id_str(app_id):
    """Application ID -> JSON decimal string (PC-04). ValueError outside 0..65535."""
    if not isinstance(app_id, int) or isinstance(app_id, bool) or not 0 <= app_id <= 0xFFFF:
        raise ValueError("appId: need an int 0..65535")
    return str(app_id)


def reg(ue_service_id, max_seg_size=None, ue_id=None, trig_info=None, comm_avail=None,
        reg_urgent=None, reg_expiry=None):
    """REG request (PC-14). `clientProfile` is sent when any of its members is given."""
    d = {"msgType": REG, "ueServiceId": ue_service_id}
    if ue_id is not None:
        d["ueId"] = ue_id
    p = {}
    if trig_info is not None:
        p["trigInfo"] = trig_info
    if comm_avail is not None:
        p["commAvail"] = comm_avail
    if max_seg_size is not None:
        p["maxSegSize"] = max_seg_size
    if p:
        d["clientProfile"] = p
    if reg_urgent is not None:
        d["regUrgent"] = reg_urgent
    if reg_expiry is not None:
        d["regExpiry"] = reg_expiry
    return d


def reg_resp(ue_service_id, result, failure_reason=None, exp_reg_time=None):
    """REG response body (PC-15), as a server or a bulking proxy sends it."""
    d = {"msgType": REG, "ueServiceId": ue_service_id, "result": result}
    if failure_reason is not None:
        d["failureReason"] = failure_reason
    if exp_reg_time is not None:
        d["expRegTime"] = exp_reg_time
    return d


def dereg(ue_service_id):
    """DEREG request (PC-16)."""
    return {"msgType": DEREG, "ueServiceId": ue_service_id}


def dereg_resp(result, failure_reason=None):
    """DEREG response body (PC-16)."""
    d = {"msgType": DEREG, "result": result}
    if failure_reason is not None:
        d["failureReason"] = failure_reason
    return d


def msg(ori, dest, msg_id, payload=None, app_id=None, report=False, priority=None,
        store_fwd=False, expire=None, seg_id=None, seg_numb=None, total_segs=None,
        last_seg=False):
    """MSG request (§6.3); a segment when seg_id is given (PC-31).

    `payload` stays bytes (base64 at encode time); `delivStReqInd` only when `report`;
    `stoAndFwInd` always (29.538 requires it); `expire` = RFC 3339 expiry of a stored message.
    """
    d = {"msgType": MSG, "oriAddr": ori, "destAddr": dest, "msgId": msg_id}
    if app_id is not None:
        d["appId"] = app_id_str(app_id)
    if payload is not None:
        d["payload"] = payload
    if report:
        d["delivStReqInd"] = True
    if priority is not None:
        d["priority"] = priority
    d["stoAndFwInd"] = bool(store_fwd)
    if expire is not None:
        d["stoAndFwParams"] = {"exprTime": expire}
    if seg_id is not None:
        p = {"segId": seg_id}
        if total_segs is not None:
            p["totalSegCount"] = total_segs
        p["segNumb"] = seg_numb
        if last_seg:
            p["lastSegFlag"] = True
        d["segInd"] = True
        d["segParams"] = p
    return d


def aggr_item(msg_id, payload, app_id=None, report=False, priority=None):
    """One element of an aggregated MSG (PC-29)."""
    d = {"msgId": msg_id}
    if app_id is not None:
        d["appId"] = app_id_str(app_id)
    d["payload"] = payload
    if report:
        d["delivStReqInd"] = True
    if priority is not None:
        d["priority"] = priority
    return d


def msg_aggr(ori, dest, msg_id, items, store_fwd=False):
    """Aggregated MSG (PC-29): outer msgId identifies the aggregate; no outer payload."""
    if not 1 <= len(items) <= MAX_AGGR:
        raise ValueError("aggregate: 1..16 items")
    return {"msgType": MSG, "oriAddr": ori, "destAddr": dest, "msgId": msg_id,
            "stoAndFwInd": bool(store_fwd), "aggrInd": True, "msgs": items}


def imdn(ori, dest, msg_id, deliv_st, failure_cause=None):
    """IMDN (PC-27): msg_id = ID of the message being acknowledged."""
    d = {"msgType": IMDN, "oriAddr": ori, "destAddr": dest, "msgId": msg_id,
         "delivSt": deliv_st}
    if failure_cause is not None:
        d["failureCause"] = failure_cause
    return d


def report_item(msg_id, deliv_st, failure_cause=None):
    """One element of an aggregated IMDN (PC-29)."""
    d = {"msgId": msg_id, "delivSt": deliv_st}
    if failure_cause is not None:
        d["failureCause"] = failure_cause
    return d


def imdn_aggr(ori, dest, msg_id, reports):
    """Aggregated IMDN (PC-29): outer msgId is a fresh ID for the aggregate."""
    if not 1 <= len(reports) <= MAX_AGGR:
        raise ValueError("aggregate: 1..16 reports")
    return {"msgType": IMDN, "oriAddr": ori, "destAddr": dest, "msgId": msg_id,
            "aggrInd": True, "reports": reports}


def msgresp(ori, msg_id, status=None, failure_cause=None):
    """MSGRESP (PC-25): msg_id = the answered message; status absent = accepted."""
    d = {"msgType": MSGRESP, "oriAddr": ori, "msgId": msg_id}
    if status is not None:
        d["status"] = status
    if failure_cause is not None:
        d["failureCause"] = failure_cause
    return d


def segrec(ori, dest, msg_id, seg_id, missing=(), from_seg=None):
    """SEGREC (PC-32): ask for the listed segments and, with from_seg, k and all after."""
    d = {"msgType": SEGREC, "oriAddr": ori, "destAddr": dest, "msgId": msg_id,
         "segId": seg_id, "missingSegs": list(missing)}
    if from_seg is not None:
        d["fromSeg"] = from_seg
    return d


def segconfir(ori, dest, msg_id, seg_id, result=SUCCESS):
    """SEGCONFIR (PC-32): result SUCCESS or FAILURE of a reassembly."""
    return {"msgType": SEGCONFIR, "oriAddr": ori, "destAddr": dest, "msgId": msg_id,
            "segId": seg_id, "result": result}


def topicsub(ori, msg_id, topics, expiration=None):
    """TOPICSUB (PC-33); expiration = RFC 3339 end of the subscription."""
    d = {"msgType": TOPICSUB, "oriAddr": ori, "msgId": msg_id, "topics": list(topics)}
    if expiration is not None:
        d["expiration"] = expiration
    return d


def topicunsub(ori, msg_id, topics=()):
    """TOPICUNSUB (PC-33); an empty list means all topics."""
    return {"msgType": TOPICUNSUB, "oriAddr": ori, "msgId": msg_id, "topics": list(topics)}


def topic_resp(msg_type, result, topics=None, expiration=None):
    """TOPICSUB / TOPICUNSUB response body (PC-33)."""
    d = {"msgType": msg_type, "result": result}
    if topics is not None:
        d["topics"] = list(topics)
    if expiration is not None:
        d["expiration"] = expiration
    return d


# ---------------------------------------------------------------- encoder

# Member order of every object we write (the §13.3 example order); others follow, sorted.
_ORDER = ("msgType", "oriAddr", "destAddr", "addrType", "addr", "ueServiceId", "ueId",
          "clientProfile", "trigInfo", "ueIdentifier", "ports", "protocol", "commAvail",
          "periodSec", "windowSec", "nextWindow", "maxSegSize", "regUrgent", "regExpiry",
          "msgId", "appId", "payload", "delivStReqInd", "priority", "stoAndFwInd",
          "stoAndFwParams", "exprTime", "segInd", "segParams", "segId", "totalSegCount",
          "segNumb", "lastSegFlag", "aggrInd", "msgs", "reports", "delivSt", "status",
          "failureCause", "result", "failureReason", "expRegTime", "missingSegs", "fromSeg",
          "topics", "expiration")

try:  # CPython: keep non-ASCII raw as MicroPython does, and escape \b \f as it does
    json.dumps("", ensure_ascii=False)

    def _qstr(s):
        try:
            s.encode()
        except UnicodeError:  # lone surrogate (from a "\ud800" escape): keep it escaped
            return json.dumps(s)
        if "\b" in s or "\f" in s:
            return '"' + "\\u0008".join("\\u000c".join(
                json.dumps(p, ensure_ascii=False)[1:-1] for p in q.split("\f"))
                for q in s.split("\b")) + '"'
        return json.dumps(s, ensure_ascii=False)
except TypeError:  # MicroPython
    _qstr = json.dumps


def _put(v, out):
    # Append the JSON of v to out, a list of bytes (bytes parts: the base64 of a payload
    # goes in without a str copy).
    if isinstance(v, str):
        out.append(_qstr(v).encode())
    elif isinstance(v, dict):
        out.append(b"{")
        n = 0
        for k in _ORDER:
            if k in v:
                out.append(b',"' if n else b'"')
                out.append(k.encode())
                out.append(b'":')
                _put(v[k], out)
                n += 1
        if n < len(v):
            for k in sorted(k for k in v if k not in _ORDER):
                if n:
                    out.append(b",")
                out.append(_qstr(k).encode())
                out.append(b":")
                _put(v[k], out)
                n += 1
        out.append(b"}")
    elif isinstance(v, (list, tuple)):
        out.append(b"[")
        for i, x in enumerate(v):
            if i:
                out.append(b",")
            _put(x, out)
        out.append(b"]")
    elif isinstance(v, (bytes, bytearray, memoryview)):
        out.append(b'"')
        out.append(b2a_base64(v, newline=False))
        out.append(b'"')
    elif v is True:
        out.append(b"true")
    elif v is False:
        out.append(b"false")
    elif v is None:
        out.append(b"null")
    else:
        out.append(json.dumps(v).encode())


def encode(d):
    """dict -> compact UTF-8 JSON bytes (PC-12); bytes-like values -> base64 strings."""
    out = []
    _put(d, out)
    return b"".join(out)


# ---------------------------------------------------------------- decoder

# Members every received message of a type must carry, besides msgType (PC-26 for MSG).
_MAND = {
    REG: ("ueServiceId",),
    DEREG: ("ueServiceId",),
    MSG: ("oriAddr", "destAddr", "msgId"),
    MSGRESP: ("oriAddr", "msgId"),
    IMDN: ("oriAddr", "destAddr", "msgId", "delivSt"),
    SEGREC: ("oriAddr", "destAddr", "msgId", "segId"),
    SEGCONFIR: ("oriAddr", "destAddr", "msgId", "segId", "result"),
    TOPICSUB: ("oriAddr", "msgId", "topics"),
    TOPICUNSUB: ("oriAddr", "msgId", "topics"),
}
# Response bodies (REG/DEREG PC-15/16, TOPIC* PC-33, MSGRESP PC-25) carry less.
_MAND_RESP = {REG: (), DEREG: (), TOPICSUB: (), TOPICUNSUB: (), MSGRESP: ("msgId",)}

_K_ADDR = const(1)
_K_ID = const(2)
_K_BOOL = const(3)
_K_APPID = const(4)
_K_TEXT = const(5)
_K_SEGN = const(6)
_K_UINT = const(7)
_K_SEGP = const(8)
_K_OBJ = const(9)
_K_SEGLIST = const(10)
_K_STRLIST = const(11)

# Type of each member we understand; a tuple = allowed string values. Others are ignored.
_KIND = {
    "oriAddr": _K_ADDR, "destAddr": _K_ADDR,
    "msgId": _K_ID, "segId": _K_ID, "ueServiceId": _K_ID, "ueId": _K_ID,
    "appId": _K_APPID,
    "delivStReqInd": _K_BOOL, "stoAndFwInd": _K_BOOL, "segInd": _K_BOOL,
    "aggrInd": _K_BOOL, "lastSegFlag": _K_BOOL, "regUrgent": _K_BOOL,
    "failureCause": _K_TEXT, "failureReason": _K_TEXT, "expRegTime": _K_TEXT,
    "expiration": _K_TEXT, "exprTime": _K_TEXT,
    "totalSegCount": _K_SEGN, "segNumb": _K_SEGN, "fromSeg": _K_SEGN,
    "maxSegSize": _K_UINT, "regExpiry": _K_UINT,
    "segParams": _K_SEGP, "stoAndFwParams": _K_OBJ, "clientProfile": _K_OBJ,
    "missingSegs": _K_SEGLIST, "topics": _K_STRLIST,
    "priority": PRIORITIES, "delivSt": DELIV_STATUSES, "status": RESP_STATUSES,
    "result": RESULTS,
}


def _isint(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _bad(name, d):
    return WireError(BAD_REQUEST, "bad " + name, d)


def _check(o, top, depth):
    # Type-check the members of object o that we understand; nested objects recursively
    # (bounded: our nested objects sit at most two levels down).
    for k in o:
        kind = _KIND.get(k)
        if kind is None:
            continue
        v = o[k]
        if kind == _K_ADDR:
            ok = (isinstance(v, dict) and v.get("addrType") in ADDR_TYPES
                  and isinstance(v.get("addr"), str) and 0 < len(v["addr"]) <= _MAX_ID)
        elif kind == _K_ID:
            ok = isinstance(v, str) and 0 < len(v) <= _MAX_ID
        elif kind == _K_BOOL:
            ok = v is True or v is False
        elif kind == _K_APPID:  # PC-04: decimal string 0..65535
            ok = isinstance(v, str) and 0 < len(v) <= 5
            if ok:
                for c in v:
                    if not "0" <= c <= "9":
                        ok = False
                ok = ok and int(v) <= 0xFFFF
        elif kind == _K_TEXT:
            ok = isinstance(v, str)
        elif kind == _K_SEGN:
            ok = _isint(v) and 1 <= v <= MAX_SEGS
        elif kind == _K_UINT:
            ok = _isint(v) and v >= 0
        elif kind == _K_SEGP or kind == _K_OBJ:
            ok = isinstance(v, dict) and depth < 2
            if ok:
                _check(v, top, depth + 1)
                if kind == _K_SEGP:
                    n, t = v.get("segNumb"), v.get("totalSegCount")
                    ok = "segId" in v and n is not None and (t is None or n <= t)
        elif kind == _K_SEGLIST:
            ok = isinstance(v, list) and len(v) <= MAX_SEGS
            if ok:
                for x in v:
                    if not (_isint(x) and 1 <= x <= MAX_SEGS):
                        ok = False
        elif kind == _K_STRLIST:
            ok = isinstance(v, list)
            if ok:
                for x in v:
                    if not isinstance(x, str):
                        ok = False
        else:  # a tuple of allowed values
            ok = v in kind
        if not ok:
            raise _bad(k, top)


def _payload(o, top, total):
    # Decode o["payload"] (strict base64, PC-12) in place; return the running octet total.
    s = o["payload"]
    if not isinstance(s, str):
        raise _bad("payload", top)
    n = len(s)
    if n > _MAX_B64:
        raise WireError(REQUEST_TOO_LARGE, "payload too large", top)
    pad = 2 if s.endswith("==") else 1 if s.endswith("=") else 0
    try:
        b = a2b_base64(s)
    except ValueError:
        b = None
    # a2b_base64 skips stray characters on both ports: a length mismatch reveals them.
    if b is None or n & 3 or len(b) != (n >> 2) * 3 - pad:
        raise _bad("payload", top)
    total += len(b)
    if total > MAX_PAYLOAD:
        raise WireError(REQUEST_TOO_LARGE, "payload too large", top)
    o["payload"] = b
    return total


def _items(d, name, need):
    # The list of an aggregate (PC-29): 1..16 objects, each with the members in `need`.
    v = d.get(name)
    if not isinstance(v, list) or not v:
        raise _bad(name, d)
    if len(v) > MAX_AGGR:
        raise WireError(REQUEST_TOO_LARGE, "too many " + name, d)
    for x in v:
        if not isinstance(x, dict):
            raise _bad(name, d)
        for k in need:
            if k not in x:
                raise WireError(BAD_REQUEST, "missing " + k, d)
        _check(x, d, 1)
    return v


def decode(body, response=False):
    """Parse and validate a received MSGin5G-1 body -> dict (payloads as bytes).

    `response=True` applies the lighter rules of a CoAP response body (REG, DEREG, TOPIC*
    responses need only msgType). Raises only WireError (code 4.00 or 4.13).
    """
    try:
        d = json.loads(body if isinstance(body, str) else str(body, "utf-8"))
    except MemoryError:
        raise WireError(REQUEST_TOO_LARGE, "too large")
    except Exception:  # ValueError, UnicodeError, TypeError, RecursionError, ...
        raise WireError(BAD_REQUEST, "invalid JSON")
    if not isinstance(d, dict):
        raise WireError(BAD_REQUEST, "not an object")
    t = d.get("msgType")
    if not isinstance(t, str) or t not in _MAND:  # PC-35: unknown msgType -> 4.00
        raise WireError(BAD_REQUEST, "missing msgType" if t is None else "unknown msgType", d)
    need = _MAND_RESP.get(t, _MAND[t]) if response else _MAND[t]
    aggr = d.get("aggrInd") is True
    for k in need:
        if k not in d and not (aggr and k == "delivSt"):
            raise WireError(BAD_REQUEST, "missing " + k, d)
    _check(d, d, 0)
    if d.get("segInd") is True and "segParams" not in d:
        raise WireError(BAD_REQUEST, "missing segParams", d)
    total = 0
    if "payload" in d:
        total = _payload(d, d, 0)
    if aggr and t == MSG:
        for x in _items(d, "msgs", ("msgId",)):
            if "payload" in x:
                total = _payload(x, d, total)
    elif aggr and t == IMDN:
        _items(d, "reports", ("msgId", "delivSt"))
    if t == SEGREC and not d.get("missingSegs") and "fromSeg" not in d:
        raise WireError(BAD_REQUEST, "missing missingSegs", d)
    return d
