# heapsize: 64k
# board-heapsize: 28k   (unix32, library frozen; measured minimum 22k)
"""coap.udp and coap.aio over real loopback sockets: an endpoint whose heap cannot give the
receive buffer (MemoryError) leaves the datagram queued, waits a little and carries on; it
never spins and never loses its reader."""
import sys
import time

from coap.udp import UdpEndpoint, resolve

PORT = 18741
GET = 1


class _Hungry:
    """The endpoint's socket, whose first `fails` recvfrom calls find no heap (as on a board
    whose heap has no free 1280-byte block), then recover."""

    def __init__(self, sock, fails):
        self.s = sock
        self.fails = fails
        self.calls = 0

    def recvfrom(self, size):
        self.calls += 1
        if self.calls <= self.fails:
            raise MemoryError
        return self.s.recvfrom(size)


def _pair():
    srv = UdpEndpoint("127.0.0.1", PORT)
    srv.resource("x", lambda req: (0x45, b"ok", 0))
    return srv, UdpEndpoint("127.0.0.1", 0)


def test_poll_waits_out_a_memory_error_and_answers():
    srv, cli = _pair()
    real = srv.sock
    srv.sock = _Hungry(real, 2)
    try:
        r = cli.request(resolve("127.0.0.1", PORT), GET, "x")
        t0 = time.ticks_ms()
        for _ in range(100):
            srv.poll(50)
            cli.poll(5)
            if r.done:
                break
        dt = time.ticks_diff(time.ticks_ms(), t0)
        assert r.done and r.code == 0x45 and r.response.payload == b"ok", (r.error, r.code)
        assert srv.sock.calls >= 3 and srv.ml.received == 1    # the datagram, once
        assert dt >= 2 * 10                  # it waited between attempts instead of spinning
    finally:
        srv.sock = real
        srv.close()
        cli.close()


def test_async_reader_outlives_a_memory_error():
    if sys.implementation.name != "micropython":
        return                               # CPython's loop calls _drain itself: no task
    import asyncio
    srv, cli = _pair()
    drain = srv._drain
    fails = [2]

    def hungry_drain():
        if fails[0]:
            fails[0] -= 1
            raise MemoryError
        drain()

    srv._drain = hungry_drain

    async def main():
        task = asyncio.create_task(srv.run())
        await asyncio.sleep_ms(0)
        r = cli.request(resolve("127.0.0.1", PORT), GET, "x")
        for _ in range(200):
            cli.poll(0)
            if r.done:
                break
            await asyncio.sleep_ms(5)
        task.cancel()
        return r

    try:
        r = asyncio.run(main())
        assert fails[0] == 0 and r.done and r.code == 0x45, (r.error, r.code)
    finally:
        srv.close()
        cli.close()
