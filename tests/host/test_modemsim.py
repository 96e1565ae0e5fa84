"""tools/modemsim's AT dialects without a pty: command bytes in, exact response bytes out, on a
fake clock (MODEM.md is the reference for every expected byte string)."""
import pytest

from modemsim import Bg95, Sim7080, make_modem
from modemsim.timers import active_seconds, edrx_seconds, tau_seconds

SERVER = ("127.0.0.1", 5683)
PAYLOAD = b"a\r\nAT\r\x1a\x1b\x00z"      # CR, LF, Ctrl-Z, Esc, NUL and an AT inside


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


def modem(model="sim7080", **knobs):
    """A modem after its banner, echo off, registered (unless the knobs say otherwise)."""
    clock = Clock()
    knobs.setdefault("reg_delay", 1.0)
    m = make_modem(model, clock=clock, **knobs)
    m.clock_ = clock
    m.read()
    at(m, "ATE0")
    advance(m, knobs["reg_delay"] + 0.05)
    m.read()
    return m


def at(m, cmd):
    m.feed(cmd.encode("latin-1") + b"\r" if isinstance(cmd, str) else cmd)
    m.poll()
    return m.read()


def advance(m, seconds):
    """Move the fake clock in small steps, running timers on the way."""
    end = m.clock_.t + seconds
    while m.clock_.t < end:
        m.clock_.t = min(end, m.clock_.t + 0.05)
        m.poll()


def ok(*lines):
    return b"".join(b"\r\n" + ln + b"\r\n" for ln in lines) + b"\r\nOK\r\n"


# ----- timer codings -----------------------------------------------------------------------------
def test_timer_codings():
    assert tau_seconds("00100001") == 3600 and tau_seconds("00000110") == 3600
    assert tau_seconds("01000111") == 70 * 3600 and tau_seconds("11100000") is None
    assert active_seconds("00000101") == 10 and active_seconds("00100100") == 240
    assert active_seconds("01000001") == 360 and active_seconds("11100000") is None
    assert active_seconds("10000001") == 60         # any other unit reads as 1 min
    assert edrx_seconds("0010") == 20.48 and edrx_seconds("1111") == 10485.76


# ----- framing, echo, errors ---------------------------------------------------------------------
@pytest.mark.parametrize("model,banner", [
    ("sim7080", b"\r\nRDY\r\n\r\n+CFUN: 1\r\n\r\n+CPIN: READY\r\n\r\nSMS Ready\r\n"),
    ("bg95", b"\r\nRDY\r\n\r\n+CFUN: 1\r\n\r\n+CPIN: READY\r\n\r\nAPP RDY\r\n")])
def test_banner_and_echo(model, banner):
    m = make_modem(model, clock=Clock())
    assert m.read() == banner
    assert at(m, "AT") == b"AT\r\r\nOK\r\n"             # echo is on after boot
    assert at(m, "ATE0") == b"ATE0\r\r\nOK\r\n"         # echoed once (MODEM.md 2)
    assert at(m, "AT") == b"\r\nOK\r\n"
    assert at(m, "ATE1") == b"\r\nOK\r\n"
    m.feed(b"A")
    assert m.read() == b"A"                             # each octet echoed as it comes
    m.feed(b"T\r")
    assert m.read() == b"T\r\r\nOK\r\n"
    assert at(m, "garbage") == b"garbage\r"             # not a command: no answer
    assert at(m, "at+cgmm") == b"at+cgmm\r" + ok(m.MODEL.encode())


def test_unknown_command_and_cmee_forms():
    m = modem(sim="missing")
    assert at(m, "AT+NOSUCH") == b"\r\nERROR\r\n"
    assert at(m, "AT+CMEE=0") == ok()
    assert at(m, "AT+CPIN?") == b"\r\nERROR\r\n"
    assert at(m, "AT+CMEE=1") == ok()
    assert at(m, "AT+CPIN?") == b"\r\n+CME ERROR: 10\r\n"
    assert at(m, "AT+CMEE=2") == ok()
    assert at(m, "AT+CPIN?") == b"\r\n+CME ERROR: SIM not inserted\r\n"
    assert at(m, "AT+CIMI") == b"\r\n+CME ERROR: SIM not inserted\r\n"
    assert at(m, "AT+NOSUCH") == b"\r\nERROR\r\n"       # unknown: plain ERROR whatever CMEE
    assert at(m, "AT+CMEE?") == ok(b"+CMEE: 2")
    assert at(m, "AT" + "+CSQ;" * 120) == b"\r\nERROR\r\n"     # over 559 characters


def test_default_cmee_per_model():
    assert modem("sim7080").cmee == 0 and modem("bg95").cmee == 1


def test_concatenated_commands_and_ids():
    m = modem()
    assert at(m, "AT+CMEE=2;+CGSN;+CIMI") == ok(b"869951040000017", b"001010123456789")
    assert at(m, "AT+IPR=115200;&W") == ok()
    assert at(m, "AT+CCID") == ok(b"89882390000012345678")      # bare line on SIM7080
    b = modem("bg95")
    assert at(b, "AT+QCCID") == ok(b"+QCCID: 89882390000012345678")
    assert at(b, "AT+CGSN=1") == ok(b'+CGSN: "869951040000017"')


def test_signal():
    m = modem(rsrp=-95, rsrq=20)
    assert at(m, "AT+CSQ") == ok(b"+CSQ: 19,99")
    assert at(m, "AT+CESQ") == ok(b"+CESQ: 99,99,255,255,20,46")
    m.gap(5)
    m.read()
    assert at(m, "AT+CSQ") == ok(b"+CSQ: 99,99")
    assert at(m, "AT+CESQ") == ok(b"+CESQ: 99,99,255,255,255,255")


# ----- registration ------------------------------------------------------------------------------
def test_cereg_progression_sim7080():
    m = modem(reg_delay=2.0)
    assert at(m, "AT+CEREG=2") == ok()
    assert at(m, "AT+CEREG?") == ok(b'+CEREG: 2,1,"5B57","195071B",7')
    assert at(m, "AT+CFUN=0") == b"\r\n+CPIN: NOT READY\r\n\r\nOK\r\n\r\n+CEREG: 0\r\n"
    assert at(m, "AT+CFUN=1") == ok() + b"\r\n+CPIN: READY\r\n\r\n+CEREG: 2\r\n"
    advance(m, 1.9)
    assert m.read() == b""
    advance(m, 0.2)
    assert m.read() == b'\r\n+CEREG: 1,"5B57","195071B",7\r\n'
    assert at(m, "AT+CEREG=?") == ok(b"+CEREG: (0-2,4)")
    assert at(m, "AT+CEREG=3") == b"\r\nERROR\r\n"      # n=3/5 unsupported (MODEM.md 2.1)
    assert at(m, "AT+COPS?") == ok(b'+COPS: 0,0,"SIM OP",7')
    assert at(m, "AT+CGATT?") == ok(b"+CGATT: 1")


def test_cereg_bg95_modes_and_roaming():
    m = modem("bg95", roaming=True)
    assert at(m, "AT+CEREG=5") == ok()
    assert at(m, "AT+CEREG?") == ok(b'+CEREG: 5,5,"5B57","0012BEEF",7')
    assert at(m, "AT+CEREG=1") == ok()
    assert at(m, "AT+CEREG?") == ok(b"+CEREG: 1,5")


def test_registration_denied():
    m = modem("bg95", deny=True)
    assert at(m, "AT+CEREG=3") == ok()
    assert at(m, "AT+CEREG?") == ok(b"+CEREG: 3,3,,,,0,15")
    assert at(m, "AT+QIACT=1") == b"\r\nERROR\r\n"


def test_sim_missing_and_pin():
    m = make_modem("sim7080", clock=Clock(), sim="missing", reg_delay=0)
    assert b"+CPIN: NOT INSERTED" in m.read()
    m.poll()
    assert m.stat == 0
    m = make_modem("bg95", clock=Clock(), sim="pin", reg_delay=0)
    assert b"+CPIN: SIM PIN" in m.read()
    at(m, "ATE0")
    assert at(m, "AT+CPIN?") == ok(b"+CPIN: SIM PIN")
    assert at(m, 'AT+CPIN="0000"') == b"\r\n+CME ERROR: 16\r\n"
    assert at(m, 'AT+CPIN="1234"') == ok() + b"\r\n+CPIN: READY\r\n"
    assert m.registered()


def test_rat_commands():
    m = modem(reg_delay=1.0)
    assert at(m, "AT+CMNB=2") == ok()                  # NB-IoT: search again, AcT 9
    advance(m, 1.1)
    assert at(m, "AT+CEREG=2;+CEREG?") == ok(b'+CEREG: 2,1,"5B57","195071B",9')
    assert at(m, "AT+CNMP?;+CMNB?") == ok(b"+CNMP: 2", b"+CMNB: 2")
    assert at(m, "AT+CNMP=14") == b"\r\nERROR\r\n"
    b = modem("bg95", reg_delay=1.0)
    assert at(b, 'AT+QCFG="iotopmode",1,1') == ok()
    advance(b, 1.1)
    assert at(b, 'AT+QCFG="iotopmode"') == ok(b'+QCFG: "iotopmode",1')
    assert b.act() == 9
    assert at(b, 'AT+QCFG="nwscanmode",3,1') == ok()
    assert at(b, 'AT+QCFG="nwscanmode",7') == b"\r\nERROR\r\n"
    assert at(b, 'AT+CGDCONT=1,"IP","iot.example"') == ok()
    assert at(b, "AT+CGDCONT?") == ok(b'+CGDCONT: 1,"IP","iot.example","0.0.0.0",0,0')


def test_interleaved_urcs():
    m = modem()
    m.inject_between("+CEREG: 1")
    assert at(m, "AT+CSQ") == b"\r\n+CSQ: 19,99\r\n\r\n+CEREG: 1\r\n\r\nOK\r\n"
    assert at(m, "AT+CSQ") == ok(b"+CSQ: 19,99")           # once
    assert at(m, "AT") == ok()                             # no info line: nothing put in
    m.set(interleave='+CGEV: "ME PDN ACT 1"')
    assert at(m, "AT+CGSN") == ok(b"869951040000017", b'+CGEV: "ME PDN ACT 1"')


# ----- SIM7080 sockets ---------------------------------------------------------------------------
def sim7080_socket(m, extra=""):
    assert at(m, "AT+CNACT=0,1") == ok() + b"\r\n+APP PDP: 0,ACTIVE\r\n"
    return at(m, 'AT+CAOPEN=0,0,"UDP","127.0.0.1",5683%s' % extra)


def test_sim7080_udp_exchange():
    m = modem()
    assert at(m, "AT+CNACT?") == ok(b'+CNACT: 0,0,"0.0.0.0"', b'+CNACT: 1,0,"0.0.0.0"',
                                    b'+CNACT: 2,0,"0.0.0.0"', b'+CNACT: 3,0,"0.0.0.0"')
    assert sim7080_socket(m) == ok(b"+CAOPEN: 0,0")
    assert at(m, "AT+CNACT=0,1") == b"\r\nERROR\r\n"            # already active
    assert at(m, "AT+CNACT?").startswith(b'\r\n+CNACT: 0,1,"10.94.36.44"\r\n')
    assert at(m, "AT+CASEND=0") == ok(b"+CASEND: 1460")
    assert at(m, "AT+CASEND=0,%d" % len(PAYLOAD)) == b"\r\n> "   # no CR/LF after it
    m.feed(PAYLOAD[:4])
    assert m.read() == b""
    m.feed(PAYLOAD[4:])
    assert m.read() == ok()
    assert m.net.sent == [(0, PAYLOAD, SERVER)]
    m.deliver(0, b"one\r\n\x1a", SERVER)
    m.deliver(0, b"two", SERVER)
    assert m.read() == b"\r\n+CADATAIND: 0\r\n"                # once, no length
    assert at(m, "AT+CARECV?") == ok(b"+CARECV: 0,9")
    assert at(m, "AT+CARECV=0,1460") == ok(b"+CARECV: 6,one\r\n\x1a")
    assert at(m, "AT+CASRIP=1") == ok()
    assert at(m, "AT+CARECV=0,2") == ok(b"+CARECV: 127.0.0.1,5683,2,tw")
    assert at(m, "AT+CARECV=0,100") == ok(b"+CARECV: 127.0.0.1,5683,1,o")
    assert at(m, "AT+CARECV=0,100") == ok(b"+CARECV: 0")
    assert at(m, "AT+CASTATE?") == ok(b"+CASTATE: 0,1")
    assert at(m, "AT+CAACK=0") == ok(b"+CAACK: %d,0" % len(PAYLOAD))
    assert at(m, "AT+CACLOSE=0") == ok()
    assert at(m, "AT+CACLOSE=0") == b"\r\nERROR\r\n"
    assert at(m, "AT+CASEND=0,5") == b"\r\nERROR\r\n"
    assert at(m, "AT+CNACT=0,0") == ok() + b"\r\n+APP PDP: 0,DEACTIVE\r\n"
    c = m.counters
    assert (c["ul_datagrams"], c["ul_octets"], c["dl_datagrams"], c["dl_octets"]) == \
        (1, len(PAYLOAD), 2, 9)
    assert c["uart_rx_payload"] == len(PAYLOAD) and c["uart_tx_payload"] == 9


def test_sim7080_open_errors_and_async_open():
    m = modem()
    assert at(m, 'AT+CAOPEN=0,0,"UDP","127.0.0.1",5683') == ok(b"+CAOPEN: 0,21")   # no PDP
    assert sim7080_socket(m) == ok(b"+CAOPEN: 0,0")
    assert at(m, 'AT+CAOPEN=1,0,"TCP","127.0.0.1",5683') == ok(b"+CAOPEN: 1,7")
    assert at(m, 'AT+CAOPEN=1,0,"UDP","server.example",5683') == ok(b"+CAOPEN: 1,20")
    assert at(m, 'AT+CACFG="ASYNCOPEN",1') == ok()
    assert at(m, 'AT+CAOPEN=2,0,"UDP","localhost",5684') == ok() + b"\r\n+CAOPEN: 2,0\r\n"
    assert at(m, "AT+CAOPEN?") == ok(b'+CAOPEN: 0,0,"UDP","127.0.0.1",5683',
                                     b'+CAOPEN: 2,0,"UDP","127.0.0.1",5684')


def test_sim7080_push_mode_and_buffer_full():
    m = modem(rx_buffer=10)
    assert sim7080_socket(m, ",1") == ok(b"+CAOPEN: 0,0")
    m.deliver(0, b"x\r\ny", SERVER)
    assert m.read() == b'\r\n+CAURC: "recv",0,4\r\nx\r\ny\r\n'
    at(m, "AT+CASRIP=1")
    m.deliver(0, b"z", SERVER)
    assert m.read() == b'\r\n+CAURC: "recv",0,1,127.0.0.1,5683\r\nz\r\n'
    at(m, 'AT+CAOPEN=1,0,"UDP","127.0.0.1",5683')
    m.deliver(1, b"123456", SERVER)
    m.read()
    m.deliver(1, b"123456", SERVER)
    assert m.read() == b'\r\n+CAURC: "buffer full"\r\n'
    assert m.counters["dl_dropped"] == 1


def test_sim7080_input_time():
    m = modem()
    sim7080_socket(m)
    assert at(m, "AT+CASEND=0,10,200") == b"\r\n> "
    m.feed(b"abc")
    advance(m, 0.25)
    assert m.read() == b"\r\nERROR\r\n"
    assert m.net.sent == [] and at(m, "AT") == ok()     # back in command mode


# ----- BG95 sockets ------------------------------------------------------------------------------
def bg95_socket(m, tail=""):
    assert at(m, 'AT+QICSGP=1,1,"iot.example","","",1') == ok()
    assert at(m, "AT+QIACT=1") == ok()
    return at(m, 'AT+QIOPEN=1,0,"UDP","127.0.0.1",5683%s' % tail)


def test_bg95_udp_exchange():
    m = modem("bg95")
    assert bg95_socket(m) == ok() + b"\r\n+QIOPEN: 0,0\r\n"        # OK first, then the result
    assert at(m, "AT+QIACT?") == ok(b'+QIACT: 1,1,1,"10.94.36.44"')
    assert at(m, "AT+QICSGP=1") == ok(b'+QICSGP: 1,"iot.example","","",0')
    assert at(m, "AT+QISEND=0,%d" % len(PAYLOAD)) == b"\r\n> "
    m.feed(PAYLOAD)
    assert m.read() == b"\r\nSEND OK\r\n"
    assert m.net.sent == [(0, PAYLOAD, SERVER)]
    m.deliver(0, b"test1", SERVER)
    m.deliver(0, b"\r\n", SERVER)
    assert m.read() == b'\r\n+QIURC: "recv",0\r\n'                # once until read empty
    assert at(m, "AT+QIRD=0,1500") == b"\r\n+QIRD: 5\r\ntest1\r\n\r\nOK\r\n"
    assert at(m, "AT+QIRD=0,0") == ok(b"+QIRD: 7,5,2")
    assert at(m, "AT+QIRD=0") == b"\r\n+QIRD: 2\r\n\r\n\r\n\r\nOK\r\n"
    assert at(m, "AT+QIRD=0,1500") == ok(b"+QIRD: 0")
    assert at(m, "AT+QISEND=0,0") == ok(b"+QISEND: %d,0,0" % len(PAYLOAD))
    assert at(m, "AT+QISTATE=1,0") == ok(b'+QISTATE: 0,"UDP","127.0.0.1",5683,0,2,1,0,0,"uart1"')
    assert at(m, "AT+QIACT=1") == b"\r\nERROR\r\n"          # already active
    assert at(m, 'AT+QIOPEN=1,0,"UDP","127.0.0.1",5683') == ok() + b"\r\n+QIOPEN: 0,563\r\n"
    assert at(m, "AT+QICLOSE=0") == ok()
    assert at(m, "AT+QISEND=0,3") == b"\r\nERROR\r\n"
    assert at(m, "AT+QIDEACT=1") == ok()


def test_async_delay():
    m = modem("bg95", async_delay=0.5)
    at(m, "AT+QIACT=1")
    assert at(m, 'AT+QIOPEN=1,0,"UDP","127.0.0.1",5683') == ok()
    advance(m, 0.45)
    assert m.read() == b""
    advance(m, 0.1)
    assert m.read() == b"\r\n+QIOPEN: 0,0\r\n"


def test_bg95_open_errors():
    m = modem("bg95")
    assert at(m, 'AT+QIOPEN=1,0,"UDP","127.0.0.1",5683') == ok() + b"\r\n+QIOPEN: 0,561\r\n"
    bg95_socket(m)
    assert at(m, 'AT+QIOPEN=1,1,"TCP","127.0.0.1",5683') == ok() + b"\r\n+QIOPEN: 1,552\r\n"
    assert at(m, "AT+QIGETERROR") == ok(b"+QIGETERROR: 552,invalid parameters")
    assert at(m, "AT+QISEND=0,1461") == b"\r\nERROR\r\n"


def test_bg95_ctrlz_push_and_service():
    m = modem("bg95")
    bg95_socket(m, ",0,1")                                        # direct push
    assert at(m, "AT+QISEND=0") == b"\r\n> "
    m.feed(b"hello\x1a")
    assert m.read() == b"\r\nSEND OK\r\n" and m.net.sent[-1][1] == b"hello"
    assert at(m, "AT+QISEND=0") == b"\r\n> "
    m.feed(b"nope\x1b")
    assert m.read() == b"\r\nSEND FAIL\r\n" and len(m.net.sent) == 1
    m.deliver(0, b"x\ry", SERVER)
    assert m.read() == b'\r\n+QIURC: "recv",0,3\r\nx\ry\r\n'
    assert at(m, 'AT+QIOPEN=1,2,"UDP SERVICE","127.0.0.1",0,3030,0') == \
        ok() + b"\r\n+QIOPEN: 2,0\r\n"
    assert at(m, 'AT+QISEND=2,2,"127.0.0.1",5699') == b"\r\n> "
    m.feed(b"hi")
    assert m.read() == b"\r\nSEND OK\r\n" and m.net.sent[-1] == (2, b"hi", ("127.0.0.1", 5699))
    m.deliver(2, b"back", ("127.0.0.1", 5699))
    assert m.read() == b'\r\n+QIURC: "recv",2\r\n'
    assert at(m, "AT+QIRD=2") == b'\r\n+QIRD: 4,"127.0.0.1",5699\r\nback\r\n\r\nOK\r\n'


def test_bg95_qisendex_and_rai():
    m = modem("bg95")
    bg95_socket(m)
    assert at(m, 'AT+QISENDEX=0,"00ff0d0a1a",1') == ok(b"SEND OK")   # on LTE-M: ignored
    assert m.net.sent[-1][1] == b"\x00\xff\r\n\x1a"
    assert m.counters["rai_ignored"] == 1 and m.counters["rai_marks"] == 0
    assert at(m, 'AT+QISENDEX=0,"zz"') == b"\r\nERROR\r\n"
    at(m, 'AT+QCFG="iotopmode",1,1')
    advance(m, 1.1)
    assert at(m, 'AT+QISENDEX=0,"41",1') == ok(b"SEND OK")
    assert m.counters["rai_marks"] == 1
    assert not m.rrc                              # RAI 1: released right after the uplink
    assert at(m, "AT+QISEND=0,1,2") == b"\r\n> "  # the unconfirmed RAI argument of QISEND
    m.feed(b"B")
    assert m.counters["rai_marks"] == 2 and m.rrc
    m.deliver(0, b"dl", SERVER)                   # RAI 2: released after one downlink
    assert not m.rrc
    # 512 octets, all MODEM.md 3.4 allows: a 1043-character line (SIMCom's 559 would refuse it)
    pay = m.counters["uart_rx_payload"]
    m.read()
    assert at(m, 'AT+QISENDEX=0,"%s",2' % ("5a" * 512)) == ok(b"SEND OK")
    assert m.net.sent[-1][1] == b"Z" * 512
    assert m.counters["uart_rx_payload"] == pay + 1024      # the UART octets of the payload
    assert at(m, 'AT+QISENDEX=0,"%s",2' % ("5a" * 513)) == b"\r\nERROR\r\n"


# ----- knobs: gaps, resets, PDP loss -------------------------------------------------------------
@pytest.mark.parametrize("model", ["sim7080", "bg95"])
def test_coverage_gap(model):
    m = modem(model)
    at(m, "AT+CEREG=1")
    (sim7080_socket if model == "sim7080" else bg95_socket)(m)
    m.gap(3)
    assert m.read() == b"\r\n+CEREG: 4\r\n"
    send = "AT+CASEND=0,2" if model == "sim7080" else "AT+QISEND=0,2"
    assert at(m, send) == b"\r\n> "
    m.feed(b"up")
    assert m.read() in (ok(), b"\r\nSEND OK\r\n")         # accepted, lost on the way
    m.deliver(0, b"down", SERVER)
    assert m.read() == b"" and m.net.sent == []
    assert m.counters["ul_dropped"] == 1 and m.counters["dl_dropped"] == 1
    advance(m, 3.1)
    assert m.read() == b"\r\n+CEREG: 1\r\n"
    assert at(m, send) == b"\r\n> "
    m.feed(b"up")
    assert m.net.sent == [(0, b"up", SERVER)]


@pytest.mark.parametrize("model", ["sim7080", "bg95"])
def test_reset_mid_session(model):
    m = modem(model)
    at(m, "AT+CEREG=1;+CMEE=2")
    (sim7080_socket if model == "sim7080" else bg95_socket)(m)
    m.reset()
    out = m.read()
    assert out.startswith(b"\r\nRDY\r\n") and m.counters["resets"] == 1
    assert m.sockets == {} and m.pdp == {} and m.net.open_keys == set()
    assert m.cmee == m.CMEE_DEFAULT and m.cereg_n == 0
    assert at(m, "AT") == b"AT\r\r\nOK\r\n"                 # echo back on


def test_cfun_reset_command():
    m = modem()
    out = at(m, "AT+CFUN=1,1")
    assert out == b"\r\nOK\r\n\r\nRDY\r\n\r\n+CFUN: 1\r\n\r\n+CPIN: READY\r\n\r\nSMS Ready\r\n"


def test_pdp_loss_sim7080():
    m = modem()
    sim7080_socket(m)
    m.pdp_loss()
    assert m.read() == b"\r\n+APP PDP: 0,DEACTIVE\r\n\r\n+CASTATE: 0,0\r\n"
    assert at(m, "AT+CASEND=0,1") == b"\r\nERROR\r\n"
    assert sim7080_socket(m) == ok(b"+CAOPEN: 0,0")


def test_pdp_loss_bg95():
    m = modem("bg95")
    bg95_socket(m)
    m.deliver(0, b"kept", SERVER)
    m.read()
    m.pdp_loss()
    assert m.read() == b'\r\n+QIURC: "pdpdeact",1\r\n'
    assert at(m, "AT+QISEND=0,1") == b"\r\nERROR\r\n"
    assert at(m, "AT+QIRD=0") == b"\r\n+QIRD: 4\r\nkept\r\n\r\nOK\r\n"
    m.deliver(0, b"lost", SERVER)
    assert m.read() == b"" and m.counters["dl_dropped"] == 1
    assert at(m, "AT+QICLOSE=0") == ok()
    assert at(m, "AT+QIACT=1") == ok()


@pytest.mark.parametrize("dial", ["ATD*99#", "ATD*99***1#", 'AT+CGDATA="PPP",1'])
def test_ppp_connect_escape_and_hangup(dial):
    m = modem("bg95")
    assert at(m, dial) == b"\r\nCONNECT 150000000\r\n"
    assert at(m, "AT") == b"" and m.mode == "ppp"          # PPP now: no AT, no echo
    m.feed(b"\x7e\xff\x7d\x23+++\x7e")                # '+' inside frames is data
    advance(m, 1.5)
    assert m.read() == b""
    advance(m, 1.0)                                      # 1 s of silence ...
    m.feed(b"+++")
    advance(m, 0.5)
    assert m.read() == b""
    advance(m, 0.6)                                      # ... and 1 s after: command mode
    assert m.read() == b"\r\nOK\r\n" and at(m, "AT") == ok()
    assert at(m, "ATO") == b"\r\nCONNECT 150000000\r\n" and m.mode == "ppp"
    advance(m, 1.1)
    m.feed(b"+++")
    advance(m, 1.1)
    assert at(m, "ATH") == b"\r\nOK\r\n" * 2               # the escape's OK, then ATH's
    assert at(m, "ATO") == b"\r\nNO CARRIER\r\n"
    assert m.counters["ppp_octets"] == 3 + 8 + 3 + 3


def test_ppp_without_network_and_pdp_loss():
    m = modem(deny=True)
    assert at(m, "ATD*99#") == b"\r\nNO CARRIER\r\n"
    assert at(m, "ATD123;") == b"\r\nERROR\r\n"
    m = modem()
    at(m, "ATD*99***1#")
    m.pdp_loss()
    assert m.read() == b"\r\nNO CARRIER\r\n" and m.mode == "cmd"


# ----- power saving ------------------------------------------------------------------------------
def test_psm_sim7080_silent_until_pwrkey():
    m = modem(rrc_inactivity=2.0)
    assert at(m, "AT+CPSMSTATUS=1;+CEREG=4") == ok()
    assert at(m, 'AT+CPSMS=1,,,"00100001","00000101"') == \
        ok() + b'\r\n+CEREG: 1,"5B57","195071B",7,,,"00000101","00100001"\r\n'
    assert at(m, "AT+CPSMS?") == ok(b'+CPSMS: 1,,,"00100001","00000101"')
    assert at(m, "AT+CPSMRDP") == ok(b"+CPSMRDP: 1,10,3600,10,3600,3240")
    advance(m, 2.0 + 9.9)                       # RRC released after 2 s, T3324 10 s
    assert m.read() == b"" and m.mode == "cmd"
    advance(m, 0.2)
    assert m.read() == b'\r\n+CPSMSTATUS: "ENTER PSM"\r\n'
    assert at(m, "AT") == b""                   # silent: the UART is not heard
    m.deliver(0, b"x", SERVER)
    assert m.counters["uart_ignored"] == 3 and m.counters["psm_entries"] == 1
    m.pwrkey()
    assert m.read() == b'\r\n+CPSMSTATUS: "EXIT PSM"\r\n'
    assert at(m, "AT") == ok() and m.registered()
    c = m.counters
    assert (c["psm_requested"], c["psm_granted"], c["psm_wakes"]) == (1, 1, 1)
    advance(m, 2.0 + 9.9)                       # connected after the wake, then T3324
    assert m.mode == "cmd"
    advance(m, 0.2)
    assert m.mode == "psm"


def test_psm_bg95_pin_levels_and_traffic_keeps_awake():
    m = modem("bg95", rrc_inactivity=1.0)
    bg95_socket(m)
    assert at(m, 'AT+CPSMS=1,,,"00100001","00000001"') == ok()    # active time 2 s
    for _ in range(5):                          # traffic every second: no PSM
        advance(m, 1.0)
        m.deliver(0, b"k", SERVER)
    assert m.mode == "cmd"
    advance(m, 3.1)
    assert m.mode == "psm" and m.read().endswith(b"\r\nPSM POWER DOWN\r\n")
    m.pwrkey_level(0)                           # falling edge wakes it
    assert m.mode == "cmd"
    advance(m, 2.0)                             # a long press that began in PSM: not off
    m.pwrkey_level(1)
    assert m.mode in ("cmd", "psm")


def test_psm_refused_and_rai_shortens_wake():
    m = modem(grant_psm=False)
    at(m, "AT+CEREG=4")
    assert at(m, 'AT+CPSMS=1,,,"00100001","00000000"') == \
        ok() + b'\r\n+CEREG: 1,"5B57","195071B",7\r\n'
    assert at(m, "AT+CPSMRDP") == ok(b"+CPSMRDP: 1,0,3600,0,0,3240")
    advance(m, 60)
    assert m.mode == "cmd" and m.counters["psm_granted"] == 0
    m = modem(rrc_inactivity=20.0, grant_psm=("00100001", "00000000"))
    at(m, "AT+CMNB=2")                          # NB-IoT: RAI counts
    advance(m, 1.1)
    at(m, 'AT+CPSMS=1,,,"00100001","00000101"')     # network grants Active-Time 0
    sim7080_socket(m)
    assert at(m, "AT+CRAI=1") == ok() and at(m, "AT+CRAI?") == ok(b"+CRAI: 1,0")
    at(m, "AT+CASEND=0,1")
    m.feed(b"!")
    m.poll()
    assert m.mode == "psm"                      # RAI release + Active-Time 0: PSM at once
    assert m.counters["rai_marks"] == 1 and m.crai == (0, 0)     # one-time


def test_edrx():
    m = modem()
    assert at(m, 'AT+CEDRXS=2,4,"0101"') == ok() + b'\r\n+CEDRXP: 4,"0101","0101","0011"\r\n'
    assert at(m, "AT+CEDRXS?") == ok(b'+CEDRXS: 4,"0101"')
    assert at(m, "AT+CEDRXRDP") == ok(b'+CEDRXRDP: 4,"0101","0101","0011"')
    m.set(grant_edrx=False)
    assert at(m, 'AT+CEDRXS=1,4,"0010"') == ok()
    assert at(m, "AT+CEDRXRDP") == ok(b"+CEDRXRDP: 0")
    c = m.counters
    assert (c["edrx_requested"], c["edrx_granted"]) == (2, 1)
    assert at(m, "AT+CEDRXS=3") == ok() and at(m, "AT+CEDRXS?") == ok()


@pytest.mark.parametrize("model,urc,off_ms", [("sim7080", b"NORMAL POWER DOWN", 1200),
                                              ("bg95", b"POWERED DOWN", 650)])
def test_pwrkey_power_off_and_on(model, urc, off_ms):
    m = modem(model)
    m.pwrkey(200)                               # short press while on: nothing
    assert m.mode == "cmd" and m.read() == b""
    m.pwrkey(off_ms)
    assert m.read() == b"\r\n" + urc + b"\r\n" and m.mode == "off"
    assert at(m, "AT") == b""
    m.pwrkey(1000)
    assert m.read().startswith(b"\r\nRDY\r\n") and at(m, "AT") == b"AT\r\r\nOK\r\n"


def test_power_down_commands():
    m = modem()
    assert at(m, "AT+CPOWD=1") == b"\r\nNORMAL POWER DOWN\r\n" and m.mode == "off"
    b = modem("bg95")
    assert at(b, "AT+QPOWD=1") == b"\r\nOK\r\n\r\nPOWERED DOWN\r\n" and b.mode == "off"


def test_uart_counters_and_knob_errors():
    m = modem()
    before = dict(m.counters)
    at(m, "AT")
    assert m.counters["uart_rx_octets"] - before["uart_rx_octets"] == 3
    assert m.counters["uart_tx_octets"] - before["uart_tx_octets"] == 6
    with pytest.raises(TypeError):
        m.set(no_such_knob=1)
    with pytest.raises(ValueError):
        make_modem("sim800")
    assert isinstance(make_modem("bg96", clock=Clock()), Bg95)
    assert isinstance(make_modem("SIM7080", clock=Clock()), Sim7080)
