# heapsize: 64k
# board-heapsize: 14k   (unix32, library frozen; measured minimum 10k)
"""msgin5g.log: levels, lazy formatting, sink, prefix, redaction."""
from msgin5g import log
from tinytest import raises


class Boom:
    """Fails the test if anything formats it."""

    def __str__(self):
        raise AssertionError("formatted while disabled")

    __repr__ = __str__


def _capture(level="debug"):
    lines = []
    log.set_sink(lines.append)
    log.set_level(level)
    return lines


def _restore():
    log.set_sink(None)
    log.set_level("info")


def test_levels_filter_and_letters():
    lines = _capture("warn")
    try:
        log.debug("d %d", 1)
        log.info("i %d", 2)
        log.warn("w %d", 3)
        log.error("e %d", 4)
        assert len(lines) == 2, lines
        t, letter, msg = lines[0].split(" ", 2)
        assert int(t) >= 0
        assert (letter, msg) == ("W", "w 3")
        assert lines[1].split(" ", 1)[1] == "E e 4"
        log.set_level("debug")
        log.debug("x=%s", "y")
        assert lines[-1].split(" ", 1)[1] == "D x=y"
        log.set_level("off")
        log.error("nothing")
        assert len(lines) == 3
    finally:
        _restore()


def test_disabled_levels_do_not_format():
    lines = _capture("error")
    try:
        log.debug("%s", Boom())
        log.info("%s", Boom())
        log.warn("%s", Boom())
        assert lines == []
    finally:
        _restore()


def test_set_level_names_ints_and_errors():
    try:
        assert log.set_level("DEBUG") == log.INFO
        assert log.get_level() == log.DEBUG
        log.set_level(log.ERROR)
        assert log.level_name() == "error"
        assert log.log("warning") == "warn"
        assert log.log() == "warn"
        raises(ValueError, log.set_level, "loud")
        assert log.get_level() == log.WARN  # unchanged by the bad name
        assert log.enabled(log.ERROR) and not log.enabled(log.INFO)
    finally:
        _restore()


def test_default_sink_is_print_and_set_sink_returns_previous():
    lines = []
    assert log.set_sink(lines.append) is None
    assert log.set_sink(None) == lines.append


def test_no_args_message_used_verbatim():
    lines = _capture()
    try:
        log.info("100% literal %s")
        assert lines[0].split(" ", 2)[2] == "100% literal %s"
    finally:
        _restore()


def test_bad_format_does_not_raise():
    lines = _capture()
    try:
        log.info("%d items", "many")
        assert "%d items" in lines[0] and "many" in lines[0]
    finally:
        _restore()


def test_dict_values_of_secret_keys_masked():
    lines = _capture()
    cfg = {"ssid": "lab", "password": "hunter2", "wifiPass": "x1", "psk": "00112233",
           "dtls": {"pskKey": "abcd", "identity": "cue-1"}, "ueServiceId": "cue-1",
           "apiSecret": 5, "list": [{"token": "t0k"}]}
    try:
        log.info("config %s", cfg)
        line = lines[0]
        for secret in ("hunter2", "x1", "00112233", "abcd", "t0k"):
            assert secret not in line, (secret, line)
        assert "lab" in line and "cue-1" in line
        assert line.count("***") == 6, line
        assert cfg["password"] == "hunter2"  # the caller's dict is untouched
    finally:
        _restore()


def test_redact_structures():
    r = log.redact({"Password": "p", "n": 1, "sub": ({"secret": 1},)})
    assert r == {"Password": "***", "n": 1, "sub": ({"secret": "***"},)}
    assert log.redact(7) == 7
    assert log.is_secret_key("wifi_passphrase") and not log.is_secret_key("ssid")


def test_redact_strings():
    assert log.redact('{"ssid": "lab", "password": "hu, nter"}') == '{"ssid": "lab", "password": "***"}'
    assert log.redact("psk=0011&id=7") == "psk=***&id=7"
    assert log.redact("key: abc def") == "key: *** def"
    assert log.redact("api_key='k1', token = t2") == "api_key='***', token = ***"
    s = "nothing to hide: passive listening"  # secret word without a separator
    assert log.redact(s) == s
    assert log.redact("password") == "password"
    assert log.redact("password=") == "password=***"


def test_string_args_are_redacted():
    lines = _capture()
    try:
        log.warn("wifi %s", "ssid=lab password=hunter2")
        assert "hunter2" not in lines[0] and "password=***" in lines[0]
    finally:
        _restore()


def test_exception_logs_type_message_and_traceback():
    lines = _capture()
    try:
        try:
            raise ValueError("bad thing")
        except ValueError as e:
            log.exception(e, "step %d", 3)
        assert lines[0].split(" ", 1)[1] == "E step 3: ValueError: bad thing"
        assert any("ValueError" in ln for ln in lines[1:]), lines
    finally:
        _restore()
