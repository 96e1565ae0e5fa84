"""A socket-free CoAP world for portable tests: an Endpoint whose datagrams go to a list,
driven by a FakeClock (used by test_coap_exchange*.py)."""
from coap.codec import decode, encode
from coap.endpoint import Endpoint, Params
from tinytest import FakeClock

CON, NON, ACK, RST = 0, 1, 2, 3
GET, POST = 1, 2
A = ("10.0.0.1", 5683)
B = ("10.0.0.2", 5683)


class Net:
    def __init__(self, **params):
        self.out = []
        self.clock = FakeClock(1000)
        self.ep = Endpoint(self.send, Params(**params), self.clock, rand=lambda: 0.0)

    def send(self, data, addr):
        self.out.append((decode(data), addr))

    def take(self):
        o = self.out
        self.out = []
        return o

    def recv(self, msg, addr=A):
        self.ep.received(encode(msg), addr)

    def at(self, t):
        self.clock.t = t
        return self.ep.tick()
