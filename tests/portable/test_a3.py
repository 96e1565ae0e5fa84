# board-heapsize: 68k   (unix32, library frozen; measured minimum 53k)
"""Annex A.3 CoAP+JSON bodies (PC-38): exact JSON of every builder, round trips, and every
decode error with the CoAP response code to answer."""
import json

from msgin5g.constrained import a2, a3
from tinytest import raises

U1 = "0123e567-e89b-42d3-a456-426614174000"
U2 = "f47ac10b-58cc-4372-a567-0e02b2c3d479"

# (builder output, exact JSON): members in the order of the PC-38 table, compact, base64 payload
CASES = [
    (a3.reg_req(17), b'{"messageType":"REGISTRATION REQUEST","applicationId":17}'),
    (a3.reg_resp(4294967295),
     b'{"messageType":"REGISTRATION RESPONSE","registrationResult":"ACCEPTED",'
     b'"registrationId":4294967295}'),
    (a3.reg_resp(reason="NOT_AUTHORIZED"),
     b'{"messageType":"REGISTRATION RESPONSE","registrationResult":"REJECTED",'
     b'"failureReason":"NOT_AUTHORIZED"}'),
    (a3.dereg_req(1), b'{"messageType":"DE-REGISTRATION REQUEST","registrationId":1}'),
    (a3.dereg_resp(7),
     b'{"messageType":"DE-REGISTRATION RESPONSE","deregistrationResult":"ACCEPTED",'
     b'"registrationId":7}'),
    (a3.dereg_resp(None, "UNKNOWN_REGISTRATION_ID"),
     b'{"messageType":"DE-REGISTRATION RESPONSE","deregistrationResult":"REJECTED",'
     b'"failureReason":"UNKNOWN_REGISTRATION_ID"}'),
    (a3.msg_send_req(U1, "ue-12345", b"hi"),
     b'{"messageType":"MESSAGE SENDING REQUEST","messageId":"' + U1.encode() +
     b'","targetAddress":"ue-12345","payload":"aGk="}'),
    (a3.msg_send_req(U1, "grp", b"\x00\xff\x10", "GROUP", 65535, True),
     b'{"messageType":"MESSAGE SENDING REQUEST","messageId":"' + U1.encode() +
     b'","targetAddress":"grp","targetType":"GROUP","applicationId":65535,"payload":"AP8Q",'
     b'"deliveryStatusRequired":true}'),
    (a3.rpt_send_req(U2, U1, True),
     b'{"messageType":"DELIVERY REPORT SENDING REQUEST","messageId":"' + U2.encode() +
     b'","replyToMessageId":"' + U1.encode() + b'","deliveryStatus":"DELIVERED"}'),
    (a3.rpt_send_req(U2, U1, False, "APP_BUSY"),
     b'{"messageType":"DELIVERY REPORT SENDING REQUEST","messageId":"' + U2.encode() +
     b'","replyToMessageId":"' + U1.encode() + b'","deliveryStatus":"FAILED",'
     b'"failureReason":"APP_BUSY"}'),
    (a3.msg_recv_resp(), b'{"messageType":"MESSAGE RECEIVED RESPONSE","result":"SUCCESS"}'),
    (a3.msg_recv_resp(False, "PROTOCOL_ERROR"),
     b'{"messageType":"MESSAGE RECEIVED RESPONSE","result":"FAILURE",'
     b'"failureReason":"PROTOCOL_ERROR"}'),
    (a3.msg_deliv_req(U2, "as-1", "AS", b"abcd", 0, False),
     b'{"messageType":"MESSAGE DELIVERY REQUEST","messageId":"' + U2.encode() +
     b'","originatorAddress":"as-1","originatorType":"AS","applicationId":0,'
     b'"payload":"YWJjZA==","deliveryStatusRequired":false}'),
    (a3.msg_deliv_req(U2, "ue-9", "UE", b"z"),
     b'{"messageType":"MESSAGE DELIVERY REQUEST","messageId":"' + U2.encode() +
     b'","originatorAddress":"ue-9","originatorType":"UE","payload":"eg=="}'),
    (a3.rpt_deliv_req(U1, U2, True),
     b'{"messageType":"DELIVERY REPORT DELIVERY REQUEST","messageId":"' + U1.encode() +
     b'","replyToMessageId":"' + U2.encode() + b'","deliveryStatus":"DELIVERED"}'),
    (a3.rpt_deliv_req(U1, U2, False, "RECIPIENT_UNREACHABLE"),
     b'{"messageType":"DELIVERY REPORT DELIVERY REQUEST","messageId":"' + U1.encode() +
     b'","replyToMessageId":"' + U2.encode() + b'","deliveryStatus":"FAILED",'
     b'"failureReason":"RECIPIENT_UNREACHABLE"}'),
]

MSR = b'{"messageType":"MESSAGE SENDING REQUEST","messageId":"' + U1.encode() + b'",'


def test_constants():
    assert a3.URI_GW == "msgin5g-gw" and a3.URI_APP == "msgin5g-app"
    assert a3.PORT == 5683 and a3.CONTENT_FORMAT == 50
    assert (a3.CREATED, a3.CHANGED, a3.BAD_REQUEST, a3.FORBIDDEN) == (0x41, 0x44, 0x80, 0x83)
    assert (a3.NOT_FOUND, a3.TOO_LARGE, a3.INTERNAL_ERROR, a3.UNAVAILABLE) == (0x84, 0x8D, 0xA0,
                                                                            0xA3)


def test_types_follow_a2_numbering():
    assert len(a3.TYPES) == 9
    for t, name in ((a2.REG_REQ, a3.REG_REQ), (a2.REG_RESP, a3.REG_RESP),
                    (a2.DEREG_REQ, a3.DEREG_REQ), (a2.DEREG_RESP, a3.DEREG_RESP),
                    (a2.MSG_SEND_REQ, a3.MSG_SEND_REQ), (a2.RPT_SEND_REQ, a3.RPT_SEND_REQ),
                    (a2.MSG_RECV_RESP, a3.MSG_RECV_RESP), (a2.MSG_DELIV_REQ, a3.MSG_DELIV_REQ),
                    (a2.RPT_DELIV_REQ, a3.RPT_DELIV_REQ)):
        assert a3.TYPES[t - 1] == name
    assert a3.RPT_DELIV_REQ == "DELIVERY REPORT DELIVERY REQUEST"
    assert a3.DEREG_RESP == "DE-REGISTRATION RESPONSE"


def test_every_type_has_a_case():
    assert sorted(set(a3.TYPES.index(d["messageType"]) for d, _ in CASES)) == list(range(9))


def test_builders_exact_json():
    for d, want in CASES:
        assert a3.encode(d) == want, (a3.encode(d), want)


def test_round_trip():
    for d, want in CASES:
        got = a3.decode(want)
        assert got == d, (got, d)
        assert a3.decode(bytearray(want)) == d
        assert a3.decode(memoryview(want)) == d


def test_builders_omit_absent_members():
    assert a3.reg_resp(3) == {"messageType": a3.REG_RESP, "registrationResult": "ACCEPTED",
                              "registrationId": 3}
    d = a3.msg_send_req(U1, "ue-1", b"x")
    assert sorted(d) == ["messageId", "messageType", "payload", "targetAddress"]
    assert d["payload"] == b"x"


def test_payload_base64_single_line():
    d = a3.msg_send_req(U1, "ue-1", bytes(range(256)) * 3)
    raw = a3.encode(d)
    assert b"\n" not in raw and b"\\n" not in raw and b'": ' not in raw and b'", ' not in raw
    p = json.loads(raw)["payload"]
    assert len(p) == 1024 and p.endswith("+vv8/f7/")  # 768 octets, ends .. fb fc fd fe ff
    assert a3.decode(raw, 2000) == d


def test_encode_skips_none_and_foreign_members():
    d = a3.reg_req(5)
    d["failureReason"] = None
    d["registrationId"] = 9  # not a member of REGISTRATION REQUEST
    d["extra"] = 1
    assert a3.encode(d) == CASES[0][1].replace(b"17", b"5")


def test_decode_ignores_unknown_members_and_null_optionals():
    body = MSR + b'"x":{"y":[1,2]},"targetAddress":"ue-1","targetType":null,"payload":"eg=="}'
    d = a3.decode(body)
    assert d["targetAddress"] == "ue-1" and d["payload"] == b"z" and d["x"] == {"y": [1, 2]}
    assert a3.encode(d) == MSR + b'"targetAddress":"ue-1","payload":"eg=="}'


def test_decode_member_order_and_spacing_free():
    body = (b' { "payload" : "aGk=" , "targetAddress":"ue-12345",\n"messageId":"' + U1.encode() +
            b'", "messageType" : "MESSAGE SENDING REQUEST" } ')
    assert a3.decode(body) == CASES[6][0]


def _code(body, *a):
    return raises(a3.A3Error, a3.decode, body, *a).code


def test_too_large():
    body = CASES[6][1]
    assert a3.decode(body, len(body)) == CASES[6][0]
    assert _code(body, len(body) - 1) == a3.TOO_LARGE
    assert _code(b" " * (a3.MAX_BODY + 1)) == a3.TOO_LARGE
    e = raises(ValueError, a3.decode, body, 10)
    assert isinstance(e, a3.A3Error) and e.args == (0x8D,)


def test_malformed_json():
    for body in (b"", b"{", b"null", b"[]", b"17", b'"x"', b"{}", b'{"messageType":1}',
                 b"\xff\xfe", b'{"messageType":"REGISTRATION REQUEST","applicationId":1',
                 b"[" * 2000 + b"]" * 2000, b'{"a":' * 1000 + b"1" + b"}" * 1000):
        assert _code(body, 10000) == a3.BAD_REQUEST, body[:40]


def test_unknown_message_type():
    for t in (b'"registration request"', b'"REG"', b'null', b'["REGISTRATION REQUEST"]',
              b'{"a":1}'):
        assert _code(b'{"messageType":' + t + b',"applicationId":1}') == a3.BAD_REQUEST, t


def test_missing_mandatory_members():
    for d, want in CASES:
        full = json.loads(want)
        for k in full:
            if k in ("failureReason", "targetType", "applicationId", "deliveryStatusRequired"):
                continue  # optional
            if k == "registrationId" and full["messageType"] != a3.DEREG_REQ:
                continue  # conditional: tested below
            part = dict(full)
            del part[k]
            assert _code(json.dumps(part).encode()) == a3.BAD_REQUEST, (k, part)
            part[k] = None  # null counts as absent
            assert _code(json.dumps(part).encode()) == a3.BAD_REQUEST, (k, part)


def test_accepted_needs_registration_id():
    for t, k in ((b"REGISTRATION RESPONSE", b"registrationResult"),
                 (b"DE-REGISTRATION RESPONSE", b"deregistrationResult")):
        body = b'{"messageType":"' + t + b'","' + k + b'":"ACCEPTED"}'
        assert _code(body) == a3.BAD_REQUEST
        rej = a3.decode(body.replace(b"ACCEPTED", b"REJECTED"))  # failureReason optional
        assert rej[k.decode()] == "REJECTED"


def test_bad_member_values():
    bad = [
        b'{"messageType":"REGISTRATION REQUEST","applicationId":"17"}',  # PC-04: int on A.3
        b'{"messageType":"REGISTRATION REQUEST","applicationId":65536}',
        b'{"messageType":"REGISTRATION REQUEST","applicationId":-1}',
        b'{"messageType":"REGISTRATION REQUEST","applicationId":1.5}',
        b'{"messageType":"REGISTRATION REQUEST","applicationId":true}',
        b'{"messageType":"DE-REGISTRATION REQUEST","registrationId":0}',  # PC-06
        b'{"messageType":"DE-REGISTRATION REQUEST","registrationId":4294967296}',
        b'{"messageType":"REGISTRATION RESPONSE","registrationResult":"OK"}',
        b'{"messageType":"DE-REGISTRATION RESPONSE","deregistrationResult":"accepted"}',
        b'{"messageType":"MESSAGE RECEIVED RESPONSE","result":true}',
        b'{"messageType":"MESSAGE RECEIVED RESPONSE","result":"SUCCESS","failureReason":5}',
        MSR + b'"targetAddress":"","payload":"eg=="}',  # PC-03: 1..255 octets
        MSR + b'"targetAddress":"' + b"x" * 256 + b'","payload":"eg=="}',
        MSR + b'"targetAddress":"\xc3\xa9' + b"x" * 254 + b'","payload":"eg=="}',
        MSR + b'"targetAddress":7,"payload":"eg=="}',
        MSR + b'"targetAddress":"ue-1","targetType":"ue","payload":"eg=="}',
        MSR + b'"targetAddress":"ue-1","payload":"eg==","deliveryStatusRequired":"true"}',
        MSR + b'"targetAddress":"ue-1","payload":"eg==","deliveryStatusRequired":1}',
        MSR + b'"targetAddress":"ue-1","payload":""}',  # empty payload
        MSR + b'"targetAddress":"ue-1","payload":"abc"}',  # bad base64 padding
        MSR + b'"targetAddress":"ue-1","payload":5}',
        MSR + b'"targetAddress":"ue-1","payload":["eg=="]}',
        b'{"messageType":"MESSAGE SENDING REQUEST","messageId":"' + U1.upper().encode() +
        b'","targetAddress":"ue-1","payload":"eg=="}',  # PC-05: lowercase UUID text
        b'{"messageType":"MESSAGE SENDING REQUEST","messageId":"' + U1[:-1].encode() +
        b'","targetAddress":"ue-1","payload":"eg=="}',
        b'{"messageType":"MESSAGE SENDING REQUEST","messageId":"' + U1.replace("-", "").encode() +
        b'xxxx","targetAddress":"ue-1","payload":"eg=="}',
        b'{"messageType":"MESSAGE SENDING REQUEST","messageId":"' + U1[:-1].encode() +
        b'g","targetAddress":"ue-1","payload":"eg=="}',
        b'{"messageType":"MESSAGE DELIVERY REQUEST","messageId":"' + U1.encode() +
        b'","originatorAddress":"g1","originatorType":"GROUP","payload":"eg=="}',
        b'{"messageType":"DELIVERY REPORT SENDING REQUEST","messageId":"' + U1.encode() +
        b'","replyToMessageId":"' + U2.encode() + b'","deliveryStatus":"SUCCESS"}',
        b'{"messageType":"DELIVERY REPORT DELIVERY REQUEST","messageId":"' + U1.encode() +
        b'","replyToMessageId":17,"deliveryStatus":"FAILED"}',
    ]
    for body in bad:
        assert _code(body) == a3.BAD_REQUEST, body


def test_address_limits():
    d = a3.msg_send_req(U1, "x" * 255, b"x")
    assert a3.decode(a3.encode(d)) == d
    d = a3.msg_deliv_req(U1, "\u00e9" * 127 + "x", "UE", b"x")  # 255 UTF-8 octets
    assert a3.decode(a3.encode(d)) == d


def test_encode_rejects_invalid_messages():
    bad = [
        {"messageType": "NOPE"},
        {},
        a3.reg_req(65536),
        a3.reg_req("17"),
        a3.reg_resp(0),
        a3.dereg_req(None),
        a3.msg_send_req("not-a-uuid", "ue-1", b"x"),
        a3.msg_send_req(U1, "", b"x"),
        a3.msg_send_req(U1, "ue-1", b""),
        a3.msg_send_req(U1, "ue-1", "text"),
        a3.msg_send_req(U1, "ue-1", b"x", "PHONE"),
        a3.msg_send_req(U1, "ue-1", b"x", report=1),
        a3.msg_deliv_req(U1, "ue-1", None, b"x"),
        a3.rpt_send_req(U1, None, True),
        a3.msg_recv_resp(False, 9),
    ]
    for d in bad:
        assert raises(a3.A3Error, a3.encode, d).code == a3.BAD_REQUEST, d
