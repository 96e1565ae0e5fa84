"""Keeps a Wi-Fi station link up: connect, retry with back-off, declare UP once stable.

A plain state machine fed with the time (ticks ms), so tests drive it with explicit `now`
values and a fake WLAN; `run()` is the asyncio wrapper the firmware starts as a task.

    down --(back-off over)--> connecting --(isconnected)--> stabilising --(stable_ms)--> up
      ^                           | timeout / failure status     | dropped                |
      +---------------------------+------------------------------+------------ lost -------+

- Back-off after the n-th consecutive failure: base = backoff_ms * 2**(n-1), capped at
  backoff_max_ms, minus a random jitter of up to jitter_pct % of it (so never above the cap).
- The link is declared UP (on_change(True)) only after it has stayed connected for stable_ms;
  a loss after that calls on_change(False), and the firmware re-registers on the next True.
- While waiting, a link the driver re-established by itself is picked up (-> stabilising).
- The password is only handed to wlan.connect(); it is never logged or shown by repr().
"""
import time

from micropython import const

from msgin5g import log

DOWN = const(0)
CONNECTING = const(1)
STABILISING = const(2)
UP = const(3)
STATE_NAMES = ("down", "connecting", "stabilising", "up")

_FAST_MS = const(200)      # poll period while connecting / stabilising
_GRACE_MS = const(1000)    # ignore failure statuses this long after connect() (stale codes)


def _failed_status(st):
    # rp2 (cyw43): negative = failure; esp32: 200..204 = beacon timeout, no AP, wrong
    # password, assoc fail, handshake timeout.
    return isinstance(st, int) and (st < 0 or 200 <= st < 300)


def _default_rand():
    import random
    return random.getrandbits(8)


class WifiManager:
    def __init__(self, wlan, ssid, password, on_change=None, stable_ms=3000,
                 connect_timeout_ms=15000, backoff_ms=1000, backoff_max_ms=60000,
                 jitter_pct=50, check_ms=1000, rand=None):
        self._wlan = wlan
        self.ssid = ssid
        self._password = password
        self.on_change = on_change
        self.stable_ms = stable_ms
        self.connect_timeout_ms = connect_timeout_ms
        self.backoff_ms = backoff_ms
        self.backoff_max_ms = backoff_max_ms
        self.jitter_pct = jitter_pct
        self.check_ms = check_ms
        self._rand = rand or _default_rand   # () -> int in 0..255
        self.state = DOWN
        self.up = False
        self.attempts = 0      # consecutive failed attempts (0 once UP)
        self.connects = 0      # wlan.connect() calls in total
        self.drops = 0         # losses of an UP link
        self.delay_ms = 0      # the last back-off chosen
        self.last_status = None
        self._t = None         # DOWN: next attempt due; CONNECTING/STABILISING: entered at
        self._running = False

    def __repr__(self):
        return "<WifiManager ssid=%s %s>" % (self.ssid, STATE_NAMES[self.state])

    def state_name(self):
        return STATE_NAMES[self.state]

    def backoff(self, n):
        """The delay before retrying after the n-th consecutive failure (n >= 1)."""
        base = self.backoff_ms
        cap = self.backoff_max_ms
        while n > 1 and base < cap:
            base *= 2
            n -= 1
        if base > cap:
            base = cap
        return base - base * self.jitter_pct * self._rand() // 25600

    def poll(self, now):
        """Advance the state machine to time `now` (ticks ms); returns ms until the next poll."""
        st = self.state
        if st == UP:
            if not self._connected():
                self.drops += 1
                log.warn("wifi: link to %s lost", self.ssid)
                self._set_up(False)
                self._fail(now, "lost")
                return self.poll_after(now)
            return self.check_ms
        if st == DOWN:
            if self._t is None:
                self._t = now      # first poll: try at once
            if self._connected():
                self._enter(STABILISING, now)
            elif time.ticks_diff(now, self._t) >= 0:
                self._connect(now)
            return self.poll_after(now)
        if st == CONNECTING:
            if self._connected():
                self._enter(STABILISING, now)
            else:
                el = time.ticks_diff(now, self._t)
                s = self._status()
                if el >= self.connect_timeout_ms:
                    self._fail(now, "timeout")
                elif el >= _GRACE_MS and _failed_status(s):
                    self._fail(now, "failed")
            return self.poll_after(now)
        # STABILISING
        if not self._connected():
            self._fail(now, "dropped while stabilising")
        elif time.ticks_diff(now, self._t) >= self.stable_ms:
            self.state = UP
            self.attempts = 0
            log.info("wifi: up, %s ip %s", self.ssid, self._ip())
            self._set_up(True)
        return self.poll_after(now)

    def poll_after(self, now):
        """ms from `now` until the state machine next needs a poll."""
        st = self.state
        if st == UP:
            return self.check_ms
        if st == DOWN:
            left = time.ticks_diff(self._t, now)
            return max(0, min(left, self.check_ms))
        limit = self.connect_timeout_ms if st == CONNECTING else self.stable_ms
        left = limit - time.ticks_diff(now, self._t)
        return max(0, min(left, _FAST_MS))

    async def run(self):
        """Keep the link up until stop()."""
        import asyncio
        self._running = True
        while self._running:
            await asyncio.sleep_ms(self.poll(time.ticks_ms()))

    def stop(self):
        """Stop run(), disconnect, report down."""
        self._running = False
        self._disconnect()
        self.state = DOWN
        self._t = None
        self._set_up(False)

    # --- internals ------------------------------------------------------------------------
    def _enter(self, st, now):
        self.state = st
        self._t = now

    def _connected(self):
        try:
            return bool(self._wlan.isconnected())
        except OSError:
            return False

    def _status(self):
        try:
            s = self._wlan.status()
        except (OSError, TypeError, AttributeError):
            s = None
        self.last_status = s
        return s

    def _ip(self):
        try:
            return self._wlan.ifconfig()[0]
        except (OSError, AttributeError, IndexError, TypeError):
            return "?"

    def _connect(self, now):
        self.connects += 1
        log.info("wifi: connecting to %s (attempt %d)", self.ssid, self.attempts + 1)
        self._enter(CONNECTING, now)
        try:
            self._wlan.active(True)
            self._wlan.connect(self.ssid, self._password)
        except OSError as e:
            log.warn("wifi: connect: %s", e)
            self._fail(now, "error")

    def _disconnect(self):
        try:
            self._wlan.disconnect()
        except OSError:
            pass

    def _fail(self, now, why):
        self._disconnect()     # stop the driver's own retries: our back-off governs
        self.attempts += 1
        self.delay_ms = d = self.backoff(self.attempts)
        self._enter(DOWN, time.ticks_add(now, d))
        log.warn("wifi: %s %s (status %s), retry %d in %d ms", self.ssid, why,
                 self.last_status, self.attempts, d)

    def _set_up(self, up):
        if up == self.up:
            return
        self.up = up
        cb = self.on_change
        if cb is not None:
            try:
                cb(up)
            except Exception as e:  # a broken callback must not stop the link keeper
                log.exception(e, "wifi: on_change")


# The config's "wifi" object (devconfig leaves its content to the board layer).
# key: (WifiManager argument, minimum); ssid and password are handled apart.
_INT_KEYS = {"stableMs": ("stable_ms", 0), "connectTimeoutMs": ("connect_timeout_ms", 1),
             "backoffMs": ("backoff_ms", 1), "backoffMaxMs": ("backoff_max_ms", 1)}


def check_config(conf, secrets=None):
    """Validate config["wifi"] -> (ssid, password, kwargs for WifiManager).

    conf: {"ssid": str 1-32 (required), "password": str (better kept in secrets),
    "stableMs", "connectTimeoutMs", "backoffMs", "backoffMaxMs": int}; keys starting with
    "_" are comments, other unknown keys are refused. secrets (secrets.json): its
    "wifiPassword" wins over conf["password"]. Raises ValueError naming the key, never
    echoing a value."""
    if not isinstance(conf, dict):
        raise ValueError("config: key 'wifi': must be an object")
    for k in conf:
        if not (k in _INT_KEYS or k in ("ssid", "password") or k.startswith("_")):
            raise ValueError("config: key 'wifi.%s': unknown" % k)
    ssid = conf.get("ssid")
    if not isinstance(ssid, str) or not 1 <= len(ssid) <= 32:
        raise ValueError("config: key 'wifi.ssid': must be a string of 1-32 characters")
    pw = conf.get("password", "")
    if secrets and "wifiPassword" in secrets:
        pw = secrets["wifiPassword"]
    if not isinstance(pw, str) or len(pw) > 64:
        raise ValueError("config: key 'wifi.password': must be a string of 0-64 characters")
    kw = {}
    for k, (arg, lo) in _INT_KEYS.items():
        if k in conf:
            v = conf[k]
            if not isinstance(v, int) or isinstance(v, bool) or v < lo:
                raise ValueError("config: key 'wifi.%s': must be an integer >= %d" % (k, lo))
            kw[arg] = v
    return ssid, pw, kw


def from_config(wlan, conf, secrets=None, on_change=None):
    """A WifiManager for board.wlan() built from config["wifi"] (see check_config)."""
    ssid, pw, kw = check_config(conf, secrets)
    return WifiManager(wlan, ssid, pw, on_change=on_change, **kw)
