# heapsize: 96k
# board-heapsize: 20k   (unix32, library frozen; measured minimum 15k)
"""boards/wifi.py WifiManager driven with explicit times and a fake WLAN."""
import time

import boardpath  # noqa: F401  (boards/ on sys.path under CPython)
from msgin5g import log
from tinytest import raises
from wifi import WifiManager, DOWN, CONNECTING, STABILISING, UP

PW = "hunter2-secret"


class FakeWLAN:
    """network.WLAN stand-in: the test decides when the link is there."""

    def __init__(self):
        self.connected = False
        self.st = 0
        self.is_active = False
        self.connect_calls = []
        self.disconnects = 0
        self.raise_on_connect = None

    def active(self, on=None):
        if on is not None:
            self.is_active = bool(on)
        return self.is_active

    def connect(self, ssid, password):
        if self.raise_on_connect:
            raise self.raise_on_connect
        self.connect_calls.append((ssid, password))
        self.st = 1

    def disconnect(self):
        self.disconnects += 1
        self.connected = False
        self.st = 0

    def isconnected(self):
        return self.connected

    def status(self):
        return self.st

    def ifconfig(self):
        return ("192.0.2.7", "255.255.255.0", "192.0.2.1", "192.0.2.1")


def make(rand=lambda: 0, **kw):
    w = FakeWLAN()
    ups = []
    m = WifiManager(w, "lab", PW, on_change=ups.append, rand=rand, **kw)
    return w, m, ups


def quiet():
    log.set_sink(lambda line: None)


def loud():
    log.set_sink(None)


def test_connects_then_up_only_after_stable_ms():
    quiet()
    try:
        w, m, ups = make()
        m.poll(0)
        assert m.state == CONNECTING and w.is_active
        assert w.connect_calls == [("lab", PW)]
        w.connected = True
        m.poll(100)
        assert m.state == STABILISING and ups == [] and not m.up
        m.poll(3099)
        assert m.state == STABILISING and ups == []
        m.poll(3100)
        assert m.state == UP and m.up and ups == [True]
        m.poll(5000)
        assert ups == [True] and len(w.connect_calls) == 1
    finally:
        loud()


def _fail_once(w, m, t):
    """From a due attempt at t: connect, time out; returns the time the timeout hit."""
    m.poll(t)
    assert m.state == CONNECTING, m
    t += m.connect_timeout_ms
    m.poll(t)
    assert m.state == DOWN
    return t


def test_backoff_doubles_and_caps_without_jitter():
    quiet()
    try:
        w, m, ups = make(connect_timeout_ms=5000, backoff_ms=1000, backoff_max_ms=20000)
        t = 0
        delays = []
        for _ in range(7):
            t = _fail_once(w, m, t)
            d = m.delay_ms
            delays.append(d)
            n = len(w.connect_calls)
            m.poll(t + d - 1)                    # not yet
            assert len(w.connect_calls) == n and m.state == DOWN
            t += d                               # due: the next poll connects
        assert delays == [1000, 2000, 4000, 8000, 16000, 20000, 20000], delays
        assert m.attempts == 7 and w.disconnects == 7 and ups == []
    finally:
        loud()


def test_backoff_function_bounds_with_jitter():
    import random
    m = WifiManager(FakeWLAN(), "lab", PW, backoff_ms=1000, backoff_max_ms=60000,
                    jitter_pct=50)
    for n in range(1, 12):
        base = min(1000 << (n - 1), 60000)
        seen = set()
        for _ in range(40):
            d = m.backoff(n)
            assert base // 2 <= d <= base, (n, d)
            seen.add(d)
        assert len(seen) > 5, (n, seen)          # the jitter really varies
    m._rand = lambda: 255
    assert m.backoff(1) == 1000 - 1000 * 50 * 255 // 25600
    m._rand = lambda: 0
    assert m.backoff(30) == 60000
    m.jitter_pct = 0
    m._rand = lambda: random.getrandbits(8)
    assert m.backoff(3) == 4000


def test_flap_during_stabilising_is_not_up():
    quiet()
    try:
        w, m, ups = make()
        m.poll(0)
        w.connected = True
        m.poll(50)
        w.connected = False                      # drops before stable_ms
        m.poll(2000)
        assert m.state == DOWN and ups == [] and m.attempts == 1
        t = 2000 + m.delay_ms
        m.poll(t)
        assert m.state == CONNECTING and len(w.connect_calls) == 2
        w.connected = True
        m.poll(t + 10)
        m.poll(t + 10 + 3000)
        assert ups == [True] and m.attempts == 0
    finally:
        loud()


def _bring_up(w, m, t=0):
    m.poll(t)
    w.connected = True
    m.poll(t + 1)
    m.poll(t + 1 + m.stable_ms)
    assert m.state == UP
    return t + 1 + m.stable_ms


def test_loss_detected_then_recovery_reports_again():
    quiet()
    try:
        w, m, ups = make()
        t = _bring_up(w, m)
        w.connected = False
        t += 500
        assert m.poll(t) <= m.delay_ms
        assert ups == [True, False] and m.drops == 1 and m.state == DOWN
        assert m.delay_ms == 1000 and w.disconnects == 1
        t = _fail_once(w, m, t + m.delay_ms)     # AP still away
        assert m.delay_ms == 2000
        t += m.delay_ms
        t = _bring_up(w, m, t)
        assert ups == [True, False, True] and m.attempts == 0 and m.up
    finally:
        loud()


def test_driver_reconnect_during_backoff_is_picked_up():
    quiet()
    try:
        w, m, ups = make(backoff_ms=10000)
        t = _bring_up(w, m)
        w.connected = False
        m.poll(t)
        n = len(w.connect_calls)
        w.connected = True                       # the driver re-associated by itself
        m.poll(t + 100)
        assert m.state == STABILISING and len(w.connect_calls) == n
        m.poll(t + 100 + 3000)
        assert ups == [True, False, True]
    finally:
        loud()


def test_failure_status_fails_before_timeout_but_not_in_grace():
    quiet()
    try:
        w, m, ups = make(connect_timeout_ms=15000)
        m.poll(0)
        w.st = -3                                # rp2 STAT_WRONG_PASSWORD
        m.poll(500)                              # within the grace period: maybe stale
        assert m.state == CONNECTING
        m.poll(1500)
        assert m.state == DOWN and m.last_status == -3 and m.attempts == 1
        m.poll(1500 + m.delay_ms)
        w.st = 202                               # esp32 STAT_WRONG_PASSWORD
        m.poll(1500 + m.delay_ms + 1000)
        assert m.state == DOWN and m.attempts == 2
    finally:
        loud()


def test_connect_oserror_counts_as_failure():
    quiet()
    try:
        w, m, ups = make()
        w.raise_on_connect = OSError(-1)
        m.poll(0)
        assert m.state == DOWN and m.attempts == 1 and m.connects == 1
        w.raise_on_connect = None
        m.poll(m.delay_ms)
        assert m.state == CONNECTING
    finally:
        loud()


def test_poll_hints_never_overshoot():
    quiet()
    try:
        w, m, ups = make(backoff_ms=5000, check_ms=1000, connect_timeout_ms=700)
        assert m.poll(0) <= 200                  # connecting: poll fast
        d = m.poll(700)                          # timeout -> DOWN for 5000 ms
        assert m.state == DOWN and d == 1000
        assert m.poll(700 + 4600) == 400         # never sleeps past the due attempt
        assert m.poll_after(700 + 5000) == 0
        w.connected = True
        m.poll(6000)                             # picked up while waiting: stabilising
        assert m.state == STABILISING and m.poll(6000 + 2950) == 50
    finally:
        loud()


def test_works_across_tick_wrap():
    quiet()
    try:
        w, m, ups = make()
        t0 = time.ticks_add(0, -1500)            # 1.5 s before the tick counter wraps
        m.poll(t0)
        w.connected = True
        m.poll(time.ticks_add(t0, 10))
        m.poll(time.ticks_add(t0, 3009))
        assert ups == []
        m.poll(time.ticks_add(t0, 3010))
        assert ups == [True]
    finally:
        loud()


def test_password_never_logged_or_shown():
    lines = []
    log.set_sink(lines.append)
    log.set_level("debug")
    try:
        w, m, ups = make()
        m.poll(0)
        m.poll(20000)                            # timeout
        w.raise_on_connect = OSError(5)
        m.poll(40000)
        w.raise_on_connect = None
        m.poll(80000)
        w.connected = True
        m.poll(80001)
        m.poll(90000)
        w.connected = False
        m.poll(91000)
        assert len(lines) >= 6, lines
        assert all(PW not in ln for ln in lines), lines
        assert any("lab" in ln for ln in lines)
        assert PW not in repr(m) and "lab" in repr(m)
    finally:
        log.set_level("info")
        loud()


def test_broken_callback_does_not_stop_the_machine():
    quiet()
    try:
        w = FakeWLAN()

        def bad(up):
            raise RuntimeError("callback bug")

        m = WifiManager(w, "lab", PW, on_change=bad, rand=lambda: 0)
        _bring_up(w, m)
        assert m.up
        w.connected = False
        m.poll(10000)
        assert not m.up and m.state == DOWN
    finally:
        loud()


def test_run_task_and_stop():
    import asyncio
    quiet()
    try:
        w = FakeWLAN()
        ups = []
        m = WifiManager(w, "lab", PW, on_change=ups.append, stable_ms=30, check_ms=10,
                        backoff_ms=10, rand=lambda: 0)

        async def main():
            task = asyncio.create_task(m.run())
            await asyncio.sleep_ms(20)
            assert m.state == CONNECTING
            w.connected = True
            for _ in range(50):
                await asyncio.sleep_ms(10)
                if m.up:
                    break
            assert ups == [True]
            m.stop()
            await asyncio.sleep_ms(30)
            return task

        task = asyncio.run(main())
        assert ups == [True, False] and not m.up and w.disconnects >= 1
        assert task.done()
    finally:
        loud()


def test_from_config_and_secrets():
    import wifi
    w = FakeWLAN()
    m = wifi.from_config(w, {"ssid": "lab", "password": "cfgpw", "stableMs": 500,
                             "backoffMaxMs": 8000, "_note": "comment"},
                         secrets={"wifiPassword": PW}, on_change=print)
    assert (m.ssid, m.stable_ms, m.backoff_max_ms, m.connect_timeout_ms) == ("lab", 500, 8000, 15000)
    quiet()
    try:
        m.poll(0)
    finally:
        loud()
    assert w.connect_calls == [("lab", PW)]          # secrets.json wins
    assert wifi.check_config({"ssid": "open-net"}) == ("open-net", "", {})


def test_config_errors_name_the_key_not_the_value():
    import wifi
    bad = [
        ({"ssid": ""}, "wifi.ssid"),
        ({"password": PW}, "wifi.ssid"),
        ({"ssid": "x" * 33}, "wifi.ssid"),
        ({"ssid": "lab", "password": 5}, "wifi.password"),
        ({"ssid": "lab", "pasword": PW}, "wifi.pasword"),
        ({"ssid": "lab", "stableMs": -1}, "wifi.stableMs"),
        ({"ssid": "lab", "backoffMs": True}, "wifi.backoffMs"),
        ({"ssid": "lab", "connectTimeoutMs": "9"}, "wifi.connectTimeoutMs"),
        ("lab", "'wifi'"),
    ]
    for conf, key in bad:
        e = raises(ValueError, wifi.check_config, conf)
        assert key in str(e), (conf, str(e))
        assert PW not in str(e)
