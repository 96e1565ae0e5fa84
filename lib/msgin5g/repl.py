"""REPL bring-up helpers: `from msgin5g.repl import *`, then

  status()              client state and counters
  send(to, text, ...)   queue a message (to_type='UE', app_id=None, report=False)
  inbox(n=5)            the last messages received
  reports(n=5)          the last delivery reports received
  log('debug')          change the log level
  mem()                 heap: used, free, largest block one allocation can get
  modem()               the cellular link: state, RAT, signal (dBm), granted PSM/eDRX, address,
                        counters (link.type "modem"); with data "ppp" the call: state,
                        address, redials, why the last call was lost
  at("AT+CSQ")          one AT command between the link's data operations: its lines
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
    """The last n messages received: (msgId, from, appId, payload). Kept only when the
    device's config has "repl": true (1.8 KB of heap with reports())."""
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


def _link(ppp=False):
    from msgin5g.device import Device
    d = Device.current
    k = d and (d.link or ppp and d.ppp)
    if not k:
        raise RuntimeError("no modem link (config link.type is not 'modem')"
                           if not (d and d.ppp) else "the modem carries PPP: no AT commands")
    return d, k


def modem():
    """The modem link's status (modem.link.Link.status): state, rat, dbm, psm/edrx requested
    and granted, ip, counters (datagrams/octets each way, AT octets, resets, wakes, ...).
    With link.data "ppp", the call's (modem.ppp.Supervisor.status): state (up, redialling,
    dialling, connecting, backoff), ip, error, lastDrop, drops, redials, suspects."""
    return _link(True)[1].status()


def at(cmd, timeout_ms=10000):
    """Send one AT command (e.g. "AT+CSQ", "AT+CEREG?") and return its lines and result. It runs
    between the link's data operations (never inside a datagram's exchange), and the link keeps
    carrying data while this waits."""
    d, k = _link()
    if k.state != "up":
        raise RuntimeError("modem link %s: at() waits for it to be up (modem())" % k.state)
    res = []
    k.command(cmd, res.append)
    d.ep.run_until(lambda: res, timeout_ms)     # the endpoint and its link keep running
    if not res:
        return "no answer in %d ms" % timeout_ms
    c = res[0]
    return c.lines + [c.result if c.err is None else "%s: %s" % (c.result, c.err)]
