"""A CoAP Endpoint over a modem Link: what coap.udp.UdpEndpoint is over a socket.

    from modem.link import Link
    from modem.endpoint import ModemEndpoint, resolve
    link = Link(uart, "bg95", apn="iot")
    ep = ModemEndpoint(link)            # starts the link
    c = Client(ep, resolve("192.0.2.1", 5683), "ue-1", ...)   # the Client sees an Endpoint
    while True:
        ep.poll(1000)                   # or: asyncio.create_task(ep.run())

The endpoint's send is link.sendto; datagrams read from the modem go to received(). tick()
runs the endpoint's timers, then the link (so a datagram queued by a retransmission goes out
in the same tick). For asyncio, ep.sock is what the UART reader waits on (coap.aio.run).
"""
import select
import time

from coap.endpoint import Endpoint
from modem.link import MAX_DATAGRAM


def resolve(host, port):
    """A modem address: (host, port). The modem resolves names itself (CAOPEN/QIOPEN take a
    domain, MODEM.md 4, 5); replies come from the socket's peer, so they match."""
    return (host, port)


class ModemEndpoint(Endpoint):
    resolve = staticmethod(resolve)     # as UdpEndpoint.resolve: no host socket needed

    def __init__(self, link, params=None, bufsize=MAX_DATAGRAM, start=True, **kw):
        self.link = link
        self.bufsize = bufsize
        u = link.ch.uart
        self.sock = getattr(u, "stream", u)     # pollable: machine.UART, or PtyUart's file
        Endpoint.__init__(self, link.sendto, params, **kw)
        link.on_datagram = self._in
        self._poller = None
        if start and link.state == "off":
            link.start()

    def close(self):
        c = getattr(self.link.ch.uart, "close", None)
        if c is not None:
            c()

    def _in(self, data, addr):
        if len(data) > self.bufsize:
            self.too_long(data, addr)
        else:
            self.received(data, addr)

    def _drain(self):
        self.link.tick()

    def tick(self):
        w = Endpoint.tick(self)
        v = self.link.tick()
        if v is not None and (w is None or v < w):
            w = v
        return w

    def poll(self, timeout_ms=0):
        """Run due work, then wait up to timeout_ms (less if a timer comes first) for bytes
        from the modem and handle them."""
        w = self.tick()
        if w is None or w > timeout_ms:
            w = timeout_ms
        if w > 0:
            p = self._poller
            if p is None:
                try:
                    p = select.poll()
                    p.register(self.sock, select.POLLIN)
                except (TypeError, OSError, AttributeError):
                    p = False           # not pollable: short sleeps
                self._poller = p
            if p:
                p.poll(w)
            else:
                time.sleep_ms(min(w, 10))
        self.tick()

