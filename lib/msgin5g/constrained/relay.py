"""Relay UE: relays CoAP between the MSGin5G Client of a constrained UE (CUE) and the MSGin5G
Server (MSGin5G-6 = MSGin5G-1 through the relay, PC-02; TS 24.538 6.3.3.2, 6.4.2.4; PC-09).

A datagram-level forwarder on one socket: datagrams from the server address go down, all others
come up from CUEs. The server sees every CUE at the relay's address, so the relay keeps a few
small tables (entries live EXCHANGE_LIFETIME, the oldest is forgotten when full):

  uplink CON/NON   a request with Uri-Host = server host (6.4.2.4.2), a ping, or a CUE's
                   separate response: sent up under a relay Message ID (CUEs choose theirs
                   independently); a request's token remembered for the server's answer.
                   Any other request: 4.04 to the CUE (CON; a NON is dropped).
  downlink ACK/RST the relay Message ID maps back to (CUE, its Message ID).
  downlink CON/NON a request to Uri-Path msgin5g/ue/<id> of a connected CUE (one whose REG or
                   messages came through the relay) goes to it unchanged (6.4.2.4.1); a
                   response goes to the CUE that sent the token; else 4.04 (CON request),
                   RST (CON response) or nothing (NON).
  uplink ACK/RST   to a downlink CON forwarded to that CUE: up unchanged.
A UE Service ID is bound to the CUE address its REG came from; a message from another CUE that
names it as originator gets 4.03 (the server can no longer tell them apart by address).

    r = Relay(send, server_addr, "msgin5g.example.net")
    r.received(data, addr)          # every datagram of the relay socket
    r.tick()                        # nothing timed (tables expire lazily): returns None
"""
import json
import os
import time

from micropython import const
from coap.codec import CoapFormatError, decode

_CON = const(0)
_NON = const(1)
_ACK = const(2)
_RST = const(3)
_URI_HOST = const(3)
_CF_JSON = const(50)
_FORBIDDEN = const(0x83)
_NOT_FOUND = const(0x84)
_LIFE = const(247000)     # EXCHANGE_LIFETIME (RFC 7252 4.8.2)
# A CUE stays "connected" 3 days after its last REG/message (> the 24 h re-registration of
# PC-17; < 2**29 ms, the ticks_diff range on boards).
_ID_LIFE = const(259200000)


class _Table:
    """key -> value with expiry; when full, the entry closest to expiry goes first."""

    def __init__(self, size, life):
        self.d = {}
        self.size = size
        self.life = life

    def get(self, k, now):
        e = self.d.get(k)
        if e is None:
            return None
        if time.ticks_diff(e[1], now) <= 0:
            del self.d[k]
            return None
        return e[0]

    def put(self, k, v, now):
        d = self.d
        if k not in d and len(d) >= self.size:
            old = None
            for j in d:
                if old is None or time.ticks_diff(d[j][1], d[old][1]) < 0:
                    old = j
            del d[old]
        d[k] = [v, time.ticks_add(now, self.life)]

    def __len__(self):
        return len(self.d)


class Relay:
    def __init__(self, send, server, host, clock=None, size=64, max_ues=16, log=None):
        self.send = send
        self.server = server
        self.host = host.encode() if isinstance(host, str) else host
        self.clock = clock or time.ticks_ms
        self.log = log
        self._up = _Table(size, _LIFE)     # relay MID -> (CUE addr, CUE MID)
        self._rev = _Table(size, _LIFE)    # (CUE addr, CUE MID) -> relay MID
        self._tok = _Table(size, _LIFE)    # token -> CUE addr
        self._down = _Table(size, _LIFE)   # server MID -> CUE addr
        self.ues = _Table(max_ues, _ID_LIFE)  # UE Service ID -> CUE addr (connected CUEs)
        r = os.urandom(2)
        self.mid = r[0] << 8 | r[1]
        self.count = {"up": 0, "down": 0, "refused": 0, "dropped": 0}

    def tick(self):
        return None

    def _out(self, data, addr, key):
        try:
            self.send(data, addr)
            if key:
                self.count[key] += 1
        except OSError:
            pass  # looks like loss: the ends retransmit

    def _answer(self, m, code, addr):
        # Piggybacked error response (ACK) to a CON request.
        self.count["refused"] += 1
        t = m.token
        self._out(bytes((0x60 | len(t), code, m.mid >> 8, m.mid & 0xFF)) + t, addr, None)

    def received(self, data, addr):
        try:
            m = decode(data)
        except CoapFormatError:
            self.count["dropped"] += 1
            return
        now = self.clock()
        if addr == self.server:
            self._from_server(m, data, now)
        else:
            self._from_cue(m, data, addr, now)

    # ---------------------------------------------------------------- CUE -> server
    def _from_cue(self, m, data, addr, now):
        t = m.mtype
        if t >= _ACK:
            if self._down.get(m.mid, now) == addr:
                self._out(data, self.server, "up")
            else:
                self.count["dropped"] += 1
            return
        if 1 <= m.code <= 31:   # a request
            if m.opt(_URI_HOST) != self.host:
                return self._answer(m, _NOT_FOUND, addr) if t == _CON else self._drop()
            if not self._learn(m, addr, now):
                return self._answer(m, _FORBIDDEN, addr) if t == _CON else self._drop()
            self._tok.put(m.token, addr, now)
        key = (addr, m.mid)
        mid = self._rev.get(key, now)
        if mid is None:  # first copy (a retransmission reuses the relay MID: server dedup)
            mid = self._new_mid(now)
            self._rev.put(key, mid, now)
            self._up.put(mid, key, now)
        b = bytearray(data)
        b[2] = mid >> 8
        b[3] = mid & 0xFF
        self._out(b, self.server, "up")

    def _drop(self):
        self.count["dropped"] += 1

    def _new_mid(self, now):
        while True:
            self.mid = (self.mid + 1) & 0xFFFF
            if self._up.get(self.mid, now) is None:
                return self.mid

    def _learn(self, m, addr, now):
        # Connected CUEs by UE Service ID (from REG's ueServiceId or a message's oriAddr).
        if m.uint(12) != _CF_JSON or not m.payload:
            return True
        try:
            d = json.loads(m.payload)
            reg = d.get("msgType") == "REG"
            ue = d.get("ueServiceId") if reg else d.get("oriAddr", {}).get("addr")
        except Exception:
            return True  # not ours to judge: the server answers 4.00
        if not isinstance(ue, str):
            return True
        had = self.ues.get(ue, now)
        if had is not None and had != addr and not reg:
            return False
        if had != addr and self.log:
            self.log("relay: %s connected", ue)
        self.ues.put(ue, addr, now)
        return True

    # ---------------------------------------------------------------- server -> CUE
    def _from_server(self, m, data, now):
        t = m.mtype
        if t >= _ACK:
            e = self._up.get(m.mid, now)
            if e is None:
                return self._drop()
            b = bytearray(data)
            b[2] = e[1] >> 8
            b[3] = e[1] & 0xFF
            return self._out(b, e[0], "down")
        if m.code == 0:  # ping to the relay itself
            return self._out(bytes((0x70, 0, m.mid >> 8, m.mid & 0xFF)), self.server, None)
        if 1 <= m.code <= 31:   # a request
            try:
                p = m.path()
            except ValueError:  # Uri-Path not UTF-8
                p = ()
            a = self.ues.get(p[2], now) if len(p) == 3 and p[0] == "msgin5g" and \
                p[1] == "ue" else None
            if a is None:  # 6.4.2.4.1: not a connected CUE
                return self._answer(m, _NOT_FOUND, self.server) if t == _CON else self._drop()
        else:
            a = self._tok.get(m.token, now)
            if a is None:
                if t == _CON:
                    self._out(bytes((0x70, 0, m.mid >> 8, m.mid & 0xFF)), self.server, None)
                return self._drop()
        if t == _CON:
            self._down.put(m.mid, a, now)
        self._out(data, a, "down")
