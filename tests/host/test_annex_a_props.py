"""Property tests for the Annex A codecs (msgin5g.constrained.a2 PC-37, .a3 PC-38): round trips of
generated messages of every type, and decoders that raise only A2Error / A3Error on any input."""
import json
import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from msgin5g.constrained import a2, a3

SETTINGS = settings(max_examples=300, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

ids16 = st.binary(min_size=16, max_size=16)
opt = lambda s: st.none() | s  # noqa: E731
cause = st.integers(0, 255)
app_id = st.integers(0, 0xFFFF)
reg_id = st.integers(1, 0xFFFFFFFF)
text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=80)


def _utf8_len(lo, hi):
    return text.filter(lambda s: lo <= len(s.encode()) <= hi)


target = st.one_of(_utf8_len(5, 255), st.text("abc-1", min_size=5, max_size=255))
payload = st.binary(min_size=1, max_size=600) | st.binary(min_size=65535, max_size=65535)


def _strip(d):
    return {k: v for k, v in d.items() if v is not None}


@st.composite
def a2_messages(draw):
    t = draw(st.integers(1, 9))
    m = {"type": t}
    if t == 1:
        m["app_id"] = draw(app_id)
    elif t in (2, 4):
        m["result"] = draw(st.integers(0, 1))
        if m["result"] == 0:
            m["reg_id"] = draw(reg_id)
        else:
            m["cause"] = draw(cause)
    elif t == 3:
        m["reg_id"] = draw(reg_id)
    elif t in (5, 8):
        m.update(target=draw(target), msg_id=draw(ids16), payload=draw(payload),
                 app_id=draw(opt(app_id)), report=draw(opt(st.booleans())),
                 target_type=draw(opt(st.integers(1, 3))))
    elif t in (6, 9):
        m.update(msg_id=draw(ids16), reply_to=draw(ids16), status=draw(st.integers(0, 1)),
                 cause=draw(opt(cause)))
    else:
        m.update(msg_id=draw(ids16), result=draw(st.integers(0, 1)))
        if m["result"]:
            m["cause"] = draw(opt(cause))
    return _strip(m)


@SETTINGS
@given(a2_messages())
def test_a2_round_trip(m):
    raw = a2.encode(m)
    assert raw[0] == m["type"]
    assert a2.decode(raw) == m
    assert a2.decode(bytearray(raw)) == m


@SETTINGS
@given(a2_messages(), st.data())
def test_a2_optional_ies_any_order_and_unknown_ies(m, data):
    raw = a2.encode(m)
    if m["type"] in (2, 4):
        mand = 2
    elif m["type"] in (1, 3):
        mand = len(raw)
    else:
        mand = len(a2.encode({k: v for k, v in m.items()
                              if k not in ("app_id", "report", "target_type", "cause")}))
    # split the optional part into IEs (all known here: TV 3/5, TLV 3, half-octet 1)
    ies, i = [], mand
    while i < len(raw):
        n = {0x0A: 3, 0x0C: 5, 0x0B: 3}.get(raw[i], 1)
        ies.append(raw[i:i + n])
        i += n
    unknown = data.draw(st.lists(st.one_of(
        st.builds(lambda e, v: bytes((e, len(v))) + v,
                  st.integers(0, 0x7F).filter(lambda e: e not in (0x0A, 0x0B, 0x0C)),
                  st.binary(max_size=20)),
        st.integers(0x80, 0xFF).filter(lambda e: e >> 4 not in (0xB, 0xD)).map(
            lambda e: bytes((e,)))), max_size=4))
    parts = data.draw(st.permutations(ies + unknown))
    assert a2.decode(raw[:mand] + b"".join(parts)) == m


def _a2_decode_only_a2error(raw):
    try:
        m = a2.decode(raw)
    except a2.A2Error as e:
        assert e.reason in ("truncated", "unknown type", "bad length", "bad value",
                            "conditional IE")
        return
    assert 1 <= m["type"] <= 9
    try:
        again = a2.encode(m)
    except a2.A2Error:
        return  # decode is lenient about IEs that encode refuses to write (PC-37 conditions)
    assert a2.decode(again) == m


@SETTINGS
@given(st.binary(max_size=300))
def test_a2_decode_arbitrary_bytes(raw):
    _a2_decode_only_a2error(raw)


@SETTINGS
@given(st.integers(1, 9), st.binary(max_size=120))
def test_a2_decode_arbitrary_body_of_known_type(t, rest):
    _a2_decode_only_a2error(bytes((t,)) + rest)


@SETTINGS
@given(a2_messages(), st.data())
def test_a2_decode_mutated(m, data):
    raw = bytearray(a2.encode(m))
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(raw)))
    _a2_decode_only_a2error(bytes(raw[:cut]))


uuids = st.builds(lambda b: str(uuid.UUID(bytes=b)), ids16)
address = _utf8_len(1, 255)
reason = opt(text)


def _a3_messages():
    return st.one_of(
        st.builds(a3.reg_req, app_id),
        st.builds(a3.reg_resp, reg_id, reason),
        st.builds(lambda r: a3.reg_resp(None, r), reason),
        st.builds(a3.dereg_req, reg_id),
        st.builds(a3.dereg_resp, reg_id, reason),
        st.builds(lambda r: a3.dereg_resp(None, r), reason),
        st.builds(a3.msg_send_req, uuids, address, payload,
                  opt(st.sampled_from(["UE", "AS", "GROUP"])), opt(app_id), opt(st.booleans())),
        st.builds(a3.rpt_send_req, uuids, uuids, st.booleans(), reason),
        st.builds(a3.msg_recv_resp, st.booleans(), reason),
        st.builds(a3.msg_deliv_req, uuids, address, st.sampled_from(["UE", "AS"]), payload,
                  opt(app_id), opt(st.booleans())),
        st.builds(a3.rpt_deliv_req, uuids, uuids, st.booleans(), reason),
    )


@SETTINGS
@given(_a3_messages())
def test_a3_round_trip(d):
    raw = a3.encode(d)
    assert json.loads(raw)["messageType"] == d["messageType"]
    assert b"\n" not in raw and "\n" not in json.loads(raw).get("payload", "")
    assert a3.decode(raw, len(raw)) == d
    assert a3.decode(memoryview(raw), len(raw)) == d


def _a3_decode_only_a3error(body, max_len=a3.MAX_BODY):
    try:
        d = a3.decode(body, max_len)
    except a3.A3Error as e:
        assert e.code in (a3.BAD_REQUEST, a3.TOO_LARGE)
        assert (e.code == a3.TOO_LARGE) == (len(body) > max_len)
        return
    assert d["messageType"] in a3.TYPES
    raw = a3.encode(d)  # only the type's members, without nulls
    assert a3.decode(raw, len(raw)) == {k: d[k] for k in json.loads(raw)}


@SETTINGS
@given(st.binary(max_size=400))
def test_a3_decode_arbitrary_bytes(body):
    _a3_decode_only_a3error(body)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | text,
    lambda c: st.lists(c, max_size=4) | st.dictionaries(text, c, max_size=4), max_leaves=20)
members = st.sampled_from(["messageId", "replyToMessageId", "registrationResult",
                           "deregistrationResult", "result", "registrationId", "targetAddress",
                           "targetType", "originatorAddress", "originatorType", "applicationId",
                           "payload", "deliveryStatus", "deliveryStatusRequired",
                           "failureReason"])
member_values = json_values | uuids | st.sampled_from(
    ["ACCEPTED", "REJECTED", "SUCCESS", "FAILURE", "DELIVERED", "FAILED", "UE", "AS", "GROUP",
     "eg==", "", "AAAA", "abc"]) | st.integers(-1, 1 << 33)


@SETTINGS
@given(st.sampled_from(a3.TYPES) | json_values,
       st.dictionaries(members, member_values, max_size=8), st.integers(0, 2000))
def test_a3_decode_arbitrary_json(t, body, max_len):
    body = dict(body, messageType=t)
    _a3_decode_only_a3error(json.dumps(body).encode(), max_len)


@SETTINGS
@given(_a3_messages(), st.data())
def test_a3_decode_mutated(d, data):
    raw = bytearray(a3.encode(d))
    for _ in range(data.draw(st.integers(1, 3))):
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] = data.draw(st.integers(0, 255))
    _a3_decode_only_a3error(bytes(raw[:data.draw(st.integers(0, len(raw)))]), 1 << 20)
