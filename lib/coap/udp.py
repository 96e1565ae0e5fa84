"""UDP I/O for an Endpoint: one non-blocking socket and a poll() loop (asyncio: coap.aio).

Works on board ports (lwIP: addresses are (ip, port) tuples), on the unix port (addresses are
raw sockaddr bytes from getaddrinfo/recvfrom) and on CPython. Addresses are opaque to the
stack: always obtain them with resolve() or from a received datagram.
"""
import select
import socket
import time

from coap.endpoint import Endpoint


def resolve(host, port):
    a = socket.getaddrinfo(host, port, 0, socket.SOCK_DGRAM)[0][-1]
    return bytes(a) if isinstance(a, bytearray) else a  # unix port: bytearray is unhashable


class UdpEndpoint(Endpoint):
    """An Endpoint bound to a UDP socket. port=0 lets the OS pick (ephemeral). bufsize is the
    largest datagram accepted; a longer one gets 4.13 (Endpoint.too_long)."""

    # ep.resolve(host, port): an address as this endpoint's send takes it. Code that is given
    # an endpoint (msgin5g.device) resolves through it: a ModemEndpoint's addresses differ.
    resolve = staticmethod(resolve)

    def __init__(self, host="0.0.0.0", port=0, params=None, bufsize=1280, **kw):
        self.sock = s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(resolve(host, port))
        s.setblocking(False)
        self.bufsize = bufsize
        # Reads ask for one octet more than accepted: a datagram that fills that buffer was
        # longer than bufsize (recvfrom drops the rest without saying so). recvfrom allocates
        # its result anyway; this costs no more objects.
        self._rx = bufsize + 1
        self._poller = p = select.poll()
        p.register(s, select.POLLIN)
        self._wait = getattr(p, "ipoll", p.poll)    # MicroPython's ipoll allocates nothing
        Endpoint.__init__(self, s.sendto, params, **kw)

    def close(self):
        self.sock.close()

    def _drain(self):
        """Read and process every datagram that is waiting. A MemoryError (no heap left for
        the receive buffer) goes to the caller with the datagram still queued in the socket."""
        while True:
            try:
                data, addr = self.sock.recvfrom(self._rx)
            except OSError:
                return
            self._in(data, addr)

    def _in(self, data, addr):
        if len(data) > self.bufsize:
            self.too_long(data, addr)   # cut short: only its header is known
        else:
            self.received(data, addr)

    def poll(self, timeout_ms=0):
        """Run due timers, then wait up to timeout_ms (less if a timer comes first) for one
        datagram and process it."""
        w = self.tick()
        if w is None or w > timeout_ms:
            w = timeout_ms
        if w < 0:
            w = 0
        for _ in self._wait(w):     # one datagram: no extra recvfrom ending in EAGAIN
            try:
                data, addr = self.sock.recvfrom(self._rx)
            except OSError:
                return
            except MemoryError:
                # Too little (or too fragmented) heap: leave the datagram queued, let timers
                # and the GC free something, and do not spin on a readable socket.
                time.sleep_ms(min(w, 20))
            else:
                self._in(data, addr)

