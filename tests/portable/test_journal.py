# heapsize: 96k
# board-heapsize: 24k   (unix32, library frozen; measured minimum 18k)
"""msgin5g.journal: the persistent outbound queue (power cuts, corruption, compaction, bounds)."""
import os
from binascii import hexlify

from msgin5g.journal import Journal, JournalFull, record
from tinytest import raises


def _path():
    return "/tmp/msgin5g-journal-%s.bin" % hexlify(os.urandom(4)).decode()


def _rm(path):
    for p in (path, path + ".tmp"):
        try:
            os.remove(p)
        except OSError:
            pass


def _exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def _read(path):
    with open(path, "rb") as f:
        return f.read()


def _write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def _size(path):
    return os.stat(path)[6]


def _data(i):
    # binary data holding the magic, NULs and 0xFF, of varying length
    return b"\xa5\x4a\x00\xff" + bytes([i & 0xFF]) * (i % 37) + b"#%d" % i


def test_add_done_pending_in_order_and_reopen():
    p = _path()
    try:
        j = Journal(p)
        assert j.pending() == [] and len(j) == 0
        for i in range(5):
            j.add("m%d" % i, _data(i))
        assert j.done("m1") and j.done("m3")
        assert not j.done("m1") and not j.done("nope")
        assert "m0" in j and "m1" not in j and len(j) == 3
        want = [("m0", _data(0)), ("m2", _data(2)), ("m4", _data(4))]
        assert j.pending() == want
        j2 = Journal(p)
        assert j2.pending() == want and j2.repaired == 0
        assert j2.size == j.size and j2.live == j.live
        j2.add("m5", b"")
        assert Journal(p).pending() == want + [("m5", b"")]
    finally:
        _rm(p)


def test_record_format_is_byte_exact():
    r = record(0x41, b"k1", b"xy")
    assert r[:8] == b"\xa5\x4aA\x02\x00\x02k1" and r[8:10] == b"xy" and len(r) == 14
    from binascii import crc32
    assert int.from_bytes(r[10:], "big") == crc32(b"A\x02\x00\x02k1xy") & 0xFFFFFFFF
    d = record(0x44, b"k1")
    assert d[:8] == b"\xa5\x4aD\x02\x00\x00k1" and len(d) == 12


def test_done_writes_nothing_for_unknown_key():
    p = _path()
    try:
        j = Journal(p)
        j.add("a", b"1")
        n = _size(p)
        assert not j.done("b")
        assert _size(p) == n
    finally:
        _rm(p)


def test_readd_replaces_and_moves_to_end():
    p = _path()
    try:
        j = Journal(p)
        j.add("a", b"1")
        j.add("b", b"2")
        j.add("a", b"3")
        assert j.pending() == [("b", b"2"), ("a", b"3")]
        assert Journal(p).pending() == [("b", b"2"), ("a", b"3")]
        assert j.live == len(record(0x41, b"b", b"2")) + len(record(0x41, b"a", b"3"))
    finally:
        _rm(p)


def test_bounds_records_and_bytes():
    p = _path()
    try:
        j = Journal(p, max_records=3, max_bytes=200)
        for i in range(3):
            j.add("k%d" % i, b"x")
        n = _size(p)
        raises(JournalFull, j.add, "k3", b"x")
        assert _size(p) == n and len(j) == 3       # nothing written when full
        j.add("k1", b"y")                          # replacing does not count twice
        j.done("k0")
        j.add("k3", b"x")
        assert [k for k, _ in j.pending()] == ["k2", "k1", "k3"]
        j2 = Journal(_path(), max_records=10, max_bytes=100)
        try:
            j2.add("a", b"z" * 80)                 # 80 + 11 octets of framing: fits
            raises(JournalFull, j2.add, "b", b"z")
            raises(JournalFull, j2.add, "c", b"z" * 200)
            j2.done("a")
            j2.add("b", b"z" * 89)                 # exactly 100 octets live
            assert j2.live == 100
        finally:
            _rm(j2.path)
        raises(ValueError, j.add, "k" * 256, b"")
    finally:
        _rm(p)


def _history(p):
    """Build a journal by steps; return [(file bytes, pending)] after each step."""
    j = Journal(p, compact_min=1 << 30)            # no automatic compaction here
    states = [(b"", [])]
    steps = [("add", "a", b"alpha"), ("add", "b", _data(7)), ("done", "a", None),
             ("add", "c", b"\xa5\x4a" * 9), ("done", "b", None), ("add", "d", _data(40)),
             ("done", "d", None)]
    for op, k, d in steps:
        if op == "add":
            j.add(k, d)
        else:
            j.done(k)
        states.append((_read(p), j.pending()))
    return states


def test_torn_write_at_every_byte_offset_of_the_last_record():
    p = _path()
    q = _path()
    try:
        states = _history(p)
        for (before, want), (after, _) in zip(states, states[1:]):
            for cut in range(len(before), len(after)):
                _rm(q)
                _write(q, after[:cut])
                j = Journal(q)
                assert j.pending() == want, (cut, j.pending(), want)
                if cut > len(before):   # the torn tail is cut off: only live records remain
                    assert _size(q) == j.size == j.live and j.repaired == 1
                else:                   # an intact file is left as it is
                    assert _size(q) == j.size == len(before) and j.repaired == 0
                j.add("z", b"after")
                assert Journal(q).pending() == want + [("z", b"after")]
    finally:
        _rm(p)
        _rm(q)


def test_corrupt_record_in_the_middle_is_skipped():
    p = _path()
    try:
        j = Journal(p, compact_min=1 << 30)
        for i in range(4):
            j.add("k%d" % i, b"data%d" % i)
        raw = bytearray(_read(p))
        r0 = len(record(0x41, b"k0", b"data0"))
        raw[r0 + 8] ^= 0x01                         # a data byte of k1
        _write(p, raw)
        j = Journal(p)
        assert j.pending() == [("k0", b"data0"), ("k2", b"data2"), ("k3", b"data3")]
        assert j.repaired == 1 and _size(p) == j.live
        # garbage (holding magics) between records, and at both ends
        junk = b"\xa5\x4a\xa5\x4aA\x05\x00\x01zz\xa5"
        good = [record(0x41, b"x%d" % i, b"v%d" % i) for i in range(3)]
        _write(p, junk + good[0] + junk + good[1] + b"\x00" * 300 + good[2] + junk)
        assert Journal(p).pending() == [("x0", b"v0"), ("x1", b"v1"), ("x2", b"v2")]
    finally:
        _rm(p)


def test_every_single_byte_corruption_never_crashes():
    p = _path()
    try:
        states = _history(p)
        full = states[-1][0]
        orig = {"a": b"alpha", "b": _data(7), "c": b"\xa5\x4a" * 9, "d": _data(40)}
        for i in range(len(full)):
            for flip in (0x01, 0x80):
                raw = bytearray(full)
                raw[i] ^= flip
                _rm(p)
                _write(p, raw)
                got = Journal(p).pending()
                for k, d in got:                    # never invented data
                    assert orig[k] == d, (i, k)
                # one record lost, or a lost tombstone resurrects one; nothing else changes
                assert [k for k, _ in got] in (["c"], [], ["a", "c"], ["b", "c"],
                                               ["c", "d"]), (i, got)
    finally:
        _rm(p)


def test_garbage_file_and_empty_file():
    p = _path()
    try:
        _write(p, bytes(range(256)) * 8 + b"\xa5\x4a" * 100)
        j = Journal(p)
        assert j.pending() == [] and j.repaired == 1 and _size(p) == 0
        _write(p, b"")
        j = Journal(p)
        assert j.pending() == [] and j.repaired == 0
    finally:
        _rm(p)


def test_automatic_compaction_bounds_the_file():
    p = _path()
    try:
        j = Journal(p, compact_min=512)
        j.add("keep", b"k" * 50)
        biggest = 0
        for i in range(200):
            j.add("m%d" % i, _data(i))
            j.done("m%d" % i)
            biggest = max(biggest, _size(p))
            assert j.size == _size(p)
        assert j.compactions >= 5
        assert biggest < 512 + 2 * 100              # compact_min + one add and one tombstone
        assert Journal(p).pending() == [("keep", b"k" * 50)]
        # explicit compaction leaves exactly the live records
        j.add("x", b"1")
        j.done("x")
        j.compact()
        assert _size(p) == j.live == len(record(0x41, b"keep", b"k" * 50))
        assert Journal(p).pending() == [("keep", b"k" * 50)]
    finally:
        _rm(p)


def test_compaction_at_twice_the_live_bytes():
    p = _path()
    try:
        j = Journal(p, compact_min=0)
        j.add("a", b"x" * 100)
        j.add("b", b"x" * 100)
        j.done("a")                                 # size 2 records + tombstone >= 2 x 1 record
        assert j.compactions == 1 and _size(p) == j.live
        j.add("c", b"y" * 100)
        assert j.compactions == 1                   # adds never compact
        assert Journal(p).pending() == [("b", b"x" * 100), ("c", b"y" * 100)]
    finally:
        _rm(p)


def test_interrupted_compaction_recovers():
    p = _path()
    try:
        j = Journal(p)
        j.add("a", b"1")
        j.add("b", b"2")
        # cut while writing the temp file: the old file is intact, the temp file is dropped
        _write(p + ".tmp", b"\xa5\x4aA")
        assert Journal(p).pending() == [("a", b"1"), ("b", b"2")]
        assert not _exists(p + ".tmp")
        # cut between removing the old file and renaming (FAT): the temp file is complete
        j.compact()
        os.rename(p, p + ".tmp")
        assert Journal(p).pending() == [("a", b"1"), ("b", b"2")]
        assert _exists(p) and not _exists(p + ".tmp")
    finally:
        _rm(p)


def test_no_file_until_first_add():
    p = _path()
    try:
        j = Journal(p)
        assert not _exists(p) and j.pending() == [] and not j.done("x")
        j.add("x", b"1")
        assert _exists(p)
    finally:
        _rm(p)
