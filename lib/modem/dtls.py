"""CoAP over DTLS (coaps://, PC-07/PC-08) through a modem's AT sockets: the DTLS session of
coap.dtls (DtlsSession) over a ModemEndpoint, one session to the first hop.

    ep = ModemDtlsEndpoint(link, "server.example", 5684, psk_identity="ue-1", psk=b"secret")

Loaded only by a device whose link is a modem and whose server is coaps:// (msgin5g.cellular).
Mbed TLS reads and writes datagrams through _LinkSock: send() is link.sendto to the peer,
recv() takes the oldest datagram the link delivered. The link hands each datagram over during
its own tick (on_datagram, a view of its AT buffer valid for that call only), and the session
reads it at once, so nothing is copied unless Mbed TLS leaves it unread (then it waits, copied,
in a bounded queue). Polling, asyncio (ep.sock is the UART) and addresses ((host, port): the
modem resolves names) are ModemEndpoint's.
"""
import time
from micropython import const

from coap.dtls import DtlsSession, context
from modem.endpoint import ModemEndpoint
from modem.link import MAX_DATAGRAM

# A CoAP message sent through the session grows by the DTLS record around it: header 13,
# explicit IV/nonce up to 16, MAC up to 48 (CBC with SHA-384; an AEAD tag: 8-16), padding up
# to 16. What is longer than this would make the modem refuse the record (1460 octets,
# MODEM.md 4, 5): refused before it is encrypted, as the link refuses a long datagram.
MAX_PLAIN = const(1364)     # MAX_DATAGRAM - 96
_EMSGSIZE = const(90)
_QUEUE = const(4)           # datagrams kept that the session did not read at once


class _LinkSock:
    """What coap.dtls's stream proxy needs of a socket, over the modem Link."""

    def __init__(self, link, peer):
        self.link = link
        self.peer = peer
        self.q = []             # received datagrams not read yet, oldest first

    def send(self, buf):
        return self.link.sendto(buf, self.peer)

    def recv(self, n):
        q = self.q
        if not q:
            return None         # as a non-blocking socket: nothing waits
        d = q.pop(0)
        return d if len(d) <= n else d[:n]     # cut, as recv on a socket cuts


class ModemDtlsEndpoint(DtlsSession, ModemEndpoint):
    """A ModemEndpoint whose datagrams to/from `peer` go through one DTLS client session.
    Credentials and options as coap.dtls.DtlsEndpoint's. hs_timeout_ms counts only while
    the link is up (a bring-up or coverage gap takes longer than a handshake), and is
    longer by default than on a host: a cellular round trip can take seconds (NB-IoT)."""

    def __init__(self, link, host, port=5684, params=None, psk_identity=None, psk=None,
                 ca=None, cert=None, key=None, server_hostname=None, verify=True, ciphers=None,
                 hs_timeout_ms=20000, retry_ms=5000, bufsize=MAX_DATAGRAM, **kw):
        ctx = context(psk_identity, psk, ca, cert, key, verify, ciphers)  # before the link
        self.peer = (host, port)
        self.host = host
        ModemEndpoint.__init__(self, link, params, bufsize, **kw)
        self._ls = _LinkSock(link, self.peer)
        link.on_datagram = self._datagram   # records, not CoAP: ModemEndpoint set _in
        self._session(ctx, psk is not None, self._ls, server_hostname or host,
                      hs_timeout_ms, retry_ms)

    def _datagram(self, view, addr):
        if addr != self.peer:
            self.dropped += 1
            return
        q = self._ls.q
        if len(q) >= _QUEUE:
            q.pop(0)
            self.dropped += 1
        q.append(view)
        self._records()
        if q and q[-1] is view:
            q[-1] = bytes(view)     # left unread: the link reuses its buffer after this call

    def _send(self, data, addr):
        if len(data) > MAX_PLAIN:
            self.dropped += 1
            msg = "dtls: a CoAP message of %d octets refused: at most %d fit a modem " \
                  "datagram with the DTLS record" % (len(data), MAX_PLAIN)
            if self.log:
                self.log(msg)
            raise OSError(_EMSGSIZE, msg)
        DtlsSession._send(self, data, addr)

    def tick(self):
        w = ModemEndpoint.tick(self)
        if not self.link.up and self._ss is not None:
            if self._up:
                # The link went down (reset, PDP context or coverage lost): the modem's socket,
                # and with it the address the server knows the session by, may not come back.
                self._broken("modem link down: new handshake on the next request")
            else:
                self._t0 = time.ticks_ms()     # the handshake's deadline waits for the link
        return self._hs_tick(w)

    def close(self):
        self._drop_session()
        ModemEndpoint.close(self)
