# heapsize: 160k
# board-heapsize: 38k   (unix32, library frozen; measured minimum 30k)
"""Relay UE driven without sockets: datagrams between fake constrained UEs, the relay and a
fake server; then a real MSGin5G Client registering and messaging through it (PC-02, PC-09)."""
import json

from coap.codec import Message, decode, encode
from coap.endpoint import Endpoint, Params
from msgin5g import wire
from msgin5g.client import Client
from msgin5g.constrained.relay import Relay
from tinytest import FakeClock

SRV = ("10.0.0.9", 5683)
CUE1 = ("10.0.2.1", 5683)
CUE2 = ("10.0.2.2", 5683)
CON, NON, ACK, RST = 0, 1, 2, 3
POST = 2


class World:
    def __init__(self, **kw):
        self.clock = FakeClock(1000)
        self.out = []
        self.r = Relay(lambda d, a: self.out.append((decode(bytes(d)), a)), SRV, "srv.example",
                       self.clock, **kw)

    def feed(self, m, addr):
        self.r.received(encode(m), addr)
        o = self.out
        self.out = []
        return o


def req(mid, tok, body=None, host="srv.example", path=("msgin5g",), mtype=CON):
    m = Message(mtype, POST, mid, tok)
    if host:
        m.add(3, host)
    m.set_path(list(path))
    m.add(12, 50)
    if body is not None:
        m.payload = json.dumps(body).encode()
    return m


REG_A = {"msgType": "REG", "ueServiceId": "ue-a"}
REG_B = {"msgType": "REG", "ueServiceId": "ue-b"}


def test_uplink_keeps_token_translates_mid_and_routes_ack_back():
    w = World()
    (m, a), = w.feed(req(0x1234, b"tokA", REG_A), CUE1)
    assert a == SRV and m.token == b"tokA" and m.opt(3) == b"srv.example"
    assert m.path() == ["msgin5g"] and json.loads(m.payload) == REG_A
    up = m.mid
    (m2, a2), = w.feed(req(0x1234, b"tokA", REG_A), CUE1)   # CUE retransmits: same relay MID
    assert m2.mid == up
    (r, a), = w.feed(Message(ACK, 0x41, up, b"tokA"), SRV)
    assert a == CUE1 and r.mid == 0x1234 and r.code == 0x41 and r.token == b"tokA"
    assert w.r.ues.get("ue-a", w.clock()) == CUE1


def test_two_cues_same_mid_stay_apart():
    w = World()
    (m1, _), = w.feed(req(7, b"t1", REG_A), CUE1)
    (m2, _), = w.feed(req(7, b"t2", REG_B), CUE2)
    assert m1.mid != m2.mid
    (r, a), = w.feed(Message(ACK, 0x41, m2.mid, b"t2"), SRV)
    assert a == CUE2 and r.mid == 7
    (r, a), = w.feed(Message(ACK, 0x41, m1.mid, b"t1"), SRV)
    assert a == CUE1 and r.mid == 7
    assert w.feed(Message(ACK, 0x41, 0xBEEF, b"zz"), SRV) == []   # unknown: dropped


def test_uplink_to_other_host_gets_404():
    w = World()
    (r, a), = w.feed(req(9, b"tk", REG_A, host="elsewhere"), CUE1)
    assert a == CUE1 and r.mtype == ACK and r.code == 0x84 and r.mid == 9 and r.token == b"tk"
    assert w.feed(req(10, b"tk", REG_A, host=None), CUE1)[0][0].code == 0x84
    assert w.feed(req(11, b"tk", REG_A, host="elsewhere", mtype=NON), CUE1) == []
    assert w.r.count["up"] == 0


def test_downlink_to_connected_cue_and_its_ack():
    w = World()
    w.feed(req(1, b"t1", REG_A), CUE1)
    dl = req(0x5000, b"dd", {"msgType": "MSG"}, host=None, path=("msgin5g", "ue", "ue-a"))
    (m, a), = w.feed(dl, SRV)
    assert a == CUE1 and encode(m) == encode(dl)                     # unchanged
    (m, a), = w.feed(Message(ACK, 0x44, 0x5000, b"dd"), CUE1)
    assert a == SRV and m.mid == 0x5000 and m.code == 0x44
    assert w.feed(Message(ACK, 0x44, 0x5001, b"dd"), CUE1) == []    # nothing to acknowledge
    # not a connected CUE -> 4.04 to the server (6.4.2.4.1)
    (m, a), = w.feed(req(0x5002, b"ee", {}, host=None, path=("msgin5g", "ue", "ue-z")), SRV)
    assert a == SRV and m.mtype == ACK and m.code == 0x84 and m.mid == 0x5002
    (m, a), = w.feed(req(0x5003, b"ee", {}, host=None, path=("other",)), SRV)
    assert m.code == 0x84


def test_separate_responses_both_ways():
    w = World()
    (m, _), = w.feed(req(0x10, b"sep1", REG_A), CUE1)
    (e, a), = w.feed(Message(ACK, 0, m.mid), SRV)                    # empty ACK
    assert a == CUE1 and e.mid == 0x10 and e.code == 0
    (s, a), = w.feed(Message(CON, 0x41, 0x6000, b"sep1"), SRV)       # separate response
    assert a == CUE1 and s.mid == 0x6000 and s.token == b"sep1"
    (k, a), = w.feed(Message(ACK, 0, 0x6000), CUE1)
    assert a == SRV and k.mid == 0x6000
    (r, a), = w.feed(Message(CON, 0x44, 0x6001, b"nobody"), SRV)     # unknown token: RST
    assert a == SRV and r.mtype == RST and r.mid == 0x6001
    # a CUE's separate response to a server request goes up under a relay MID
    dl = req(0x6002, b"dl2", {}, host=None, path=("msgin5g", "ue", "ue-a"))
    w.feed(dl, SRV)
    w.feed(Message(ACK, 0, 0x6002), CUE1)
    (u, a), = w.feed(Message(CON, 0x44, 0x77, b"dl2"), CUE1)
    assert a == SRV and u.token == b"dl2" and u.code == 0x44
    (b, a), = w.feed(Message(ACK, 0, u.mid), SRV)
    assert a == CUE1 and b.mid == 0x77


def test_ping_through_the_relay():
    w = World()
    (p, a), = w.feed(Message(CON, 0, 0x99), CUE1)
    assert a == SRV and p.code == 0 and p.mtype == CON
    (r, a), = w.feed(Message(RST, 0, p.mid), SRV)
    assert a == CUE1 and r.mtype == RST and r.mid == 0x99
    (r, a), = w.feed(Message(CON, 0, 0x4242), SRV)                   # ping to the relay
    assert a == SRV and r.mtype == RST and r.mid == 0x4242


def test_spoofed_originator_and_garbage():
    w = World()
    w.feed(req(1, b"t1", REG_A), CUE1)
    spoof = {"msgType": "MSG", "oriAddr": {"addrType": "UE", "addr": "ue-a"}}
    (r, a), = w.feed(req(2, b"t2", spoof), CUE2)
    assert a == CUE2 and r.code == 0x83
    (m, a), = w.feed(req(3, b"t3", spoof), CUE1)
    assert a == SRV
    w.feed(req(4, b"t4", REG_A), CUE2)                                # REG moves the binding
    assert w.r.ues.get("ue-a", w.clock()) == CUE2
    w.r.received(b"\x00\x01", CUE1)
    w.r.received(b"\x40", SRV)
    assert w.out == [] and w.r.count["dropped"] == 2


def test_tables_are_bounded_and_expire():
    w = World(size=4)
    mids = []
    for i in range(6):
        (m, _), = w.feed(req(i, b"t%d" % i, REG_A), CUE1)
        mids.append(m.mid)
        w.clock.advance(1)
    assert len(w.r._up) == 4 and len(w.r._tok) <= 4
    assert w.feed(Message(ACK, 0x44, mids[0], b"t0"), SRV) == []      # forgotten (oldest)
    assert w.feed(Message(ACK, 0x44, mids[5], b"t5"), SRV)[0][1] == CUE1
    w.clock.advance(247000 - 2)
    assert w.feed(Message(ACK, 0x44, mids[4], b"t4"), SRV) == []      # expired
    assert w.feed(Message(ACK, 0x44, mids[5], b"t5"), SRV)[0][1] == CUE1


class Net:
    """A real Client (the CUE) -> Relay -> a scripted server, all through encoded datagrams."""

    def __init__(self):
        self.clock = FakeClock(1000)
        self.srv_in = []
        self.r = Relay(self.relay_send, SRV, "srv.example", self.clock)
        self.ep = Endpoint(lambda d, a: self.r.received(d, CUE1), Params(), self.clock,
                           rand=lambda: 0.0)
        self.c = Client(self.ep, ("relay",), "ue-a", "srv.example", keepalive_ms=0)
        self.got = []
        self.c.on_message(None, self.got.append)

    def relay_send(self, data, addr):
        if addr == SRV:
            self.srv_in.append(decode(bytes(data)))
        else:
            assert addr == CUE1
            self.ep.received(bytes(data), ("relay",))

    def srv_answer(self, m, code):
        self.r.received(encode(Message(ACK, code, m.mid, m.token)), SRV)
        self.c.tick()


def test_client_registers_and_receives_through_relay():
    n = Net()
    n.c.start()
    (m,) = n.srv_in
    n.srv_in = []
    assert json.loads(m.payload)["ueServiceId"] == "ue-a"
    n.srv_answer(m, 0x41)
    assert n.c.state == "REGISTERED"
    n.c.send("as-1", b"hi", dest_type="AS")
    (m,) = n.srv_in
    n.srv_in = []
    assert json.loads(m.payload)["oriAddr"]["addr"] == "ue-a"
    n.srv_answer(m, 0x44)
    assert n.c.count["accepted"] == 1
    body = wire.msg(wire.addr("AS", "as-1"), wire.addr("UE", "ue-a"),
                    "5f0c6c1e-8d0b-4c53-9d53-3c1f0b2a9e11", b"yo", 3)
    dl = Message(CON, POST, 0x7000, b"dl", [], wire.encode(body))
    dl.set_path(["msgin5g", "ue", "ue-a"])
    dl.add(12, 50)
    n.r.received(encode(dl), SRV)
    (ack,) = n.srv_in
    assert ack.mtype == ACK and ack.mid == 0x7000 and ack.code == 0x44 and ack.token == b"dl"
    assert n.got[0]["payload"] == b"yo"
