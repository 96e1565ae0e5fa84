# heapsize: 32k
# board-heapsize: 10k   (unix32, library frozen; measured minimum 6k)
"""msgin5g.ring: memories of recent traffic kept in memory allocated once."""
from msgin5g.ring import Ring, Seen


def test_ring_keeps_the_last_n_records_oldest_first():
    r = Ring(3, 8)
    assert r.last(5) == []
    for x in (b"a", b"bb", b"ccc"):
        r.put(x)
    assert r.last(5) == [b"a", b"bb", b"ccc"] and r.last(2) == [b"bb", b"ccc"]
    r.put(b"dddd")
    r.put(b"e")
    assert r.last(3) == [b"ccc", b"dddd", b"e"] and r.last(1) == [b"e"]


def test_ring_cuts_long_records_and_keeps_empty_ones():
    r = Ring(2, 8)
    r.put(b"0123456789")
    r.put(b"")
    assert r.last(2) == [b"0123456", b""]
    r.put(memoryview(b"xyz")[1:])
    assert r.last(2) == [b"", b"yz"]


def test_seen_catches_repeats_within_ttl():
    s = Seen(4, 1000)
    assert s.check("11111111-2222-4333-8444-555555555555", 0) is False
    assert s.check("11111111-2222-4333-8444-555555555556", 10) is False
    assert s.check("11111111-2222-4333-8444-555555555555", 999) is True
    assert s.check(b"11111111-2222-4333-8444-555555555556", 500) is True   # bytes id, same
    assert s.check("11111111-2222-4333-8444-555555555555", 1000) is False  # expired: new
    assert s.check("11111111-2222-4333-8444-555555555555", 1500) is True   # ...and kept again


def test_seen_forgets_the_oldest_when_full():
    s = Seen(3, 100000)
    for i in range(4):
        assert s.check("id-%d" % i, i) is False
    assert s.check("id-0", 10) is False          # pushed out by id-3
    assert s.check("id-3", 10) is True and s.check("id-2", 10) is True


def test_seen_holds_small_ints_only():
    s = Seen(8, 100000)
    for i in range(20):
        s.check("a-much-longer-message-identifier-than-a-uuid-%d" % i, i)
    assert all(isinstance(x, int) and 0 <= x < 1 << 30 for x in s.a + s.b)
