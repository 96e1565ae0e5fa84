# heapsize: 160k
# board-heapsize: 48k   (unix32, library frozen; measured minimum 39k, 36k without the REPL test;
#                         unix 142k)
"""modem.ppp.Supervisor's decisions (MODEM.md 6) on recorded exchanges, with a stand-in for
network.PPP (the unix port has none; its methods and status codes as MicroPython v1.28's
extmod/network_ppp_lwip.c): a dropped call (lwIP's "connection lost", or suspect() while lwIP
still says connected) takes the UART back from network.PPP, reaches command mode (AT; the +++
escape between 1 s guard times when the modem still hears PPP), hangs up, checks registration
and the PDP context, dials again and hands the UART back; a modem reset meanwhile gets a full
bring-up; a failed dial backs off (2 s, 4 s, ...); on_change tells the device down, then up
once network.PPP is connected again. status() as the STATUS line and the REPL's modem() show
it; the device's CoAP counters (watch()) make a call suspect after 2 timeouts in a row with
nothing received, then 4, 8, ... while redials bring nothing."""
from fakemodem import OK, REGISTERED, drive, sim7080_bringup, up

CNACT = (b'\r\n+CNACT: 0,1,"10.94.36.44"\r\n+CNACT: 1,0,"0.0.0.0"\r\n'
         b'+CNACT: 2,0,"0.0.0.0"\r\n+CNACT: 3,0,"0.0.0.0"\r\n' + OK)


class FakePPP:
    """network.PPP's calls as extmod/network_ppp_lwip.c answers them: status() 0 inactive,
    3 connecting, 4 connected, -PPPERR_* after an error; disconnect() acts only while
    connecting or connected, and lwIP finishes its LCP terminate later (closing)."""

    def __init__(self, uart):
        self.st = 4
        self.stream = uart
        self.calls = []
        self.closing = False

    def isconnected(self):
        return self.st == 4

    def status(self):
        return self.st

    def disconnect(self):
        self.calls.append("disconnect")
        if self.st in (3, 4):
            self.closing = True         # LCP terminate under way: still 4 until it ends

    def config(self, stream=None):
        self.calls.append("stream" if stream is not None else "no stream")
        self.stream = stream

    def connect(self):
        if self.st in (3, 4):
            raise OSError(114)          # EALREADY
        self.calls.append("connect")
        self.st = 3


def supervised(model="sim7080"):
    from modem.ppp import Supervisor
    link, u, clock, _ = up(model)
    p = FakePPP(u)
    ev = []
    logs = []
    link.log = logs.append              # as the device's: one log for both
    sup = Supervisor(link, p, lambda up, why: ev.append((up, why)), logs.append)
    return sup, link, u, clock, p, ev, logs


def run(sup, clock, until, ms=60000, step=50):
    end = clock.t + ms
    while clock.t < end:
        sup.tick()
        if until():
            return True
        clock.advance(step)
    return until()


def redial(u, at=OK, ath=OK, cmee=b"\r\n+CMEE: 2\r\n" + OK, dial=b"\r\nCONNECT 150000000\r\n"):
    u.expect("AT\r", at)
    u.expect("ATH\r", ath)
    u.expect("AT+CMEE?\r", cmee)
    u.expect("AT+CEREG?\r", b'\r\n+CEREG: 4,1,"5B57","195071B",9\r\n' + OK)
    u.expect("AT+CNACT?\r", CNACT)
    u.expect("ATD*99***1#\r", dial)


def test_connection_lost_redials_and_hands_the_uart_back():
    sup, link, u, clock, p, ev, logs = supervised()
    assert sup.state == "data" and sup.tick() == 1000 and not u.script
    p.st = -6                           # lwIP: PPPERR_CONNECT (the modem said NO CARRIER)
    u.inject(b"\r\nNO CARRIER\r\n")
    redial(u)
    assert run(sup, clock, lambda: sup.state == "connecting"), (sup.state, u.script[:1], logs)
    assert not u.script
    assert ev == [(False, "PPP call dropped (status -6: connection lost)")], ev
    # no disconnect() after an error (it does nothing then); the UART away from it, then back
    assert p.calls == ["no stream", "stream", "connect"], p.calls
    assert p.stream is u
    p.st = 4
    assert run(sup, clock, lambda: sup.state == "data", 2000)
    assert ev[1:] == [(True, "PPP connected")], ev
    assert sup.drops == 1 and sup.redials == 1 and link.resets == 0
    assert "modem: PPP call dropped (status -6: connection lost): taking the UART back for AT" \
        in logs, logs
    assert "modem: registered: dialling ATD*99***1#" in logs, logs


class Timed:
    """The fake UART's writes with the time of each (the +++ guard times)."""

    def __init__(self, u, clock):
        self.u = u
        self.clock = clock
        self.at = []
        w = u.write

        def write(b):
            self.at.append((bytes(b), clock.t))
            return w(b)
        u.write = write


def test_silent_call_escapes_with_guard_times():
    sup, link, u, clock, p, ev, logs = supervised()
    t = Timed(u, clock)
    u.expect("AT\r", None)              # still in data mode: AT is PPP payload to it
    u.expect("+++", OK)
    redial(u, ath=b"\r\nNO CARRIER\r\n")
    sup.suspect("no answer from the server")
    assert p.calls == ["disconnect", "no stream"], p.calls
    assert ev == [(False, "no answer from the server, PPP status 4: connected")], ev
    assert run(sup, clock, lambda: sup.state == "closing"), (sup.state, u.script[:1], logs)
    w = t.at
    i = [b for b, _ in w].index(b"+++")
    assert w[i][1] - w[i - 1][1] >= 1000, w     # 1 s of silence before +++
    assert w[i + 1][0] == b"AT\r" and w[i + 1][1] - w[i][1] >= 1000, w     # and after
    # lwIP's LCP terminate still runs: no connect() until network.PPP is free (EALREADY)
    run(sup, clock, lambda: False, 3000)
    assert sup.state == "closing" and p.calls[-1] == "no stream", p.calls
    p.st = 0
    assert run(sup, clock, lambda: sup.state == "connecting", 500)
    assert p.calls[-2:] == ["stream", "connect"], p.calls
    p.st = 4
    assert run(sup, clock, lambda: sup.state == "data", 2000)
    assert ev[-1] == (True, "PPP connected"), ev
    assert any("+++ escape" in x for x in logs), logs


def test_reset_during_the_call_gets_a_full_bringup():
    sup, link, u, clock, p, ev, logs = supervised()
    p.st = -6
    # the modem restarted (its banner went to network.PPP): echo on, +CMEE back to 0
    u.expect("AT\r", b"AT\r" + OK)
    u.expect("ATH\r", b"ATH\r" + OK)
    u.expect("AT+CMEE?\r", b"AT+CMEE?\r\r\n+CMEE: 0\r\n" + OK)
    sim7080_bringup(u)
    assert run(sup, clock, lambda: u.script[:1] and u.script[0][0] == b"AT+CSQ\r", 20000), \
        (u.script[:1], logs)
    assert link.resets == 1 and not link.up
    u.inject(REGISTERED)
    u.expect("ATD*99***1#\r", b"\r\nCONNECT 150000000\r\n")
    assert run(sup, clock, lambda: sup.state == "connecting", 20000), (u.script[:1], logs)
    assert any("reset during the call (+CMEE: 0, the bring-up set 2)" in x for x in logs), logs
    p.st = 4
    assert run(sup, clock, lambda: sup.state == "data", 2000)
    assert [e[0] for e in ev] == [False, True], ev


def test_failed_dials_back_off_then_a_full_bringup():
    sup, link, u, clock, p, ev, logs = supervised()
    t = Timed(u, clock)
    p.st = -6
    redial(u, dial=b"\r\nNO CARRIER\r\n")
    redial(u, dial=b"\r\nERROR\r\n")
    redial(u, dial=b"\r\nNO CARRIER\r\n")
    assert run(sup, clock, lambda: not u.script and sup.state == "wait"), (u.script[:1], logs)
    d = [c for b, c in t.at if b == b"ATD*99***1#\r"]
    ats = [c for b, c in t.at if b == b"AT\r"]
    assert ats[1] - d[0] >= 2000 and ats[2] - d[1] >= 4000, (d, ats)
    assert "modem: ATD*99***1# answered NO CARRIER: again in 2 s (1 failed)" in logs, logs
    assert "modem: ATD*99***1# answered ERROR: again in 4 s (2 failed)" in logs, logs
    assert "modem: ATD*99***1# answered NO CARRIER: again in 8 s (3 failed)" in logs, logs
    sim7080_bringup(u, echo=False)      # three in a row: the modem gets a full bring-up
    assert run(sup, clock, lambda: u.script[:1] and u.script[0][0] == b"AT+CSQ\r", 30000), \
        (u.script[:1], logs)
    u.inject(REGISTERED)
    u.expect("ATD*99***1#\r", b"\r\nCONNECT\r\n")
    assert run(sup, clock, lambda: sup.state == "connecting", 20000), (u.script[:1], logs)
    assert "modem: 3 redials failed in a row: a full bring-up" in logs, logs
    p.st = 4
    assert run(sup, clock, lambda: sup.state == "data", 2000)
    assert ev == [(False, "PPP call dropped (status -6: connection lost)"),
                  (True, "PPP connected")], ev


def test_no_ppp_connect_after_connect_backs_off():
    sup, link, u, clock, p, ev, logs = supervised()
    p.st = -6
    redial(u)
    assert run(sup, clock, lambda: sup.state == "connecting")
    run(sup, clock, lambda: sup.state != "connecting", 31000)   # LCP never comes up
    assert sup.state == "wait", (sup.state, logs)
    assert logs[-1] == ("modem: PPP did not connect after CONNECT (status 3: connecting): "
                        "taking the UART back for AT in 2 s (1 failed)"), logs
    assert p.calls[-2:] == ["disconnect", "no stream"], p.calls


def test_lost_before_connecting_again_reaches_the_link():
    # a drop while the call was up long enough starts at once, and the link reports down
    sup, link, u, clock, p, ev, logs = supervised()
    clock.advance(60000)
    p.st = -9                           # PPPERR_PEERDEAD
    u.expect("AT\r", None)              # the modem is gone: the link's recovery takes over
    u.expect("+++", None)
    u.expect("AT\r", None)
    u.expect("AT\r", None)              # the bring-up's wake (after the back-off)
    sup.tick()
    assert ev == [(False, "PPP call dropped (status -9: peer dead)")], ev
    assert run(sup, clock, lambda: not u.script, 10000), (u.script[:1], logs)
    assert link.state in ("failed", "starting") and not link.up
    assert any("no answer to AT after the +++ escape either" in x for x in logs), logs


class FakeIf(FakePPP):
    """With network.PPP's ifconfig() (legacy, v1.28 has it): (ip, mask, gateway, dns)."""

    def ifconfig(self):
        return ("10.94.36.44", "255.255.255.255", "10.64.64.64", "8.8.8.8")


def test_status_says_what_the_call_does():
    sup, link, u, clock, p, ev, logs = supervised()
    assert sup.status() == {"data": "ppp", "state": "up", "model": "sim7080", "ppp": 4,
                            "ip": None, "error": None, "lastDrop": None, "drops": 0,
                            "redials": 0, "suspects": 0, "fails": 0}, sup.status()
    sup.ppp = p = FakeIf(u)
    assert sup.status()["ip"] == "10.94.36.44"
    p.st = -6
    sup.tick()
    s = sup.status()
    why = "PPP call dropped (status -6: connection lost)"
    assert (s["state"], s["ip"], s["lastDrop"], s["drops"]) == ("redialling", None, why, 1), s
    redial(u, dial=b"\r\nNO CARRIER\r\n")
    assert run(sup, clock, lambda: sup.state == "wait"), (sup.state, logs)
    s = sup.status()
    assert (s["state"], s["error"], s["fails"]) == \
        ("backoff", "ATD*99***1# answered NO CARRIER", 1), s
    redial(u)
    assert run(sup, clock, lambda: sup.state == "connecting"), (sup.state, logs)
    assert sup.status()["state"] == "connecting"
    p.st = 4
    assert run(sup, clock, lambda: sup.state == "data", 2000)
    s = sup.status()
    assert (s["state"], s["ip"], s["error"], s["lastDrop"], s["redials"]) == \
        ("up", "10.94.36.44", None, why, 1), s


class FakeML:
    """coap.message.MessageLayer's counters the supervisor reads."""
    timeouts = received = 0


def escape_redial(u):
    u.expect("AT\r", None)
    u.expect("+++", OK)
    redial(u, ath=b"\r\nNO CARRIER\r\n")


def back_up(sup, clock, p):
    assert run(sup, clock, lambda: sup.state == "closing"), sup.state
    p.st = 0
    p.closing = False
    assert run(sup, clock, lambda: sup.state == "connecting", 500), sup.state
    p.st = 4
    assert run(sup, clock, lambda: sup.state == "data", 2000), sup.state


def suspected_at(sup, clock, u, m, n):
    """n - 1 more CoAP timeouts leave the call alone; the n-th makes it suspect (+++ redial)."""
    m.timeouts += n - 1
    run(sup, clock, lambda: False, 3000)
    assert sup.state == "data", sup.state
    escape_redial(u)                    # the modem still carries the call
    m.timeouts += 1
    assert run(sup, clock, lambda: sup.state != "data", 3000), sup.state


def test_coap_timeouts_with_nothing_received_make_the_call_suspect():
    sup, link, u, clock, p, ev, logs = supervised()
    m = FakeML()
    m.timeouts, m.received = 3, 5      # before the watch: not this call's
    sup.watch(m)
    m.timeouts += 1                     # a keep-alive ping lost
    run(sup, clock, lambda: False, 3000)
    m.received += 1                     # an answer after all: the count starts again
    run(sup, clock, lambda: False, 2000)
    assert not ev
    suspected_at(sup, clock, u, m, 2)   # two in a row, nothing received: the call is suspect
    assert ev == [(False, "2 CoAP exchanges timed out, nothing received, PPP status 4: "
                   "connected")], ev
    assert p.calls[:2] == ["disconnect", "no stream"], p.calls
    back_up(sup, clock, p)
    s = sup.status()
    assert (s["suspects"], s["drops"], s["redials"]) == (1, 1, 1), s
    assert s["lastDrop"] == ev[0][1], s
    # still nothing received after the redial (the server down?): 4 timeouts now, then 8
    suspected_at(sup, clock, u, m, 4)
    assert ev[-1][1].startswith("4 CoAP exchanges timed out"), ev
    back_up(sup, clock, p)
    m.timeouts += 7
    run(sup, clock, lambda: False, 3000)
    assert sup.state == "data" and sup.suspects == 2
    # a datagram received: the call works; the next suspicion needs 2 again
    m.received += 1
    run(sup, clock, lambda: False, 2000)
    suspected_at(sup, clock, u, m, 2)
    assert sup.suspects == 3 and ev[-1][1].startswith("2 CoAP"), ev


def test_timeouts_while_the_call_was_down_do_not_count():
    sup, link, u, clock, p, ev, logs = supervised()
    m = FakeML()
    sup.watch(m)
    p.st = -6
    redial(u)
    assert run(sup, clock, lambda: sup.state == "connecting")
    m.timeouts += 2                     # requests in flight when the call dropped
    p.st = 4
    assert run(sup, clock, lambda: sup.state == "data", 2000)
    m.timeouts += 1
    run(sup, clock, lambda: False, 3000)
    assert sup.state == "data" and sup.suspects == 0


def test_repl_modem_shows_the_ppp_call():
    from msgin5g import repl
    from msgin5g.device import Device
    sup, link, u, clock, p, ev, logs = supervised()

    class Dev:
        client = object()
        link = None
        ppp = sup

    old = Device.current
    Device.current = Dev
    try:
        assert repl.modem()["state"] == "up"
        try:
            repl.at("AT+CSQ")
            assert False, "at() while the UART carries PPP"
        except RuntimeError as e:
            assert "PPP" in str(e), e
    finally:
        Device.current = old
