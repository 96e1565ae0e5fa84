# heapsize: 96k
# board-heapsize: 34k   (unix32, library frozen; measured minimum 26k)
"""Recovery on recorded exchanges (MODEM.md 3.2, 4, 5, 7, 9.5): a boot banner mid-session
brings the modem up again and reopens the socket, PDP loss re-activates the context (both
dialects), a coverage gap is link down until registered, a modem in PSM or gone silent is
woken with PWRKEY before anything else; on_change tells the device each time."""
from fakemodem import OK, REGISTERED, bg95_bringup, drive, sim7080_bringup, up

PEER = ("10.0.0.1", 5683)


def opened(link, u, clock):
    u.expect('AT+CAOPEN=0,0,"UDP","10.0.0.1",5683,1\r', b"\r\n+CAOPEN: 0,0\r\n" + OK)
    u.expect("AT+CASEND=0,1\r", b"\r\n> ")
    u.expect(b"a")
    link.sendto(b"a", PEER)
    assert drive(link, clock, lambda: not u.script, 5000), u.script[:1]


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
    u.expect("AT+CEREG?\r", b"\r\n+CEREG: 4,1\r\n" + OK)
    u.expect("AT+CNACT?\r", b'\r\n+CNACT: 0,1,"10.94.36.44"\r\n' + OK)
    u.expect('AT+CAOPEN=0,0,"UDP","10.0.0.1",5683,1\r', b"\r\n+CAOPEN: 0,0\r\n" + OK)
    u.expect("AT+CASEND=0,1\r", b"\r\n> ")
    u.expect(b"w")
    link.sendto(b"w", PEER)
    assert drive(link, clock, lambda: not u.script, 20000), u.script[:1]
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
