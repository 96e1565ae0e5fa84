# MicroPython-side driver for tests/host/test_dtls.py (run by the unix port, not by pytest).
#   dtls_mp.py bench PLAIN_PORT DTLS_PORT N PSK   -> JSON: handshake ms, round trips/s
#   dtls_mp.py async DTLS_PORT PSK                -> JSON: asyncio run() and coap.aio.request results
#   dtls_mp.py restart DTLS_PORT PSK              -> steps driven by lines on stdin
import json
import sys
import time

from coap import const as C
from coap.dtls import DtlsEndpoint
from coap.endpoint import Params
from coap.udp import UdpEndpoint, resolve


def rate(ep, addr, n):
    t = time.ticks_us()
    for _ in range(n):
        r = ep.call(addr, C.GET, "time")
        assert r.code == C.CONTENT, r.error
    return int(n * 1000000 / time.ticks_diff(time.ticks_us(), t))


def bench(plain_port, dtls_port, n, psk):
    out = {}
    ep = UdpEndpoint("0.0.0.0", 0)
    out["rps_plain"] = rate(ep, resolve("127.0.0.1", plain_port), n)
    ep.close()
    hs = []
    for _ in range(5):      # fresh session each time: handshake cost
        d = DtlsEndpoint("127.0.0.1", dtls_port, psk_identity="ue-1", psk=psk)
        t = time.ticks_us()
        d.connect()
        hs.append(time.ticks_diff(time.ticks_us(), t))
        d.close()
    out["hs_ms_min"] = min(hs) / 1000
    out["hs_ms_max"] = max(hs) / 1000
    d = DtlsEndpoint("127.0.0.1", dtls_port, psk_identity="ue-1", psk=psk)
    out["rps_dtls"] = rate(d, d.peer, n)
    out["suite"] = d.cipher()[0]
    out["handshakes"] = d.handshakes
    print(json.dumps(out))


def asynctest(port, psk):
    import asyncio
    from coap import aio
    ep = DtlsEndpoint("127.0.0.1", port, psk_identity="ue-1", psk=psk, hs_timeout_ms=2000)
    out = {"ticks": 0}

    async def ticker():     # keeps running while the handshake is pending: not blocking
        while True:
            out["ticks"] += 1
            await asyncio.sleep_ms(10)

    async def main():
        asyncio.create_task(ep.run())
        asyncio.create_task(ticker())
        await asyncio.sleep_ms(0)
        t = time.ticks_ms()
        r = await aio.request(ep, ep.peer, C.GET, "time")
        out["first"] = [r.code, r.error, time.ticks_diff(time.ticks_ms(), t)]
        out["ticks_at_first"] = out["ticks"]
        codes = []
        for i in range(5):
            r = await aio.request(ep, ep.peer, C.POST, "dtls21", b"v%d" % i, cf=0)
            codes.append(r.code)
        r = await aio.request(ep, ep.peer, C.GET, "dtls21")
        codes.append(r.code)
        out["codes"] = codes
        out["last"] = r.response.payload.decode() if r.response else None
        out["handshakes"] = ep.handshakes

    asyncio.run(main())
    print(json.dumps(out))


def restart(port, psk):
    ep = DtlsEndpoint("127.0.0.1", port, Params(ack_timeout=300, max_retransmit=1),
                      psk_identity="ue-1", psk=psk, hs_timeout_ms=2000, retry_ms=0)

    def get():
        r = ep.call(ep.peer, C.GET, "time")
        return [r.code, r.error, ep.handshakes]

    while True:
        line = sys.stdin.readline().strip()
        if not line or line == "quit":
            break
        if line == "get":
            print(json.dumps(get()))
        elif line == "wait":        # let an ICMP error or anything else arrive
            ep.poll(200)
            print(json.dumps([ep.connected, str(ep.error) if ep.error else None]))


def main(a):
    if a[1] == "bench":
        bench(int(a[2]), int(a[3]), int(a[4]), a[5])
    elif a[1] == "async":
        asynctest(int(a[2]), a[3])
    elif a[1] == "restart":
        restart(int(a[2]), a[3])


main(sys.argv)
