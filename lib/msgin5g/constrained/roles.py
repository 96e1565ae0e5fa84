"""Role start-up: Device.main() hands every role but `ue` to `await roles.start(dev)`.

  gateway  MSGin5G Client (dev.client) + Gateway: A.3 CoAP on gatewayPort, A.2 datagrams on
           gatewayL3Port (allowedAppIds, maxDevices) + the app
  relay    MSGin5G Client (dev.client) + Relay forwarder on gatewayPort + the app
  cue      Annex A Application Client as dev.client (no MSGin5G Client) + the app: A.3 over
           dev.ep when `gateway` is coap://, A.2 over dev.ep's socket when it is udp://;
           with deepSleep it takes up the registration kept across the sleep (dev.duty)
Only the role's own modules are imported (a plain sensor never loads the gateway or relay).
"""
import asyncio

from coap.endpoint import Params
from coap.udp import UdpEndpoint, resolve
from msgin5g import log
from msgin5g.uri import parse_uri


def datagrams(ep, received, tick):
    """Turn UdpEndpoint ep into a plain datagram socket with its poll()/run() loop:
    received(data, addr) gets every datagram, tick() runs the timers (ms to the next)."""
    ep.received = received
    ep.tick = tick
    return ep


def _udp(port):
    return UdpEndpoint("0.0.0.0", port, Params(), log=log.warn)


async def start(dev):
    role = dev.cfg["role"]
    if role == "cue":
        return await _cue(dev)
    c = dev.start_client()
    asyncio.create_task(dev.ep.run())
    await asyncio.sleep_ms(0)
    dev.start_app()     # before the role, so that the gateway can chain the app's on_report
    for ep in (_gateway if role == "gateway" else _relay)(dev, c):
        asyncio.create_task(ep.run())
    if dev.cfg.get("topics"):
        c.subscribe(dev.cfg["topics"])  # queued until registered (PC-39)
    c.start()
    await dev._client_timer()


def _gateway(dev, c):
    from msgin5g.constrained.gateway import Gateway
    cfg = dev.cfg
    gw = Gateway(c, allowed=cfg["allowedAppIds"], max_devices=cfg["maxDevices"], log=log.info)
    a3 = _udp(cfg["gatewayPort"])
    gw.attach_a3(a3)
    l3 = datagrams(_udp(cfg["gatewayL3Port"]), gw.a2_received, gw.a2_tick)

    def send2(data, addr):
        l3.sock.sendto(data, addr)
        l3.kick()       # re-arm the retransmission timer of its loop

    gw.attach_a2(send2)
    dev.role = gw
    log.info("gateway: A.3 on port %d, A.2 on port %d", cfg["gatewayPort"], cfg["gatewayL3Port"])
    return a3, l3


def _relay(dev, c):
    from msgin5g.constrained.relay import Relay
    cfg = dev.cfg
    _, host, port = parse_uri(cfg["server"])
    ep = _udp(cfg["gatewayPort"])
    r = Relay(ep.sock.sendto, resolve(host, port), host, max_ues=cfg["maxDevices"], log=log.info)
    datagrams(ep, r.received, r.tick)
    dev.role = r
    log.info("relay: port %d -> %s:%d", cfg["gatewayPort"], host, port)
    return (ep,)


async def _cue(dev):
    from msgin5g.constrained.appclient import AppClient
    cfg = dev.cfg
    scheme, host, port = parse_uri(cfg["gateway"])
    gw = resolve(host, port)
    ep = dev.ep
    if scheme == "udp":     # A.2 (PC-37) on the device socket
        ac = AppClient(gw, cfg["applicationId"], send=ep.sock.sendto, log=log.info)
        datagrams(ep, ac.received, ac.tick)
    else:                   # A.3 (PC-38)
        if scheme == "coaps":
            log.warn("cue: DTLS to the gateway is not supported yet: using plain CoAP")
        ac = AppClient(gw, cfg["applicationId"], ep=ep, log=log.info)
    ac.kick = lambda: ep.kick()
    dev.client = dev.role = ac
    log.info("cue: app %d via gateway %s:%d (%s)", cfg["applicationId"], host, port,
             "A.2" if scheme == "udp" else "A.3")
    asyncio.create_task(ep.run())
    await asyncio.sleep_ms(0)
    dev.start_app()
    if dev.duty is None or not dev.duty.resume(ac):   # deepSleep: registered before the sleep
        ac.start()
    await dev._client_timer()
