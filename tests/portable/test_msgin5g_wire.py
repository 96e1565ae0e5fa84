# heapsize: 256k
# board-heapsize: 60k   (unix32, library frozen; measured minimum 48k)
"""msgin5g.wire: byte-exact builders (PROTOCOL §13.3), round trips, every decode error."""
from msgin5g import wire
from msgin5g.wire import WireError, decode, encode
from tinytest import raises

UEID = "ue-0001@msgin5g.example.net"
MID = "5f0c6c1e-8d0b-4c53-9d53-3c1f0b2a9e11"
MID2 = "0b0c6c1e-8d0b-4c53-9d53-3c1f0b2a9e22"
ME = wire.addr(wire.UE, UEID)
AS42 = wire.addr(wire.AS, "as-42")
J_ME = b'{"addrType":"UE","addr":"ue-0001@msgin5g.example.net"}'
J_AS = b'{"addrType":"AS","addr":"as-42"}'


def _err(body, code=wire.BAD_REQUEST, response=False):
    e = raises(WireError, decode, body, response)
    assert e.code == code, (body[:60] if body else body, hex(e.code), e.reason)
    assert str(e) == e.reason
    return e


def _msg_body(**extra):
    d = {"msgType": "MSG", "oriAddr": AS42, "destAddr": ME, "msgId": MID}
    for k in extra:
        d[k] = extra[k]
    return d


# ---------------------------------------------------------------- constants

def test_response_codes():
    assert (wire.CREATED, wire.CHANGED, wire.CONTENT) == (0x41, 0x44, 0x45)
    assert (wire.BAD_REQUEST, wire.REQUEST_TOO_LARGE, wire.SERVICE_UNAVAILABLE) == (0x80, 0x8D, 0xA3)
    assert (wire.NOT_FOUND, wire.UNSUPPORTED_FORMAT, wire.FORBIDDEN) == (0x84, 0x8F, 0x83)
    assert wire.ADDR_TYPES == ("UE", "AS", "GROUP", "BC", "TOPIC")
    assert wire.DELIV_STATUSES == ("REPT_DELY_SUCCESS", "REPT_DELY_FAILED")


# ---------------------------------------------------------------- byte-exact builders

def test_reg_worked_example():  # PROTOCOL §13.3
    assert encode(wire.reg(UEID, max_seg_size=512)) == (
        b'{"msgType":"REG","ueServiceId":"ue-0001@msgin5g.example.net",'
        b'"clientProfile":{"maxSegSize":512}}')


def test_reg_minimal_and_full():
    assert encode(wire.reg("u")) == b'{"msgType":"REG","ueServiceId":"u"}'
    d = wire.reg("u", 256, ue_id="imei-1",
                 trig_info={"protocol": "NIDD", "ports": [5683], "ueIdentifier": "+49123"},
                 comm_avail={"nextWindow": "2025-01-31T12:00:00Z", "windowSec": 60,
                             "periodSec": 3600},
                 reg_urgent=False, reg_expiry=30)
    assert encode(d) == (
        b'{"msgType":"REG","ueServiceId":"u","ueId":"imei-1","clientProfile":{"trigInfo":'
        b'{"ueIdentifier":"+49123","ports":[5683],"protocol":"NIDD"},"commAvail":'
        b'{"periodSec":3600,"windowSec":60,"nextWindow":"2025-01-31T12:00:00Z"},'
        b'"maxSegSize":256},"regUrgent":false,"regExpiry":30}')


def test_reg_resp_dereg_and_dereg_resp():
    assert encode(wire.reg_resp("u", "FAILURE", "not authorized", "2025-01-31T12:00:00Z")) == (
        b'{"msgType":"REG","ueServiceId":"u","result":"FAILURE","failureReason":'
        b'"not authorized","expRegTime":"2025-01-31T12:00:00Z"}')
    assert encode(wire.reg_resp("u", "SUCCESS")) == (
        b'{"msgType":"REG","ueServiceId":"u","result":"SUCCESS"}')
    assert encode(wire.dereg(UEID)) == (
        b'{"msgType":"DEREG","ueServiceId":"ue-0001@msgin5g.example.net"}')
    assert encode(wire.dereg_resp("SUCCESS")) == b'{"msgType":"DEREG","result":"SUCCESS"}'
    assert encode(wire.dereg_resp("FAILURE", "x")) == (
        b'{"msgType":"DEREG","result":"FAILURE","failureReason":"x"}')


def test_msg_worked_example():  # PROTOCOL §13.3
    d = wire.msg(ME, AS42, MID, b"Hello", app_id=7, report=True)
    assert encode(d) == (
        b'{"msgType":"MSG","oriAddr":' + J_ME + b',"destAddr":' + J_AS +
        b',"msgId":"5f0c6c1e-8d0b-4c53-9d53-3c1f0b2a9e11","appId":"7",'
        b'"payload":"SGVsbG8=","delivStReqInd":true,"stoAndFwInd":false}')


def test_msg_minimal_always_has_stoAndFwInd():
    assert encode(wire.msg(ME, AS42, MID)) == (
        b'{"msgType":"MSG","oriAddr":' + J_ME + b',"destAddr":' + J_AS +
        b',"msgId":"' + MID.encode() + b'","stoAndFwInd":false}')


def test_msg_priority_store_and_forward():
    d = wire.msg(ME, wire.addr(wire.GROUP, "g1"), MID, bytearray(b"\x00\xff"), app_id=65535,
                 priority="HIGH", store_fwd=True, expire="2025-02-01T00:00:00Z")
    assert encode(d) == (
        b'{"msgType":"MSG","oriAddr":' + J_ME + b',"destAddr":{"addrType":"GROUP","addr":"g1"}'
        b',"msgId":"' + MID.encode() + b'","appId":"65535","payload":"AP8=","priority":"HIGH",'
        b'"stoAndFwInd":true,"stoAndFwParams":{"exprTime":"2025-02-01T00:00:00Z"}}')


def test_msg_segments():  # PC-31
    first = wire.msg(ME, AS42, MID2, memoryview(b"abcdef")[0:3], app_id=0, report=True,
                     seg_id=MID, seg_numb=1, total_segs=2)
    assert encode(first) == (
        b'{"msgType":"MSG","oriAddr":' + J_ME + b',"destAddr":' + J_AS +
        b',"msgId":"' + MID2.encode() + b'","appId":"0","payload":"YWJj","delivStReqInd":true,'
        b'"stoAndFwInd":false,"segInd":true,"segParams":{"segId":"' + MID.encode() +
        b'","totalSegCount":2,"segNumb":1}}')
    last = wire.msg(ME, AS42, MID2, b"def", seg_id=MID, seg_numb=2, last_seg=True)
    assert encode(last).endswith(
        b'"payload":"ZGVm","stoAndFwInd":false,"segInd":true,"segParams":{"segId":"' +
        MID.encode() + b'","segNumb":2,"lastSegFlag":true}}')


def test_msg_aggregated():  # PC-29
    items = [wire.aggr_item(MID, b"a", app_id=1, report=True, priority="LOW"),
             wire.aggr_item(MID2, b"")]
    assert encode(wire.msg_aggr(ME, AS42, "agg", items)) == (
        b'{"msgType":"MSG","oriAddr":' + J_ME + b',"destAddr":' + J_AS + b',"msgId":"agg",'
        b'"stoAndFwInd":false,"aggrInd":true,"msgs":[{"msgId":"' + MID.encode() +
        b'","appId":"1","payload":"YQ==","delivStReqInd":true,"priority":"LOW"},'
        b'{"msgId":"' + MID2.encode() + b'","payload":""}]}')
    raises(ValueError, wire.msg_aggr, ME, AS42, "agg", [])
    raises(ValueError, wire.msg_aggr, ME, AS42, "agg", [items[1]] * 17)


def test_imdn_worked_example_and_failure():  # PROTOCOL §13.3, PC-27
    assert encode(wire.imdn(AS42, ME, MID, wire.DELIV_SUCCESS)) == (
        b'{"msgType":"IMDN","oriAddr":' + J_AS + b',"destAddr":' + J_ME +
        b',"msgId":"5f0c6c1e-8d0b-4c53-9d53-3c1f0b2a9e11","delivSt":"REPT_DELY_SUCCESS"}')
    assert encode(wire.imdn(ME, AS42, MID, wire.DELIV_FAILED, "no app")).endswith(
        b'"delivSt":"REPT_DELY_FAILED","failureCause":"no app"}')


def test_imdn_aggregated():  # PC-29
    reps = [wire.report_item(MID, wire.DELIV_SUCCESS),
            wire.report_item(MID2, wire.DELIV_FAILED, "busy")]
    assert encode(wire.imdn_aggr(ME, AS42, "agg", reps)) == (
        b'{"msgType":"IMDN","oriAddr":' + J_ME + b',"destAddr":' + J_AS + b',"msgId":"agg",'
        b'"aggrInd":true,"reports":[{"msgId":"' + MID.encode() + b'","delivSt":'
        b'"REPT_DELY_SUCCESS"},{"msgId":"' + MID2.encode() + b'","delivSt":"REPT_DELY_FAILED",'
        b'"failureCause":"busy"}]}')
    raises(ValueError, wire.imdn_aggr, ME, AS42, "agg", [])


def test_msgresp():  # PC-25
    assert encode(wire.msgresp(ME, MID)) == (
        b'{"msgType":"MSGRESP","oriAddr":' + J_ME + b',"msgId":"' + MID.encode() + b'"}')
    assert encode(wire.msgresp(ME, MID, wire.DELY_FAILED, "too large")) == (
        b'{"msgType":"MSGRESP","oriAddr":' + J_ME + b',"msgId":"' + MID.encode() +
        b'","status":"DELY_FAILED","failureCause":"too large"}')


def test_segrec_and_segconfir():  # PC-32
    assert encode(wire.segrec(ME, AS42, MID2, MID, [3, 7])) == (
        b'{"msgType":"SEGREC","oriAddr":' + J_ME + b',"destAddr":' + J_AS + b',"msgId":"' +
        MID2.encode() + b'","segId":"' + MID.encode() + b'","missingSegs":[3,7]}')
    assert encode(wire.segrec(ME, AS42, MID2, MID, (), 5)).endswith(
        b'"missingSegs":[],"fromSeg":5}')
    assert encode(wire.segconfir(ME, AS42, MID2, MID)) == (
        b'{"msgType":"SEGCONFIR","oriAddr":' + J_ME + b',"destAddr":' + J_AS + b',"msgId":"' +
        MID2.encode() + b'","segId":"' + MID.encode() + b'","result":"SUCCESS"}')
    assert encode(wire.segconfir(ME, AS42, MID2, MID, wire.FAILURE)).endswith(
        b'"result":"FAILURE"}')


def test_topics():  # PC-33
    assert encode(wire.topicsub(ME, MID, ["t1", "t2"], "2025-01-31T12:00:00Z")) == (
        b'{"msgType":"TOPICSUB","oriAddr":' + J_ME + b',"msgId":"' + MID.encode() +
        b'","topics":["t1","t2"],"expiration":"2025-01-31T12:00:00Z"}')
    assert encode(wire.topicunsub(ME, MID)) == (
        b'{"msgType":"TOPICUNSUB","oriAddr":' + J_ME + b',"msgId":"' + MID.encode() +
        b'","topics":[]}')
    assert encode(wire.topic_resp("TOPICSUB", "SUCCESS", ("t1",), "2025-01-31T12:00:00Z")) == (
        b'{"msgType":"TOPICSUB","result":"SUCCESS","topics":["t1"],'
        b'"expiration":"2025-01-31T12:00:00Z"}')
    assert encode(wire.topic_resp("TOPICUNSUB", "FAILURE")) == (
        b'{"msgType":"TOPICUNSUB","result":"FAILURE"}')


def test_app_id_range():  # PC-04
    assert wire.app_id_str(0) == "0" and wire.app_id_str(65535) == "65535"
    for bad in (-1, 65536, True, "7", 1.0, None):
        raises(ValueError, wire.app_id_str, bad)
    raises(ValueError, wire.msg, ME, AS42, MID, b"", 70000)


# ---------------------------------------------------------------- encoder details

def test_encode_strings_escape_identically():
    d = {"msgType": "x", "failureCause": 'q"b\\s/\n\t\b\f\x01\x7f\u00fc\u20ac'}
    assert encode(d) == (b'{"msgType":"x","failureCause":"q\\"b\\\\s/\\n\\t\\u0008\\u000c'
                         b'\\u0001\x7f\xc3\xbc\xe2\x82\xac"}')


def test_encode_unknown_keys_sorted_after_known_and_values():
    d = {"zeta": [1, None, True, {"b": 2, "a": "x"}], "alpha": -3, "msgType": "MSG"}
    assert encode(d) == (b'{"msgType":"MSG","alpha":-3,"zeta":[1,null,true,{"a":"x","b":2}]}')


def test_encode_payload_kinds_and_no_newline():
    for p in (b"\xfb\xff", bytearray(b"\xfb\xff"), memoryview(b"\x00\xfb\xff")[1:]):
        assert encode({"payload": p}) == b'{"payload":"+/8="}'
    big = encode({"payload": bytes(2048)})
    assert len(big) == 2732 + 14 and b"\n" not in big


# ---------------------------------------------------------------- round trips

def _bytes_payloads(d):
    # The dict decode() should give back for builder output d (payloads as bytes).
    if isinstance(d, dict):
        return dict((k, _bytes_payloads(v)) for k, v in d.items())
    if isinstance(d, list):
        return [_bytes_payloads(x) for x in d]
    if isinstance(d, (bytearray, memoryview)):
        return bytes(d)
    return d


def test_round_trip_every_builder():
    cases = [
        wire.reg(UEID, 512, "imei", {"ueIdentifier": "x", "ports": [1], "protocol": "UDP"},
                 None, True, 10),
        wire.dereg(UEID),
        wire.msg(ME, AS42, MID, b"Hello \x00\xff" * 20, 7, True, "MIDDLE", True, "2025-01-01T00:00:00Z"),
        wire.msg(ME, wire.addr(wire.TOPIC, "t/1"), MID, memoryview(b"xyz"), seg_id=MID2,
                 seg_numb=3, total_segs=3, last_seg=True),
        wire.msg_aggr(ME, AS42, MID, [wire.aggr_item(MID2, b"a" * 64, 3)] * 16),
        wire.imdn(ME, AS42, MID, wire.DELIV_FAILED, "x"),
        wire.imdn_aggr(ME, AS42, MID, [wire.report_item(MID2, wire.DELIV_SUCCESS)]),
        wire.msgresp(ME, MID, wire.DELY_STORED),
        wire.segrec(ME, AS42, MID, MID2, [1, 128], 129 - 1),
        wire.segconfir(ME, AS42, MID, MID2, wire.FAILURE),
        wire.topicsub(ME, MID, ["a", "b"], "2025-01-01T00:00:00Z"),
        wire.topicunsub(ME, MID),
    ]
    for d in cases:
        body = encode(d)
        back = decode(body)
        assert back == _bytes_payloads(d), (body, back)
        assert encode(back) == body


def test_round_trip_responses():
    for d in (wire.reg_resp(UEID, "SUCCESS", None, "2025-01-01T00:00:00Z"),
              wire.dereg_resp("FAILURE", "gone"), wire.topic_resp("TOPICSUB", "SUCCESS", ["t"]),
              wire.topic_resp("TOPICUNSUB", "SUCCESS"), wire.msgresp(ME, MID)):
        assert decode(encode(d), True) == d


def test_decode_accepts_bytes_like_and_str_and_keeps_unknown_members():
    body = encode(_msg_body(payload=b"hi", futureThing={"x": [1]}))
    for b in (body, bytearray(body), memoryview(body), body.decode()):
        d = decode(b)
        assert d["payload"] == b"hi" and d["futureThing"] == {"x": [1]}


def test_decode_non_ascii_text():
    d = decode(b'{"msgType":"MSG","oriAddr":{"addrType":"UE","addr":"\xc3\xbc-1"},'
               b'"destAddr":{"addrType":"UE","addr":"b"},"msgId":"m","payload":""}')
    assert d["oriAddr"]["addr"] == "\u00fc-1" and d["payload"] == b""


# ---------------------------------------------------------------- decode errors

def test_decode_invalid_json():
    for b in (b"", b"{", b'{"msgType":"MSG"', b"\xff\xfe{}", b'{"a":1}x', b"{'a':1}", None, 5):
        e = _err(b)
        assert e.reason == "invalid JSON" and e.msg is None


def test_decode_not_an_object():
    for b in (b"[]", b'"MSG"', b"1", b"null", b"true"):
        assert _err(b).reason == "not an object"


def test_decode_msg_type_missing_or_unknown():  # PC-35
    assert _err(b'{"msgId":"m"}').reason == "missing msgType"
    for t in (b'"MSGUPD"', b'"msg"', b'""', b"5", b"[]", b"{}", b"null"):
        e = _err(b'{"msgType":' + t + b"}")
        assert e.reason in ("unknown msgType", "missing msgType"), e.reason


def test_decode_missing_mandatory_members():  # PC-26 and the others
    full = {
        "MSG": _msg_body(),
        "IMDN": _msg_body(msgType="IMDN", delivSt="REPT_DELY_SUCCESS"),
        "MSGRESP": {"msgType": "MSGRESP", "oriAddr": AS42, "msgId": MID},
        "SEGREC": _msg_body(msgType="SEGREC", segId=MID2, missingSegs=[1]),
        "SEGCONFIR": _msg_body(msgType="SEGCONFIR", segId=MID2, result="SUCCESS"),
        "REG": {"msgType": "REG", "ueServiceId": UEID},
        "DEREG": {"msgType": "DEREG", "ueServiceId": UEID},
        "TOPICSUB": {"msgType": "TOPICSUB", "oriAddr": ME, "msgId": MID, "topics": ["t"]},
        "TOPICUNSUB": {"msgType": "TOPICUNSUB", "oriAddr": ME, "msgId": MID, "topics": []},
    }
    need = {"MSG": ("oriAddr", "destAddr", "msgId"),
            "IMDN": ("oriAddr", "destAddr", "msgId", "delivSt"),
            "MSGRESP": ("oriAddr", "msgId"),
            "SEGREC": ("oriAddr", "destAddr", "msgId", "segId"),
            "SEGCONFIR": ("oriAddr", "destAddr", "msgId", "segId", "result"),
            "REG": ("ueServiceId",), "DEREG": ("ueServiceId",),
            "TOPICSUB": ("oriAddr", "msgId", "topics"),
            "TOPICUNSUB": ("oriAddr", "msgId", "topics")}
    for t in full:
        assert decode(encode(full[t]))["msgType"] == t
        for k in need[t]:
            d = dict(full[t])
            del d[k]
            e = _err(encode(d))
            assert e.reason == "missing " + k, (t, k, e.reason)
            assert e.msg["msgType"] == t


def test_decode_response_bodies_need_less():
    assert decode(b'{"msgType":"REG","result":"SUCCESS"}', True)["result"] == "SUCCESS"
    assert decode(b'{"msgType":"DEREG"}', response=True) == {"msgType": "DEREG"}
    assert decode(b'{"msgType":"TOPICUNSUB"}', True) == {"msgType": "TOPICUNSUB"}
    _err(b'{"msgType":"REG","result":"SUCCESS"}')  # as a request it needs ueServiceId
    _err(b'{"msgType":"MSGRESP","status":"DELY_FAILED"}', response=True)
    _err(b'{"msgType":"REG","result":"MAYBE"}', response=True)
    # other types keep their request rules
    _err(b'{"msgType":"MSG"}', response=True)


def test_decode_segrec_needs_missing_or_from():
    _err(encode(_msg_body(msgType="SEGREC", segId=MID2)))
    _err(encode(_msg_body(msgType="SEGREC", segId=MID2, missingSegs=[])))
    assert decode(encode(_msg_body(msgType="SEGREC", segId=MID2, missingSegs=[], fromSeg=4)))


def test_decode_bad_addresses():
    bad = ["UE", 5, None, [], {}, {"addrType": "UE"}, {"addr": "x"},
           {"addrType": "XX", "addr": "x"}, {"addrType": "ue", "addr": "x"},
           {"addrType": "UE", "addr": ""}, {"addrType": "UE", "addr": 7},
           {"addrType": "UE", "addr": "a" * 256}, {"addrType": ["UE"], "addr": "x"}]
    for a in bad:
        for k in ("oriAddr", "destAddr"):
            e = _err(encode(_msg_body(**{k: a})))
            assert e.reason == "bad " + k, e.reason
    for t in wire.ADDR_TYPES:
        assert decode(encode(_msg_body(destAddr=wire.addr(t, "a" * 255))))


def test_decode_bad_member_types():
    cases = [("msgId", ""), ("msgId", 5), ("msgId", "m" * 256), ("appId", 7), ("appId", ""),
             ("appId", "65536"), ("appId", "-1"), ("appId", "1a"), ("appId", "123456"),
             ("appId", " 7"), ("appId", "\u0663"), ("delivStReqInd", "true"), ("delivStReqInd", 1),
             ("stoAndFwInd", None), ("segInd", 0), ("aggrInd", "yes"), ("priority", "URGENT"),
             ("delivSt", "OK"), ("status", "DELY_OK"), ("result", "success"),
             ("failureCause", 3), ("stoAndFwParams", "x"),
             ("segParams", []), ("missingSegs", [0]), ("missingSegs", "1"),
             ("missingSegs", [1.5]), ("missingSegs", [129]), ("missingSegs", [True]),
             ("fromSeg", 0), ("fromSeg", 129), ("topics", ["a", 1]), ("topics", "a"),
             ("regExpiry", "30"), ("ueId", "")]
    for k, v in cases:
        e = _err(encode(_msg_body(**{k: v})))
        assert e.reason == "bad " + k, (k, v, e.reason)
    # nested objects name the inner member
    assert _err(encode(_msg_body(stoAndFwParams={"exprTime": 1}))).reason == "bad exprTime"
    assert _err(encode(_msg_body(clientProfile={"maxSegSize": -1}))).reason == "bad maxSegSize"
    for v in ("0", "65535", "00017"):
        assert decode(encode(_msg_body(appId=v)))["appId"] == v


def test_decode_segment_params():  # PC-31
    good = {"segId": MID2, "segNumb": 2, "totalSegCount": 2, "lastSegFlag": True}
    assert decode(encode(_msg_body(segInd=True, segParams=good)))["segParams"] == good
    for p in ({"segNumb": 1}, {"segId": MID2}, {"segId": MID2, "segNumb": 0},
              {"segId": MID2, "segNumb": 129}, {"segId": MID2, "segNumb": "1"},
              {"segId": MID2, "segNumb": 3, "totalSegCount": 2},
              {"segId": "", "segNumb": 1}, {"segId": MID2, "segNumb": 1, "lastSegFlag": 1}):
        e = _err(encode(_msg_body(segInd=True, segParams=p)))
        assert e.reason in ("bad segParams", "bad segNumb", "bad segId", "bad lastSegFlag",
                            "bad totalSegCount"), e.reason
    assert _err(encode(_msg_body(segInd=True))).reason == "missing segParams"


def test_decode_nesting_is_bounded():
    d = {"maxSegSize": 1}
    for _ in range(50):
        d = {"clientProfile": d}
    _err(encode({"msgType": "REG", "ueServiceId": "u", "clientProfile": d}))
    deep = b"[" * 3000 + b"]" * 3000
    # not an object, or the parser's recursion/memory limit: always a WireError
    e = raises(WireError, decode, deep)
    assert e.code in (wire.BAD_REQUEST, wire.REQUEST_TOO_LARGE)


def test_decode_payload_base64_strict():  # PC-12
    for s in ("SGVsbG8", "SGVs bG8=", "SGVsbG8=\n", "!!!!SGVsbG8=", "S", "SGVsbG8=SGVs",
              "SG==SGVs", "\u00fc\u00fc\u00fc\u00fc", "===="):
        e = _err(encode(_msg_body(payload=s)))
        assert e.reason == "bad payload", (s, e.reason)
    _err(encode(_msg_body(payload=5)))
    assert decode(encode(_msg_body(payload="")))["payload"] == b""
    assert decode(encode(_msg_body(payload="SGk=")))["payload"] == b"Hi"


def test_decode_payload_size_limit():  # PC-26: > 2048 octets -> 4.13
    assert len(decode(encode(_msg_body(payload=bytes(2048))))["payload"]) == 2048
    e = _err(encode(_msg_body(payload=bytes(2049))), wire.REQUEST_TOO_LARGE)
    assert e.msg["msgId"] == MID  # enough to build a refusing MSGRESP (PC-25)
    _err(encode(_msg_body(payload=bytes(3000))), wire.REQUEST_TOO_LARGE)
    _err(encode(_msg_body(payload="A" * 5000)), wire.REQUEST_TOO_LARGE)


def test_decode_aggregated_msg():  # PC-29
    items = [wire.aggr_item(MID, b"one", 1), wire.aggr_item(MID2, b"two", report=True)]
    d = decode(encode(wire.msg_aggr(AS42, ME, "agg", items)))
    assert [x["payload"] for x in d["msgs"]] == [b"one", b"two"]
    big = [wire.aggr_item(MID, bytes(1100)), wire.aggr_item(MID2, bytes(1000))]
    _err(encode(wire.msg_aggr(AS42, ME, "agg", big)), wire.REQUEST_TOO_LARGE)
    body = _msg_body(aggrInd=True, msgs=[{"msgId": "x", "payload": ""}] * 17)
    _err(encode(body), wire.REQUEST_TOO_LARGE)
    for msgs in (None, [], "x", [5], [{"payload": ""}], [{"msgId": "x", "payload": "S"}],
                 [{"msgId": "x", "appId": 1}]):
        b = _msg_body(aggrInd=True)
        if msgs is not None:
            b["msgs"] = msgs
        _err(encode(b))


def test_decode_aggregated_imdn():  # PC-29
    reps = [wire.report_item(MID, wire.DELIV_SUCCESS), wire.report_item(MID2, wire.DELIV_FAILED)]
    d = decode(encode(wire.imdn_aggr(AS42, ME, "agg", reps)))  # no outer delivSt needed
    assert d["reports"][1]["delivSt"] == "REPT_DELY_FAILED"
    for reports in ([], [{"msgId": MID}], [{"delivSt": "REPT_DELY_SUCCESS"}],
                    [{"msgId": MID, "delivSt": "NOPE"}]):
        _err(encode(_msg_body(msgType="IMDN", aggrInd=True, reports=reports)))
    _err(encode(_msg_body(msgType="IMDN", aggrInd=True)))


def test_wire_error_is_value_error():
    e = _err(b"[]")
    assert isinstance(e, ValueError) and e.code == 0x80
