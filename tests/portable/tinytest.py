"""A tiny test runner and helpers for portable tests (MicroPython has no unittest offline).

Portable test modules are plain files of `test_*` functions using `assert`; pytest collects
them on CPython, and this runner runs them on the MicroPython unix port:

    micropython tests/portable/tinytest.py test_coap_codec [more modules]

It prints one line per failure and a closing line 'N passed, N failed', exiting 1 on failure.
"""
import gc
import sys


def raises(exc, fn, *args, **kw):
    """Assert that fn(*args, **kw) raises exc; return the exception."""
    try:
        fn(*args, **kw)
    except exc as e:
        return e
    raise AssertionError("%s not raised by %r" % (exc.__name__, fn))


class FakeClock:
    """A settable millisecond clock for driving state machines."""

    def __init__(self, t=0):
        self.t = t

    def __call__(self):
        return self.t

    def advance(self, ms):
        self.t += ms


def run(modnames):
    passed = failed = 0
    for name in modnames:
        if name.endswith(".py"):
            name = name[:-3]
        name = name.split("/")[-1]
        mod = __import__(name)
        names = sorted(n for n in dir(mod) if n.startswith("test_"))
        for n in names:
            fn = getattr(mod, n)
            if not callable(fn):
                continue
            gc.collect()    # each test starts from the module's own heap, as on a board
            try:
                fn()
                passed += 1
            except Exception as e:  # report and go on
                failed += 1
                print("FAIL %s.%s: %s: %s" % (name, n, type(e).__name__, e))
                try:
                    sys.print_exception(e)
                except AttributeError:
                    pass
    print("%d passed, %d failed" % (passed, failed))
    return failed


if __name__ == "__main__":
    sys.exit(1 if run(sys.argv[1:]) else 0)
