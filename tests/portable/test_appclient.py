# heapsize: 128k
# board-heapsize: 32k   (unix32, library frozen; measured minimum 27k)
"""Annex A Application Client (role cue) driven without sockets: the test plays the Gateway UE,
over A.3 (an Endpoint with a fake send function) and over A.2 (raw datagrams)."""
import json

from coap.codec import Message, decode, encode
from coap.endpoint import Endpoint, Params
from msgin5g import ids
from msgin5g.constrained import a2, a3
from msgin5g.constrained.appclient import AppClient
from tinytest import FakeClock

GW = ("10.0.0.1", 5683)
CON, NON, ACK, RST = 0, 1, 2, 3
POST = 2
MID = "5f0c6c1e-8d0b-4c53-9d53-3c1f0b2a9e11"


class A3World:
    def __init__(self):
        self.out = []
        self.clock = FakeClock(1000)
        self.ep = Endpoint(lambda d, a: self.out.append((decode(d), a)), Params(), self.clock,
                           rand=lambda: 0.0)
        self.ac = AppClient(GW, 7, ep=self.ep, backoff_ms=1000)
        self.got = []
        self.reports = []
        self.ac.on_message(None, self.got.append)
        self.ac.on_report(lambda *a: self.reports.append(a))

    def take(self):
        o = [m for m, a in self.out]
        assert all(a == GW for m, a in self.out)
        self.out = []
        return o

    def requests(self):
        return [(m, json.loads(m.payload)) for m in self.take() if m.code == POST]

    def answer(self, m, code, body=None, opts=()):
        r = Message(ACK, code, m.mid, m.token, [], a3.encode(body) if body else b"")
        for n, v in opts:
            r.add(n, v)
        if body:
            r.add(12, 50)
        self.ep.received(encode(r), GW)
        self.ac.tick()

    def register(self):
        self.ac.start()
        (m, b), = self.requests()
        self.answer(m, 0x41, a3.reg_resp(1234))
        assert self.ac.state == "REGISTERED"

    def deliver(self, body, path=("msgin5g-app", "7"), mid=500, raw=None):
        m = Message(CON, POST, mid, b"gw%d" % mid, [], raw if raw is not None else a3.encode(body))
        m.set_path(list(path))
        m.add(12, 50)
        self.ep.received(encode(m), GW)
        resp = [x for x, a in self.out if x.mtype == ACK and x.mid == mid]
        self.out = [(x, a) for x, a in self.out if x not in resp]
        return resp[0] if resp else None

    def advance(self, ms):
        self.clock.advance(ms)
        self.ep.tick()
        return self.ac.tick()


def test_a3_register_wire_format():
    w = A3World()
    w.ac.start()
    (m, b), = w.requests()
    assert m.mtype == CON and m.path() == ["msgin5g-gw"] and m.uint(12) == 50
    assert b == {"messageType": "REGISTRATION REQUEST", "applicationId": 7}
    assert w.ac.state == "REGISTERING"
    w.answer(m, 0x41, a3.reg_resp(1234))
    assert w.ac.state == "REGISTERED" and w.ac.reg_id == 1234
    assert w.ac.status()["registrationId"] == 1234


def test_a3_register_rejected_then_retried_later():
    w = A3World()
    w.ac.start()
    (m, b), = w.requests()
    w.answer(m, 0x83, a3.reg_resp(None, "NOT_AUTHORIZED"))
    assert w.ac.state == "REJECTED" and w.ac.reg_id is None
    assert w.advance(999) == 1
    assert w.requests() == []
    w.advance(1)
    (m, b), = w.requests()
    assert b["messageType"] == "REGISTRATION REQUEST"
    w.answer(m, 0x83, a3.reg_resp(None, "NOT_AUTHORIZED"))
    assert w.ac.tick() == 2000              # doubling back-off


def test_a3_register_timeout_backs_off():
    w = A3World()
    w.ac.start()
    w.requests()
    for _ in range(200):                    # CoAP gives up after MAX_TRANSMIT_WAIT
        w.advance(1000)
        if w.ac.state == "BACKOFF":
            break
    assert w.ac.state == "BACKOFF"
    w.take()
    w.advance(1000)
    (m, b), = w.requests()
    assert b["applicationId"] == 7


def test_a3_send_message_and_outcomes():
    w = A3World()
    w.register()
    res = []
    mid = w.ac.send("as-42", "21.5", dest_type="AS", app_id=3, report=True,
                    done=lambda *a: res.append(a))
    (m, b), = w.requests()
    assert m.path() == ["msgin5g-gw"] and m.mtype == CON
    assert b == {"messageType": "MESSAGE SENDING REQUEST", "messageId": mid,
                 "targetAddress": "as-42", "targetType": "AS", "applicationId": 3,
                 "payload": "MjEuNQ==", "deliveryStatusRequired": True}
    assert ids.is_msg_id(mid)
    w.answer(m, 0x44, a3.msg_recv_resp(True))
    assert res == [(mid, "ACCEPTED", None)]
    # 5.03: the gateway lost its own registration; Max-Age is the hint
    mid2 = w.ac.send("ue-2", b"x", done=lambda *a: res.append(a))
    (m, b), = w.requests()
    assert "deliveryStatusRequired" not in b and b["targetType"] == "UE"
    w.answer(m, 0xA3, a3.msg_recv_resp(False, "GATEWAY_NOT_REGISTERED"), [(14, 30)])
    assert res[-1] == (mid2, "FAILED", "GATEWAY_NOT_REGISTERED")
    assert w.ac.state == "REGISTERED"


def test_a3_forbidden_send_means_register_again_then_send_again():
    w = A3World()
    w.register()
    res = []
    mid = w.ac.send("ue-2", b"x", done=lambda *a: res.append(a))
    (m, b), = w.requests()
    w.answer(m, 0x83, a3.msg_recv_resp(False, "NOT_AUTHORIZED"))
    assert res == [] and not w.ac.idle()        # the gateway forgot us: not failed yet
    w.advance(0)
    (m, b), = w.requests()
    assert b["messageType"] == "REGISTRATION REQUEST"
    w.answer(m, 0x41, a3.reg_resp(99))
    (m, b), = w.requests()                      # the same message again, same Message ID
    assert b["messageId"] == mid and w.ac.reg_id == 99
    w.answer(m, 0x83, a3.msg_recv_resp(False, "NOT_AUTHORIZED"))   # again: once only
    assert res == [(mid, "FAILED", "NOT_AUTHORIZED")]
    w.advance(0)
    (m, b), = w.requests()
    assert b["messageType"] == "REGISTRATION REQUEST"
    w.answer(m, 0x83, a3.reg_resp(None, "NOT_AUTHORIZED"))
    assert w.ac.state == "REJECTED" and w.ac.idle()


def test_send_before_registration_fails_at_once():
    w = A3World()
    res = []
    w.ac.send("ue-2", b"x", done=lambda *a: res.append(a))
    assert res[0][1:] == ("FAILED", "not registered") and w.take() == []


def test_send_while_registering_goes_out_once_registered():
    w = A3World()
    w.ac.start()
    res = []
    mid = w.ac.send("ue-2", b"x", done=lambda *a: res.append(a))   # a wake's first reading
    (m, b), = w.requests()
    assert b["messageType"] == "REGISTRATION REQUEST" and not w.ac.idle()
    w.answer(m, 0x41, a3.reg_resp(1234))
    (m, b), = w.requests()
    assert b["messageId"] == mid
    w.answer(m, 0x44, a3.msg_recv_resp(True))
    assert res == [(mid, "ACCEPTED", None)]
    w = A2World()
    w.ac.start()
    w.take()
    w.ac.send("ue-0002", b"x", done=lambda *a: res.append(a))
    w.feed(b"\x02\x01\x0b\x01\x03")     # rejected: the message fails with it
    assert res[-1][1:] == ("FAILED", "INSUFFICIENT_RESOURCES") and w.take() == []


def test_a3_unencodable_send_fails_without_traffic():
    w = A3World()
    w.register()
    res = []
    w.ac.send("ue-2", b"x", dest_type="BC", done=lambda *a: res.append(a))
    assert res[0][1:] == ("FAILED", "PROTOCOL_ERROR") and w.take() == []


def test_a3_delivery_success_then_report():
    w = A3World()
    w.register()
    r = w.deliver(a3.msg_deliv_req(MID, "as-42", "AS", b"on", 7, True))
    assert r.code == 0x44 and r.uint(12) == 50
    assert json.loads(r.payload) == {"messageType": "MESSAGE RECEIVED RESPONSE",
                                     "result": "SUCCESS"}
    (m,) = w.got
    assert m["payload"] == b"on" and m["msgId"] == MID and m["appId"] == 7
    assert m["oriAddr"] == {"addrType": "AS", "addr": "as-42"} and m["delivStReqInd"]
    assert w.requests() == []               # the report goes after our answer
    w.advance(0)
    (q, b), = w.requests()
    assert b["messageType"] == "DELIVERY REPORT SENDING REQUEST"
    assert b["replyToMessageId"] == MID and b["deliveryStatus"] == "DELIVERED"
    assert b["messageId"] != MID and ids.is_msg_id(b["messageId"])


def test_a3_delivery_refused_no_report():
    w = A3World()
    w.register()
    w.ac.on_message(None, lambda m: False)
    r = w.deliver(a3.msg_deliv_req(MID, "ue-9", "UE", b"on", None, True))
    assert r.code == 0xA0
    b = json.loads(r.payload)
    assert b["result"] == "FAILURE" and b["failureReason"] == "refused by application"
    w.advance(0)
    assert w.requests() == []               # the gateway reports the failure


def test_a3_delivery_errors():
    w = A3World()
    w.register()
    assert w.deliver(a3.msg_deliv_req(MID, "ue-9", "UE", b"x"), path=("msgin5g-app", "8"),
                     mid=501).code == 0x84
    assert w.deliver(None, raw=b"{not json", mid=502).code == 0x80
    assert w.deliver(a3.reg_req(7), mid=503).code == 0x80   # not a delivery
    assert w.got == []


def test_a3_report_delivery():
    w = A3World()
    w.register()
    r = w.deliver(a3.rpt_deliv_req(ids.new_msg_id(), MID, False, "RECIPIENT_UNREACHABLE"))
    assert r.code == 0x44
    assert w.reports == [(MID, "FAILED", "RECIPIENT_UNREACHABLE", None)]


def test_a3_deregister():
    w = A3World()
    w.register()
    got = []
    w.ac.deregister(got.append)
    (m, b), = w.requests()
    assert b == {"messageType": "DE-REGISTRATION REQUEST", "registrationId": 1234}
    w.answer(m, 0x44, a3.dereg_resp(1234))
    assert w.ac.state == "DEREGISTERED" and w.ac.reg_id is None and got == [True]


# ------------------------------------------------------------------------------ A.2
class A2World:
    def __init__(self):
        self.out = []
        self.clock = FakeClock(1000)
        self.ac = AppClient(GW, 7, send=lambda d, a: self.out.append((bytes(d), a)),
                            clock=self.clock, backoff_ms=1000)
        self.got = []
        self.reports = []
        self.ac.on_message(None, self.got.append)
        self.ac.on_report(lambda *a: self.reports.append(a))

    def take(self):
        o = [d for d, a in self.out]
        assert all(a == GW for d, a in self.out)
        self.out = []
        return o

    def feed(self, msg):
        self.ac.received(a2.encode(msg) if isinstance(msg, dict) else msg, GW)
        self.ac.tick()

    def register(self):
        self.ac.start()
        assert self.take() == [b"\x01\x00\x07"]
        self.feed(b"\x02\x00\x0c\x00\x00\x04\xd2")
        assert self.ac.state == "REGISTERED" and self.ac.reg_id == 1234

    def advance(self, ms):
        self.clock.advance(ms)
        return self.ac.tick()


def test_a2_register_bytes():
    A2World().register()


def test_a2_retransmits_2s_4_times_then_backs_off():
    w = A2World()
    w.ac.start()
    assert w.take() == [b"\x01\x00\x07"]
    assert w.ac.tick() == 2000
    for i in range(4):
        w.advance(1999)
        assert w.take() == []
        w.advance(1)
        assert w.take() == [b"\x01\x00\x07"]
    w.advance(2000)
    assert w.ac.state == "BACKOFF" and w.take() == []
    w.advance(1000)
    assert w.take() == [b"\x01\x00\x07"]


def test_a2_rejected():
    w = A2World()
    w.ac.start()
    w.take()
    w.feed(b"\x02\x01\x0b\x01\x03")   # rejected, insufficient resources
    assert w.ac.state == "REJECTED"
    w.advance(999)
    assert w.take() == []               # answered: no retransmission
    w.advance(1)
    assert w.take() == [b"\x01\x00\x07"]  # a new attempt after the back-off


def test_a2_send_and_answers():
    w = A2World()
    w.register()
    res = []
    mid = w.ac.send("as-0042", b"21.5", dest_type="AS", app_id=3, report=True,
                    done=lambda *a: res.append(a))
    (d,) = w.take()
    assert d == a2.encode({"type": 5, "target": "as-0042", "msg_id": ids.to_bytes(mid),
                           "payload": b"21.5", "app_id": 3, "report": True, "target_type": 2})
    w.feed({"type": 7, "msg_id": ids.to_bytes(mid), "result": 0})
    assert res == [(mid, "ACCEPTED", None)]
    w.advance(2000)
    assert w.take() == []
    mid2 = w.ac.send("ue-0002", b"x", done=lambda *a: res.append(a))
    w.take()
    w.feed({"type": 7, "msg_id": ids.to_bytes(mid2), "result": 1, "cause": 8})
    assert res[-1] == (mid2, "FAILED", "GATEWAY_NOT_REGISTERED")
    # a short address A.2 cannot carry (LV 6-n): refused locally
    w.ac.send("as-1", b"x", done=lambda *a: res.append(a))
    assert res[-1][1:] == ("FAILED", "PROTOCOL_ERROR") and w.take() == []


def test_a2_not_authorized_answer_means_register_again_then_send_again():
    w = A2World()
    w.register()
    res = []
    mid = w.ac.send("ue-0002", b"x", done=lambda *a: res.append(a))
    (d,) = w.take()
    w.feed({"type": 7, "msg_id": ids.to_bytes(mid), "result": 1, "cause": 2})
    w.advance(0)
    assert w.take() == [b"\x01\x00\x07"] and res == []
    w.feed(b"\x02\x00\x0c\x00\x00\x00\x05")      # registered again: Registration ID 5
    assert w.take() == [d] and w.ac.reg_id == 5     # the same datagram, same Message ID
    w.feed({"type": 7, "msg_id": ids.to_bytes(mid), "result": 0})
    assert res == [(mid, "ACCEPTED", None)] and w.ac.idle(True)


def test_a2_not_authorized_then_registration_fails():
    w = A2World()
    w.register()
    res = []
    mid = w.ac.send("ue-0002", b"x", done=lambda *a: res.append(a))
    w.take()
    w.feed({"type": 7, "msg_id": ids.to_bytes(mid), "result": 1, "cause": 2})
    w.advance(0)
    w.take()
    w.feed(b"\x02\x01\x0b\x01\x03")     # rejected, insufficient resources
    assert res == [(mid, "FAILED", "INSUFFICIENT_RESOURCES")] and w.ac.state == "REJECTED"


def test_a2_delivery_answer_duplicate_and_report():
    w = A2World()
    w.register()
    mid = ids.to_bytes(MID)
    req = a2.encode({"type": 8, "target": "as-0042", "msg_id": mid, "payload": b"on",
                     "app_id": 7, "report": True, "target_type": 2})
    w.ac.received(req, GW)
    ans = b"\x07" + mid + b"\x00"
    assert w.take() == [ans]
    (m,) = w.got
    assert m["msgId"] == MID and m["oriAddr"] == {"addrType": "AS", "addr": "as-0042"}
    assert m["payload"] == b"on" and m["appId"] == 7 and m["delivStReqInd"]
    w.ac.received(req, GW)                  # our answer was lost: answered again, once
    assert w.take() == [ans] and len(w.got) == 1
    w.advance(0)
    (d,) = w.take()
    r = a2.decode(d)
    assert r["type"] == 6 and r["reply_to"] == mid and r["status"] == 0


def test_a2_delivery_refused():
    w = A2World()
    w.register()
    w.ac.on_message(None, lambda m: 1 / 0)
    mid = ids.to_bytes(MID)
    w.feed({"type": 8, "target": "ue-00009", "msg_id": mid, "payload": b"x", "report": True})
    assert w.take() == [b"\x07" + mid + b"\x01\x0b\x01\x01"]


def test_a2_report_delivery_and_ignored_types():
    w = A2World()
    w.register()
    w.feed({"type": 9, "msg_id": ids.to_bytes(ids.new_msg_id()), "reply_to": ids.to_bytes(MID),
            "status": 1, "cause": 7})
    (d,) = w.take()
    assert d[0] == 7 and d[-1] == 0
    assert w.reports == [(MID, "FAILED", "RECIPIENT_UNREACHABLE", None)]
    w.ac.received(b"\x20\x00", GW)          # reserved type: ignored (PC-37)
    w.ac.received(b"\x08\x01", GW)          # truncated
    w.ac.received(b"\x02\x00\x0c\x00\x00\x00\x09", GW)  # unsolicited answer
    assert w.take() == [] and w.ac.reg_id == 1234


def test_a2_deregister():
    w = A2World()
    w.register()
    w.ac.deregister()
    assert w.take() == [b"\x03\x00\x00\x04\xd2"]
    w.feed(b"\x04\x00\x0c\x00\x00\x04\xd2")
    assert w.ac.state == "DEREGISTERED"
