# heapsize: 135k
# board-heapsize: 44k   (unix32, library frozen; measured minimum 35k)
"""The client across deep sleep (issue 13), driven without sockets (fake clock, the test plays
the server): a wake takes up the registration and sends at once, without a REG; a server
that no longer knows the UE answers 4.03 without body, and the client re-registers and sends
the same msgId again (PC-24, PC-15); msgIds seen before the sleep are still duplicates after
it (PC-26); idle() says when the device may sleep."""
import json

from coap.codec import Message, decode, encode
from coap.endpoint import Endpoint, Params
from msgin5g import sleepstate, wire
from msgin5g.client import Client
from tinytest import FakeClock

SRV = ("10.0.0.9", 5683)
CON, ACK = 0, 2
POST = 2
MID = "11111111-2222-4333-8444-555555555555"


class World:
    """One wake of the device: a fresh endpoint and client, as after a reset."""

    def __init__(self, t=5000):
        self.out = []
        self.clock = FakeClock(t)
        self.ep = Endpoint(self.send, Params(), self.clock, rand=lambda: 0.0)
        self.c = Client(self.ep, SRV, "ue-1", "srv.example", backoff_ms=1000)
        self.got = []
        self.results = []
        self.c.on_message(None, self.got.append)
        self.c.on_result(lambda *a: self.results.append(a))

    def send(self, data, addr):
        self.out.append(decode(data))

    def requests(self):
        o = [(m, json.loads(m.payload)) for m in self.out if m.code == POST]
        self.out = []
        return o

    def answer(self, m, code, payload=b""):
        self.ep.received(encode(Message(ACK, code, m.mid, m.token, [], payload)), SRV)
        self.c.tick()

    def downlink(self, body, mid=900):
        m = Message(CON, POST, mid, b"dl%d" % mid, [], wire.encode(body))
        m.set_path(["msgin5g", "ue", "ue-1"])
        m.add(12, 50)
        self.ep.received(encode(m), SRV)
        r = [x for x in self.out if x.mtype == ACK and x.mid == mid]
        self.out = [x for x in self.out if x not in r]
        return r[0]


def _sleep(w):
    """What the device keeps: the record's bytes (through the codec, as on a board)."""
    reg, seen, reps = w.c.snapshot()
    st = sleepstate.State()
    st.registered = reg
    st.seen = [(a, b, age // 1000) for a, b, age in seen]
    st.reports = reps
    return sleepstate.decode(sleepstate.encode(st))


def _wake(st, left_ms=3600000, t=5000):
    w = World(t)
    ok = w.c.resume(left_ms if st.registered else 0,
                    [(a, b, age * 1000) for a, b, age in st.seen], st.reports)
    return w, ok


def test_cold_boot_registers_then_a_wake_sends_at_once_without_reg():
    w = World()
    w.c.start()
    (m, b), = w.requests()
    assert b["msgType"] == "REG"
    w.answer(m, 0x41)
    mid = w.c.send("as-1", b"21.5", dest_type="AS")
    (m, b), = w.requests()
    w.answer(m, 0x44)
    assert w.c.idle() and w.results == [(mid, "ACCEPTED", None)]
    st = _sleep(w)
    assert st.registered
    w2, ok = _wake(st)
    assert ok and w2.c.state == "REGISTERED" and w2.c.count["resumed"] == 1
    mid2 = w2.c.send("as-1", b"21.6", dest_type="AS")
    (m, b), = w2.requests()                       # the MSG first: no REG
    assert b["msgType"] == "MSG" and b["msgId"] == mid2
    w2.answer(m, 0x44)
    assert w2.results == [(mid2, "ACCEPTED", None)] and w2.requests() == []
    assert w2.c.count["registrations"] == 0 and w2.c.idle()


def test_unknown_ue_reregisters_and_sends_the_same_msgid_again():
    st = sleepstate.State()
    st.registered = True
    w, ok = _wake(st)
    assert ok
    mid = w.c.send("as-1", b"x", dest_type="AS")
    (m, b), = w.requests()
    w.answer(m, 0x83, b"originator not registered")   # the reference server's answer
    assert w.results == [] and not w.c.idle()
    (m, b), = w.requests()
    assert b["msgType"] == "REG" and w.c.state == "REGISTERING"
    w.answer(m, 0x41)
    (m, b), = w.requests()
    assert b["msgType"] == "MSG" and b["msgId"] == mid   # the same message again
    w.answer(m, 0x44)
    assert w.results == [(mid, "ACCEPTED", None)] and w.c.count["registrations"] == 1
    assert w.c.reg_ms == 5000 and w.c.idle()


def test_a_second_403_after_reregistering_fails_the_message():
    st = sleepstate.State()
    st.registered = True
    w, _ = _wake(st)
    mid = w.c.send("as-1", b"x", dest_type="AS")
    (m, _), = w.requests()
    w.answer(m, 0x83)
    (m, _), = w.requests()
    w.answer(m, 0x44)                              # REG 2.04
    (m, _), = w.requests()
    w.answer(m, 0x83)                              # still refused: no loop
    assert w.results == [(mid, "FAILED", "forbidden")]
    assert w.requests() == []


def test_registration_due_or_not_kept_means_reg():
    st = sleepstate.State()
    st.registered = True
    w, ok = _wake(st, left_ms=0)                   # trust ran out: a normal registration
    assert not ok and w.c.state == "CONFIGURED"
    st.registered = False
    w, ok = _wake(st)
    assert not ok
    w.c.start()
    (m, b), = w.requests()
    assert b["msgType"] == "REG"


def test_reregistration_due_while_awake():
    st = sleepstate.State()
    st.registered = True
    w, _ = _wake(st, left_ms=3000)
    assert 2999 <= w.c.tick() <= 3000
    w.clock.advance(3000)
    w.c.tick()
    (m, b), = w.requests()
    assert b["msgType"] == "REG"


def test_msgids_seen_before_the_sleep_are_duplicates_after_it():
    w = World()
    w.c.start()
    (m, _), = w.requests()
    w.answer(m, 0x41)
    body = wire.msg(wire.addr("AS", "as-1"), wire.addr("UE", "ue-1"), MID, b"stored")
    assert w.downlink(body).code == 0x44 and len(w.got) == 1
    w.clock.advance(1000)
    st = _sleep(w)
    assert len(st.seen) == 1 and st.seen[0][2] == 1
    w2, _ = _wake(st, t=123)                       # ticks start again after a reset
    assert w2.downlink(body).code == 0x44          # the server sends it again: 2.04 ...
    assert w2.got == [] and w2.c.count["duplicates"] == 1   # ... not delivered twice
    other = dict(body)
    other["msgId"] = MID[:-1] + "6"
    w2.downlink(other, mid=901)
    assert len(w2.got) == 1


def test_old_msgids_are_forgotten_and_reports_awaited_are_kept():
    w = World()
    w.c.start()
    (m, _), = w.requests()
    w.answer(m, 0x41)
    w.downlink(wire.msg(wire.addr("AS", "as-1"), wire.addr("UE", "ue-1"), MID, b"x"))
    mid = w.c.send("as-1", b"r", dest_type="AS", report=True)
    (m, _), = w.requests()
    w.answer(m, 0x44)
    assert w.c.idle() and not w.c.idle(reports=True)   # a report is awaited
    w.clock.advance(601000)                          # PC-26: 10 min
    st = _sleep(w)
    assert st.seen == [] and st.reports == [(mid, "as-1")]
    w2, _ = _wake(st)
    assert not w2.c.idle(reports=True)
    w2.downlink(wire.imdn(wire.addr("AS", "as-1"), wire.addr("UE", "ue-1"), mid,
                          "REPT_DELY_SUCCESS"))
    assert w2.c.idle(reports=True)


def test_idle_while_queued_in_flight_or_registering():
    w = World()
    assert w.c.idle()
    w.c.start()
    assert not w.c.idle()                          # REG in flight
    (m, _), = w.requests()
    w.answer(m, 0x41)
    assert w.c.idle() and w.c.last_io == 5000
    w.c.send("as-1", b"x", dest_type="AS")
    assert not w.c.idle()
    (m, _), = w.requests()
    w.clock.advance(40)
    w.answer(m, 0x44)
    assert w.c.idle() and w.c.last_io == 5040      # awakeSec counts from here
