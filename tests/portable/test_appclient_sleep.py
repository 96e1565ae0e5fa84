# heapsize: 100k
# board-heapsize: 32k   (unix32, library frozen; measured minimum 24k)
"""The Annex A Application Client (role cue) across deep sleep (issue 13), driven without
sockets (fake clock, the test plays the Gateway UE over A.3 and A.2): each wake is a fresh
AppClient given what the last one kept (snapshot() through the sleep record, as
msgin5g.dutycycle does); it takes up its registration and sends at once, without a
REGISTRATION REQUEST; deliveries taken before the sleep are still duplicates after it;
reports not yet sent are sent after it; idle() says when the cue may sleep."""
import json

from coap.codec import Message, decode, encode
from coap.endpoint import Endpoint, Params
from msgin5g import ids, sleepstate
from msgin5g.constrained import a2, a3
from msgin5g.constrained.appclient import AppClient
from tinytest import FakeClock

GW = ("10.0.0.1", 5683)
CON, ACK = 0, 2
POST = 2
MID = "5f0c6c1e-8d0b-4c53-9d53-3c1f0b2a9e11"


def keep(ac, clock):
    """What a sleep keeps of ac: its snapshot through the record's bytes, as resume() args."""
    reg, seen, reports = ac.snapshot()
    st = sleepstate.State()
    st.registered = reg
    st.reg_id = ac.reg_id if reg else 0
    st.seen = [(a, b, age // 1000) for a, b, age in seen]
    st.reports = reports
    st = sleepstate.decode(sleepstate.encode(st))
    return st.registered, [(a, b, age * 1000) for a, b, age in st.seen], st.reports, st.reg_id


class A3Wake:
    def __init__(self, kept=None, left_ms=60000):
        self.out = []
        self.clock = FakeClock(1000)
        self.ep = Endpoint(lambda d, a: self.out.append(decode(d)), Params(), self.clock,
                           rand=lambda: 0.0)
        self.ac = AppClient(GW, 7, ep=self.ep)
        self.got = []
        self.ac.on_message(None, self.got.append)
        self.resumed = None
        if kept is not None:
            reg, seen, reports, rid = kept
            self.resumed = self.ac.resume(left_ms if reg else 0, seen, reports, rid)

    def requests(self):
        o = [(m, json.loads(m.payload)) for m in self.out if m.code == POST]
        self.out = []
        return o

    def answer(self, m, code, body):
        r = Message(ACK, code, m.mid, m.token, [], a3.encode(body))
        r.add(12, 50)
        self.ep.received(encode(r), GW)
        self.ac.tick()

    def deliver(self, msg_id, mid, report=None):
        m = Message(CON, POST, mid, b"gw%d" % mid, [],
                    a3.encode(a3.msg_deliv_req(msg_id, "as-0042", "AS", b"on", 7, report)))
        m.set_path(["msgin5g-app", "7"])
        m.add(12, 50)
        self.ep.received(encode(m), GW)
        acks = [x for x in self.out if x.mtype == ACK and x.mid == mid]
        self.out = [x for x in self.out if x not in acks]
        return acks[0].code


def test_a3_wake_sends_at_once_without_registration():
    w = A3Wake()
    w.ac.start()
    (m, b), = w.requests()
    w.answer(m, 0x41, a3.reg_resp(1234))
    assert w.ac.reg_ms == w.clock() and w.ac.idle(True)
    kept = keep(w.ac, w.clock)
    assert kept[0] and kept[3] == 1234

    w2 = A3Wake(kept)
    assert w2.resumed and w2.ac.state == "REGISTERED" and w2.ac.reg_id == 1234
    res = []
    mid = w2.ac.send("as-0042", b"21.5", dest_type="AS", done=lambda *a: res.append(a))
    (m, b), = w2.requests()                 # the reading at once: no REGISTRATION REQUEST
    assert b["messageType"] == "MESSAGE SENDING REQUEST" and b["messageId"] == mid
    assert not w2.ac.idle() and w2.ac.last_io is None
    w2.answer(m, 0x44, a3.msg_recv_resp(True))
    assert res == [(mid, "ACCEPTED", None)] and w2.ac.idle(True)
    assert w2.ac.last_io == w2.clock() and w2.ac.reg_ms is None   # the kept one stays


def test_a3_no_registration_kept_means_registering():
    w = A3Wake((False, [], [], 0))
    assert w.resumed is False and w.ac.state == "CONFIGURED"
    w = A3Wake((True, [], [], 1234), left_ms=0)     # regTrustSec ran out
    assert w.resumed is False
    w = A3Wake((True, [], [], 0))                   # no Registration ID: cannot take it up
    assert w.resumed is False


def test_a3_delivery_before_the_sleep_is_a_duplicate_after_it():
    w = A3Wake((True, [], [], 1234))
    assert w.deliver(MID, 500) == 0x44 and len(w.got) == 1
    w2 = A3Wake(keep(w.ac, w.clock))
    # the gateway's retransmission meets a fresh endpoint (no CoAP deduplication): answered
    # 2.04 by its Message ID, not delivered again
    assert w2.deliver(MID, 500) == 0x44 and w2.got == []
    other = ids.new_msg_id()
    assert w2.deliver(other, 501) == 0x44 and [m["msgId"] for m in w2.got] == [other]


def test_a3_report_not_yet_sent_goes_out_after_the_sleep():
    w = A3Wake((True, [], [], 1234))
    assert w.deliver(MID, 500, report=True) == 0x44
    reg, seen, reports, rid = kept = keep(w.ac, w.clock)   # slept before its tick
    assert reports == [(MID, "as-0042")] and not w.ac.idle(True) and w.ac.idle()
    w2 = A3Wake(kept)
    w2.ac.tick()
    (m, b), = w2.requests()
    assert b["messageType"] == "DELIVERY REPORT SENDING REQUEST"
    assert b["replyToMessageId"] == MID and b["deliveryStatus"] == "DELIVERED"


def test_a3_gateway_forgot_the_cue_after_the_sleep():
    w = A3Wake((True, [], [], 1234))
    res = []
    mid = w.ac.send("as-0042", b"21.5", dest_type="AS", done=lambda *a: res.append(a))
    (m, b), = w.requests()
    w.answer(m, 0x83, a3.msg_recv_resp(False, "NOT_AUTHORIZED"))
    (m, b), = w.requests()
    assert b["messageType"] == "REGISTRATION REQUEST" and not w.ac.idle()
    w.answer(m, 0x41, a3.reg_resp(77))
    (m, b), = w.requests()
    assert b["messageId"] == mid
    w.answer(m, 0x44, a3.msg_recv_resp(True))
    assert res == [(mid, "ACCEPTED", None)] and w.ac.idle(True)
    assert keep(w.ac, w.clock)[3] == 77 and w.ac.reg_ms == w.clock()


class A2Wake:
    def __init__(self, kept=None):
        self.out = []
        self.clock = FakeClock(1000)
        self.ac = AppClient(GW, 7, send=lambda d, a: self.out.append(bytes(d)),
                            clock=self.clock)
        self.got = []
        self.ac.on_message(None, self.got.append)
        if kept is not None:
            reg, seen, reports, rid = kept
            self.resumed = self.ac.resume(60000 if reg else 0, seen, reports, rid)

    def take(self):
        o = self.out
        self.out = []
        return o


def test_a2_wake_and_duplicate_after_the_sleep():
    w = A2Wake((True, [], [], 1234))
    assert w.resumed and w.ac.state == "REGISTERED"
    res = []
    mid = w.ac.send("as-0042", b"21.5", dest_type="AS", done=lambda *a: res.append(a))
    (d,) = w.take()
    assert d[0] == a2.MSG_SEND_REQ and not w.ac.idle()
    w.ac.received(a2.encode({"type": 7, "msg_id": ids.to_bytes(mid), "result": 0}), GW)
    assert res == [(mid, "ACCEPTED", None)] and w.ac.idle(True)
    req = a2.encode({"type": 8, "target": "as-0042", "msg_id": ids.to_bytes(MID),
                     "payload": b"on", "target_type": 2})
    w.ac.received(req, GW)
    assert len(w.got) == 1 and w.take() == [b"\x07" + ids.to_bytes(MID) + b"\x00"]
    w2 = A2Wake(keep(w.ac, w.clock))
    w2.ac.received(req, GW)                 # retransmitted after the sleep: answered only
    assert w2.got == [] and w2.take() == [b"\x07" + ids.to_bytes(MID) + b"\x00"]
