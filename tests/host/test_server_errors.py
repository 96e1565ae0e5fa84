"""Reference MSGin5G Server: every bad request gets the contract's 4.xx (never a traceback),
the configuration resource (PC-13, §9.3), and an in-process fuzz of the request handler."""
import asyncio
import json
import os
import sys
import xml.etree.ElementTree as ET

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_SRV = os.path.join(ROOT, "tools", "server")
if _SRV not in sys.path:
    sys.path.insert(0, _SRV)

from aiocoap import Code, Message  # noqa: E402

from m5server import M5Server, wire  # noqa: E402
from m5server.site import Root  # noqa: E402
from test_server import run  # noqa: E402

U1 = "5f0c6c1e-8d0b-4c53-9d53-3c1f0b2a9e11"


def _msg(**over):
    d = {"msgType": "MSG", "oriAddr": {"addrType": "UE", "addr": "ue-a"},
         "destAddr": {"addrType": "UE", "addr": "ue-b"}, "msgId": U1,
         "payload": "SGVsbG8=", "stoAndFwInd": False}
    for k, v in over.items():
        if v is _DEL:
            d.pop(k, None)
        else:
            d[k] = v
    return d


_DEL = object()
_SEG = {"segId": U1, "segNumb": 1, "totalSegCount": 2}


def _seg(**sp):
    p = dict(_SEG)
    p.update(sp)
    p = dict((k, v) for k, v in p.items() if v is not _DEL)
    return _msg(segInd=True, segParams=p)


_ITEM = {"msgId": U1, "payload": "eA=="}
_A = {"addrType": "UE", "addr": "ue-a"}
_B = {"addrType": "UE", "addr": "ue-b"}

# (name, body, content-format, expected code)
BAD = [
    ("cf text", _msg(), 0, "4.15"),
    ("cf missing", _msg(), None, "4.15"),
    ("cf xml", _msg(), 41, "4.15"),
    ("too large", _msg(payload=wire.b64encode(b"x" * 900)), 50, "4.13"),
    ("not utf-8", b"\xff\xfe{}", 50, "4.00"),
    ("not json", b"{", 50, "4.00"),
    ("json array", b"[]", 50, "4.00"),
    ("json string", b'"MSG"', 50, "4.00"),
    ("bom", "\ufeff{}".encode("utf-8"), 50, "4.00"),
    ("deep nesting", b"[" * 1100, 50, "4.00"),
    ("no msgType", {}, 50, "4.00"),
    ("msgType int", {"msgType": 3}, 50, "4.00"),
    ("unknown msgType", {"msgType": "FOO"}, 50, "4.00"),
    ("MSGRESP uplink", {"msgType": "MSGRESP", "oriAddr": _A, "msgId": U1}, 50, "4.00"),
    ("MSGUPD reserved", {"msgType": "MSGUPD", "oriAddr": _A, "msgId": U1}, 50, "4.00"),
    ("lowercase msgType", _msg(msgType="msg"), 50, "4.00"),
    ("lone surrogate", b'{"msgType":"REG","ueServiceId":"\\ud800"}', 50, "4.00"),
    ("no msgId", _msg(msgId=_DEL), 50, "4.00"),
    ("no oriAddr", _msg(oriAddr=_DEL), 50, "4.00"),
    ("no destAddr", _msg(destAddr=_DEL), 50, "4.00"),
    ("destAddr string", _msg(destAddr="ue-b"), 50, "4.00"),
    ("bad addrType", _msg(destAddr={"addrType": "XX", "addr": "ue-b"}), 50, "4.00"),
    ("empty addr", _msg(destAddr={"addrType": "UE", "addr": ""}), 50, "4.00"),
    ("addr > 255 B", _msg(destAddr={"addrType": "UE", "addr": "é" * 128}), 50, "4.00"),
    ("msgId not uuid", _msg(msgId="1234"), 50, "4.00"),
    ("payload not base64", _msg(payload="not base64!"), 50, "4.00"),
    ("payload number", _msg(payload=5), 50, "4.00"),
    ("appId letters", _msg(appId="abc"), 50, "4.00"),
    ("appId too big", _msg(appId="70000"), 50, "4.00"),
    ("appId integer", _msg(appId=17), 50, "4.00"),  # PC-04: decimal string
    ("delivStReqInd string", _msg(delivStReqInd="yes"), 50, "4.00"),
    ("stoAndFwInd number", _msg(stoAndFwInd=1), 50, "4.00"),
    ("exprTime garbage", _msg(stoAndFwParams={"exprTime": "tomorrow"}), 50, "4.00"),
    ("exprTime no zone", _msg(stoAndFwParams={"exprTime": "2030-01-01T00:00:00"}), 50, "4.00"),
    ("priority", _msg(priority="URGENT"), 50, "4.00"),
    ("segInd no segParams", _msg(segInd=True), 50, "4.00"),
    ("segNumb 0", _seg(segNumb=0), 50, "4.00"),
    ("segNumb > total", _seg(segNumb=3), 50, "4.00"),
    ("segNumb > 128", _seg(segNumb=200, totalSegCount=_DEL), 50, "4.00"),
    ("total > 128", _seg(totalSegCount=129), 50, "4.00"),
    ("segId not uuid", _seg(segId="x"), 50, "4.00"),
    ("last flag mismatch", _seg(lastSegFlag=True), 50, "4.00"),
    ("set too large", _seg(totalSegCount=128, segNumb=1) | {"payload": wire.b64encode(b"z" * 600)},
     50, "4.13"),
    ("aggr empty", _msg(aggrInd=True, msgs=[]), 50, "4.00"),
    ("aggr not list", _msg(aggrInd=True, msgs="x"), 50, "4.00"),
    ("aggr item no payload", _msg(aggrInd=True, msgs=[{"msgId": U1}]), 50, "4.00"),
    ("aggr + seg", _msg(aggrInd=True, msgs=[_ITEM], segInd=True, segParams=_SEG), 50, "4.00"),
    ("REG no id", {"msgType": "REG"}, 50, "4.00"),
    ("REG id 256 B", {"msgType": "REG", "ueServiceId": "u" * 256}, 50, "4.00"),
    ("REG maxSegSize str", {"msgType": "REG", "ueServiceId": "ue-x",
                            "clientProfile": {"maxSegSize": "big"}}, 50, "4.00"),
    ("REG profile str", {"msgType": "REG", "ueServiceId": "ue-x", "clientProfile": "x"}, 50, "4.00"),
    ("REG regExpiry neg", {"msgType": "REG", "ueServiceId": "ue-x", "regExpiry": -1}, 50, "4.00"),
    ("DEREG no id", {"msgType": "DEREG"}, 50, "4.00"),
    ("IMDN no delivSt", {"msgType": "IMDN", "oriAddr": _A, "destAddr": _B, "msgId": U1}, 50, "4.00"),
    ("IMDN bad delivSt", {"msgType": "IMDN", "oriAddr": _A, "destAddr": _B, "msgId": U1,
                          "delivSt": "OK"}, 50, "4.00"),
    ("IMDN to group", {"msgType": "IMDN", "oriAddr": _A, "destAddr": {"addrType": "GROUP", "addr": "g"},
                       "msgId": U1, "delivSt": "REPT_DELY_SUCCESS"}, 50, "4.00"),
    ("IMDN aggr empty", {"msgType": "IMDN", "oriAddr": _A, "destAddr": _B, "msgId": U1,
                         "aggrInd": True, "reports": []}, 50, "4.00"),
    ("TOPICSUB empty", {"msgType": "TOPICSUB", "oriAddr": _A, "msgId": U1, "topics": []}, 50, "4.00"),
    ("TOPICSUB not list", {"msgType": "TOPICSUB", "oriAddr": _A, "msgId": U1, "topics": "t"}, 50, "4.00"),
    ("TOPICSUB no msgId", {"msgType": "TOPICSUB", "oriAddr": _A, "topics": ["t"]}, 50, "4.00"),
    ("TOPICSUB bad expiration", {"msgType": "TOPICSUB", "oriAddr": _A, "msgId": U1, "topics": ["t"],
                                 "expiration": "soon"}, 50, "4.00"),
    ("SEGREC nothing missing", {"msgType": "SEGREC", "oriAddr": _A, "destAddr": _B, "msgId": U1,
                                "segId": U1}, 50, "4.00"),
    ("SEGREC bad numbers", {"msgType": "SEGREC", "oriAddr": _A, "destAddr": _B, "msgId": U1,
                            "segId": U1, "missingSegs": [0]}, 50, "4.00"),
    ("SEGCONFIR bad result", {"msgType": "SEGCONFIR", "oriAddr": _A, "destAddr": _B, "msgId": U1,
                              "segId": U1, "result": "MAYBE"}, 50, "4.00"),
]


def test_every_bad_uplink_gets_its_4xx():
    async def t(srv, ue):
        a = await ue("ue-a")
        b = await ue("ue-b")
        for name, body, cf, want in BAD:
            code, resp = await a.request(body, cf=cf)
            assert code == want, "%s: got %s %r" % (name, code, resp)
        assert (await a.request(_msg(), code=Code.GET))[0] == "4.05"
        assert (await a.request(_msg(), path="other"))[0] == "4.04"
        assert (await a.request(_msg(), path="msgin5g/ue/ue-a"))[0] == "4.04"
        # the valid template itself is accepted, so the cases above fail for their defect
        assert (await a.request(_msg()))[0] == "2.04"
        assert (await b.wait("MSG"))["msgId"] == U1
        for _ in range(200):    # counted when b's 2.04 reaches the server, just after b got it
            if srv.stats()["delivered"]:
                break
            await asyncio.sleep(0.01)
        assert srv.stats()["delivered"] == 1
        # 4.13 tells the limit (Size1); errors without a contract body carry text diagnostics
        m = Message(code=Code.POST, uri="coap://127.0.0.1:%d/msgin5g" % srv.port,
                    payload=wire.dumps(_msg(payload=wire.b64encode(b"x" * 900))), content_format=50)
        resp = await a.ctx.request(m, handle_blockwise=False).response
        assert resp.code == Code.REQUEST_ENTITY_TOO_LARGE and resp.opt.size1 == 1152
        code, diag = await a.request({"msgType": "FOO"})
        assert code == "4.00" and b"FOO" in diag
        assert any("-> 4.00 (unknown msgType 'FOO')" in ln for ln in srv.log_lines)
    run(t)


def test_aggregate_limit_is_16_items():
    # 17 UUID items never fit in 1152 octets; check the PC-29 limit on the parser itself
    try:
        wire.parse_msg(_msg(aggrInd=True, msgs=[_ITEM] * 17))
    except wire.Reject as e:
        assert e.code == "4.00"
    else:
        raise AssertionError("17 items accepted")
    assert len(wire.parse_msg(_msg(aggrInd=True, msgs=[_ITEM] * 16)).aggr) == 16


def test_too_many_concurrent_reassemblies_gets_503():
    async def t(srv, ue):
        a = await ue("ue-a")
        for i in range(8):
            sid, segs = a.segments("as-1", b"x" * 20, 10, to_type="AS")
            assert (await a.request(segs[0]))[0] == "2.04"
        sid, segs = a.segments("as-1", b"x" * 20, 10, to_type="AS")
        assert (await a.request(segs[0]))[0] == "5.03"  # PC-32
    run(t)


# ---- configuration resource (PC-13) ---------------------------------------------------------

DEVICES = {"devices": {"dev-1": {"ueServiceId": "ue-0001@msgin5g.example.net", "segmentSize": 256},
                       "dev-2": {"ueServiceId": "ue-0002@msgin5g.example.net"}},
           "forbidden": ["dev-stolen"]}
CFG = "su-uc/v1/val-services/msgin5g/ue-configurations"


def _local(tag):
    return tag.rsplit("}", 1)[-1]


def _parse_cfg(xml):
    root = ET.fromstring(xml)
    out = {}
    for el in root.iter():
        out.setdefault(_local(el.tag), (el.text or "").strip())
    return out


def test_configuration_resource_with_devices_file():
    async def t(srv, ue):
        c = await ue("cfg", reg=False)
        code, doc = await c.request(None, code=Code.GET, path=CFG, query=["val-ue-id=dev-1"], accept=41)
        assert code == "2.05"
        v = _parse_cfg(doc)
        assert v["seal-UE-configuration"] == "" and "on-network" in v
        assert v["MSGin5G-UE-Service-id"] == "ue-0001@msgin5g.example.net"
        assert v["MSGin5G-Server-address"] == "coap://127.0.0.1:%d" % srv.port
        assert v["Segment-size"] == "256"
        assert b"urn:3gpp:ns:seal:MSGin5GUEConfig:1.0" in doc
        code, doc = await c.request(None, code=Code.GET, path=CFG, query=["val-ue-id=dev-2"])
        assert code == "2.05" and _parse_cfg(doc)["Segment-size"] == "512"
        q = ["val-ue-id=dev-1", "val-user-id=ue-0002@msgin5g.example.net"]  # mismatching criteria
        assert (await c.request(None, code=Code.GET, path=CFG, query=q))[0] == "4.04"
        assert (await c.request(None, code=Code.GET, path=CFG, query=["val-ue-id=dev-9"]))[0] == "4.04"
        assert (await c.request(None, code=Code.GET, path=CFG, query=["val-ue-id=dev-stolen"]))[0] == "4.03"
        assert (await c.request(None, code=Code.GET, path=CFG))[0] == "4.00"
        assert (await c.request(None, code=Code.GET, path=CFG, query=["val-ue-id="]))[0] == "4.00"
        assert (await c.request(None, code=Code.GET, path=CFG, query=["val-ue-id=dev-1"],
                                accept=50))[0] == "4.06"
        assert (await c.request({}, path=CFG, query=["val-ue-id=dev-1"]))[0] == "4.05"
        other = "su-uc/v1/val-services/other/ue-configurations"
        assert (await c.request(None, code=Code.GET, path=other, query=["val-ue-id=dev-1"]))[0] == "4.04"
        # the forbidden list applies to REG too (PC-15)
        code, body = await c.reg(ue_id="dev-x", ueId="dev-stolen")
        assert code == "4.03"
    run(t, devices=DEVICES)


def test_configuration_resource_open_mode():
    async def t(srv, ue):
        c = await ue("cfg", reg=False)
        m = Message(code=Code.GET, uri="coap://127.0.0.1:%d/%s?val-ue-id=anything-1" % (srv.port, CFG))
        resp = await c.ctx.request(m).response
        assert resp.code == Code.CONTENT and int(resp.opt.content_format) == 41
        assert resp.opt.etag and resp.opt.max_age == 3600
        v = _parse_cfg(resp.payload)
        assert v["MSGin5G-UE-Service-id"] == "anything-1"
        assert v["MSGin5G-Server-address"] == "coap://msgin5g.example.net:5683"
        code, doc = await c.request(None, code=Code.GET, path=CFG,
                                    query=["val-ue-id=dev-7", "val-user-id=ue-7@example"])
        assert code == "2.05" and _parse_cfg(doc)["MSGin5G-UE-Service-id"] == "ue-7@example"
        assert (await c.request(None, code=Code.GET, path=CFG, query=["val-ue-id=bad"]))[0] == "4.03"
    run(t, forbidden=["bad"], advertise="coap://msgin5g.example.net:5683")


def test_groups_and_devices_files_are_validated(tmp_path):
    p = tmp_path / "groups.json"
    p.write_text(json.dumps({"g": "ue-1"}))
    for bad in (str(p), {"g": [""]}, ["x"]):
        try:
            M5Server(groups=bad)
        except ValueError:
            pass
        else:
            raise AssertionError("accepted %r" % (bad,))
    try:
        M5Server(devices={"devices": {"d": {}}})
    except ValueError:
        pass
    else:
        raise AssertionError("accepted a device without ueServiceId")
    shipped = os.path.join(ROOT, "tools", "server")
    s = M5Server(groups=os.path.join(shipped, "groups.json"),
                 devices=os.path.join(shipped, "devices.example.json"))
    assert s.groups and s.devices and "dev-stolen" in s.forbidden


# ---- in-process fuzz: no input makes the server answer 5.xx or raise --------------------------

class FakeRemote:
    def __init__(self, host="::ffff:127.0.0.1", port=40000):
        self.sockaddr = (host, port, 0, 0)
        self.hostinfo = "%s:%d" % (host, port)

    def __eq__(self, other):
        return isinstance(other, FakeRemote) and self.sockaddr == other.sockaddr

    def __hash__(self):
        return hash(self.sockaddr)


_loop = None
_srv = None
_root = None
_REM_A = FakeRemote(port=40001)


def _setup():
    global _loop, _srv, _root
    if _loop is None:
        _loop = asyncio.new_event_loop()
        _srv = M5Server(port=0, groups={"g": ["ue-a", "ue-b"]}, quiet=True)
        _root = Root(_srv)
        _srv.on_reg({"msgType": "REG", "ueServiceId": "ue-a"}, _REM_A)
    return _root


def _render(path, payload, cf=50, code=Code.POST, remote=_REM_A):
    root = _setup()
    m = Message(code=code, uri_path=path, payload=payload)
    if cf is not None:
        m.opt.content_format = cf
    m.remote = remote
    resp = _loop.run_until_complete(root.render(m))
    return resp.code


def teardown_module(module):
    if _loop is not None:
        _loop.run_until_complete(_srv.stop())
        _loop.close()


_KEYS = ["msgType", "oriAddr", "destAddr", "msgId", "payload", "appId", "delivStReqInd",
         "stoAndFwInd", "stoAndFwParams", "segInd", "segParams", "aggrInd", "msgs", "reports",
         "delivSt", "failureCause", "ueServiceId", "clientProfile", "topics", "expiration",
         "segId", "missingSegs", "fromSeg", "result", "priority", "addrType", "addr", "exprTime",
         "segNumb", "totalSegCount", "lastSegFlag", "maxSegSize"]
_WORDS = ["MSG", "REG", "DEREG", "IMDN", "SEGREC", "SEGCONFIR", "TOPICSUB", "TOPICUNSUB", "UE",
          "AS", "GROUP", "BC", "TOPIC", "ue-a", "ue-b", "g", U1, "SGVsbG8=", "17",
          "REPT_DELY_SUCCESS", "SUCCESS", "2030-01-01T00:00:00Z", "HIGH"]
_leaf = st.one_of(st.none(), st.booleans(), st.integers(-3, 300), st.floats(allow_nan=True),
                  st.text(max_size=6), st.sampled_from(_WORDS))
_json = st.recursive(_leaf, lambda ch: st.one_of(
    st.lists(ch, max_size=4), st.dictionaries(st.sampled_from(_KEYS), ch, max_size=5)), max_leaves=14)
_templates = [
    _msg(), _seg(), _msg(aggrInd=True, msgs=[_ITEM]), _msg(destAddr={"addrType": "GROUP", "addr": "g"}),
    {"msgType": "REG", "ueServiceId": "ue-a", "clientProfile": {"maxSegSize": 64}},
    {"msgType": "IMDN", "oriAddr": _A, "destAddr": _B, "msgId": U1, "delivSt": "REPT_DELY_SUCCESS"},
    {"msgType": "SEGREC", "oriAddr": _A, "destAddr": _B, "msgId": U1, "segId": U1, "missingSegs": [1]},
    {"msgType": "SEGCONFIR", "oriAddr": _A, "destAddr": _B, "msgId": U1, "segId": U1, "result": "SUCCESS"},
    {"msgType": "TOPICSUB", "oriAddr": _A, "msgId": U1, "topics": ["t"]},
    {"msgType": "TOPICUNSUB", "oriAddr": _A, "msgId": U1, "topics": []},
]


@st.composite
def _mutated(draw):
    d = json.loads(json.dumps(draw(st.sampled_from(_templates))))
    for _ in range(draw(st.integers(1, 3))):
        target = d
        sub = draw(st.sampled_from([None, "oriAddr", "destAddr", "segParams", "clientProfile"]))
        if sub and isinstance(d.get(sub), dict):
            target = d[sub]
        key = draw(st.sampled_from(_KEYS))
        if draw(st.booleans()):
            target.pop(key, None)
        else:
            target[key] = draw(_json)
    return d


@settings(max_examples=250, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.one_of(_mutated(), st.dictionaries(st.sampled_from(_KEYS), _json, max_size=6)))
def test_fuzz_uplink_json_never_5xx(body):
    code = _render(("msgin5g",), json.dumps(body).encode())
    assert code.class_ in (2, 4), (code, body)
    assert _srv.counters["internal_errors"] == 0


@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.binary(max_size=80), st.sampled_from([None, 0, 41, 50, 60]),
       st.sampled_from([("msgin5g",), ("as", "x", "send"), ("as", "x", "inbox"), ("stats",),
                        ("su-uc", "v1", "val-services", "msgin5g", "ue-configurations"), ()]),
       st.sampled_from([Code.GET, Code.POST, Code.PUT, Code.DELETE]))
def test_fuzz_raw_bodies_and_paths_never_5xx(payload, cf, path, method):
    code = _render(path, payload, cf=cf, code=method)
    assert code.class_ in (2, 4), code
    assert _srv.counters["internal_errors"] == 0


def test_admin_api_refuses_non_loopback_peers():
    far = FakeRemote("::ffff:192.0.2.7", 5683)
    assert _render(("stats",), b"", cf=None, code=Code.GET, remote=far) == Code.FORBIDDEN
    body = json.dumps({"to": "ue-a", "payload": "x"}).encode()
    assert _render(("as", "as-1", "send"), body, remote=far) == Code.FORBIDDEN
    assert _render(("stats",), b"", cf=None, code=Code.GET, remote=FakeRemote("::1")) == Code.CONTENT
    # uplink from a far peer is fine (only admin is restricted)
    reg = json.dumps({"msgType": "REG", "ueServiceId": "ue-far"}).encode()
    assert _render(("msgin5g",), reg, remote=far) == Code.CREATED
