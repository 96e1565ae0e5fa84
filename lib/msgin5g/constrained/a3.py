"""TS 24.538 Annex A.3 (CoAP + JSON) bodies between a constrained UE's Application Client and
the Gateway UE's MSGin5G Client, completed by PC-38. Pure codec: no sockets, no CoAP.

Transport (PC-38): CoAP POST, Content-Format 50, CON (NON only for MSG_SEND_REQ without
deliveryStatusRequired). CUE -> gateway: gateway IP, PORT, Uri-Path URI_GW. Gateway -> CUE: the
(IP, port) the CUE registered from, Uri-Path URI_APP, "<Application ID>". MESSAGE RECEIVED
RESPONSE is the body of the CUE's 2.04 (success) or 4.00/5.00 (failure) answer.

A message is a dict of the PC-38 JSON members, with JSON values except `payload`, which is bytes
here and base64 on the wire; members set to None are not sent. Message IDs are UUID text (PC-05;
msgin5g.ids converts to the 16 octets of A.2). Members per messageType (* = optional):
  REG_REQ        applicationId (int 0..65535, PC-04)
  REG_RESP       registrationResult "ACCEPTED"|"REJECTED", registrationId* (int 1..2**32-1,
                 required when accepted), failureReason* (str, when rejected)
  DEREG_REQ      registrationId
  DEREG_RESP     deregistrationResult "ACCEPTED"|"REJECTED", registrationId*, failureReason*
  MSG_SEND_REQ   messageId, targetAddress (str, 1..255 UTF-8 octets, PC-03), targetType*
                 "UE"|"AS"|"GROUP", applicationId*, payload (1+ octets),
                 deliveryStatusRequired* (bool)
  RPT_SEND_REQ   messageId, replyToMessageId, deliveryStatus "DELIVERED"|"FAILED", failureReason*
  MSG_RECV_RESP  result "SUCCESS"|"FAILURE", failureReason*
  MSG_DELIV_REQ  messageId, originatorAddress, originatorType "UE"|"AS", applicationId*, payload,
                 deliveryStatusRequired* (PC-19)
  RPT_DELIV_REQ  messageId, replyToMessageId, deliveryStatus, failureReason* (PC-19)
Unknown members are ignored (PC-12). encode writes members in one fixed order, so its output
is the same on every port for ASCII text (CPython escapes non-ASCII text as \\uXXXX).
"""
import json
from binascii import a2b_base64, b2a_base64

from micropython import const
from msgin5g.ids import is_msg_id

URI_GW = "msgin5g-gw"
URI_APP = "msgin5g-app"
PORT = const(5683)
CONTENT_FORMAT = const(50)  # application/json
MAX_BODY = const(1024)  # default decode limit; larger bodies get 4.13

# CoAP response codes of PC-38
CREATED = const(0x41)  # 2.01 registration accepted
CHANGED = const(0x44)  # 2.04 de-registered; message/report accepted; MESSAGE RECEIVED success
BAD_REQUEST = const(0x80)  # 4.00 malformed, missing member, unknown messageType
FORBIDDEN = const(0x83)  # 4.03 registration rejected
NOT_FOUND = const(0x84)  # 4.04 unknown Registration ID
TOO_LARGE = const(0x8D)  # 4.13
INTERNAL_ERROR = const(0xA0)  # 5.00 MESSAGE RECEIVED RESPONSE failure
UNAVAILABLE = const(0xA3)  # 5.03 gateway not registered to its server (Max-Age = retry hint)

REG_REQ = "REGISTRATION REQUEST"
REG_RESP = "REGISTRATION RESPONSE"
DEREG_REQ = "DE-REGISTRATION REQUEST"
DEREG_RESP = "DE-REGISTRATION RESPONSE"
MSG_SEND_REQ = "MESSAGE SENDING REQUEST"
RPT_SEND_REQ = "DELIVERY REPORT SENDING REQUEST"
MSG_RECV_RESP = "MESSAGE RECEIVED RESPONSE"
MSG_DELIV_REQ = "MESSAGE DELIVERY REQUEST"
RPT_DELIV_REQ = "DELIVERY REPORT DELIVERY REQUEST"
# In A.2 message type order: TYPES[t - 1] is the A.3 name of A.2 type t (msgin5g.constrained.a2).
TYPES = (REG_REQ, REG_RESP, DEREG_REQ, DEREG_RESP, MSG_SEND_REQ, RPT_SEND_REQ, MSG_RECV_RESP,
         MSG_DELIV_REQ, RPT_DELIV_REQ)

# Member codes and names, in the order encode writes them (after messageType).
_C = "mygdertkoqapsbf"
_N = ("messageId", "replyToMessageId", "registrationResult", "deregistrationResult", "result",
      "registrationId", "targetAddress", "targetType", "originatorAddress", "originatorType",
      "applicationId", "payload", "deliveryStatus", "deliveryStatusRequired", "failureReason")
# Member value kinds: 0 UUID text, 1 registrationId, 2 applicationId, 3 address, 4 text,
# 5 bool, 6 payload octets, or the tuple of allowed strings.
_V = (0, 0, ("ACCEPTED", "REJECTED"), ("ACCEPTED", "REJECTED"), ("SUCCESS", "FAILURE"), 1, 3,
      ("UE", "AS", "GROUP"), 3, ("UE", "AS"), 2, 6, ("DELIVERED", "FAILED"), 5, 4)
# Members per type, in TYPES order; upper case = mandatory.
_S = ("A", "Grf", "R", "Drf", "MTkaPb", "MYSf", "Ef", "MOQaPb", "MYSf")


class A3Error(ValueError):
    """Invalid A.3 body; .code is the CoAP response code to answer with (BAD_REQUEST or
    TOO_LARGE)."""

    @property
    def code(self):
        return self.args[0]


def _val(i, v):
    k = _V[i]
    if type(k) is tuple:
        return v in k
    if k == 0:
        return is_msg_id(v)
    if k < 3:  # registrationId (PC-06), applicationId (PC-04)
        return type(v) is int and (k == 1) <= v <= (0xFFFFFFFF if k == 1 else 0xFFFF)
    if k < 5:  # addresses: 1..255 UTF-8 octets (PC-03); failureReason: any text
        return type(v) is str and (k == 4 or 0 < len(v.encode()) < 256)
    if k == 5:
        return type(v) is bool
    return isinstance(v, (bytes, bytearray)) and len(v) > 0


def _spec(d):
    # The member spec of a valid message dict, else None.
    t = d.get("messageType")
    if t not in TYPES:
        return None
    s = _S[TYPES.index(t)]
    for c in s:
        i = _C.find(c.lower())
        v = d.get(_N[i])
        if v is None:
            if c.isupper():
                return None
        elif not _val(i, v):
            return None
    # REGISTRATION / DE-REGISTRATION RESPONSE: registrationId when accepted (PC-38)
    if "r" in s and d[_N[_C.find(s[0].lower())]] == "ACCEPTED" and d.get("registrationId") is None:
        return None
    return s.lower()


def encode(d):
    """Message dict -> compact JSON bytes. A3Error(BAD_REQUEST) if d is not a valid message."""
    s = _spec(d)
    if s is None:
        raise A3Error(BAD_REQUEST)
    r = ['"messageType":' + json.dumps(d["messageType"])]
    for i in range(len(_C)):
        v = d.get(_N[i])
        if v is not None and _C[i] in s:
            if _C[i] == "p":
                v = b2a_base64(v, newline=False).decode()
            r.append('"' + _N[i] + '":' + json.dumps(v))
    return ("{" + ",".join(r) + "}").encode()


def decode(body, max_len=MAX_BODY):
    """JSON body (bytes-like) -> message dict (payload as bytes). Raises only A3Error: .code
    TOO_LARGE if len(body) > max_len, BAD_REQUEST if it is not valid JSON of a known messageType
    with all mandatory members valid."""
    if len(body) > max_len:
        raise A3Error(TOO_LARGE)
    try:
        d = json.loads(bytes(body))
        if d.get("payload") is not None:
            d["payload"] = a2b_base64(d["payload"])
        s = _spec(d)
    except Exception:  # any malformed input (bad JSON, UTF-8, base64, nesting) is a 4.00
        s = None
    if s is None:
        raise A3Error(BAD_REQUEST)
    return d


def _msg(t, **kw):
    d = {"messageType": t}
    for k in kw:
        if kw[k] is not None:
            d[k] = kw[k]
    return d


# Builders (values are not checked here; encode checks them). Absent optionals: None.
def reg_req(app_id):
    return _msg(REG_REQ, applicationId=app_id)


def reg_resp(reg_id=None, reason=None):
    """Accepted iff reg_id is given; else rejected, failureReason = reason (CoAP 2.01 / 4.03)."""
    return _msg(REG_RESP, registrationResult="REJECTED" if reg_id is None else "ACCEPTED",
                registrationId=reg_id, failureReason=reason)


def dereg_req(reg_id):
    return _msg(DEREG_REQ, registrationId=reg_id)


def dereg_resp(reg_id=None, reason=None):
    """Accepted iff reg_id is given (CoAP 2.04 / 4.04)."""
    return _msg(DEREG_RESP, deregistrationResult="REJECTED" if reg_id is None else "ACCEPTED",
                registrationId=reg_id, failureReason=reason)


def msg_send_req(msg_id, target, payload, target_type=None, app_id=None, report=None):
    return _msg(MSG_SEND_REQ, messageId=msg_id, targetAddress=target, targetType=target_type,
                applicationId=app_id, payload=payload, deliveryStatusRequired=report)


def rpt_send_req(msg_id, reply_to, delivered, reason=None):
    return _msg(RPT_SEND_REQ, messageId=msg_id, replyToMessageId=reply_to,
                deliveryStatus="DELIVERED" if delivered else "FAILED", failureReason=reason)


def msg_recv_resp(ok=True, reason=None):
    return _msg(MSG_RECV_RESP, result="SUCCESS" if ok else "FAILURE", failureReason=reason)


def msg_deliv_req(msg_id, originator, originator_type, payload, app_id=None, report=None):
    return _msg(MSG_DELIV_REQ, messageId=msg_id, originatorAddress=originator,
                originatorType=originator_type, applicationId=app_id, payload=payload,
                deliveryStatusRequired=report)


def rpt_deliv_req(msg_id, reply_to, delivered, reason=None):
    return _msg(RPT_DELIV_REQ, messageId=msg_id, replyToMessageId=reply_to,
                deliveryStatus="DELIVERED" if delivered else "FAILED", failureReason=reason)
