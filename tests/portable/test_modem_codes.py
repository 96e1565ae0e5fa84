# heapsize: 32k
# board-heapsize: 10k   (unix32, library frozen; measured minimum 8k)
"""modem.codes against MODEM.md's worked examples: +CSQ/+CESQ to dBm, +CEREG fields (SIMCom's
unpadded ci and empty cause fields, Nordic's URC, the read form), T3412-ext / T3324 / eDRX."""
from modem.codes import active_bits, active_seconds, cereg, cme_is, cme_text, csq_dbm, \
    edrx_bits, edrx_seconds, rsrp_dbm, tau_bits, tau_seconds


def test_signal_in_dbm():
    assert csq_dbm(0) == -113 and csq_dbm(1) == -111 and csq_dbm(20) == -73
    assert csq_dbm(31) == -51 and csq_dbm(99) is None
    assert rsrp_dbm(0) == -141 and rsrp_dbm(45) == -96 and rsrp_dbm(97) == -44
    assert rsrp_dbm(255) is None


def test_cereg_forms():
    assert cereg('+CEREG: 1,"5B57","195071B",9,,,"00000001","01011111"') == \
        (1, 9, "00000001", "01011111")
    assert cereg('+CEREG: 4,1,"5B57","195071B",9,,,"00000000","01100000"', True) == \
        (1, 9, "00000000", "01100000")
    assert cereg('+CEREG: 1,"002F","0012BEEF",7') == (1, 7, None, None)
    assert cereg("+CEREG: 2") == (2, None, None, None)
    assert cereg("+CEREG: 2,4", True) == (4, None, None, None)


def test_tau_worked_examples():
    assert tau_bits(3600) == "00100001"            # 1 h
    assert tau_bits(36000) == "01000001"           # 10 h
    assert tau_bits(70 * 3600) == "01000111"       # SIMCom's 70 h
    assert tau_bits(310 * 3600) == "01011111"      # 310 h
    assert tau_bits(30) == "10000001" and tau_bits(2) == "01100001"
    assert tau_bits(3601) == "00000111"            # not exact: next value up (70 min)
    assert tau_seconds("00100001") == 3600 and tau_seconds("00000110") == 3600
    assert tau_seconds("11100000") is None and tau_seconds("01011111") == 1116000


def test_active_time_worked_examples():
    assert active_bits(10) == "00000101" and active_bits(2) == "00000001"
    assert active_bits(60) == "00100001" and active_bits(240) == "00100100"
    assert active_bits(0) == "00000000"
    assert active_bits(63) == "00100010"           # over 62 s: whole minutes, rounded up
    assert active_seconds("00000101") == 10 and active_seconds("11100000") is None
    assert active_seconds("01000010") == 720 and active_seconds("01100001") == 60


def test_edrx():
    assert edrx_bits(20.48) == "0010" and edrx_bits(20) == "0010" and edrx_bits(5) == "0000"
    assert edrx_bits(81.92) == "0101" and edrx_bits(99999) == "1111"
    assert edrx_seconds("0010") == 20.48 and edrx_seconds("1101") == 2621.44
    assert edrx_seconds("x") is None


def test_cme_numeric_and_verbose():
    assert cme_is(10, 10) and cme_is("SIM not inserted", 10) and not cme_is("SIM busy", 10)
    assert cme_text(10) == "SIM not inserted" and cme_text("x y") == "x y"
    assert cme_text(999) == "error 999"
