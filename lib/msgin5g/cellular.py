"""The device's cellular link (config `link.type` "modem"): the endpoint over the modem, RAI
marks, and what link up / down means for the MSGin5G Client. Only a device with a modem link
imports it (as the constrained roles, a Wi-Fi or host device never pays for it in RAM).
"""
from msgin5g import log


def endpoint(dev, lk, params, hop=None):
    """The cellular link (modem.setup): a ModemEndpoint over the modem's sockets (for a
    coaps:// server a ModemDtlsEndpoint: DTLS over them), or, with data "ppp", dial and hand
    the UART to network.PPP (then None: plain sockets follow, DtlsEndpoint for coaps://);
    modem.ppp's supervisor (a device task, dev.ppp) dials again when the call drops or the
    device's CoAP traffic shows it dead (Supervisor.watch)."""
    from modem import setup
    dev.link = link = setup.link(lk, lambda up, why: link_change(dev, up, why), log.info)
    if lk["data"] == "ppp":
        c = setup.dial(link)
        if c.result != "CONNECT":
            raise OSError("modem: ATD*99***1# answered %s (PPP)" % c.result)
        log.info("modem: CONNECT, the UART now carries PPP")
        p = setup.ppp(link.ch.uart)
        from modem.ppp import Supervisor
        dev.ppp = sup = Supervisor(link, p, lambda up, why: link_change(dev, up, why), log.info)

        async def supervise():
            sup.watch(dev.ep.ml)    # the endpoint exists once the tasks start (Device.main)
            await sup.run()
        dev.tasks.append(supervise)
        dev.link = None         # the UART is network.PPP's (the supervisor's while it redials)
        return None
    d = dev.duty
    if d is not None and d.woke is not False and link.resume(d.st.modem):
        log.info("modem: resuming the state kept across the sleep (no full bring-up)")
    if hop:     # coaps:// (PC-07/PC-08): DTLS over the modem's sockets (modem.dtls)
        from coap.dtls import credentials
        from modem.dtls import ModemDtlsEndpoint
        ep = ModemDtlsEndpoint(link, hop[0], hop[1], params, server_hostname=hop[2],
                               log=log.warn, **credentials(dev.secrets,
                                                           dev.cfg.get("ueServiceId")))
    else:
        from modem.endpoint import ModemEndpoint
        ep = ModemEndpoint(link, params, log=log.warn)   # the device resolves: ep.resolve
    if lk["rai"]:
        send = ep.ml.send_raw

        def rai_send(data, addr):
            r = last_uplink(dev.client, data)
            # Through DTLS only once the session is up: the datagram this write sends must
            # be this message's record, not a handshake flight (it would release the radio).
            if r and getattr(ep, "connected", True):
                link.release_after_next(r)
            return send(data, addr)
        ep.ml.send_raw = rai_send
    return ep


def last_uplink(c, data):
    # RAI for this datagram (MODEM.md 3.4), 0 = none. 1, "no further uplink or downlink
    # expected": our reply to a downlink (a response or an empty ACK) when the client has
    # nothing left to do. 2, "only one downlink expected": a CON request that is the
    # client's last work (Client.last_request: e.g. a sensor's reading without a report),
    # its piggybacked response being that downlink. Messages the server stored while the
    # device slept may still come after it: the network pages the modem for them during
    # its Active-Time (T3324), and a duty-cycled device stays awake just as long (awakeSec
    # defaults to it), so the early release costs them a paging, not a loss.
    if c is None or len(data) < 2:
        return 0
    t = data[0] >> 4 & 3
    if t == 2 or data[1] >= 0x40:
        return 1 if c.idle() else 0
    return 2 if t == 0 and 0 < data[1] < 0x20 and c.last_request() else 0


def link_change(dev, up, why):
    """The modem link went up or down (modem.link on_change). Down: the client stops
    sending (PC-39: messages queue, and the journal keeps them) until it is registered
    again; up: re-register (PC-17)."""
    c = dev.client
    if c is None or not hasattr(c, "start"):
        return
    if up:
        if c._req is None:
            dev._link(True)
        elif c.state != "REGISTERING":
            c._due = c.ep.clock()   # a request in flight: re-register once it is done
            dev.ep.kick()
        return
    log.info("link down (%s)", why)
    if c.state == "REGISTERED":
        c.state = "BACKOFF"         # not registered: send() queues (PC-39)
        c._due = c._ka_due = None   # the link coming up re-registers, not a timer
    dev.ep.kick()
