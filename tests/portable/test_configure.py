# heapsize: 128k
# board-heapsize: 22k   (unix32, library frozen; measured minimum 17k)
"""Configuration retrieval (PC-13) driven without sockets: the test plays the SEAL server."""
from coap.codec import Message, decode, encode
from coap.endpoint import Endpoint, Params
from msgin5g.configure import Configurator
from tinytest import FakeClock

SRV = ("10.0.0.5", 5683)
XML = (b'<?xml version="1.0"?><seal-UE-configuration xmlns:m5="urn:3gpp:ns:seal:MSGin5GUEConfig:1.0">'
       b'<on-network><m5:MSGin5G-Server-address>coap://10.0.0.9:5683</m5:MSGin5G-Server-address>'
       b'<m5:MSGin5G-UE-Service-id>ue-7</m5:MSGin5G-UE-Service-id><m5:Segment-size>256'
       b'</m5:Segment-size></on-network></seal-UE-configuration>')


class W:
    def __init__(self, pre=None):
        self.out = []
        self.clock = FakeClock(100)
        self.ep = Endpoint(lambda d, a: self.out.append(decode(d)), Params(), self.clock,
                           rand=lambda: 0.0)
        self.res = []
        self.cf = Configurator(self.ep, SRV, "cfg.example", "dev-7", "ue-7", pre,
                               backoff_ms=1000)
        self.cf.start(lambda r, v: self.res.append((r, v)))

    def answer(self, code, payload=b""):
        (m,) = self.out
        self.out = []
        self.ep.received(encode(Message(2, code, m.mid, m.token, [], payload)), SRV)
        return m


def test_request_wire_format_and_success():
    w = W()
    m = w.answer(0x45, XML)
    assert m.code == 1 and m.path() == ["su-uc", "v1", "val-services", "msgin5g",
                                        "ue-configurations"]
    assert [v for n, v in m.options if n == 15] == [b"val-ue-id=dev-7", b"val-user-id=ue-7"]
    assert m.uint(17) == 41 and m.opt(3) == b"cfg.example"
    assert w.res == [("OK", {"server": "coap://10.0.0.9:5683", "ueServiceId": "ue-7",
                             "segmentSize": 256})]


def test_not_found_falls_back_to_preconfiguration_or_retries():
    pre = {"server": "coap://h", "ueServiceId": "u"}
    w = W(pre)
    w.answer(0x84)
    assert w.res == [("PRECONFIGURED", pre)]
    w = W()
    w.answer(0x84)
    assert w.res == [] and w.cf.state == "BACKOFF"
    d = w.cf.tick()
    assert 800 <= d <= 1200
    w.clock.advance(d)
    w.cf.tick()
    w.answer(0x45, XML)
    assert w.res[0][0] == "OK"


def test_forbidden_error_and_server_failure():
    w = W()
    w.answer(0x83)
    assert w.res == [("FORBIDDEN", None)] and w.cf.tick() > 80000000
    w = W()
    w.answer(0x80)
    assert w.res[0][0] == "ERROR" and w.cf.tick() is None
    w = W()
    w.answer(0xA0)
    assert w.res == [] and w.cf.state == "BACKOFF"
    w = W()
    w.answer(0x45, b"<not-a-config/>")
    assert w.res[0][0] == "ERROR"
