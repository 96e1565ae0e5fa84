# heapsize: 96k
# board-heapsize: 54k   (unix32, library frozen; measured minimum 42k)
"""msgin5g.device.heap(): used / free / largest block, the REPL's mem() and the STATUS line's
"heap". The largest block is found by allocating: it must see fragmentation that 'free' hides."""
import gc

from msgin5g.device import heap


def test_largest_block_is_real_and_sees_fragmentation():
    h = heap()
    if h is None:                       # CPython: gc cannot tell
        assert not hasattr(gc, "mem_free")
        return
    assert 0 < h["largestBlock"] <= h["free"] and h["used"] > 0
    b = bytearray(h["largestBlock"] - 64)       # what it promises can be had (less a header)
    del b
    # Cut the free heap into 1 KB holes between kept 1 KB buffers: plenty free, nothing long.
    keep = []
    drop = []
    try:
        while True:
            keep.append(bytearray(1000))
            drop.append(bytearray(1000))
    except MemoryError:
        pass
    drop = None
    gc.collect()
    f = heap()
    assert f["free"] > 16 * 1024, f
    assert f["largestBlock"] < 4 * 1024, f
    keep = None
    gc.collect()
    assert heap()["largestBlock"] > 8 * f["largestBlock"]
