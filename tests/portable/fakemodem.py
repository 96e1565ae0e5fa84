"""A fake modem UART for the modem tests: bytes in, bytes out, with a clock.

FakeUart plays a recorded exchange: expect(host_bytes, modem_bytes) pairs in order; when the
host has written the expected octets, the modem's reply is queued for reading (None: silence).
A write that does not match the script raises AssertionError naming both. inject() adds
unsolicited octets (URCs) at any time. Recordings of both dialects' bring-ups are below.
"""
from tinytest import FakeClock

OK = b"\r\nOK\r\n"


class FakeUart:
    def __init__(self):
        self.rx = b""           # modem -> host, not read yet
        self.tx = b""           # host -> modem, not matched yet
        self.script = []
        self.seen = []          # host commands matched, in order (for asserts)
        self.written = 0

    def expect(self, host, modem=OK):
        self.script.append((host if isinstance(host, bytes) else host.encode(), modem))
        return self

    def inject(self, b):
        self.rx += b

    def any(self):
        return len(self.rx)

    def readinto(self, buf):
        n = min(len(buf), len(self.rx))
        buf[:n] = self.rx[:n]
        self.rx = self.rx[n:]
        return n

    def write(self, b):
        b = bytes(b)
        self.written += len(b)
        self.tx += b
        while self.script:
            want, reply = self.script[0]
            if self.tx[:len(want)] == want:
                self.tx = self.tx[len(want):]
                self.script.pop(0)
                self.seen.append(want)
                if reply:
                    self.rx += reply
                continue
            if not want.startswith(self.tx):
                raise AssertionError("modem got %r, script expects %r" % (self.tx, want))
            break
        if not self.script and self.tx:
            raise AssertionError("modem got %r after the script's end" % (self.tx,))
        return len(b)


def drive(link, clock, until=None, ms=60000, step=50):
    """Tick link, advancing the clock by step ms, until until() or ms passed."""
    end = clock.t + ms
    while clock.t < end:
        link.tick()
        if until is not None and until():
            return True
        clock.advance(step)
    return until is None or until()


def new_link(model="sim7080", **kw):
    from modem.link import Link
    u = FakeUart()
    clock = FakeClock(1000)
    events = []
    kw.setdefault("apn", "iot")
    kw.setdefault("rat", "nbiot")
    link = Link(u, model, clock=clock, on_change=lambda up, why: events.append((up, why)), **kw)
    return link, u, clock, events


def common(u, echo=True, cpin=b"\r\n+CPIN: READY\r\n" + OK):
    """Sync, echo off, CMEE, SIM, CFUN, APN (echo on at first, as after power-on)."""
    u.expect("AT\r", b"AT\r" + OK if echo else OK)
    u.expect("ATE0\r", b"ATE0\r" + OK if echo else OK)
    u.expect("AT+CMEE=2\r")
    u.expect("AT+CPIN?\r", cpin)
    u.expect("AT+CFUN=1\r")
    u.expect('AT+CGDCONT=1,"IP","iot"\r')


def tail(u, iccid, registered=True):
    """+CPSMS/+CEDRXS off, +CEREG=4, identity, registration (searching, then a URC)."""
    u.expect("AT+CPSMS=0\r")
    u.expect("AT+CEDRXS=0\r")
    u.expect("AT+CEREG=4\r")
    u.expect("AT+CGSN\r", b"\r\n869951031234567\r\n" + OK)
    u.expect("AT+CIMI\r", b"\r\n001010123456789\r\n" + OK)
    u.expect(iccid[0], iccid[1])
    u.expect("AT+CEREG?\r", b"\r\n+CEREG: 4,2\r\n" + OK)
    if registered:
        u.expect("AT+CSQ\r", b"\r\n+CSQ: 20,99\r\n" + OK)
        u.expect("AT+CESQ\r", b"\r\n+CESQ: 99,99,255,255,20,45\r\n" + OK)


def sim7080_bringup(u, echo=True):
    common(u, echo)
    u.expect("AT+CNMP=38\r")
    u.expect("AT+CMNB=2\r")
    tail(u, ("AT+CCID\r", b"\r\n89860012345678901234\r\n" + OK))
    u.expect("AT+CNACT=0,1\r", OK + b"\r\n+APP PDP: 0,ACTIVE\r\n")
    u.expect("AT+CNACT?\r", b'\r\n+CNACT: 0,1,"10.94.36.44"\r\n+CNACT: 1,0,"0.0.0.0"\r\n'
             b'+CNACT: 2,0,"0.0.0.0"\r\n+CNACT: 3,0,"0.0.0.0"\r\n' + OK)


def bg95_bringup(u, echo=True):
    common(u, echo)
    u.expect('AT+QCFG="iotopmode",1,1\r')
    u.expect('AT+QCFG="nwscanseq",03,1\r')
    tail(u, ("AT+QCCID\r", b"\r\n+QCCID: 89860012345678901234\r\n" + OK))
    u.expect('AT+QICSGP=1,1,"iot","",""\r')
    u.expect("AT+QIACT=1\r")
    u.expect("AT+QIACT?\r", b'\r\n+QIACT: 1,1,1,"10.7.0.9"\r\n' + OK)


# The registration URC a network gives after searching: NB-IoT (AcT 9), PSM timers granted
# (SIMCom's own example, MODEM.md 2.1).
REGISTERED = b'\r\n+CEREG: 1,"5B57","195071B",9,,,"00000001","01011111"\r\n'


def up(model="sim7080", **kw):
    """A link brought up through its recorded exchange; returns (link, uart, clock, events)."""
    link, u, clock, ev = new_link(model, **kw)
    (sim7080_bringup if model == "sim7080" else bg95_bringup)(u)
    link.start()
    drive(link, clock, lambda: u.script[:1] and u.script[0][0] == b"AT+CSQ\r", 20000)
    u.inject(REGISTERED)
    assert drive(link, clock, lambda: link.up, 20000), (link.state, link.error, u.script[:1])
    return link, u, clock, ev
