"""asyncio runner for a UdpEndpoint (or DtlsEndpoint): `asyncio.create_task(ep.run())`.

Kept out of coap.udp so that a device driven by a plain loop (ep.poll / ep.call) never loads
asyncio glue. One reader waits on the socket, one loop runs the endpoint's timers and sleeps
until the next one is due or ep.kick() signals new work.
"""
import sys

import asyncio

_MP = sys.implementation.name == "micropython"


async def run(ep):
    """Serve ep forever."""
    ev = asyncio.Event()
    ep.kick = ev.set

    def readable():             # CPython: the event loop calls this when data waits
        ep._drain()
        ev.set()

    async def reader():         # MicroPython: one task waits on the socket
        while True:
            yield asyncio.core._io_queue.queue_read(ep.sock)
            try:
                ep._drain()
            except MemoryError:
                # No heap for the receive buffer: the datagram stays queued in the socket.
                # Never let this task die (the device would go deaf); retry shortly.
                await asyncio.sleep_ms(20)
            ev.set()

    if _MP:
        asyncio.create_task(reader())
    else:
        asyncio.get_event_loop().add_reader(ep.sock.fileno(), readable)
    try:
        while True:
            w = ep.tick()
            ev.clear()
            if w is None:
                await ev.wait()
            else:
                try:
                    await asyncio.wait_for_ms(ev.wait(), max(w, 1))
                except asyncio.TimeoutError:
                    pass
    finally:
        if not _MP:
            asyncio.get_event_loop().remove_reader(ep.sock.fileno())


async def request(ep, addr, code, path=None, payload=b"", **kw):
    """Send a request and wait for its end without blocking other tasks; returns the Req."""
    ev = asyncio.Event()
    r = ep.request(addr, code, path, payload, callback=lambda r: ev.set(), **kw)
    if not r.done:
        await ev.wait()
    return r
