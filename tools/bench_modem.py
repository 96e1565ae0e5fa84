# MicroPython (unix port) helper for tools/bench.py modem_figures(): the modem layer over a
# tools/modemsim pty, the MSGin5G Client on top, under asyncio as a device runs it.
#
#   micropython bench_modem.py PTY MODEL HOST PORT N SIZE
#
# Prints "key value" lines: heap of the modem layer (imports, Link with its buffers; what
# the on-demand modules add while a procedure runs; how many are loaded once the link is up),
# then "registered" and waits for a line on stdin (the bench reads the simulator's counters),
# sends N messages of SIZE octets to an AS one after the other (each after the last one's
# 2.04), prints the send()-to-2.04 times and "messages", waits for a line, then one raw 1400-octet CoAP datagram (the largest
# a modem carries is 1460) while a task records the largest gap between its wake-ups, and
# "done"; then waits for a line again (the bench reads the counters) and exits.
import gc
import sys
import time

import asyncio
from coap.endpoint import Endpoint  # noqa: F401  (the stack is not the modem layer's heap)
from msgin5g.client import Client  # noqa: F401

pty, model, host, port, n, size = sys.argv[1:7]
port, n, size = int(port), int(n), int(size)
gc.collect()
a0 = gc.mem_alloc()
from modem.link import Link  # noqa: E402
from modem.endpoint import ModemEndpoint, resolve  # noqa: E402
from modem.port import PtyUart  # noqa: E402
__import__("modem." + ("sim7080" if model == "sim7080" else "bg95"))
gc.collect()
a1 = gc.mem_alloc()
link = Link(PtyUart(pty), model, apn="iot")
gc.collect()
a2 = gc.mem_alloc()
print("modem_import_heap", a1 - a0)
print("modem_link_heap", a2 - a1)
# what the modules a link imports on demand (a bring-up, a wake, a rare URC) add while they are
# loaded; forget_rare() drops them, as the link does once it is up
from modem.link import forget_rare  # noqa: E402
__import__("modem.bringup")
gc.collect()
print("modem_procedure_heap", gc.mem_alloc() - a2)
forget_rare()
RARE = ("modem.bringup", "modem.codes")
ep = ModemEndpoint(link)
stall = [0, False]


async def watch():
    # the largest gap between wake-ups of a task that asks for 5 ms: what the loop lost
    t = time.ticks_ms()
    while True:
        await asyncio.sleep_ms(5)
        now = time.ticks_ms()
        if stall[1]:
            stall[0] = max(stall[0], time.ticks_diff(now, t) - 5)
        t = now


async def main():
    asyncio.create_task(ep.run())
    asyncio.create_task(watch())
    c = Client(ep, resolve(host, port), "bench-modem", host, keepalive_ms=0)
    done = []
    c.on_result(lambda mid, st, cause: done.append(st))
    while not link.up:
        await asyncio.sleep_ms(20)
    c.start()
    ep.kick()
    while c.state != "REGISTERED":
        w = c.tick()
        await asyncio.sleep_ms(min(w or 20, 20))
    print("modem_rare_loaded_when_up", len([m for m in RARE if m in sys.modules]))
    print("registered", 1)
    sys.stdin.readline()
    stall[1] = True
    times = []
    payload = bytes((i * 7 + 3) % 256 for i in range(size))
    for i in range(n):
        t0 = time.ticks_ms()
        c.send("as-bench", payload, dest_type="AS")
        while len(done) <= i:
            w = c.tick()
            await asyncio.sleep_ms(min(w or 2, 2))
        times.append(time.ticks_diff(time.ticks_ms(), t0))
    times.sort()
    print("send_to_204_ms_p50", times[len(times) // 2])
    print("send_to_204_ms_max", times[-1])
    print("msg_stall_ms", stall[0])
    print("messages", 1)
    sys.stdin.readline()
    stall[0] = 0
    from coap.aio import request
    r = await request(ep, resolve(host, port), 2, "bench-large", bytes(1400), timeout=5000)
    print("large_stall_ms", stall[0])
    print("large_code", r.code or r.error)
    print("done", 1)
    sys.stdin.readline()


asyncio.run(main())
