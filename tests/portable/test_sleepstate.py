# heapsize: 29k
# board-heapsize: 15k   (unix32, library frozen; measured minimum 12k)
"""msgin5g.sleepstate: the record a duty-cycled device keeps across deep sleep (issue 13),
byte-exact, and its two stores (RTC memory, a file written only when it changes)."""
import os
from binascii import crc32, hexlify, unhexlify

from msgin5g import sleepstate
from msgin5g.sleepstate import FileStore, RtcStore, State, decode, encode

MID = "0f8fad5b-d9cb-469f-a165-70867728950e"


def _full():
    st = State()
    st.registered = True
    st.clock = 0x01020304
    st.reg_at = 0x0A0B0C0D
    st.port = 50000
    st.app = 7
    st.reg_id = 0x11223344
    st.seen = [(0x3FFFFFFF, 1, 600), (5, 6, 70000)]   # an age over 65535 s is kept as 65535
    st.reports = [(MID, "as-1")]
    st.modem = b"\x01\x02"
    return st


def test_empty_record_byte_exact():
    body = b"S5\x02\x00" + bytes(18) + b"\x00\x00\x00"
    want = body + (crc32(body) & 0xFFFFFFFF).to_bytes(4, "big")
    assert encode(State()) == want
    assert hexlify(want) == b"53350200000000000000000000000000000000000000000000bb10ad9d"


def test_full_record_byte_exact():
    body = (b"S5\x02\x01" + b"\x01\x02\x03\x04" + b"\x0a\x0b\x0c\x0d" + b"\xc3\x50" +
            b"\x00\x00\x00\x07" + b"\x11\x22\x33\x44" +
            b"\x02" + b"\x3f\xff\xff\xff\x00\x00\x00\x01\x02\x58" +
            b"\x00\x00\x00\x05\x00\x00\x00\x06\xff\xff" +
            b"\x01" + b"\xff" + unhexlify(MID.replace("-", "")) + b"\x04as-1" +
            b"\x02\x01\x02")
    data = encode(_full())
    assert data == body + (crc32(body) & 0xFFFFFFFF).to_bytes(4, "big")
    assert len(data) == 73


def test_round_trip():
    st = decode(encode(_full()))
    assert st.registered and st.clock == 0x01020304 and st.reg_at == 0x0A0B0C0D
    assert st.port == 50000 and st.app == 7 and st.modem == b"\x01\x02"
    assert st.reg_id == 0x11223344
    assert st.seen == [(0x3FFFFFFF, 1, 600), (5, 6, 65535)]
    assert st.reports == [(MID, "as-1")]
    s2 = State()
    s2.reports = [("not-a-uuid", "ü-1"), (MID.upper(), "x")]   # kept as text
    assert decode(encode(s2)).reports == s2.reports


def test_bounds_keep_the_newest():
    st = State()
    st.seen = [(i, i, 1) for i in range(40)]
    st.reports = [("m%d" % i, "d") for i in range(6)]
    back = decode(encode(st))
    assert [s[0] for s in back.seen] == list(range(8, 40))
    assert [r[0] for r in back.reports] == ["m2", "m3", "m4", "m5"]


def test_anything_not_a_whole_record_is_none():
    good = encode(_full())
    assert decode(b"") is None and decode(b"\x00" * 64) is None
    for n in range(len(good)):             # torn at every length
        assert decode(good[:n]) is None
    for i in range(len(good)):             # one flipped bit anywhere
        b = bytearray(good)
        b[i] ^= 0x10
        assert decode(bytes(b)) is None
    b = bytearray(good)
    b[2] = 1                                # another version (1: before regId), CRC right
    b[-4:] = (crc32(bytes(b[:-4])) & 0xFFFFFFFF).to_bytes(4, "big")
    assert decode(bytes(b)) is None
    body = encode(State())[:-4] + b"\x00"  # lengths that do not add up, CRC right
    assert decode(body + (crc32(body) & 0xFFFFFFFF).to_bytes(4, "big")) is None
    assert decode(good + b"\x00") is None


class FakeRtc:
    def __init__(self, data=b""):
        self.data = data

    def memory(self, data=None):
        if data is None:
            return self.data
        self.data = bytes(data)


def test_rtc_store_writes_only_changes():
    rtc = FakeRtc(b"\xff" * 10)            # power-on garbage
    s = RtcStore(rtc)
    assert s.load() is None
    st = _full()
    s.save(st)
    s.save(st)
    assert s.writes == 1 and decode(rtc.data).app == 7
    st.app = 8
    s.save(st)
    assert s.writes == 2
    s2 = RtcStore(rtc)
    assert s2.load().app == 8
    s2.save(s2.load())                      # unchanged after a wake: no write
    assert s2.writes == 0


def test_file_store_writes_only_changes_and_survives_a_torn_file():
    path = "sleepstate-test.state"
    for p in (path, path + ".tmp"):
        try:
            os.remove(p)
        except OSError:
            pass
    try:
        s = FileStore(path)
        assert s.load() is None
        st = _full()
        s.save(st)
        s.save(st)
        assert s.writes == 1
        assert FileStore(path).load().reports == [(MID, "as-1")]
        with open(path, "wb") as f:         # a torn write (a power cut)
            f.write(encode(st)[:30])
        s2 = FileStore(path)
        assert s2.load() is None
        s2.save(st)                         # rewritten: it differs from what was read
        assert s2.writes == 1 and FileStore(path).load().app == 7
    finally:
        for p in (path, path + ".tmp"):
            try:
                os.remove(p)
            except OSError:
                pass


def test_open_store_picks_rtc_memory_when_the_board_has_it():
    class B:
        def __init__(self, rtc):
            self.rtc = rtc

        def rtc_memory(self):
            return self.rtc

    assert isinstance(sleepstate.open_store(B(FakeRtc()), "x.state"), RtcStore)
    assert isinstance(sleepstate.open_store(B(None), "x.state"), FileStore)
    assert isinstance(sleepstate.open_store(None, "x.state"), FileStore)
