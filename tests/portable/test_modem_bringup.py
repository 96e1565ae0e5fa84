# heapsize: 90k
# board-heapsize: 30k   (unix32, library frozen; measured minimum 25k)
"""The TS 27.007 bring-up per dialect on recorded exchanges (MODEM.md 2, 3, 7, 8): echo on at
power-on, RAT commands of each model, PSM/eDRX requested with their codings and the granted
values shown, registration through +CEREG URCs, and the faults with one clear error each: no
SIM (numeric and verbose), PIN needed, registration denied, a silent modem woken by PWRKEY."""
from fakemodem import OK, common, drive, new_link, up


def test_sim7080_bringup():
    link, u, clock, ev = up("sim7080")
    st = link.status()
    assert u.script == [] and ev == [(True, "registered")] and st["state"] == "up"
    assert st["rat"] == "nbiot" and st["dbm"] == -73 and st["rsrp"] == -96
    assert st["ip"] == "10.94.36.44" and st["imei"] == "869951031234567"
    assert st["imsi"] == "001010123456789" and st["iccid"] == "89860012345678901234"
    assert st["psm"]["granted"] == {"activeSec": 2, "tauSec": 310 * 3600}
    assert link.ch.stray == 0


def test_bg95_bringup():
    link, u, clock, ev = up("bg95")
    st = link.status()
    assert u.script == [] and ev == [(True, "registered")] and st["ip"] == "10.7.0.9"
    assert st["iccid"] == "89860012345678901234" and st["rat"] == "nbiot"


def loaded():
    import sys
    return [m for m in ("modem.bringup", "modem.codes") if m in sys.modules]


def test_link_up_forgets_the_bringup_and_the_codes():
    # what only a bring-up or a rare URC needs is not kept in RAM once the link is up
    # (modem.link forget_rare: the modem layer's heap on a board, issue 11)
    import modem
    link, u, clock, ev = up("sim7080")
    assert loaded() == [] and not hasattr(modem, "bringup") and not hasattr(modem, "codes")
    u.inject(b'\r\n+CEREG: 1,"5B57","195071B",9,,,"00000010","01011111"\r\n')
    link.tick()                 # the URC imports modem.codes again ...
    assert loaded() == ["modem.codes"] and link.psm_granted == (4, 310 * 3600)
    got = []
    u.expect("AT+CSQ\r", b"\r\n+CSQ: 21,99\r\n" + OK)
    link.command("AT+CSQ", got.append, "+CSQ:")
    assert drive(link, clock, lambda: got, 1000)
    assert loaded() == [] and got[0].lines == ["+CSQ: 21,99"]     # ... until the next job ends
    assert link.up and link.state == "up"


def test_psm_edrx_requested_and_granted():
    link, u, clock, ev = new_link("sim7080", rat="ltem", psm={"tauSec": 3600, "activeSec": 10},
                                  edrx={"cycleSec": 20.48})
    common(u, echo=False)
    u.expect("AT+CNMP=38\r")
    u.expect("AT+CMNB=1\r")
    u.expect('AT+CPSMS=1,,,"00100001","00000101"\r')
    u.expect("AT+CPSMSTATUS=1\r")
    u.expect('AT+CEDRXS=2,4,"0010"\r', b"\r\nERROR\r\n")      # no URC mode: mode 1
    u.expect('AT+CEDRXS=1,4,"0010"\r')
    u.expect("AT+CEREG=4\r", b"\r\n+CME ERROR: 4\r\n")        # n=4 refused: n=2
    u.expect("AT+CEREG=2\r")
    u.expect("AT+CGSN\r", b"\r\n1\r\n" + OK)
    u.expect("AT+CIMI\r", b"\r\n+CME ERROR: 10\r\n")         # identity never stops it
    u.expect("AT+CCID\r", b"\r\nERROR\r\n")
    u.expect("AT+CEREG?\r", b'\r\n+CEREG: 4,1,"5B57","195071B",7,,,"00100001","00100110"\r\n'
             + OK)
    u.expect("AT+CSQ\r", b"\r\n+CSQ: 99,99\r\n" + OK)
    u.expect("AT+CESQ\r", b"\r\nERROR\r\n")
    u.expect("AT+CNACT=0,1\r", b"\r\nERROR\r\n")             # already active
    u.expect("AT+CNACT?\r", b'\r\n+CNACT: 0,1,"10.0.0.5"\r\n' + OK)
    link.start()
    assert drive(link, clock, lambda: link.up, 30000), (link.error, u.script[:1])
    u.inject(b'\r\n+CEDRXP: 4,"0010","0011","0100"\r\n')
    link.tick()
    st = link.status()
    assert st["psm"] == {"requested": ("00100001", "00000101"),
                         "granted": {"activeSec": 60, "tauSec": 6 * 3600}}, st["psm"]
    assert st["edrx"] == {"requested": "0010", "granted": 40.96} and st["rat"] == "ltem"
    assert st["dbm"] is None and st["imsi"] is None and st["ip"] == "10.0.0.5"


def fails_with(cpin, words):
    link, u, clock, ev = new_link("bg95")
    common(u, cpin=cpin)
    link.start()
    drive(link, clock, lambda: link.state == "failed", 20000)
    assert link.state == "failed" and not link.up, (link.state, link.error)
    for w in words:
        assert w in link.error, link.error
    n = u.written
    drive(link, clock, None, 600000, 1000)       # fatal: no retry on its own
    assert u.written == n and link.state == "failed"
    return link


def test_no_sim_numeric_and_verbose():
    fails_with(b"\r\n+CME ERROR: 10\r\n", ("no SIM card", "insert"))
    fails_with(b"\r\n+CME ERROR: SIM not inserted\r\n", ("no SIM card",))


def test_pin_needed():
    fails_with(b"\r\n+CPIN: SIM PIN\r\n" + OK, ("needs its PIN",))
    fails_with(b"\r\n+CME ERROR: 12\r\n", ("PIN/PUK", "SIM PUK required"))


def test_sim_busy_is_asked_again():
    link, u, clock, ev = new_link("sim7080")
    common(u, cpin=b"\r\n+CME ERROR: 14\r\n")
    del u.script[-2:]            # CFUN, CGDCONT come after the second +CPIN?
    u.expect("AT+CPIN?\r", b"\r\n+CPIN: READY\r\n" + OK)
    u.expect("AT+CFUN=1\r")
    u.expect('AT+CGDCONT=1,"IP","iot"\r', None)
    link.start()
    drive(link, clock, lambda: not u.script, 20000)
    assert u.script == [] and link.state == "starting" and link.error is None


def test_registration_denied_then_retried_with_backoff():
    link, u, clock, ev = new_link("sim7080")
    from fakemodem import sim7080_bringup
    sim7080_bringup(u)
    del u.script[-4:]            # CSQ, CESQ, CNACT, CNACT?
    link.start()
    drive(link, clock, lambda: not u.script, 20000)
    u.inject(b"\r\n+CEREG: 3\r\n")
    drive(link, clock, lambda: link.state == "failed", 5000)
    assert link.state == "failed" and "registration denied" in link.error, link.error
    assert ev == []
    t0 = clock.t
    u.expect("AT\r", None)       # the retry starts with a sync after the back-off
    drive(link, clock, lambda: not u.script, 10000, 10)
    assert 2000 <= clock.t - t0 <= 2100, clock.t - t0


def test_registration_waits_through_searching():
    link, u, clock, ev = new_link("bg95")
    from fakemodem import bg95_bringup
    bg95_bringup(u)
    link.start()
    drive(link, clock, lambda: u.script[0][0] == b"AT+CSQ\r", 20000)
    u.inject(b"\r\n+CEREG: 2\r\n")
    u.script.insert(0, (b"AT+CEREG?\r", b"\r\n+CEREG: 4,2\r\n" + OK))  # no URC for 10 s
    drive(link, clock, None, 15000, 500)
    assert not link.up and link.state == "starting" and link.reg == 2
    assert u.script[0][0] == b"AT+CSQ\r"
    u.inject(b"\r\n+CEREG: 5\r\n")                        # roaming counts as registered
    assert drive(link, clock, lambda: link.up, 20000), (link.error, u.script[:1])


def test_silent_modem_gets_pwrkey_pulses():
    presses = []
    link, u, clock, ev = new_link("sim7080", pwrkey=lambda v: presses.append((v, clock.t)))
    for _ in range(10):
        u.expect("AT\r", None)           # off: nothing answers
    u.expect("AT\r", b"\r\nRDY\r\n" + OK)   # after the pulse (the banner is no reset here)
    u.expect("ATE0\r", None)
    link.start()
    drive(link, clock, lambda: not u.script, 30000, 10)
    assert u.script == [] and link.resets == 0 and link.pulses == 1
    (v1, t1), (v0, t0) = presses
    assert v1 == 1 and v0 == 0 and t0 - t1 == 1500        # SIM7080 pulse length


def test_dead_modem_fails_after_two_pulses_then_backs_off():
    presses = []
    link, u, clock, ev = new_link("bg95", pwrkey=presses.append)
    for _ in range(30):
        u.expect("AT\r", None)
    link.start()
    drive(link, clock, lambda: link.state == "failed", 60000, 50)
    assert link.state == "failed" and "no answer to AT" in link.error and presses == [1, 0, 1, 0]
    assert link._retry is not None       # tried again later, never power-cycled in a loop
