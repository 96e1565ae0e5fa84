# heapsize: 128k
# board-heapsize: 26k   (unix32, library frozen; measured minimum 20k)
"""msgin5g.devconfig: device config loader/validator, one-line errors naming the key."""
import os
from binascii import hexlify

from msgin5g import devconfig
from msgin5g.devconfig import ConfigError, parse_uri, validate
from tinytest import raises

UE = {"ueServiceId": "ue-1", "server": "coap://127.0.0.1:5683"}

DEFAULTS = {"app": "echo", "listenPort": 0, "segmentSize": 512, "logLevel": "info",
            "ueId": None, "role": "ue", "firstHop": None, "keepAliveSec": 120,
            "reRegPeriodSec": 86400, "periodSec": 10, "reportTo": None, "appId": 1,
            "gatewayPort": 5683, "gatewayL3Port": 5690, "allowedAppIds": None,
            "maxDevices": 16, "gateway": None, "applicationId": None, "aggregateTx": False,
            "board": None, "wifi": None, "pins": None, "topics": None}


def _with(**kw):
    d = dict(UE)
    for k in kw:
        d[k] = kw[k]
    return d


def _fails(d, key):
    e = raises(ConfigError, validate, d)
    m = str(e)
    assert "\n" not in m and m.startswith("config: "), m
    assert e.key == key, (key, m)
    return m


def test_minimal_ue_gets_every_default():
    out = validate(UE)
    for k in DEFAULTS:
        assert out[k] == DEFAULTS[k], k
    assert out["ueServiceId"] == "ue-1" and out["server"] == "coap://127.0.0.1:5683"
    assert sorted(out) == sorted(devconfig.SCHEMA)


def test_returns_new_dict_and_keeps_values():
    d = _with(segmentSize=64, app="none", logLevel="debug", listenPort=65535, aggregateTx=True,
              allowedAppIds=[0, 65535], wifi={"ssid": "x"}, board="esp32", ueId="imei",
              topics=["t1", "t/2"])
    out = validate(d)
    assert out is not d and "role" not in d
    for k in d:
        assert out[k] == d[k], k
    assert out["allowedAppIds"] is not d["allowedAppIds"]


def test_comment_keys_and_null_values():
    out = validate(_with(_comment="anything", _x=[1], ueId=None, segmentSize=None))
    assert "_comment" not in out and out["segmentSize"] == 512 and out["ueId"] is None


def test_unknown_key_named_with_hint():
    assert _fails(_with(sever="x"), "sever") == "config: unknown key 'sever' (did you mean 'server'?)"
    assert "did you mean 'ueServiceId'" in _fails(_with(ueserviceid="x"), "ueserviceid")
    assert "did you mean 'segmentSize'" in _fails(_with(segmentsize=512), "segmentsize")
    assert _fails(_with(colour="red"), "colour") == "config: unknown key 'colour'"


def test_bad_values_name_the_key():
    cases = [
        ("ueServiceId", ""), ("ueServiceId", 5), ("ueServiceId", "x" * 256),
        ("server", "http://h"), ("server", "coap://"), ("server", "coap://h/path"),
        ("server", "coap://h:0"), ("server", "coap://h:65536"), ("server", "udp://h:1"),
        ("server", 5), ("server", "coap://h:x"), ("server", "coap://user@h"),
        ("app", "Echo"), ("app", 1), ("listenPort", -1), ("listenPort", 65536),
        ("listenPort", True), ("listenPort", "5683"), ("listenPort", 1.0),
        ("segmentSize", 63), ("segmentSize", 2049), ("logLevel", "verbose"),
        ("ueId", ""), ("role", "server"), ("firstHop", "ftp://x"), ("keepAliveSec", -1),
        ("reRegPeriodSec", "1d"), ("periodSec", 0), ("reportTo", 5),
        ("reportTo", {"type": "XX", "addr": "a"}), ("reportTo", {"type": "AS"}),
        ("reportTo", ""), ("appId", 65536), ("gatewayPort", 0), ("gatewayL3Port", 70000),
        ("allowedAppIds", 5), ("allowedAppIds", [1, "2"]), ("allowedAppIds", [-1]),
        ("maxDevices", 0), ("maxDevices", 256), ("gateway", "http://x"),
        ("applicationId", "7"), ("aggregateTx", 1), ("aggregateTx", "true"),
        ("board", ""), ("wifi", "ssid"), ("wifi", []), ("topics", "t"), ("topics", ["a", 1]),
        ("topics", [""]),
    ]
    for k, v in cases:
        m = _fails(_with(**{k: v}), k)
        assert m.startswith("config: key '%s': must be " % k), m


def test_board_pins():
    assert validate(_with(pins={"led": 25, "button": "GP15"}))["pins"] == {"led": 25, "button": "GP15"}
    for bad in ({"lamp": 2}, {"led": 2.5}, {"sensor": None}, "GP2"):
        m = _fails(_with(pins=bad), "pins")
        assert m.startswith("config: key 'pins': "), m


def test_values_are_not_echoed():  # the file may hold secrets
    for k, v in (("wifi", "s3cret-pass"), ("server", "coap://s3cret-host/p"),
                 ("ueServiceId", "s3cret" * 50)):
        assert "s3cret" not in _fails(_with(**{k: v}), k)


def test_exact_messages():
    assert _fails(_with(server="http://x"), "server") == (
        "config: key 'server': must be a coap:// or coaps:// URI (or host[:port])")
    assert _fails(_with(segmentSize=10), "segmentSize") == (
        "config: key 'segmentSize': must be an integer in 64..2048")
    assert _fails(_with(keepAliveSec=-5), "keepAliveSec") == (
        "config: key 'keepAliveSec': must be an integer >= 0")
    assert _fails(_with(app="x"), "app") == (
        "config: key 'app': must be one of 'echo', 'sensor', 'none'")


def test_required_per_role():
    assert _fails({"ueServiceId": "u"}, "server") == (
        "config: key 'server': required when role is 'ue'")
    assert _fails({"server": "h"}, "ueServiceId") == (
        "config: key 'ueServiceId': required when role is 'ue'")
    for role in ("gateway", "relay"):
        assert "required when role is '%s'" % role in _fails({"role": role, "server": "h"},
                                                              "ueServiceId")
        assert validate({"role": role, "server": "h", "ueServiceId": "u"})["role"] == role
    assert _fails({"role": "cue", "applicationId": 3}, "gateway") == (
        "config: key 'gateway': required when role is 'cue'")
    assert _fails({"role": "cue", "gateway": "udp://10.0.0.1:5690"}, "applicationId")
    out = validate({"role": "cue", "gateway": "coap://10.0.0.1", "applicationId": 3})
    assert out["server"] is None and out["applicationId"] == 3


def test_sensor_needs_report_to_and_normalises_it():
    assert _fails(_with(app="sensor"), "reportTo") == (
        "config: key 'reportTo': required when app is 'sensor'")
    assert validate(_with(app="sensor", reportTo="as-42"))["reportTo"] == {"type": "AS",
                                                                           "addr": "as-42"}
    t = {"type": "UE", "addr": "ue-2", "note": "x"}
    assert validate(_with(app="sensor", reportTo=t))["reportTo"] == {"type": "UE", "addr": "ue-2"}


def test_gateway_ports_must_differ():
    d = {"role": "gateway", "server": "h", "ueServiceId": "u", "gatewayL3Port": 5683}
    assert _fails(d, "gatewayL3Port") == (
        "config: key 'gatewayL3Port': must differ from gatewayPort")
    assert validate(_with(gatewayL3Port=5683))["gatewayL3Port"] == 5683  # only for gateways


def test_top_level_not_object():
    for d in ([], "x", None, 5):
        e = raises(ConfigError, validate, d)
        assert str(e) == "config: top level must be a JSON object" and e.key is None


def test_parse_uri():  # PC-08
    good = [("coap://h", ("coap", "h", 5683)), ("coaps://h", ("coaps", "h", 5684)),
            ("COAP://h:1", ("coap", "h", 1)), ("coap://h:65535/", ("coap", "h", 65535)),
            ("h.example.net", ("coap", "h.example.net", 5683)),
            ("10.0.0.1:5690", ("coap", "10.0.0.1", 5690)),
            ("coap://[::1]", ("coap", "::1", 5683)), ("coaps://[fe80::1]:9", ("coaps", "fe80::1", 9)),
            ("udp://10.0.0.2:5690", ("udp", "10.0.0.2", 5690)), ("udp://g", ("udp", "g", 5690))]
    for uri, want in good:
        assert parse_uri(uri) == want, uri
    assert parse_uri("h", "coaps") == ("coaps", "h", 5684)
    assert parse_uri("h:7", "coaps") == ("coaps", "h", 7)
    for bad in ("", None, 5, "http://h", "coap://", "coap://:5683", "coap://h:", "coap://h:0",
                "coap://h:65536", "coap://h:123456", "coap://h:-1", "coap://h:1x",
                "coap://h/p", "coap://h?q", "coap://u@h", "coap://h h", "::1", "coap://[::1",
                "coap://[::1]x", "coap://[]", "h:1:2"):
        raises(ValueError, parse_uri, bad)


def _tmp(text):
    path = "/tmp/msgin5g-cfg-%s.json" % hexlify(os.urandom(4)).decode()
    with open(path, "w") as f:
        f.write(text)
    return path


def test_load_file():
    path = _tmp('{"ueServiceId": "u", "server": "coaps://s", "_comment": "x"}')
    try:
        assert devconfig.load(path)["server"] == "coaps://s"
    finally:
        os.remove(path)


def test_load_errors_are_one_line():
    e = raises(ConfigError, devconfig.load, "/nonexistent/msgin5g.json")
    assert str(e).startswith("config: cannot read '/nonexistent/msgin5g.json'")
    for text, start in (("{", "is not valid JSON"), ("", "is not valid JSON"),
                        ("[1]", "top level"), ('{"ueServiceId": "u"}', "key 'server'")):
        path = _tmp(text)
        try:
            m = str(raises(ConfigError, devconfig.load, path))
        finally:
            os.remove(path)
        assert "\n" not in m and start in m, m


def test_docstring_table_lists_every_key():
    f = getattr(devconfig, "__file__", "")
    try:
        with open(f) as fh:
            src = fh.read() if f.endswith(".py") else ""
    except OSError:
        src = ""
    if not src:
        return  # .mpy, or frozen (its __file__ names no file here): no source to read
    for k in devconfig.SCHEMA:
        assert ("| `%s` |" % k) in src, k
    for k in DEFAULTS:
        v = DEFAULTS[k]
        if v is not None:
            shown = ("`%s`" % str(v).lower()) if not isinstance(v, str) else "`%s`" % v
            row = src[src.index("| `%s` |" % k):]
            assert shown in row[:row.index("\n")], (k, shown)


def test_link_modem_defaults_and_required_keys():
    out = validate(_with(link={"type": "modem", "model": "bg96", "uart": "/dev/pts/3",
                               "apn": "iot"}))["link"]
    assert out == {"type": "modem", "board": None, "model": "bg96", "uart": "/dev/pts/3",
                   "apn": "iot", "rat": "auto", "psm": None, "edrx": None, "rai": False,
                   "pwrkey": None, "data": "socket", "pmu": None}, out
    assert validate(_with(link={"type": "host"}))["link"] == {"type": "host"}
    assert validate(UE)["link"] is None         # the platform's default: wifi / host
    for k in ("model", "uart", "apn"):
        d = {"type": "modem", "model": "sim7080", "uart": "/dev/x", "apn": ""}
        del d[k]
        m = _fails(_with(link=d), "link." + k)
        assert "required when link.type is 'modem'" in m, m
    _fails(_with(link={"model": "sim7080"}), "link.type")


def test_link_kits_fill_in_and_yield_to_given_keys():
    ws = validate(_with(link={"type": "modem", "board": "waveshare-pico-sim7080g",
                              "apn": "iot"}))["link"]
    assert ws["model"] == "sim7080" and ws["pwrkey"] == 14 and ws["pmu"] is None
    assert ws["uart"] == {"id": 0, "tx": 0, "rx": 1, "baud": 115200}
    lg = validate(_with(link={"type": "modem", "board": "lilygo-t-sim7080g-s3", "apn": "iot",
                              "rat": "nbiot", "pwrkey": 40}))["link"]
    assert lg["uart"] == {"id": 1, "tx": 5, "rx": 4, "baud": 115200} and lg["pmu"] == "axp2101"
    assert lg["pwrkey"] == 40 and lg["rat"] == "nbiot"
    assert devconfig.KITS["lilygo-t-sim7080g-s3"]["pwrkey"] == 41      # not changed by a config


def test_link_bad_values_name_the_key():
    base = {"type": "modem", "model": "sim7080", "uart": "/dev/x", "apn": "iot"}
    for k, v in (("type", "lte"), ("model", "sim800"), ("rat", "5g"), ("data", "tcp"),
                 ("psm", {"tauSec": 0, "activeSec": 10}), ("psm", {"tauSec": 60}),
                 ("edrx", {"cycleSec": 1}), ("edrx", 20), ("rai", 1), ("pwrkey", True),
                 ("uart", {"tx": 1}), ("uart", {"id": 0, "parity": 1}), ("uart", 7),
                 ("apn", "x" * 64), ("board", "pico"), ("pmu", "axp192"), ("speed", 1)):
        d = dict(base)
        d[k] = v
        _fails(_with(link=d), "link." + k)
    _fails(_with(link={"type": "wifi", "apn": "iot"}), "link.apn")
    _fails(_with(link="modem"), "link")
    ok = dict(base, psm={"tauSec": 3600, "activeSec": 0}, edrx={"cycleSec": 20.48},
              pwrkey="udp://127.0.0.1:4000", uart={"id": 1, "tx": "GP4", "rx": "GP5"})
    out = validate(_with(link=ok))["link"]
    assert out["uart"]["baud"] == 115200 and out["edrx"] == {"cycleSec": 20.48}
