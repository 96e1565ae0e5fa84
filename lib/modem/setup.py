"""A Link from a device config's `link` object (msgin5g.devconfig, LINK KEYS): the hardware edge
of the modem layer. The UART, the PWRKEY line and a kit's power rail are made here; the link
itself (modem.link) never touches a pin.

    from modem import setup
    link = setup.link(cfg["link"], on_change=..., log=...)

- uart: a string is a tty or pty path (unix port: modem.port.PtyUart); an object is a board's
  machine.UART(id, baudrate, tx, rx, rxbuf=2048): 2 KB holds a 1460-octet datagram and its
  header (MODEM.md 8).
- pwrkey: a pin number or name, driven high to press (both kits press PWRKEY through a
  transistor, MODEM.md 7, 10), or "udp://host:port": modemsim's control port, where the unix
  port has no pin (`pwrkey press` / `pwrkey release` datagrams).
- pmu "axp2101" (LilyGO T-SIM7080G-S3): the modem is powered by the PMU, not from 3.3 V:
  DC3 3000 mV for the modem and BLDO1 3300 mV for the level shifter must be on before the
  modem can answer (MODEM.md 10). Register map: X-Powers AXP2101 (as XPowersLib uses it);
  not checked on hardware here.
- data "ppp": dial() runs the bring-up, then ATD*99***1# until CONNECT (MODEM.md 6), and ppp()
  hands the UART to network.PPP (ESP32 builds have it; the unix port has none: it stops there).
"""
import time


def uart(u):
    if isinstance(u, str):
        from modem.port import PtyUart
        return PtyUart(u)
    from machine import UART, Pin
    kw = {"baudrate": u.get("baud", 115200), "rxbuf": 2048}
    for k in ("tx", "rx"):
        if k in u:
            kw[k] = Pin(u[k]) if isinstance(u[k], str) else u[k]
    return UART(u["id"], **kw)


def pwrkey(spec):
    """pwrkey(1) presses, pwrkey(0) releases; None without a PWRKEY line."""
    if spec is None:
        return None
    if isinstance(spec, str) and spec.startswith("udp://"):
        import socket
        host, port = spec[6:].rsplit(":", 1)
        addr = socket.getaddrinfo(host, int(port), 0, socket.SOCK_DGRAM)[0][-1]
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

        def press(v):
            try:
                s.sendto(b"pwrkey press" if v else b"pwrkey release", addr)
            except OSError:
                pass            # the simulator went away: as a pin, nobody hears it
        return press
    from machine import Pin
    return Pin(spec, Pin.OUT, value=0).value


def axp2101(sda=15, scl=7, addr=0x34):
    """Switch on the LilyGO T-SIM7080G-S3's modem rail (DC3 3.0 V) and level shifter (BLDO1
    3.3 V) on its AXP2101 PMU (I2C SDA 15 / SCL 7, MODEM.md 10)."""
    from machine import I2C, Pin
    i2c = I2C(0, sda=Pin(sda), scl=Pin(scl), freq=400000)

    def on(vreg, code, enreg, bit):
        i2c.writeto_mem(addr, vreg, bytes((code,)))
        i2c.writeto_mem(addr, enreg, bytes((i2c.readfrom_mem(addr, enreg, 1)[0] | bit,)))

    on(0x84, 88 + (3000 - 1600) // 100, 0x80, 0x04)    # DC3: 1600 mV + 100 mV steps from 88
    on(0x96, (3300 - 500) // 100, 0x90, 0x10)           # BLDO1: 500 mV + 100 mV steps
    time.sleep_ms(100)      # let the rails settle before the first PWRKEY press


def link(conf, on_change=None, log=None):
    """The Link for a `link` config object (type "modem"), not started yet."""
    if conf.get("pmu") == "axp2101":
        axp2101()
    from modem.link import Link
    return Link(uart(conf["uart"]), conf["model"], apn=conf["apn"], rat=conf["rat"],
                psm=conf["psm"], edrx=conf["edrx"], rai=conf["rai"],
                pwrkey=pwrkey(conf["pwrkey"]), on_change=on_change, log=log)


def dial(link, timeout_ms=240000):
    """PPP data path, plain loop (at boot, before asyncio): bring the link up, then dial
    ATD*99***1# (cid 1, MODEM.md 6). Returns the finished Cmd (result 'CONNECT' when the UART
    now carries PPP); raises OSError when the link does not come up in time."""
    t0 = time.ticks_ms()
    if link.state == "off":
        link.start()
    done = []
    while True:
        if time.ticks_diff(time.ticks_ms(), t0) > timeout_ms:
            raise OSError("modem: %s" % (link.error or "no CONNECT in time (PPP)"))
        if link.up and not done:
            done.append(None)
            link.command("ATD*99***1#", done.append)
        if len(done) > 1 and link._job is None:
            return done[1]
        w = link.tick()
        time.sleep_ms(5 if w is None or w > 5 else w)


def ppp(uart, timeout_ms=30000):
    """Hand the UART (after CONNECT) to network.PPP; returns it once connected."""
    try:
        from network import PPP
    except ImportError:
        raise OSError("modem: CONNECT reached, but this port has no network.PPP (ESP32 builds "
                      "have it; use link.data 'socket' here)")
    p = PPP(uart)
    p.connect()
    t0 = time.ticks_ms()
    while not p.isconnected():
        if time.ticks_diff(time.ticks_ms(), t0) > timeout_ms:
            raise OSError("modem: PPP did not connect (status %s)" % p.status())
        time.sleep_ms(100)
    return p
