"""Unix-port driver for tests/host/test_constrained_e2e.py (run with `micropython`, not pytest).

    micropython constrained_driver.py a3|a2 GW_PORT APP_ID LOCAL_PORT TARGET_AS
    micropython constrained_driver.py ue SERVER_PORT UE_SERVICE_ID LOCAL_PORT TARGET_AS RELAY_PORT

Registers (at the gateway as an Annex A Application Client, or at the server through the relay
as an MSGin5G Client), sends one message to TARGET_AS asking for a delivery report, waits for
the report, de-registers. Prints one line per step: REGISTERED, SENT <status>,
REPORT <same|other> <status>, DEREGISTERED; exits 1 on a timeout.
"""
import sys
import time

from coap.endpoint import Params
from coap.udp import UdpEndpoint, resolve


def wait(ep, tick, cond, ms=15000):
    t0 = time.ticks_ms()
    while not cond():
        if time.ticks_diff(time.ticks_ms(), t0) > ms:
            print("TIMEOUT")
            sys.exit(1)
        ep.poll(50)
        tick()


def main(a):
    mode, port, me, local, target = a[1], int(a[2]), a[3], int(a[4]), a[5]
    ep = UdpEndpoint("127.0.0.1", local, Params())
    got = []
    sent = []
    if mode == "ue":
        from msgin5g.client import Client
        c = Client(ep, resolve("127.0.0.1", int(a[6])), me, "127.0.0.1", keepalive_ms=0)
    else:
        from msgin5g.constrained.appclient import AppClient
        gw = resolve("127.0.0.1", port)
        if mode == "a2":
            c = AppClient(gw, int(me), send=ep.sock.sendto)
            from msgin5g.constrained.roles import datagrams
            datagrams(ep, c.received, c.tick)
        else:
            c = AppClient(gw, int(me), ep=ep)
    c.on_report(lambda mid, st, cause, ori: got.append((mid, st)))
    c.start()
    wait(ep, c.tick, lambda: c.state == "REGISTERED")
    print("REGISTERED")
    mid = c.send(target, b"driver " + mode.encode(), dest_type="AS", report=True,
                 done=lambda m, st, cause: sent.append(st))
    wait(ep, c.tick, lambda: sent)
    print("SENT", sent[0])
    wait(ep, c.tick, lambda: got)
    print("REPORT", "same" if got[0][0] == mid else "other", got[0][1])
    c.deregister()
    wait(ep, c.tick, lambda: c.state == "DEREGISTERED")
    print("DEREGISTERED")


main(sys.argv)
