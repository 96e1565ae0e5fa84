"""REPL bring-up helpers: `from msgin5g.repl import *`, then

  status()              client state and counters
  send(to, text, ...)   queue a message (to_type='UE', app_id=None, report=False)
  inbox(n=5)            the last messages received
  reports(n=5)          the last delivery reports received
  log('debug')          change the log level
  mem()                 heap: used, free, largest block one allocation can get
They work while the application runs (the device's asyncio loop keeps going; with the config
key "repl": true the firmware runs an asyncio REPL task that reads your lines).
"""
from msgin5g import log as _log


def _dev():
    from msgin5g.device import Device
    d = Device.current
    if d is None or d.client is None:
        raise RuntimeError("no device running")
    return d


def status():
    """Client state and counters as a dict."""
    return _dev().client.status()


def send(to, text, to_type="UE", app_id=None, report=False):
    """Queue a message to `to` (UE/AS/GROUP/BC/TOPIC); returns its msgId."""
    return _dev().client.send(to, text, dest_type=to_type, app_id=app_id, report=report)


def inbox(n=5):
    """The last n messages received: (msgId, from, appId, payload)."""
    return _dev().client.last_messages(n)


def reports(n=5):
    """The last n delivery reports: (msgId, status, cause, from)."""
    return _dev().client.last_reports(n)


def log(level=None):
    """Show or set the log level ('debug', 'info', 'warn', 'error', 'off')."""
    if level is not None:
        _log.set_level(level)
    return _log.level_name()


def mem():
    """{'used', 'free', 'largestBlock'} in bytes after a collection (msgin5g.device.heap)."""
    from msgin5g.device import heap
    return heap()
