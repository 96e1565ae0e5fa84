# startup: what main.py runs. Reads the device config, picks the board and the role, runs the
# application. A module, not main.py itself: main.py is a file that every boot compiles into
# RAM (1.3 KB of heap for this code), a module is frozen with the library (or a .mpy).
import sys

from msgin5g import log


def _board(cfg):
    try:
        import board
        if getattr(board, "SAFE", False):
            return None, True
        return board.detect(cfg.get("board"), cfg.get("pins")), False
    except ImportError:
        return None, False


def _secrets(config_path):
    # Credentials live in secrets.json beside the config: never committed, never logged.
    i = config_path.rfind("/")
    p = (config_path[:i + 1] if i >= 0 else "") + "secrets.json"
    try:
        import json
        with open(p) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def main(argv):
    path = argv[1] if len(argv) > 1 else "config.json"
    from msgin5g import devconfig
    try:
        cfg = devconfig.load(path)
    except devconfig.ConfigError as e:
        print(e)          # one line naming the key
        return 2
    # The validator is needed only once: unload it (about 5 KB of RAM on a board).
    import msgin5g
    del devconfig
    del sys.modules["msgin5g.devconfig"]
    delattr(msgin5g, "devconfig")
    log.set_level(cfg["logLevel"])
    b, safe = _board(cfg)
    if safe:
        print("safe mode: application not started")
        return 0
    from msgin5g.device import Device
    import asyncio
    try:
        dev = Device(cfg, b, _secrets(path))
    except Exception as e:   # e.g. coap.dtls.DtlsError: bad or missing credentials
        print("start-up: %s" % e)
        return 2
    if cfg["repl"]:   # the asyncio REPL (msgin5g.repl helpers) beside the application
        from msgin5g import aiorepl
        dev.tasks.append(aiorepl.task)
    log.info("starting %s as %s (%s)", cfg["app"], cfg.get("ueServiceId"), cfg["role"])
    try:
        asyncio.run(dev.main())
    except KeyboardInterrupt:
        pass
    except SystemExit:      # the unix board's deep sleep ends the process (SLEEP <ms>)
        if not dev.asleep:
            raise
    finally:
        _stop(dev)
    return 0


def _stop(dev):
    # A stop may be signalled more than once (Ctrl-C pressed again, kill after a service
    # manager's stop), and on the unix port every SIGINT raises KeyboardInterrupt wherever the
    # program is. Absorb them: dev.shutdown() resumes its bounded DEREG, and the final STATUS
    # line is printed all the same, before main() returns 0. (tools/ue passes one stop on.)
    if dev.asleep:          # deep sleep (deepSleep): registered on, state saved, no STATUS
        return
    line = None
    while True:
        try:
            if line is None:
                log.info("stopping: de-registering")
                try:
                    dev.shutdown()
                except Exception as e:  # e.g. the network went away: STATUS all the same
                    log.error("de-registration: %r", e)
                try:
                    line = dev.status_line()
                except MemoryError:     # a heap too full for the figures: state at least
                    line = 'STATUS {"state": "%s", "heap": null}' % getattr(
                        dev.client, "state", None)
            print(line)
            return
        except KeyboardInterrupt:
            pass
