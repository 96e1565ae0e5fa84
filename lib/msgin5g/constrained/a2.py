"""TS 24.538 Annex A.2 (L3 coding, TS 24.007 11.2 style) for the link between a constrained
UE's Application Client and the Gateway UE's MSGin5G Client, completed by PC-37. Pure codec.

A message is a dict; a key is present iff its IE is on the wire (encode treats None as absent).
Key          value                                 in messages (M mandatory, O optional, IEI)
  type       message type REG_REQ..RPT_DELIV_REQ   all (M)
  app_id     Application ID 0..65535 (PC-04)       REG_REQ (M); MSG_SEND_REQ, MSG_DELIV_REQ (O 0x0A)
  reg_id     Registration ID 1..2**32-1 (PC-06)    DEREG_REQ (M); REG_RESP, DEREG_RESP (0x0C,
                                                   iff result 0)
  result     0 accepted/success, 1 rejected/failure  REG_RESP, DEREG_RESP, MSG_RECV_RESP (M)
  cause      Failure Reason octet, CAUSE_*         REG_RESP, DEREG_RESP (0x0B, iff result 1);
                                                   RPT_SEND_REQ, RPT_DELIV_REQ, MSG_RECV_RESP (O;
                                                   in MSG_RECV_RESP only with result 1)
  target     str, 5..255 UTF-8 octets (PC-37 LV 6-n)  MSG_SEND_REQ recipient, MSG_DELIV_REQ
                                                   originator (M)
  msg_id     16 octets (PC-05)                     types 5-9 (M); in MSG_RECV_RESP the id of the
                                                   message answered (PC-37)
  reply_to   16 octets                             RPT_SEND_REQ, RPT_DELIV_REQ (M)
  status     Delivery Status 0 delivered, 1 failed  RPT_SEND_REQ, RPT_DELIV_REQ (M)
  payload    bytes, 1..65535 octets                MSG_SEND_REQ, MSG_DELIV_REQ (M)
  report     bool, Delivery status required        MSG_SEND_REQ, MSG_DELIV_REQ (O B-)
  target_type  TT_UE 1, TT_AS 2, TT_GROUP 3        MSG_SEND_REQ, MSG_DELIV_REQ (originator type)
               (reserved values decode as TT_UE)   (O D-)
A.3 carries message IDs as UUID text: the gateway converts with msgin5g.ids.to_bytes/from_bytes.
"""
from micropython import const

REG_REQ = const(1)
REG_RESP = const(2)
DEREG_REQ = const(3)
DEREG_RESP = const(4)
MSG_SEND_REQ = const(5)
RPT_SEND_REQ = const(6)
MSG_RECV_RESP = const(7)
MSG_DELIV_REQ = const(8)  # PC-19
RPT_DELIV_REQ = const(9)  # PC-19

TT_UE = const(1)
TT_AS = const(2)
TT_GROUP = const(3)

CAUSE_UNSPECIFIED = const(1)
CAUSE_NOT_AUTHORIZED = const(2)
CAUSE_NO_RESOURCES = const(3)
CAUSE_UNKNOWN_APP_ID = const(4)
CAUSE_UNKNOWN_REG_ID = const(5)
CAUSE_TOO_LARGE = const(6)
CAUSE_UNREACHABLE = const(7)
CAUSE_GW_NOT_REGISTERED = const(8)
CAUSE_PROTOCOL_ERROR = const(9)
# Failure Reason text (A.3 failureReason, MSGin5G-1 failureCause) indexed by cause; an index
# outside the table (reserved cause) reads as CAUSE_TEXT[CAUSE_UNSPECIFIED] (TS 24.007 rule).
CAUSE_TEXT = ("UNSPECIFIED", "UNSPECIFIED", "NOT_AUTHORIZED", "INSUFFICIENT_RESOURCES",
              "UNKNOWN_APPLICATION_ID", "UNKNOWN_REGISTRATION_ID", "MESSAGE_TOO_LARGE",
              "RECIPIENT_UNREACHABLE", "GATEWAY_NOT_REGISTERED", "PROTOCOL_ERROR")

_IEI_APP = const(0x0A)
_IEI_CAUSE = const(0x0B)
_IEI_REG = const(0x0C)

# Fields: code, dict key, wire width (for t/p: width of the length field), allowed range (for
# m/y/t/p: of the value length). Ints: a Application ID, r Registration ID, R Result, s Delivery
# Status, F Failure Reason cause, D Target Type; octets: m Message ID, y Reply-to Message ID,
# t Target address (LV), p Payload (LV-E).
_C = "arRsFDmytp"
_K = ("app_id", "reg_id", "result", "status", "cause", "target_type", "msg_id", "reply_to",
      "target", "payload")
_W = (2, 4, 1, 1, 1, 1, 16, 16, 1, 2)
_LO = (0, 1, 0, 0, 0, 1, 16, 16, 5, 1)
_HI = (0xFFFF, 0xFFFFFFFF, 1, 1, 255, 3, 16, 16, 255, 0xFFFF)
# PC-37 layouts, indexed by type - 1: mandatory fields in order, then the optional IEs allowed,
# in encoding order (a 0x0A, B B-, D D-, r 0x0C, F 0x0B).
_M = ("a", "R", "r", "R", "tmp", "mys", "mR", "tmp", "mys")
_O = ("", "rF", "", "rF", "aBD", "F", "F", "aBD", "F")


class A2Error(ValueError):
    """Invalid A.2 data. .reason: 'truncated', 'unknown type' (a reserved type: PC-37 says the
    receiver ignores the message, so callers drop it silently), 'bad length', 'bad value',
    'conditional IE' (REG_RESP/DEREG_RESP accepted without Registration ID). encode raises it
    for out-of-range values and for conditional IEs that break PC-37 too."""

    @property
    def reason(self):
        return self.args[0]


def _ok(v, k, why="bad value"):
    if type(v) is not int or not _LO[k] <= v <= _HI[k]:
        raise A2Error(why)
    return v


def _int(b, k, v):
    b.extend(_ok(v, k).to_bytes(_W[k], "big"))


def encode(msg):
    """dict -> bytes. Raises A2Error for bad values, KeyError for a missing mandatory key."""
    t = msg["type"]
    if type(t) is not int or not 1 <= t <= 9:
        raise A2Error("unknown type")
    b = bytearray((t,))
    for c in _M[t - 1]:
        k = _C.find(c)
        v = msg[_K[k]]
        if k < 6:
            _int(b, k, v)
        else:
            if k == 8:
                v = v.encode()
            n = _ok(len(v), k)
            if k > 7:
                b.extend(n.to_bytes(_W[k], "big"))
            b.extend(v)
    g = msg.get
    r = g("result")
    f = g("cause") is None
    # Failure Reason only on failure; REG_RESP/DEREG_RESP: Registration ID iff accepted,
    # Failure Reason iff rejected (PC-37).
    o = _O[t - 1]
    if r == 0 and not f or "r" in o and ((g("reg_id") is None) != r or r and f):
        raise A2Error("conditional IE")
    for c in o:
        k = _C.find(c)
        v = g("report" if c == "B" else _K[k])
        if v is None:
            continue
        if c == "B":
            b.append(0xB1 if v else 0xB0)
        elif c == "D":
            b.append(0xD0 | _ok(v, 5))
        else:
            b.append(_IEI_APP if k == 0 else _IEI_REG if k == 1 else _IEI_CAUSE)
            if k == 4:
                b.append(1)  # TLV length
            _int(b, k, v)
    return bytes(b)


def _need(j, n):
    if j > n:
        raise A2Error("truncated")
    return j


def decode(data):
    """bytes-like -> dict (keys as above). Raises only A2Error. Optional IEs are accepted in any
    order; an IE not allowed in the message type, an unknown one or a repeat is skipped
    (TS 24.007 8.6, 11.2.4: bit 8 = 1 -> one octet; 0x0A/0x0C are TV; otherwise TLV)."""
    d = memoryview(data)
    n = len(d)
    _need(1, n)
    t = d[0]
    if not 1 <= t <= 9:
        raise A2Error("unknown type")
    m = {"type": t}
    i = 1
    for c in _M[t - 1]:
        k = _C.find(c)
        w = _W[k]
        if k > 7:  # LV / LV-E
            w = _ok(int.from_bytes(d[i:_need(i + w, n)], "big"), k, "bad length")
            i += _W[k]
        v = d[i:_need(i + w, n)]
        i += w
        if k < 6:
            v = _ok(int.from_bytes(v, "big"), k)
        elif k == 8:
            try:
                v = str(v, "utf-8")
            except ValueError:  # UnicodeError on MicroPython is a ValueError too
                raise A2Error("bad value")
        else:
            v = bytes(v)
        m[_K[k]] = v
    o = _O[t - 1]
    while i < n:
        e = d[i]
        i += 1
        if e & 0x80:  # type 1 (half-octet TV) or type 2: one octet
            h = e >> 4
            if h == 0xB and "B" in o:
                m.setdefault("report", bool(e & 1))
            elif h == 0xD and "D" in o:
                e &= 7  # reserved values read as UE (PC-37)
                m.setdefault("target_type", e if 1 <= e <= 3 else TT_UE)
            continue
        if e == _IEI_APP or e == _IEI_REG:
            k = 1 if e == _IEI_REG else 0
            w = _W[k]
        else:  # TLV; Failure Reason longer than 1 octet: extra octets ignored (TS 24.007 8.6)
            k = 4
            w = d[_need(i + 1, n) - 1]
            i += 1
        j = _need(i + w, n)
        if _C[k] in o and _K[k] not in m and e in (_IEI_APP, _IEI_REG, _IEI_CAUSE):
            if k == 4 and not w:
                raise A2Error("bad length")
            m[_K[k]] = _ok(int.from_bytes(d[i:i + _W[k]], "big"), k)
        i = j
    if "r" in o and m["result"] == 0 and "reg_id" not in m:
        raise A2Error("conditional IE")
    return m
