"""Device configuration file (JSON) loader and validator, used by firmware/main.py.

    cfg = devconfig.load("config.json")   # or devconfig.validate(dict)

Returns a NEW dict holding every key below (defaults filled in, absent optional keys None).
Any problem raises ConfigError with a one-line message naming the key, e.g.
`config: key 'server': must be a coap:// or coaps:// URI (or host[:port])`. Unknown keys are
refused (a typo is the classic bring-up failure) except keys starting with `_` (comments).
Messages never echo values (the file may hold secrets).

KEYS (the README copies this table):

| Key | Type | Default | Notes |
|---|---|---|---|
| `ueServiceId` | string 1-255 | — | required for roles ue, gateway, relay (PC-03) |
| `server` | URI | — | `coap://host[:port]`, `coaps://host[:port]` or `host[:port]` (PC-08); required for roles ue, gateway, relay |
| `app` | `echo`/`sensor`/`none` | `echo` | application started by main.py |
| `listenPort` | int 0-65535 | `0` | local UDP port, 0 = ephemeral |
| `segmentSize` | int 64-2048 | `512` | payload octets per segment (PC-13, PC-30) |
| `logLevel` | `debug`/`info`/`warn`/`error` | `info` | |
| `ueId` | string 1-255 | none | MSGin5G UE ID (configuration, REG) |
| `role` | `ue`/`gateway`/`relay`/`cue` | `ue` | cue = constrained UE without client, via a gateway |
| `firstHop` | URI | none | relay or gateway address to send through (PC-21) |
| `keepAliveSec` | int >= 0 | `120` | CoAP ping period, 0 = off (PC-18) |
| `reRegPeriodSec` | int >= 0 | `86400` | re-registration period, 0 = only at boot (PC-17) |
| `periodSec` | int >= 1 | `10` | sensor app: reporting period |
| `reportTo` | string or `{"type","addr"}` | — | sensor target; a string is an AS id; required when app is sensor; returned as `{"type","addr"}` |
| `appId` | int 0-65535 | `1` | Application ID of the device's application (PC-04) |
| `gatewayPort` | int 1-65535 | `5683` | gateway role: A.3 CoAP port (PC-38); relay role: the port constrained UEs send to |
| `gatewayL3Port` | int 1-65535 | `5690` | gateway role: A.2 L3 datagram port (PC-37) |
| `allowedAppIds` | list of int 0-65535 | none | gateway role: Application IDs accepted (none = all) |
| `maxDevices` | int 1-255 | `16` | gateway role: registered constrained UEs; relay role: constrained UEs it relays for |
| `gateway` | URI | — | role cue: `coap://host[:port]` (A.3), `coaps://…` or `udp://host[:port]` (A.2); required for role cue |
| `applicationId` | int 0-65535 | — | role cue: Application ID registered at the gateway; required for role cue |
| `aggregateTx` | bool | `false` | send aggregated messages (PC-29) |
| `board` | string 1-255 | none | board name override |
| `wifi` | object | none | Wi-Fi settings, checked by the board layer |
| `pins` | object | none | board pin overrides: `led`, `button`, `sensor`, each a pin number or name |
| `topics` | list of strings | none | messaging topics to subscribe to after registration (PC-33) |
| `repl` | bool | `false` | run the asyncio REPL task (type `status()`, `send(...)` while the app runs) |
| `watchdogMs` | int >= 0 | `0` | hardware watchdog timeout, fed from its own task; 0 = off |
| `journal` | string (path) | none | persistent outbound queue file: what send() accepted survives power loss |
| `deepSleep` | bool | `false` | sensor app, role `ue` or `cue`: one reading per wake-up, then `machine.deepsleep` for `periodSec` (duty cycle); registered on across the sleep (msgin5g.dutycycle) |
| `awakeSec` | int 0-3600 | `2`; over a modem granted PSM its Active-Time (T3324) | with `deepSleep`: stay awake this long after the last exchange for downlinks stored while asleep; 0 = sleep as soon as the last response is in |
| `regTrustSec` | int >= 0 | `reRegPeriodSec` | with `deepSleep`: how long a registration is taken up again after a wake without a new REG; 0 = REG on every wake |
| `stateFile` | string (path) | config path with `.state` for `.json` | with `deepSleep`: the sleep record's file where the board has no RTC memory (the unix port: always) |
| `aggrWindowSec` | int 1-3600 | `5` | with `aggregateTx`: how long small messages to one destination are collected (PC-29) |
| `configServer` | URI | none | SEAL configuration server (PC-13): with `ueId`, `server`/`ueServiceId`/`segmentSize` are fetched at boot (a pre-configured `server` and `ueServiceId` are the fallback on 4.04) |
| `link` | object | none: `{"type": "wifi"}` on a board, `{"type": "host"}` on the unix port | how the device reaches the network; `{"type": "modem", ...}`: a cellular modem, keys below |

LINK KEYS (`"link": {"type": "modem", "model": "sim7080", "uart": "/dev/pts/7", "apn": "iot"}`):

| Key | Type | Default | Notes |
|---|---|---|---|
| `type` | `wifi`/`host`/`modem` | `wifi` on a board, `host` on the unix port | `host`: the host's own network (unix port) |
| `board` | `waveshare-pico-sim7080g`/`lilygo-t-sim7080g-s3` | none | a modem kit: fills in `model`, `uart`, `pwrkey` (and the LilyGO's PMU); keys given win |
| `model` | `sim7080`/`bg95`/`bg96`/`bg77` | — | required (or from `board`); BG96 and BG77 speak the BG95 dialect |
| `uart` | string or `{"id","tx","rx","baud"}` | — | required (or from `board`): on the unix port a tty or pty path (tools/modemsim prints one); on a board the UART id and pins, `baud` 115200 |
| `apn` | string 0-63 | — | required; `""` lets the network choose |
| `rat` | `ltem`/`nbiot`/`auto` | `auto` | radio access technology |
| `psm` | `{"tauSec","activeSec"}` or null | null | request PSM: periodic TAU (T3412ext) and Active-Time (T3324) in s; null = PSM off |
| `edrx` | `{"cycleSec"}` or null | null | request eDRX with this cycle (5.12-10485.76 s); null = off |
| `rai` | bool | `false` | mark the last uplink of an exchange (Release Assistance, NB-IoT only) |
| `pwrkey` | pin number/name or `udp://host:port` | none | the GPIO that presses PWRKEY (high = pressed: both kits drive it through a transistor); on the unix port `udp://127.0.0.1:PORT`, modemsim's control port. None: a silent modem is asked, never pulsed |
| `pmu` | `axp2101` or null | none (`axp2101` with the LilyGO kit) | switch the modem's power rail on first: AXP2101 on I2C SDA 15 / SCL 7, DC3 3.0 V (modem), BLDO1 3.3 V (level shifter) |
| `data` | `socket`/`ppp` | `socket` | `socket`: the modem's UDP sockets (AT); `ppp`: dial and hand the UART to `network.PPP` (ESP32 builds), then plain sockets |
"""
import json



class ConfigError(ValueError):
    """A configuration problem; `str()` is one line, `key` the key concerned (or None)."""

    def __init__(self, msg, key=None):
        super().__init__(msg)
        self.key = key


from msgin5g.uri import _PORTS, parse_uri, _digits  # noqa: E402,F401  (re-exported)


# Kinds of value.
_STR = 1  # string 1..255
_URI = 2  # server URI (PC-08)
_GWURI = 3  # gateway URI for role cue
_INT = 4  # arg = (lo, hi); hi None = no upper bound
_BOOL = 5
_ENUM = 6  # arg = tuple of allowed strings
_TARGET = 7  # reportTo
_INTLIST = 8
_OBJ = 9
_STRLIST = 10

_U16 = (0, 0xFFFF)
_PORT = (1, 0xFFFF)
_CLIENT = ("role", ("ue", "gateway", "relay"))
_CUE = ("role", ("cue",))
_ADDR_TYPES = ("UE", "AS", "GROUP", "BC", "TOPIC")

# key: (kind, arg, default, required when (key, values))
SCHEMA = {
    "ueServiceId": (_STR, None, None, _CLIENT),
    "server": (_URI, None, None, _CLIENT),
    "app": (_ENUM, ("echo", "sensor", "none"), "echo", None),
    "listenPort": (_INT, _U16, 0, None),
    "segmentSize": (_INT, (64, 2048), 512, None),
    "logLevel": (_ENUM, ("debug", "info", "warn", "error"), "info", None),
    "ueId": (_STR, None, None, None),
    "role": (_ENUM, ("ue", "gateway", "relay", "cue"), "ue", None),
    "firstHop": (_URI, None, None, None),
    "keepAliveSec": (_INT, (0, None), 120, None),
    "reRegPeriodSec": (_INT, (0, None), 86400, None),
    "periodSec": (_INT, (1, None), 10, None),
    "reportTo": (_TARGET, None, None, ("app", ("sensor",))),
    "appId": (_INT, _U16, 1, None),
    "gatewayPort": (_INT, _PORT, 5683, None),
    "gatewayL3Port": (_INT, _PORT, 5690, None),
    "allowedAppIds": (_INTLIST, _U16, None, None),
    "maxDevices": (_INT, (1, 255), 16, None),
    "gateway": (_GWURI, None, None, _CUE),
    "applicationId": (_INT, _U16, None, _CUE),
    "aggregateTx": (_BOOL, None, False, None),
    "board": (_STR, None, None, None),
    "wifi": (_OBJ, None, None, None),
    "pins": (_OBJ, None, None, None),
    "topics": (_STRLIST, None, None, None),
    "repl": (_BOOL, None, False, None),
    "watchdogMs": (_INT, (0, None), 0, None),
    "journal": (_STR, None, None, None),
    "configServer": (_URI, None, None, None),
    "aggrWindowSec": (_INT, (1, 3600), 5, None),
    "deepSleep": (_BOOL, None, False, None),
    "awakeSec": (_INT, (0, 3600), None, None),     # None: dutycycle picks (T3324 or 2)
    "regTrustSec": (_INT, (0, None), None, None),
    "stateFile": (_STR, None, None, None),
    "link": (_OBJ, None, None, None),
}


def _isint(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _want(kind, arg):
    # What a value of this kind must be (the error text).
    if kind == _STR:
        return "must be a string of 1..255 characters"
    if kind == _URI:
        return "must be a coap:// or coaps:// URI (or host[:port])"
    if kind == _GWURI:
        return "must be a coap://, coaps:// or udp:// URI"
    if kind == _INT:
        if arg[1] is None:
            return "must be an integer >= %d" % arg[0]
        return "must be an integer in %d..%d" % arg
    if kind == _BOOL:
        return "must be true or false"
    if kind == _ENUM:
        return "must be one of " + ", ".join("'" + a + "'" for a in arg)
    if kind == _TARGET:
        return 'must be an AS id string or {"type": "AS"|"UE"|..., "addr": "..."}'
    if kind == _INTLIST:
        return "must be a list of integers in %d..%d" % arg
    if kind == _STRLIST:
        return "must be a list of strings of 1..255 characters"
    return "must be an object"


def _check(kind, arg, v):
    # The value to store, or None if v is not acceptable.
    if kind == _STR:
        return v if isinstance(v, str) and 0 < len(v) <= 255 else None
    if kind == _URI or kind == _GWURI:
        try:
            scheme = parse_uri(v)[0]
        except ValueError:
            return None
        return v if scheme != "udp" or kind == _GWURI else None
    if kind == _INT:
        ok = _isint(v) and v >= arg[0] and (arg[1] is None or v <= arg[1])
        return v if ok else None
    if kind == _BOOL:
        return v if v is True or v is False else None
    if kind == _ENUM:
        return v if isinstance(v, str) and v in arg else None
    if kind == _TARGET:
        if isinstance(v, str):
            v = {"type": "AS", "addr": v}
        if not isinstance(v, dict) or v.get("type") not in _ADDR_TYPES:
            return None
        a = v.get("addr")
        return {"type": v["type"], "addr": a} if isinstance(a, str) and 0 < len(a) <= 255 else None
    if kind == _INTLIST:
        if not isinstance(v, list):
            return None
        for x in v:
            if not (_isint(x) and arg[0] <= x <= arg[1]):
                return None
        return list(v)
    if kind == _STRLIST:
        if not isinstance(v, list):
            return None
        for x in v:
            if not (isinstance(x, str) and 0 < len(x) <= 255):
                return None
        return list(v)
    return v if isinstance(v, dict) else None


def _dist(a, b):
    # Levenshtein distance (used only to suggest a key after a typo).
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a):
        cur = [i + 1]
        for j, cb in enumerate(b):
            cur.append(min(prev[j + 1] + 1, cur[j] + 1, prev[j] + (ca != cb)))
        prev = cur
    return prev[-1]


def _fail(key, text):
    raise ConfigError("config: key '%s': %s" % (key, text), key)


def validate(d):
    """Check a config dict; return a new dict with every key (defaults filled in)."""
    if not isinstance(d, dict):
        raise ConfigError("config: top level must be a JSON object")
    for k in sorted(d):  # sorted: the same first error on every port
        if k not in SCHEMA and not k.startswith("_"):
            hint = ""
            for s in sorted(SCHEMA):
                if s.lower() == k.lower() or _dist(s, k) <= 2:
                    hint = " (did you mean '%s'?)" % s
                    break
            raise ConfigError("config: unknown key '%s'%s" % (k, hint), k)
    out = {}
    for k in sorted(SCHEMA):
        kind, arg, default, _ = SCHEMA[k]
        if k in d and d[k] is not None:
            v = _check(kind, arg, d[k])
            if v is None:
                _fail(k, _want(kind, arg))
            out[k] = v
        else:
            out[k] = default
    for k in sorted(SCHEMA):
        when = SCHEMA[k][3]
        if k in ("server", "ueServiceId") and out["configServer"] and out["ueId"]:
            continue  # retrieved from the configuration server (PC-13)
        if when and out[k] is None and out[when[0]] in when[1]:
            _fail(k, "required when %s is '%s'" % (when[0], out[when[0]]))
    for k, v in sorted((out["pins"] or {}).items()):
        if k not in ("led", "button", "sensor") or not (_isint(v) or isinstance(v, str)):
            _fail("pins", "'%s': pins are led, button, sensor, each a pin number or name" % k)
    if out["link"] is not None:
        out["link"] = _link(out["link"])
    if out["role"] == "gateway" and out["gatewayPort"] == out["gatewayL3Port"]:
        _fail("gatewayL3Port", "must differ from gatewayPort")
    if out["regTrustSec"] is None:
        out["regTrustSec"] = out["reRegPeriodSec"]
    return out


# Modem kits (MODEM.md 10): link.board fills these in; keys the config gives win.
KITS = {
    "waveshare-pico-sim7080g": {"model": "sim7080", "pwrkey": 14,
                                "uart": {"id": 0, "tx": 0, "rx": 1, "baud": 115200}},
    "lilygo-t-sim7080g-s3": {"model": "sim7080", "pwrkey": 41, "pmu": "axp2101",
                             "uart": {"id": 1, "tx": 5, "rx": 4, "baud": 115200}},
}
_LINK = {"type": ("wifi", "host", "modem"), "model": ("sim7080", "bg95", "bg96", "bg77"),
         "rat": ("ltem", "nbiot", "auto"), "data": ("socket", "ppp"), "pmu": ("axp2101",),
         "board": tuple(sorted(KITS))}
_LINK_KEYS = ("apn", "board", "data", "edrx", "model", "pmu", "psm", "pwrkey", "rai", "rat",
              "type", "uart")


def _link(v):
    """The link object (LINK KEYS above), defaults filled in for a modem."""
    def bad(k, text):
        _fail("link." + k, text)
    for k in sorted(v):
        if k not in _LINK_KEYS and not k.startswith("_"):
            bad(k, "unknown key (link keys: %s)" % ", ".join(_LINK_KEYS))
    for k in sorted(_LINK):
        if v.get(k) is not None and _check(_ENUM, _LINK[k], v[k]) is None:
            bad(k, _want(_ENUM, _LINK[k]))
    t = v.get("type")
    if t is None:
        bad("type", "required: 'wifi', 'host' or 'modem'")
    if t != "modem":
        for k in sorted(v):
            if k != "type" and not k.startswith("_"):
                bad(k, "only for link.type 'modem'")
        return {"type": t}
    out = {"type": t, "board": None, "model": None, "uart": None, "apn": None, "rat": "auto",
           "psm": None, "edrx": None, "rai": False, "pwrkey": None, "data": "socket",
           "pmu": None}
    out.update(KITS.get(v.get("board"), {}))
    for k in _LINK_KEYS:
        if v.get(k) is not None:
            out[k] = v[k]
    for k in ("model", "uart", "apn"):
        if out[k] is None:
            bad(k, "required when link.type is 'modem'" +
                (" (or give link.board)" if k != "apn" else ""))
    u = out["uart"]
    if isinstance(u, dict):
        u = dict(u)
        u.setdefault("baud", 115200)
        for k in sorted(u):
            if k not in ("id", "tx", "rx", "baud") or not (_isint(u[k]) or (
                    k != "baud" and isinstance(u[k], str))):
                bad("uart", "'%s': a board UART is {\"id\", \"tx\", \"rx\", \"baud\"}, "
                    "each a number (pins may be names)" % k)
        if "id" not in u:
            bad("uart", "needs its \"id\"")
        out["uart"] = u
    elif _check(_STR, None, u) is None:
        bad("uart", "must be a device path (unix port) or {\"id\", \"tx\", \"rx\", \"baud\"}")
    if not (isinstance(out["apn"], str) and len(out["apn"]) <= 63):
        bad("apn", "must be a string of 0..63 characters")
    p = out["psm"]
    if p is not None:
        if not (isinstance(p, dict) and sorted(p) == ["activeSec", "tauSec"] and
                _isint(p["tauSec"]) and p["tauSec"] > 0 and _isint(p["activeSec"]) and
                p["activeSec"] >= 0):
            bad("psm", 'must be {"tauSec": int > 0, "activeSec": int >= 0} or null')
    e = out["edrx"]
    if e is not None:
        c = e.get("cycleSec") if isinstance(e, dict) else None
        if not (isinstance(e, dict) and sorted(e) == ["cycleSec"] and isinstance(c, (int, float)) and
                not isinstance(c, bool) and 5 <= c <= 10486):
            bad("edrx", 'must be {"cycleSec": 5.12..10485.76} or null')
    if out["rai"] is not True and out["rai"] is not False:
        bad("rai", "must be true or false")
    k = out["pwrkey"]
    if k is not None and not (_isint(k) or (isinstance(k, str) and 0 < len(k) <= 255)):
        bad("pwrkey", "must be a pin number or name, or udp://host:port (modemsim)")
    return out


def load(path):
    """Read and validate the JSON config file at `path` (ConfigError on any problem)."""
    try:
        with open(path) as f:
            text = f.read()
    except (OSError, ValueError) as e:  # ValueError: not UTF-8 (CPython)
        raise ConfigError("config: cannot read '%s': %s" % (path, e))
    try:
        d = json.loads(text)
    except ValueError as e:
        raise ConfigError("config: '%s' is not valid JSON: %s" % (path, e))
    out = validate(d)
    if out["stateFile"] is None:    # next to the config: /config.json -> /config.state
        out["stateFile"] = (path[:-5] if path.endswith(".json") else path) + ".state"
    return out
