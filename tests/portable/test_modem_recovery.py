# heapsize: 105k
# board-heapsize: 35k   (unix32, library frozen; measured minimum 31k; unix 85k)
"""Recovery on recorded exchanges (MODEM.md 3.2, 4, 5, 7, 9.5): a boot banner mid-session
brings the modem up again and reopens the socket, PDP loss re-activates the context (both
dialects), a coverage gap is link down until registered, a modem in PSM or gone silent is
woken with PWRKEY before anything else; on_change tells the device each time."""
from fakemodem import OK, REGISTERED, bg95_bringup, drive, new_link, sim7080_bringup, up

PEER = ("10.0.0.1", 5683)


def opened(link, u, clock, data=b"a", ms=5000):
    u.expect('AT+CAOPEN=0,0,"UDP","10.0.0.1",5683,1\r', b"\r\n+CAOPEN: 0,0\r\n" + OK)
    u.expect("AT+CASEND=0,%d\r" % len(data), b"\r\n> ")
    u.expect(data)
    link.sendto(data, PEER)
    assert drive(link, clock, lambda: not u.script, ms), u.script[:1]


def woken_then_sent(link, u, clock, data):
    """After the wake: still registered, the PDP context kept; then the socket and data."""
    u.expect("AT+CEREG?\r", b"\r\n+CEREG: 4,1\r\n" + OK)
    u.expect("AT+CNACT?\r", b'\r\n+CNACT: 0,1,"10.94.36.44"\r\n' + OK)
    opened(link, u, clock, data, 20000)


def test_reset_banner_mid_session_brings_up_again_and_reopens():
    link, u, clock, ev = up("sim7080")
    opened(link, u, clock)
    u.inject(b"\r\nRDY\r\n\r\n+CFUN: 1\r\n\r\n+CPIN: READY\r\n\r\nSMS Ready\r\n")
    sim7080_bringup(u)                    # echo is on again after the reset
    drive(link, clock, lambda: u.script[0][0] == b"AT+CSQ\r", 20000)
    assert ev[1:] == [(False, "modem reset (RDY)")] and link.resets == 1, ev
    u.inject(REGISTERED)
    assert drive(link, clock, lambda: link.up, 20000), (link.error, u.script[:1])
    assert ev[2:] == [(True, "registered")]
    u.expect('AT+CAOPEN=0,0,"UDP","10.0.0.1",5683,1\r', b"\r\n+CAOPEN: 0,0\r\n" + OK)
    u.expect("AT+CASEND=0,1\r", b"\r\n> ")
    u.expect(b"b")
    link.sendto(b"b", PEER)
    assert drive(link, clock, lambda: not u.script, 5000), u.script[:1]


def test_reset_while_a_command_waits():
    link, u, clock, ev = up("bg95")
    u.expect('AT+QIOPEN=1,0,"UDP","10.0.0.1",5683,0,1\r', None)
    link.sendto(b"a", PEER)
    drive(link, clock, lambda: not u.script, 1000)
    u.inject(b"\r\nRDY\r\n")
    bg95_bringup(u)
    u.inject(b"\r\nAPP RDY\r\n")          # the second banner of the same boot: one restart
    drive(link, clock, lambda: u.script[0][0] == b"AT+CSQ\r", 20000)
    assert [e for e in ev if not e[0]] == [(False, "modem reset (RDY)")], ev
    u.inject(REGISTERED)
    assert drive(link, clock, lambda: link.up, 20000)


def test_pdp_lost_sim7080():
    link, u, clock, ev = up("sim7080")
    opened(link, u, clock)
    u.expect("AT+CEREG?\r", b"\r\n+CEREG: 4,1\r\n" + OK)
    u.expect("AT+CNACT=0,1\r", OK + b"\r\n+APP PDP: 0,ACTIVE\r\n")
    u.expect("AT+CNACT?\r", b'\r\n+CNACT: 0,1,"10.94.36.45"\r\n' + OK)
    u.inject(b"\r\n+APP PDP: 0,DEACTIVE\r\n")
    assert drive(link, clock, lambda: not u.script and link.up, 5000), u.script[:1]
    assert ev == [(True, "registered"), (False, "PDP context lost"),
                  (True, "PDP context re-activated")] and link.pdp_losses == 1
    assert link.ip == "10.94.36.45" and not link.socks[0].open


def test_pdp_lost_bg95():
    link, u, clock, ev = up("bg95")
    u.expect('AT+QIOPEN=1,0,"UDP","10.0.0.1",5683,0,1\r', OK + b"\r\n+QIOPEN: 0,0\r\n")
    u.expect("AT+QISEND=0,1\r", b"\r\n>")
    u.expect(b"a", b"\r\nSEND OK\r\n")
    link.sendto(b"a", PEER)
    drive(link, clock, lambda: not u.script, 5000)
    u.expect("AT+CEREG?\r", b"\r\n+CEREG: 4,1\r\n" + OK)
    u.expect("AT+QICLOSE=0\r")            # close all sockets, QIDEACT, then QIACT (MODEM.md 5)
    u.expect("AT+QIDEACT=1\r")
    u.expect('AT+QICSGP=1,1,"iot","",""\r')
    u.expect("AT+QIACT=1\r")
    u.expect("AT+QIACT?\r", b'\r\n+QIACT: 1,1,1,"10.7.0.10"\r\n' + OK)
    u.inject(b'\r\n+QIURC: "pdpdeact",1\r\n')
    assert drive(link, clock, lambda: not u.script and link.up, 5000), u.script[:1]
    assert ev[1:] == [(False, "PDP context lost"), (True, "PDP context re-activated")]


def test_coverage_gap_is_link_down_until_registered():
    link, u, clock, ev = up("sim7080")
    u.expect("AT+CEREG?\r", b"\r\n+CEREG: 4,4\r\n" + OK)
    u.inject(b"\r\n+CEREG: 4\r\n")
    drive(link, clock, lambda: not u.script, 2000)
    assert ev[1:] == [(False, "out of coverage (+CEREG: 4)")] and link.state == "searching"
    link.sendto(b"q", PEER)                # queued while down, nothing written
    n = u.written
    drive(link, clock, None, 5000)
    assert u.written == n
    u.inject(b"\r\n+CEREG: 2\r\n")
    drive(link, clock, None, 2000)
    u.expect("AT+CNACT?\r", b'\r\n+CNACT: 0,1,"10.94.36.44"\r\n' + OK)
    u.expect('AT+CAOPEN=0,0,"UDP","10.0.0.1",5683,1\r', b"\r\n+CAOPEN: 0,0\r\n" + OK)
    u.expect("AT+CASEND=0,1\r", b"\r\n> ")
    u.expect(b"q")
    u.inject(b'\r\n+CEREG: 1,"5B57","195071B",9\r\n')
    assert drive(link, clock, lambda: not u.script, 5000), u.script[:1]
    assert ev[2:] == [(True, "registered")] and link.coverage_losses == 1


def test_psm_modem_is_woken_by_pwrkey_before_sending():
    presses = []
    link, u, clock, ev = up("sim7080", pwrkey=presses.append, psm=None)
    u.inject(b'\r\n+CPSMSTATUS: "ENTER PSM"\r\n')
    link.tick()
    assert link.asleep and link.up
    for _ in range(3):
        u.expect("AT\r", None)            # silent in PSM
    u.expect("AT\r", b'\r\n+CPSMSTATUS: "EXIT PSM"\r\n' + OK)
    woken_then_sent(link, u, clock, b"w")
    assert presses == [1, 0] and link.wakes == 1 and not link.asleep
    assert ev == [(True, "registered")]    # a wake is no link loss


def test_silent_modem_after_timeout_is_woken_then_brought_up_when_it_lost_state():
    presses = []
    link, u, clock, ev = up("bg95", pwrkey=presses.append)
    u.expect('AT+QIOPEN=1,0,"UDP","10.0.0.1",5683,0,1\r', None)     # no answer (150 s)
    for _ in range(3):
        u.expect("AT\r", None)
    u.expect("AT\r")                       # answers after the pulse
    u.expect("AT+CEREG?\r", b"\r\n+CEREG: 0,1\r\n" + OK)
    u.expect("AT+QIACT?\r", OK)            # no context: it was reset without a banner
    bg95_bringup(u, echo=False)
    link.sendto(b"a", PEER)
    drive(link, clock, lambda: u.script[0][0] == b"AT+CSQ\r", 200000, 100)
    u.inject(REGISTERED)
    assert drive(link, clock, lambda: link.up, 20000), (link.error, u.script[:1])
    assert presses == [1, 0] and link.wakes == 1 and link.resets == 1
    assert [e[0] for e in ev] == [True, False, True], ev


# ---- PSM in the middle of a procedure: T3324 runs on the network's clock (MODEM.md 3.2), so a
# slow host can find the modem asleep halfway through its bring-up or between two commands
def _silent_at(u, before, *extra):
    """Insert, before the script's first line `before`, that line unanswered (the modem went to
    PSM just before it), then the exchanges in extra."""
    i = [w for w, _ in u.script].index(before.encode())
    u.script[i:i] = [(before.encode(), None)] + [(h.encode(), m) for h, m in extra]


def test_psm_entered_mid_bringup_is_woken_and_the_step_sent_again():
    presses = []
    link, u, clock, ev = new_link("sim7080", pwrkey=presses.append)
    sim7080_bringup(u)
    _silent_at(u, "AT+CNACT=0,1\r", ("AT\r", None), ("AT\r", OK))   # probe, then after PWRKEY
    link.start()
    drive(link, clock, lambda: u.script[0][0] == b"AT+CSQ\r", 20000)
    u.inject(REGISTERED)
    t0 = clock.t
    assert drive(link, clock, lambda: link.up, 20000), (link.state, link.error, u.script[:1])
    # 2 s of silence, 1 s probe, 1.5 s press, 2 s for the UART: not the 120 s of +CNACT
    assert clock.t - t0 < 8000, clock.t - t0
    assert presses == [1, 0] and link.wakes == 1 and link.silences == 1 and link.resets == 0
    assert ev == [(True, "registered")] and not u.script


def test_unheard_send_probed_awake_sent_again_without_pwrkey():
    presses = []
    link, u, clock, ev = up("sim7080", pwrkey=presses.append)
    opened(link, u, clock)
    u.expect("AT+CASEND=0,1\r", None)         # lost (a glitch): not one octet back
    u.expect("AT\r")                           # awake after all: no pulse
    u.expect("AT+CASEND=0,1\r", b"\r\n> ")
    u.expect(b"b")
    link.sendto(b"b", PEER)
    t0 = clock.t
    assert drive(link, clock, lambda: not u.script, 10000), u.script[:1]
    assert clock.t - t0 < 4000 and presses == [] and link.tx_datagrams == 2
    assert link.silences == 0 and ev == [(True, "registered")]


def test_psm_urc_while_a_command_waits_wakes_at_once():
    presses = []
    link, u, clock, ev = up("bg95", pwrkey=presses.append)
    u.expect('AT+QIOPEN=1,0,"UDP","10.0.0.1",5683,0,1\r', b"\r\nPSM POWER DOWN\r\n")
    u.expect("AT\r", None)
    u.expect("AT\r")                           # after the pulse
    u.expect("AT+CEREG?\r", b"\r\n+CEREG: 0,1\r\n" + OK)
    u.expect("AT+QIACT?\r", b'\r\n+QIACT: 1,1,1,"10.7.0.9"\r\n' + OK)
    u.expect('AT+QIOPEN=1,0,"UDP","10.0.0.1",5683,0,1\r', OK + b"\r\n+QIOPEN: 0,0\r\n")
    u.expect("AT+QISEND=0,1\r", b"\r\n>")
    u.expect(b"a", b"\r\nSEND OK\r\n")
    link.sendto(b"a", PEER)
    t0 = clock.t
    assert drive(link, clock, lambda: not u.script, 20000), u.script[:1]
    assert clock.t - t0 < 6000 and presses == [1, 0] and not link.asleep
    assert link.tx_datagrams == 1 and ev == [(True, "registered")]


def test_slow_command_after_a_quiet_spell_is_preceded_by_at():
    presses = []
    link, u, clock, ev = up("sim7080", pwrkey=presses.append)
    drive(link, clock, None, 5000)             # quiet: the modem may have entered PSM
    u.expect("AT\r", None)                     # it did (no URC: +CPSMSTATUS off)
    u.expect("AT\r")
    woken_then_sent(link, u, clock, b"c")
    assert presses == [1, 0] and link.tx_datagrams == 1


def test_silent_without_pwrkey_only_asks():
    link, u, clock, ev = up("sim7080")
    opened(link, u, clock)
    u.expect("AT+CASEND=0,1\r", None)
    for _ in range(4):
        u.expect("AT\r", None)                 # the probe, then the wake's AT tries
    link.sendto(b"d", PEER)
    drive(link, clock, lambda: not u.script, 10000)
    drive(link, clock, lambda: link.state == "failed", 2000)
    assert link.pulses == 0 and link.silences == 1 and link.state == "failed"
    assert "no pwrkey" in link.error, link.error
