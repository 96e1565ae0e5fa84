"""MSGin5G configuration retrieval (TS 24.538 6.2, PROTOCOL.md 3.2, PC-13, PC-36).

    cf = Configurator(ep, addr, host, ue_id, ue_service_id=None, preconfig=None)
    cf.start(done)      # done(result, values): result 'OK' | 'PRECONFIGURED' | 'FORBIDDEN' | 'ERROR'
    ... call cf.tick() with the endpoint's loop (it retries with back-off) ...

values = {"server", "ueServiceId", "segmentSize"} from the XML document of 7.2.4.
"""
import time

from micropython import const

from msgin5g import confxml
from msgin5g.registration import Backoff

_GET = const(1)
_CF_XML = const(41)
VAL_SERVICE_ID = "msgin5g"      # MSGIN5G_VAL_SERVICE_ID (PC-13; the real AUID is not known)


class Configurator:
    def __init__(self, ep, addr, host, ue_id, ue_service_id=None, preconfig=None,
                 backoff_ms=60000, cap_ms=3600000, log=None):
        self.ep = ep
        self.addr = addr
        self.host = host
        self.ue_id = ue_id
        self.ue_service_id = ue_service_id
        self.preconfig = preconfig      # {"server", "ueServiceId"} provisioned, or None
        self.backoff = Backoff(backoff_ms, cap_ms)
        self.log = log
        self.state = "IDLE"
        self.values = None
        self._done = None
        self._due = None

    def start(self, done):
        self._done = done
        self._get()

    def _get(self):
        self.state = "REQUESTING"
        self._due = None
        o = [(15, "val-ue-id=" + self.ue_id), (17, _CF_XML)]      # Uri-Query, Accept
        if self.ue_service_id:
            o.append((15, "val-user-id=" + self.ue_service_id))
        if self.host:
            o.append((3, self.host))                                # Uri-Host
        self.ep.request(self.addr, _GET, "su-uc/v1/val-services/%s/ue-configurations" %
                        VAL_SERVICE_ID, options=o, callback=self._answer)

    def _retry(self, ms=None):
        self.state = "BACKOFF"
        self._due = time.ticks_add(self.ep.clock(), ms if ms is not None else self.backoff.next())

    def _answer(self, r):
        code = r.code
        if self.log:
            self.log("configuration -> %s", r.error or "%d.%02d" % (code >> 5, code & 31))
        if r.error or code >= 0xA0:
            return self._retry()                 # 5.xx / timeout: back-off (PC-13)
        if code == 0x45:
            try:
                self.values = confxml.parse(r.response.payload)
            except ValueError as e:
                return self._finish("ERROR", str(e))
            return self._finish("OK", self.values)
        if code == 0x83:                         # 4.03: refused; retry after 24 h
            self._retry(86400000)
            return self._finish("FORBIDDEN", None, keep_timer=True)
        if code == 0x84:                         # 4.04: no document for this UE
            p = self.preconfig
            if p and p.get("server") and p.get("ueServiceId"):
                return self._finish("PRECONFIGURED", p)
            return self._retry()
        return self._finish("ERROR", "configuration refused %d.%02d" % (code >> 5, code & 31))

    def _finish(self, result, values, keep_timer=False):
        self.state = result
        if not keep_timer:
            self._due = None
        if self._done:
            self._done(result, values)

    def tick(self):
        """Retry when due; return ms to the next retry (None when idle)."""
        if self._due is None:
            return None
        d = time.ticks_diff(self._due, self.ep.clock())
        if d <= 0:
            self._get()
            return None
        return d
