"""The unix port / CPython: no pins, no radio. The LED state is only recorded
(Board.state, Board.led_on), the watchdog never bites, wlan() is None."""
import time

from board import Board as _Board, SoftWDT


class Board(_Board):
    name = "unix"

    def __init__(self, clock=None):
        _Board.__init__(self)
        self.button = False      # set by a simulation to exercise safe mode
        self.slept_ms = None
        self._clock = clock or time.time

    def button_held(self):
        return self.button

    def read_sensor(self):
        """A deterministic fake temperature from the clock: 20.0 .. 29.9 C, +0.1 per second."""
        return 20 + (int(self._clock()) % 100) / 10

    def watchdog(self, timeout_ms):
        return SoftWDT(timeout_ms)

    def deepsleep(self, ms):
        """A board's deep sleep resets it: here the process says `SLEEP <ms>` and ends with
        status 0 (the device saved its state before); whoever started it (tools/sim.py, a
        test, a shell loop) starts it again after ms."""
        self.slept_ms = ms
        print("SLEEP %d" % ms)
        raise SystemExit(0)

    def woke_from_deepsleep(self):
        return None              # a process cannot tell: the sleep record decides

    def reset(self):
        raise SystemExit(0)

    def wlan(self):
        return None

    def unique_id(self):
        import os
        return os.getenv("MSGIN5G_UID") or "0000000000000000"
