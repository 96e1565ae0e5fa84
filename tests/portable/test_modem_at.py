# heapsize: 56k
# board-heapsize: 28k   (unix32, library frozen; measured minimum 24k)
"""modem.at on recorded exchanges of both dialects (MODEM.md 1, 4, 5, 9): echo, final results,
numeric and verbose CME errors, URCs between an information line and OK, the data prompt
without a newline, raw payloads with CR, LF and 0x1A inside, bytes arriving one at a time,
per-command timeouts."""
from fakemodem import OK, FakeUart
from modem.at import AtChannel, Cmd, timeout_for
from tinytest import FakeClock

PAYLOAD = b"a\r\nb\x1a\r\x00\xffOK\r\n"      # binary, with line ends, Ctrl-Z and 'OK' inside


def chan():
    u = FakeUart()
    clock = FakeClock(1000)
    ch = AtChannel(u, clock)
    urcs = []

    def urc(line):              # a link's on_urc: None for a line that is no URC of its own
        if line.startswith("+CEREG:") or line.startswith("RDY") or line.startswith("+QIURC:"):
            urcs.append(line)
            return 0
        return None
    ch.on_urc = urc
    return ch, u, clock, urcs


def run(ch, cmd, one_by_one=False):
    ch.send(cmd)
    if one_by_one:              # the modem's reply trickles in octet by octet
        rest = ch.uart.rx
        ch.uart.rx = b""
        for i in range(len(rest)):
            ch.uart.rx = rest[i:i + 1]
            ch.service()
    for _ in range(10):
        ch.service()
        if cmd.result is not None:
            break
    return cmd


def test_echo_is_skipped_and_info_lines_collected():
    ch, u, _, urcs = chan()
    u.expect("AT+CSQ\r", b"AT+CSQ\r\r\n+CSQ: 20,99\r\n" + OK)
    c = run(ch, Cmd("AT+CSQ", "+CSQ:"))
    assert c.ok and c.result == "OK" and c.lines == ["+CSQ: 20,99"], c.lines
    assert urcs == [] and ch.stray == 0 and not ch.busy()


def test_urc_between_info_line_and_ok_is_dispatched():
    for one in (False, True):
        ch, u, _, urcs = chan()
        u.expect("AT+CSQ\r", b'\r\n+CSQ: 20,99\r\n\r\n+CEREG: 1,"002F","0012BEEF",7\r\n' + OK)
        c = run(ch, Cmd("AT+CSQ", "+CSQ:"), one)
        assert c.ok and c.lines == ["+CSQ: 20,99"]
        assert urcs == ['+CEREG: 1,"002F","0012BEEF",7'], urcs


def test_query_answer_with_the_urc_prefix_is_the_answer():
    ch, u, _, urcs = chan()
    u.expect("AT+CEREG?\r", b"\r\n+CEREG: 4,1\r\n" + OK)
    c = run(ch, Cmd("AT+CEREG?", "+CEREG:"))
    assert c.lines == ["+CEREG: 4,1"] and urcs == []


def test_numeric_and_verbose_cme_errors_and_error():
    ch, u, _, _ = chan()
    u.expect("AT+CPIN?\r", b"\r\n+CME ERROR: 10\r\n")
    u.expect("AT+CPIN?\r", b"\r\n+CME ERROR: SIM not inserted\r\n")
    u.expect("AT+CNACT=0,1\r", b"\r\nERROR\r\n")
    c = run(ch, Cmd("AT+CPIN?", "+CPIN:"))
    assert c.result == "CME" and c.err == 10 and not c.ok
    c = run(ch, Cmd("AT+CPIN?", "+CPIN:"))
    assert c.result == "CME" and c.err == "SIM not inserted"
    c = run(ch, Cmd("AT+CNACT=0,1"))
    assert c.result == "ERROR" and c.err is None


def test_bare_info_lines_and_bare_urcs():
    ch, u, _, urcs = chan()
    u.expect("AT+CGSN\r", b"\r\nRDY\r\n\r\n869951031234567\r\n" + OK)
    c = run(ch, Cmd("AT+CGSN", ""))
    assert c.lines == ["869951031234567"] and urcs == ["RDY"]


def test_prompt_without_newline_then_binary_data_simcom():
    ch, u, _, urcs = chan()
    u.expect("AT+CASEND=0,%d\r" % len(PAYLOAD), b"\r\n> ")
    u.expect(PAYLOAD, b'\r\n+CEREG: 2\r\n' + OK)
    c = run(ch, Cmd("AT+CASEND=0,%d" % len(PAYLOAD), "+CASEND:", None, PAYLOAD))
    assert c.ok and c.prompted and u.script == [] and urcs == ["+CEREG: 2"]
    assert ch.tx_octets == len("AT+CASEND=0,12\r") + len(PAYLOAD) == 15 + 12


def test_prompt_bare_and_send_ok_quectel():
    ch, u, _, urcs = chan()
    u.expect("AT+QISEND=0,%d\r" % len(PAYLOAD), b'\r\n>')
    u.expect(PAYLOAD, b'\r\nSEND OK\r\n\r\n+QIURC: "recv",0\r\n')
    c = run(ch, Cmd("AT+QISEND=0,%d" % len(PAYLOAD), None, None, PAYLOAD))
    assert c.ok and c.result == "SEND OK" and u.script == []
    ch.service()
    assert urcs == ['+QIURC: "recv",0']
    u.expect("AT+QISEND=0,1\r", b"\r\n>")
    u.expect(b"x", b"\r\nSEND FAIL\r\n")
    c = run(ch, Cmd("AT+QISEND=0,1", None, None, b"x"))
    assert c.result == "SEND FAIL" and not c.ok


def test_long_data_goes_out_in_chunks():
    ch, u, _, _ = chan()
    data = bytes(range(256)) * 5 + b"\r\n" * 50         # 1380 octets
    u.expect("AT+CASEND=0,%d\r" % len(data), b"> ")
    u.expect(data)
    c = ch.send(Cmd("AT+CASEND=0,%d" % len(data), None, None, data))
    assert ch.service() == 0            # more to write: come back at once
    n = 1
    while c.result is None and n < 20:
        ch.service()
        n += 1
    assert c.ok and n >= 5, n          # at most 256 octets per service()


def test_carecv_data_on_the_same_line_is_read_by_length():
    for one in (False, True):
        ch, u, _, urcs = chan()
        u.expect("AT+CARECV=0,1460\r", b"\r\n+CARECV: %d,%s\r\n" % (len(PAYLOAD), PAYLOAD) + OK)
        c = Cmd("AT+CARECV=0,1460", "+CARECV:")
        c.raw = "+CARECV: "
        c.rawline = True
        run(ch, c, one)
        assert c.ok and c.got == len(PAYLOAD) and bytes(ch.data[:c.got]) == PAYLOAD, c
        assert c.lines == ["+CARECV: %d" % len(PAYLOAD)] and urcs == []


def test_carecv_with_remote_address_and_empty():
    ch, u, _, _ = chan()
    u.expect("AT+CARECV=0,1460\r", b"\r\n+CARECV: 10.0.0.1,5683,4,\r\n\x1a\n\r\n" + OK)
    u.expect("AT+CARECV=0,1460\r", b"\r\n+CARECV: 0\r\n" + OK)
    for want in (b"\r\n\x1a\n", b""):
        c = Cmd("AT+CARECV=0,1460", "+CARECV:")
        c.raw = "+CARECV: "
        c.rawline = True
        run(ch, c)
        assert c.ok and max(c.got, 0) == len(want) and bytes(ch.data[:len(want)]) == want


def test_qird_data_on_the_next_line_is_read_by_length():
    for one in (False, True):
        ch, u, _, urcs = chan()
        u.expect("AT+QIRD=0,1500\r", b"\r\n+QIRD: %d\r\n%s\r\n" % (len(PAYLOAD), PAYLOAD) + OK)
        c = Cmd("AT+QIRD=0,1500", "+QIRD:")
        c.raw = "+QIRD: "
        run(ch, c, one)
        assert c.ok and c.got == len(PAYLOAD) and bytes(ch.data[:c.got]) == PAYLOAD
    u.expect("AT+QIRD=0,1500\r", b'\r\n+QIRD: 3,"10.0.0.1",5683\r\n\n\r\n\r\nOK\r\n')
    c = Cmd("AT+QIRD=0,1500", "+QIRD:")
    c.raw = "+QIRD: "
    run(ch, c)
    assert c.ok and c.got == 3 and bytes(ch.data[:3]) == b"\n\r\n"
    u.expect("AT+QIRD=0,1500\r", b"\r\n+QIRD: 0\r\n" + OK)
    c = Cmd("AT+QIRD=0,1500", "+QIRD:")
    c.raw = "+QIRD: "
    run(ch, c)
    assert c.ok and c.got == 0


def test_per_command_timeouts():
    assert timeout_for("AT+CFUN=1") == 15000 and timeout_for("AT+QIACT=1") == 150000
    assert timeout_for("AT+CNACT=0,1") == 120000 and timeout_for("AT+CSQ") == 5000
    assert timeout_for("AT+QICLOSE=0") == 10000 and timeout_for("AT+CAOPEN=0,0") == 90000
    ch, u, clock, _ = chan()
    u.expect("AT+CFUN=1\r", None)
    c = ch.send(Cmd("AT+CFUN=1"))
    assert ch.service() == 15000
    clock.advance(14999)
    assert ch.service() == 1 and c.result is None
    clock.advance(1)
    ch.service()
    assert c.result == "timeout" and not ch.busy() and ch.timeouts == 1


def test_stray_lines_and_one_command_at_a_time():
    ch, u, _, _ = chan()
    u.inject(b"\r\nOK\r\n\r\n+UNKNOWN: 1\r\n")
    ch.service()
    assert ch.stray == 2
    u.expect("AT\r", None)
    ch.send(Cmd("AT"))
    try:
        ch.send(Cmd("AT"))
    except RuntimeError:
        pass
    else:
        raise AssertionError("two commands at once")
