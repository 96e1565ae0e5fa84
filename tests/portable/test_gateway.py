# heapsize: 256k
# board-heapsize: 58k   (unix32, library frozen; measured minimum 46k)
"""Gateway UE driven without sockets: its MSGin5G Client talks to a fake server, its A.3
endpoint and its A.2 send function to fake constrained UEs (PROTOCOL.md 5.1, 5.2, 10)."""
import json

from coap.codec import Message, decode, encode
from coap.endpoint import Endpoint, Params
from msgin5g import ids, wire
from msgin5g.client import Client
from msgin5g.constrained import a2, a3
from msgin5g.constrained.gateway import Gateway
from tinytest import FakeClock

SRV = ("10.0.0.9", 5683)
CUE1 = ("10.0.1.1", 40001)
CUE2 = ("10.0.1.2", 40002)
CON, NON, ACK, RST = 0, 1, 2, 3
POST = 2
ORI = {"addrType": "AS", "addr": "as-0042"}
ME = {"addrType": "UE", "addr": "gw-1"}


class World:
    def __init__(self, register=True, **kw):
        self.clock = FakeClock(5000)
        self.srv = []       # decoded messages to the server
        self.a3 = []        # (decoded message, addr) from the A.3 endpoint
        self.a2 = []        # (datagram, addr) from the A.2 socket
        self.cep = Endpoint(lambda d, a: self.srv.append(decode(d)), Params(), self.clock,
                            rand=lambda: 0.0)
        self.c = Client(self.cep, SRV, "gw-1", "srv.example", keepalive_ms=0)
        self.aep = Endpoint(lambda d, a: self.a3.append((decode(d), a)), Params(), self.clock,
                            rand=lambda: 0.0)
        self.gw = Gateway(self.c, **kw)
        self.gw.attach_a3(self.aep)
        self.gw.attach_a2(lambda d, a: self.a2.append((bytes(d), a)))
        if register:
            self.c.start()
            (m, b), = self.srv_requests()
            self.srv_answer(m, 0x41)
            assert self.c.state == "REGISTERED"

    # ---- server side
    def srv_requests(self):
        o = [(m, json.loads(m.payload)) for m in self.srv if m.code == POST]
        self.srv = []
        return o

    def srv_answer(self, m, code, body=None):
        r = Message(ACK, code, m.mid, m.token, [], wire.encode(body) if body else b"")
        self.cep.received(encode(r), SRV)
        self.c.tick()

    def downlink(self, body, mid=900):
        m = Message(CON, POST, mid, b"dl%d" % mid, [], wire.encode(body))
        m.set_path(["msgin5g", "ue", "gw-1"])
        m.add(12, 50)
        self.cep.received(encode(m), SRV)
        resp = [x for x in self.srv if x.mtype == ACK and x.mid == mid]
        self.srv = [x for x in self.srv if x not in resp]
        self.c.tick()
        return resp[0]

    # ---- A.3 CUE side
    def cue(self, body, addr=CUE1, path=("msgin5g-gw",), cf=50, mid=700, raw=None, code=POST):
        m = Message(CON, code, mid, b"cu%d" % mid, [], raw if raw is not None else a3.encode(body))
        m.set_path(list(path))
        if cf is not None:
            m.add(12, cf)
        self.aep.received(encode(m), addr)
        resp = [x for x, a in self.a3 if x.mtype == ACK and x.mid == mid and a == addr]
        self.a3 = [(x, a) for x, a in self.a3 if x not in resp]
        self.c.tick()
        return resp[0]

    def a3_requests(self):
        o = [(m, a, json.loads(m.payload)) for m, a in self.a3 if m.code == POST]
        self.a3 = [(m, a) for m, a in self.a3 if m.code != POST]
        return o

    def cue_answer(self, m, addr, code, body=None):
        r = Message(ACK, code, m.mid, m.token, [], a3.encode(body) if body else b"")
        self.aep.received(encode(r), addr)
        self.c.tick()

    def reg_a3(self, app=7, addr=CUE1, mid=600):
        r = self.cue(a3.reg_req(app), addr, mid=mid)
        assert r.code == 0x41, r
        return json.loads(r.payload)["registrationId"]

    # ---- A.2 CUE side
    def l3(self, msg, addr=CUE2):
        self.gw.a2_received(a2.encode(msg) if isinstance(msg, dict) else msg, addr)
        self.c.tick()
        o = self.a2
        self.a2 = []
        return o

    def reg_a2(self, app=8, addr=CUE2):
        (d, a), = self.l3({"type": 1, "app_id": app}, addr)
        r = a2.decode(d)
        assert a == addr and r["result"] == 0
        return r["reg_id"]

    def advance(self, ms):
        self.clock.advance(ms)
        self.cep.tick()
        self.aep.tick()
        self.gw.a2_tick()
        self.c.tick()


def _imdns(reqs):
    return [b for m, b in reqs if b["msgType"] == "IMDN"]


# ------------------------------------------------------------------ registration (6.3.2.1)
def test_a3_registration_and_repeat():
    w = World()
    r = w.cue(a3.reg_req(7))
    assert r.code == 0x41 and r.uint(12) == 50
    b = json.loads(r.payload)
    assert b["messageType"] == "REGISTRATION RESPONSE" and b["registrationResult"] == "ACCEPTED"
    rid = b["registrationId"]
    assert 0 < rid < 1 << 32
    assert w.reg_a3(7, mid=601) == rid             # same address again: same Registration ID
    assert [(c.app, c.rid, c.addr) for c in w.gw.cues] == [(7, rid, CUE1)]


def test_registration_policy():
    w = World(allowed=[7, 8], max_devices=1)
    r = w.cue(a3.reg_req(9))
    assert r.code == 0x83
    assert json.loads(r.payload) == {"messageType": "REGISTRATION RESPONSE",
                                     "registrationResult": "REJECTED",
                                     "failureReason": "NOT_AUTHORIZED"}
    w.reg_a3(7)
    r = w.cue(a3.reg_req(8), CUE2, mid=701)
    assert r.code == 0x83 and json.loads(r.payload)["failureReason"] == "INSUFFICIENT_RESOURCES"
    (d, a), = w.l3({"type": 1, "app_id": 8})
    assert d == b"\x02\x01\x0b\x01\x03"               # A.2: rejected, cause 0x03
    (d, a), = w.l3({"type": 1, "app_id": 9})
    assert d == b"\x02\x01\x0b\x01\x02"               # not authorized, cause 0x02


def test_same_app_id_from_new_address_replaces():
    w = World()
    old = w.reg_a3(7)
    new = w.reg_a3(7, CUE2, mid=601)
    assert new != old and [(c.addr, c.rid) for c in w.gw.cues] == [(CUE2, new)]


def test_a3_deregistration():
    w = World()
    rid = w.reg_a3(7)
    r = w.cue(a3.dereg_req(rid ^ 1), mid=701)
    assert r.code == 0x84 and json.loads(r.payload)["failureReason"] == "UNKNOWN_REGISTRATION_ID"
    assert w.cue(a3.dereg_req(rid), CUE2, mid=702).code == 0x83   # not its registration
    r = w.cue(a3.dereg_req(rid), mid=703)
    assert r.code == 0x44
    assert json.loads(r.payload) == {"messageType": "DE-REGISTRATION RESPONSE",
                                     "deregistrationResult": "ACCEPTED", "registrationId": rid}
    assert w.gw.cues == []


def test_a3_errors():
    w = World()
    rid = w.reg_a3(7)
    assert w.cue(a3.reg_req(7), path=("msgin5g",), mid=701).code == 0x84       # wrong Uri-Path
    assert w.cue(a3.reg_req(7), path=("msgin5g-gw", "x"), mid=702).code == 0x84
    assert w.cue(None, raw=b'{"messageType":', mid=703).code == 0x80           # malformed
    assert w.cue(None, raw=b'{"messageType":"REGISTRATION REQUEST"}', mid=704).code == 0x80
    assert w.cue(a3.reg_resp(5), mid=705).code == 0x80                         # not a request
    assert w.cue(a3.reg_req(7), cf=0, mid=706).code == 0x8F
    assert w.cue(a3.reg_req(7), code=1, mid=707).code == 0x85                  # GET
    assert w.cue(None, raw=b'{"x":"' + b"a" * 1100 + b'"}', mid=708).code == 0x8D
    r = w.cue(a3.msg_send_req(ids.new_msg_id(), "as-1", b"x"), CUE2, mid=709)  # unregistered
    assert r.code == 0x83
    assert json.loads(r.payload) == {"messageType": "MESSAGE RECEIVED RESPONSE",
                                     "result": "FAILURE", "failureReason": "NOT_AUTHORIZED"}
    assert w.srv_requests() == [] and len(w.gw.cues) == 1 and w.gw.cues[0].rid == rid


# ------------------------------------------------------------------ uplink (PC-20, PC-27)
def test_a3_uplink_message_and_report_back():
    w = World()
    w.reg_a3(7)
    cmid = ids.new_msg_id()
    r = w.cue(a3.msg_send_req(cmid, "as-0042", b"21.5", "AS", 99, True), mid=701)
    assert r.code == 0x44 and json.loads(r.payload)["result"] == "SUCCESS"
    (m, b), = w.srv_requests()
    assert m.path() == ["msgin5g"] and m.opt(3) == b"srv.example"
    assert b["msgType"] == "MSG" and b["oriAddr"] == ME and b["destAddr"] == ORI
    assert b["appId"] == "7" and b["payload"] == "MjEuNQ==" and b["delivStReqInd"] is True
    assert b["msgId"] != cmid
    w.srv_answer(m, 0x44)
    # the recipient's IMDN comes back to the gateway -> DELIVERY REPORT DELIVERY REQUEST
    w.downlink(wire.imdn(ORI, ME, b["msgId"], wire.DELIV_SUCCESS), mid=901)
    (q, a, d), = w.a3_requests()
    assert a == CUE1 and q.path() == ["msgin5g-app", "7"] and q.mtype == CON
    assert d["messageType"] == "DELIVERY REPORT DELIVERY REQUEST"
    assert d["replyToMessageId"] == cmid and d["deliveryStatus"] == "DELIVERED"
    w.cue_answer(q, a, 0x44, a3.msg_recv_resp(True))
    assert w.gw.count["reports_down"] == 1 and w.gw.cues[0].cur is None


def test_uplink_failure_from_server_is_reported_to_cue():
    w = World()
    w.reg_a3(7)
    cmid = ids.new_msg_id()
    w.cue(a3.msg_send_req(cmid, "nobody", b"x", report=True), mid=701)
    (m, b), = w.srv_requests()
    w.srv_answer(m, 0x84, wire.msgresp(wire.addr("UE", "gw-1"), b["msgId"], wire.DELY_FAILED,
                                       "unknown recipient"))
    (q, a, d), = w.a3_requests()
    assert d["deliveryStatus"] == "FAILED" and d["replyToMessageId"] == cmid
    assert d["failureReason"] == "unknown recipient"


def test_gateway_not_registered_answers_503():
    w = World(register=False)
    w.reg_a3(7)                                       # local registration still works
    r = w.cue(a3.msg_send_req(ids.new_msg_id(), "as-1", b"x"), mid=701)
    assert r.code == 0xA3 and r.uint(14) == 30
    assert json.loads(r.payload)["failureReason"] == "GATEWAY_NOT_REGISTERED"
    w.reg_a2(8)
    (d, a), = w.l3({"type": 5, "target": "as-0042", "msg_id": ids.to_bytes(ids.new_msg_id()),
                    "payload": b"x"})
    assert a2.decode(d)["cause"] == 8
    assert w.srv == []


def test_a3_report_up_is_imdn():
    w = World()
    w.reg_a3(7)
    mid = ids.new_msg_id()
    w.downlink(wire.msg(ORI, ME, mid, b"on", 7, True))
    (q, a, d), = w.a3_requests()
    w.cue_answer(q, a, 0x44, a3.msg_recv_resp(True))
    assert _imdns(w.srv_requests()) == []            # the CUE reports itself
    r = w.cue(a3.rpt_send_req(ids.new_msg_id(), mid, True), mid=701)
    assert r.code == 0x44
    (b,) = _imdns(w.srv_requests())
    assert b["msgId"] == mid and b["delivSt"] == wire.DELIV_SUCCESS
    assert b["destAddr"] == ORI and b["oriAddr"] == ME
    # a second report on the same message (or an unknown one): 4.04
    assert w.cue(a3.rpt_send_req(ids.new_msg_id(), mid, True), mid=702).code == 0x84


# ------------------------------------------------------------------ downlink (PC-19)
def test_a3_downlink_delivery_wire_format():
    w = World()
    w.reg_a3(7)
    mid = ids.new_msg_id()
    ack = w.downlink(wire.msg(ORI, ME, mid, b"on", 7, True))
    assert ack.code == 0x44
    (q, a, d), = w.a3_requests()
    assert a == CUE1 and q.mtype == CON and q.uint(12) == 50
    assert q.path() == ["msgin5g-app", "7"]
    assert d == {"messageType": "MESSAGE DELIVERY REQUEST", "messageId": mid,
                 "originatorAddress": "as-0042", "originatorType": "AS", "applicationId": 7,
                 "payload": "b24=", "deliveryStatusRequired": True}
    w.cue_answer(q, a, 0x44, a3.msg_recv_resp(True))
    assert w.gw.count["delivered"] == 1


def test_a3_downlink_refused_gives_failure_imdn():
    w = World()
    w.reg_a3(7)
    mid = ids.new_msg_id()
    w.downlink(wire.msg(ORI, ME, mid, b"on", 7, True))
    (q, a, d), = w.a3_requests()
    w.cue_answer(q, a, 0xA0, a3.msg_recv_resp(False, "refused by application"))
    (b,) = _imdns(w.srv_requests())
    assert b["msgId"] == mid and b["delivSt"] == wire.DELIV_FAILED
    assert b["failureCause"] == "refused by application"


def test_downlink_to_unknown_app_is_refused_by_client():
    w = World()
    w.reg_a3(7)
    mid = ids.new_msg_id()
    w.downlink(wire.msg(ORI, ME, mid, b"on", 5, True))
    assert w.a3_requests() == []
    (b,) = _imdns(w.srv_requests())
    assert b["msgId"] == mid and b["delivSt"] == wire.DELIV_FAILED


def test_a3_cue_vanishes():
    w = World()
    w.reg_a3(7)
    mid = ids.new_msg_id()
    w.downlink(wire.msg(ORI, ME, mid, b"on", 7, True))
    w.downlink(wire.msg(ORI, ME, ids.new_msg_id(), b"2", 7, False), mid=901)
    assert len(w.a3_requests()) == 1                 # one in flight per CUE
    for _ in range(120):
        w.advance(1000)
        if not w.gw.cues:
            break
    assert w.gw.cues == [] and w.gw.count["unreachable"] == 1
    (m, b), = w.srv_requests()
    assert b["msgType"] == "IMDN" and b["msgId"] == mid and b["delivSt"] == wire.DELIV_FAILED
    assert b["failureCause"] == "RECIPIENT_UNREACHABLE"
    w.srv_answer(m, 0x44)
    # later messages for its Application ID: refused by the client
    w.downlink(wire.msg(ORI, ME, ids.new_msg_id(), b"3", 7, True), mid=902)
    assert _imdns(w.srv_requests())[0]["delivSt"] == wire.DELIV_FAILED


def test_downlink_queue_is_bounded():
    w = World(queue_max=2)
    w.reg_a3(7)
    mids = [ids.new_msg_id() for _ in range(4)]
    for i, m in enumerate(mids):
        w.downlink(wire.msg(ORI, ME, m, b"%d" % i, 7, True), mid=900 + i)
    cue = w.gw.cues[0]
    assert cue.cur[1] == mids[0] and [it[1] for it in cue.q] == mids[1:3]
    (b,) = _imdns(w.srv_requests())                  # the 4th: no room
    assert b["msgId"] == mids[3] and b["delivSt"] == wire.DELIV_FAILED
    for i in range(3):
        (q, a, d), = w.a3_requests()
        assert d["messageId"] == mids[i]
        w.cue_answer(q, a, 0x44)
    assert w.gw.count["delivered"] == 3


# ------------------------------------------------------------------ A.2 link (PC-37)
def test_a2_uplink_duplicates_and_errors():
    w = World()
    rid = w.reg_a2(8)
    assert w.reg_a2(8) == rid
    cmid = ids.to_bytes(ids.new_msg_id())
    req = a2.encode({"type": 5, "target": "as-0042", "msg_id": cmid, "payload": b"x",
                     "report": True, "target_type": 2})
    (d, a), = w.l3(req)
    assert d == b"\x07" + cmid + b"\x00"
    (d2, a), = w.l3(req)                                # retransmission: same answer, one MSG
    assert d2 == d
    (m, b), = w.srv_requests()
    assert b["destAddr"] == ORI and b["appId"] == "8" and b["delivStReqInd"] is True
    (d, a), = w.l3(req, CUE1)                           # unregistered address
    assert d == b"\x07" + cmid + b"\x01\x0b\x01\x02"
    (d, a), = w.l3({"type": 3, "reg_id": rid ^ 1})
    assert d == b"\x04\x01\x0b\x01\x05"                 # unknown Registration ID
    assert w.l3(b"\x20\x01\x02") == []                  # unknown type: dropped
    assert w.l3(b"\x05\x01") == []                      # malformed MESSAGE SENDING REQUEST
    (d, a), = w.l3(b"\x01\x00")                         # malformed REGISTRATION REQUEST
    assert d == b"\x02\x01\x0b\x01\x09"
    (d, a), = w.l3({"type": 3, "reg_id": rid})
    assert d == b"\x04\x00\x0c" + rid.to_bytes(4, "big") and w.gw.cues == []


def test_a2_request_refused_as_unknown_is_taken_after_a_registration():
    # a duty-cycled CUE slept through the gateway's restart: refused (0x02), it registers and
    # sends the same datagram again; the cached refusal must not answer it
    w = World()
    req = a2.encode({"type": 5, "target": "as-0042", "msg_id": ids.to_bytes(ids.new_msg_id()),
                     "payload": b"21.5", "target_type": 2})
    (d, a), = w.l3(req)
    assert d[-1] == a2.CAUSE_NOT_AUTHORIZED and w.srv_requests() == []
    w.reg_a2(8)
    (d, a), = w.l3(req)
    assert d[-1] == 0 and len(w.srv_requests()) == 1


def test_a2_downlink_retransmission_and_answer():
    w = World()
    w.reg_a2(8)
    mid = ids.new_msg_id()
    w.downlink(wire.msg(ORI, ME, mid, b"on", 8, True))
    (d, a), = w.a2
    w.a2 = []
    assert a == CUE2
    assert a2.decode(d) == {"type": 8, "target": "as-0042", "msg_id": ids.to_bytes(mid),
                            "payload": b"on", "report": True, "target_type": 2}
    w.advance(2000)
    assert w.a2 == [(d, CUE2)]
    w.a2 = []
    w.l3({"type": 7, "msg_id": ids.to_bytes(mid), "result": 0})
    w.advance(2000)
    assert w.a2 == [] and w.gw.count["delivered"] == 1
    # the CUE's report -> IMDN
    (d, a), = w.l3({"type": 6, "msg_id": ids.to_bytes(ids.new_msg_id()),
                    "reply_to": ids.to_bytes(mid), "status": 1, "cause": 1})
    assert a2.decode(d)["result"] == 0
    (b,) = _imdns(w.srv_requests())
    assert b["msgId"] == mid and b["delivSt"] == wire.DELIV_FAILED


def test_a2_cue_vanishes_after_4_retransmissions():
    w = World()
    w.reg_a2(8)
    mid = ids.new_msg_id()
    w.downlink(wire.msg(ORI, ME, mid, b"on", 8, True))
    sent = len(w.a2)
    for _ in range(4):
        w.advance(2000)
    sent = len(w.a2)
    assert sent == 5 and w.gw.cues
    w.advance(2000)
    assert w.gw.cues == [] and len(w.a2) == 5
    (b,) = _imdns(w.srv_requests())
    assert b["msgId"] == mid and b["delivSt"] == wire.DELIV_FAILED


def test_a2_report_down_and_short_originator():
    w = World()
    w.reg_a2(8)
    cmid = ids.new_msg_id()
    w.l3({"type": 5, "target": "as-0042", "msg_id": ids.to_bytes(cmid), "payload": b"x",
          "report": True})
    (m, b), = w.srv_requests()
    w.srv_answer(m, 0x44)
    w.downlink(wire.imdn(ORI, ME, b["msgId"], wire.DELIV_FAILED, "RECIPIENT_UNREACHABLE"))
    (d, a), = w.a2
    w.a2 = []
    r = a2.decode(d)
    assert r["type"] == 9 and r["reply_to"] == ids.to_bytes(cmid) and r["status"] == 1
    assert r["cause"] == 7
    w.l3({"type": 7, "msg_id": r["msg_id"], "result": 0})
    # an originator of 4 octets cannot be carried by A.2 (LV 6-n): failure IMDN
    mid = ids.new_msg_id()
    w.downlink(wire.msg({"addrType": "AS", "addr": "as-1"}, ME, mid, b"x", 8, True), mid=901)
    assert w.a2 == []
    (b,) = _imdns(w.srv_requests())
    assert b["msgId"] == mid and b["failureCause"] == "PROTOCOL_ERROR"


def test_other_reports_reach_previous_handler():
    w = World(register=False)
    got = []
    w.c.on_report(lambda *a: got.append(a))
    gw = Gateway(w.c)
    w.c.start()
    (m, b), = w.srv_requests()
    w.srv_answer(m, 0x41)
    mid = ids.new_msg_id()
    w.downlink(wire.imdn(ORI, ME, mid, wire.DELIV_SUCCESS))
    assert got == [(mid, wire.DELIV_SUCCESS, None, ORI)] and gw.count["reports_down"] == 0
