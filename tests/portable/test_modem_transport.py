# heapsize: 96k
# board-heapsize: 48k   (unix32, library frozen; measured minimum 38k: a 512-octet AT+QISENDEX line is 1 KB of hex)
"""Datagrams over both socket dialects, byte-exact on the UART (MODEM.md 4, 5, 3.4): open,
send after the prompt, datagrams pushed with their URC (SIM7080 recv_mode 1, BG95 direct
push), the data-waiting URC of the modes without a length and reads by length with CR/LF/0x1A
inside, a datagram over 1460 octets refused locally (one over 1460 received is cut: the
endpoint sees it), RAI where the RAT allows it. AT overhead per datagram <= 60 each way."""
from fakemodem import OK, drive, up

PEER = ("10.0.0.1", 5683)
UP = b"\x40\x01\x12\x34\xb4test\r\n\x1a\r\nOK\r\n"       # CoAP-like, with line ends inside
DOWN = b"\x60\x45\x12\x34\xff\x1a\r\n+CEREG: 2\r\nOK\r\n"


def got(link):
    out = []
    link.on_datagram = lambda d, a: out.append((bytes(d), a))     # a view: valid in the call
    return out


def test_sim7080_send_and_receive_pushed_byte_exact():
    link, u, clock, _ = up("sim7080")
    rx = got(link)
    u.expect('AT+CAOPEN=0,0,"UDP","10.0.0.1",5683,1\r', b"\r\n+CAOPEN: 0,0\r\n" + OK)
    u.expect("AT+CASEND=0,%d\r" % len(UP), b"\r\n> ")
    u.expect(UP, OK)
    link.sendto(UP, PEER)
    assert drive(link, clock, lambda: not u.script, 5000), u.script[:1]
    r0, w0 = link.ch.rx_octets, u.written
    u.expect("AT+CASEND=0,%d\r" % len(UP), b"\r\n> ")
    u.expect(UP, OK + b'\r\n+CAURC: "recv",0,%d\r\n%s\r\n' % (len(DOWN), DOWN))
    link.sendto(UP, PEER)
    assert drive(link, clock, lambda: not u.script and rx, 5000), u.script[:1]
    assert rx == [(DOWN, PEER)] and link.rx_datagrams == 1 and link.ch.stray == 0
    # one datagram each way: no read command; the modem's side is prompt, OK and the URC
    assert u.written - w0 - len(UP) == len("AT+CASEND=0,17\r") == 15
    assert link.ch.rx_octets - r0 - len(DOWN) == 4 + 6 + len('\r\n+CAURC: "recv",0,17\r\n') + 2
    assert link.ch.rx_octets - r0 - len(DOWN) <= 60


def test_sim7080_without_recv_mode_reads_until_empty():
    """A firmware that refuses recv_mode (TinyGSM saw one, MODEM.md 4): mode 0 from then on,
    +CADATAIND without a length, +CARECV until it says 0."""
    link, u, clock, _ = up("sim7080")
    rx = got(link)
    n0 = u.written
    u.expect('AT+CAOPEN=0,0,"UDP","10.0.0.1",5683,1\r', b"\r\nERROR\r\n")
    u.expect('AT+CAOPEN=0,0,"UDP","10.0.0.1",5683\r', b"\r\n+CAOPEN: 0,0\r\n" + OK)
    u.expect("AT+CASEND=0,%d\r" % len(UP), b"\r\n> ")
    u.expect(UP, OK + b"\r\n+CADATAIND: 0\r\n")
    u.expect("AT+CARECV=0,1460\r", b"\r\n+CARECV: %d,%s\r\n" % (len(DOWN), DOWN) + OK)
    u.expect("AT+CARECV=0,1460\r", b"\r\n+CARECV: 0\r\n" + OK)
    link.sendto(UP, PEER)
    assert drive(link, clock, lambda: not u.script and rx, 5000), u.script[:1]
    assert rx == [(DOWN, PEER)] and link.tx_datagrams == 1 and link.rx_datagrams == 1
    n1 = u.written
    u.expect("AT+CASEND=0,%d\r" % len(UP), b"\r\n> ")     # the socket stays open
    u.expect(UP)
    link.sendto(UP, PEER)
    assert drive(link, clock, lambda: not u.script, 5000)
    assert u.written - n1 - len(UP) == len("AT+CASEND=0,17\r") <= 60   # AT overhead
    assert n1 - n0 > 0 and link.ch.stray == 0 and not link.d.push


def test_bg95_send_and_receive_pushed_byte_exact():
    link, u, clock, _ = up("bg95")
    rx = got(link)
    u.expect('AT+QIOPEN=1,0,"UDP","10.0.0.1",5683,0,1\r', OK + b"\r\n+QIOPEN: 0,0\r\n")
    u.expect("AT+QISEND=0,%d\r" % len(UP), b"\r\n> ")
    u.expect(UP, b"\r\nSEND OK\r\n")
    link.sendto(UP, PEER)
    assert drive(link, clock, lambda: not u.script, 5000), u.script[:1]
    r0 = link.ch.rx_octets
    u.inject(b'\r\n+QIURC: "recv",0,%d\r\n%s\r\n' % (len(DOWN), DOWN))
    u.inject(b'\r\n+QIURC: "recv",0,3\r\n\r\n\x1a\r\n')
    assert drive(link, clock, lambda: len(rx) == 2, 5000)
    assert rx == [(DOWN, PEER), (b"\r\n\x1a", PEER)] and link.ch.stray == 0
    assert link.ch.rx_octets - r0 - len(DOWN) - 3 == 2 * (len('\r\n+QIURC: "recv",0,17\r\n') + 2) - 1


def test_datagram_over_1460_received_is_cut_and_skipped():
    link, u, clock, _ = up("bg95")
    rx = got(link)
    u.inject(b'\r\n+QIURC: "recv",0,1500\r\n' + bytes(1500) + b'\r\n+QIURC: "recv",0,2\r\nok')
    assert drive(link, clock, lambda: len(rx) == 2, 5000)
    assert len(rx[0][0]) == 1461 and rx[1][0] == b"ok" and link.ch.stray == 0


def test_bg95_buffer_mode_reads_until_empty():
    """A +QIURC "recv" without a length (buffer mode): read until +QIRD: 0."""
    link, u, clock, _ = up("bg95")
    rx = got(link)
    u.expect('AT+QIOPEN=1,0,"UDP","10.0.0.1",5683,0,1\r', OK + b"\r\n+QIOPEN: 0,0\r\n")
    u.expect("AT+QISEND=0,%d\r" % len(UP), b"\r\n> ")
    u.expect(UP, b"\r\nSEND OK\r\n")
    link.sendto(UP, PEER)
    assert drive(link, clock, lambda: not u.script, 5000), u.script[:1]
    u.expect("AT+QIRD=0,1500\r", b"\r\n+QIRD: %d\r\n%s\r\n" % (len(DOWN), DOWN) + OK)
    u.expect("AT+QIRD=0,1500\r", b"\r\n+QIRD: %d\r\n%s\r\n" % (3, b"\r\n\x1a") + OK)
    u.expect("AT+QIRD=0,1500\r", b"\r\n+QIRD: 0\r\n" + OK)
    u.inject(b'\r\n+QIURC: "recv",0\r\n')
    assert drive(link, clock, lambda: not u.script and len(rx) == 2, 5000), u.script[:1]
    assert rx == [(DOWN, PEER), (b"\r\n\x1a", PEER)] and link.rx_octets == len(DOWN) + 3


def test_send_fail_and_closed_socket_reopened():
    link, u, clock, _ = up("bg95")
    u.expect('AT+QIOPEN=1,0,"UDP","10.0.0.1",5683,0,1\r', OK + b"\r\n+QIOPEN: 0,0\r\n")
    u.expect("AT+QISEND=0,1\r", b"\r\n>")
    u.expect(b"a", b"\r\nSEND FAIL\r\n")             # buffer full: this one is lost
    link.sendto(b"a", PEER)
    assert drive(link, clock, lambda: not u.script, 5000)
    assert link.send_failed == 1 and link.socks[0].open
    u.inject(b'\r\n+QIURC: "closed",0\r\n')
    u.expect("AT+QICLOSE=0\r")                       # the host must still close it
    u.expect('AT+QIOPEN=1,0,"UDP","10.0.0.1",5683,0,1\r', OK + b"\r\n+QIOPEN: 0,0\r\n")
    u.expect("AT+QISEND=0,1\r", b"\r\n>")
    u.expect(b"b", b"\r\nSEND OK\r\n")
    link.sendto(b"b", PEER)
    assert drive(link, clock, lambda: not u.script, 5000), u.script[:1]


def test_open_failure_loses_the_datagram_not_the_link():
    link, u, clock, ev = up("sim7080")
    u.expect('AT+CAOPEN=0,0,"UDP","10.0.0.1",5683,1\r', b"\r\n+CAOPEN: 0,27\r\n" + OK)
    link.sendto(b"x", PEER)
    assert drive(link, clock, lambda: not u.script, 5000)
    drive(link, clock, None, 100)
    assert link.up and link.send_failed == 1 and "+CAOPEN result 27" in link.socket_error
    assert link.error is None and ev == [(True, "registered")]


def test_datagram_over_1460_refused_locally():
    link, u, clock, _ = up("sim7080")
    try:
        link.sendto(bytes(1461), PEER)
    except OSError as e:
        assert "1461 octets" in str(e.args[-1]) and "1460" in str(e.args[-1]), e.args
    else:
        raise AssertionError("1461 octets accepted")
    assert link.oversize == 1 and link._qn == 0
    assert link.sendto(bytes(1460), PEER) == 1460


def test_queue_is_bounded():
    link, u, clock, _ = up("sim7080")
    for i in range(6):
        link.sendto(bytes([i]), PEER)
    assert link._qn == 4 and link.dropped == 2


def test_rai_sim7080_on_nbiot():
    link, u, clock, _ = up("sim7080", rai=True)
    u.expect('AT+CAOPEN=0,0,"UDP","10.0.0.1",5683,1\r', b"\r\n+CAOPEN: 0,0\r\n" + OK)
    u.expect("AT+CRAI=1,0\r")
    u.expect("AT+CASEND=0,2\r", b"\r\n> ")
    u.expect(b"ab")
    u.expect("AT+CASEND=0,2\r", b"\r\n> ")          # only the marked one
    u.expect(b"cd")
    link.release_after_next()
    link.sendto(b"ab", PEER)
    link.sendto(b"cd", PEER)
    assert drive(link, clock, lambda: not u.script, 5000), u.script[:1]
    assert link.rai_marks == 1 and link.rai_unavailable == 0


def test_rai_bg95_hex_form_and_unavailable_on_ltem():
    link, u, clock, _ = up("bg95", rai=True)
    u.expect('AT+QIOPEN=1,0,"UDP","10.0.0.1",5683,0,1\r', OK + b"\r\n+QIOPEN: 0,0\r\n")
    u.expect('AT+QISENDEX=0,"0d0a1a",1\r', b"\r\nSEND OK\r\n")
    link.release_after_next()
    link.sendto(b"\r\n\x1a", PEER)
    assert drive(link, clock, lambda: not u.script, 5000), u.script[:1]
    link.act = 7                                    # LTE-M: no RAI (MODEM.md 3.4)
    u.expect("AT+QISEND=0,1\r", b"\r\n>")
    u.expect(b"z", b"\r\nSEND OK\r\n")
    link.release_after_next()
    link.sendto(b"z", PEER)
    assert drive(link, clock, lambda: not u.script, 5000)
    assert link.rai_marks == 2 and link.rai_unavailable == 1


def test_rai_bg95_up_to_512_octets_in_chunks_then_cnmpsd():
    # A sensor's MSG is 281 octets: AT+QISENDEX carries up to 512 (MODEM.md 3.4), a line of
    # 1043 characters that goes out in chunks of at most 256 octets (no long UART stall).
    link, u, clock, _ = up("bg95", rai=True)
    writes = []
    w = u.write
    u.write = lambda b: writes.append(len(b)) or w(b)
    u.expect('AT+QIOPEN=1,0,"UDP","10.0.0.1",5683,0,1\r', OK + b"\r\n+QIOPEN: 0,0\r\n")
    u.expect('AT+QISENDEX=0,"%s",2\r' % ("5a" * 512), b"\r\nSEND OK\r\n")
    link.release_after_next(2)
    link.sendto(b"Z" * 512, PEER)
    assert drive(link, clock, lambda: link.tx_datagrams == 1, 5000), u.script[:1]
    assert max(writes) <= 256 and link.released == 2, (writes, link.released)
    # 513 octets: no RAI form carries them. QISEND, the mark counted unavailable, and the
    # release before the deep sleep asks AT+CNMPSD instead of taking the mark as sent.
    u.expect("AT+QISEND=0,513\r", b"\r\n> ")
    u.expect(b"Y" * 513, b"\r\nSEND OK\r\n")
    link.release_after_next(2)
    link.sendto(b"Y" * 513, PEER)
    assert drive(link, clock, lambda: link.tx_datagrams == 2, 5000), u.script[:1]
    assert link.rai_marks == 2 and link.rai_unavailable == 1 and link.released == 0
    u.expect("AT+CNMPSD\r")
    link.release(1000)
    assert not u.script and link.released == 1, u.script[:1]
