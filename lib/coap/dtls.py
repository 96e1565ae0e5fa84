"""CoAP over DTLS 1.2 (coaps://, RFC 7252 section 9; PC-07, PC-08): a client-side Endpoint
holding ONE DTLS session to ONE server (the MSGin5G Client only talks to its first hop).
The session (DtlsSession) does not care what carries its datagrams: DtlsEndpoint runs it
over a UDP socket, modem.dtls.ModemDtlsEndpoint over a cellular modem's AT sockets.

    ep = DtlsEndpoint("server.example", 5684, psk_identity="ue-1", psk=b"secret")
    ep = DtlsEndpoint(host, 5684, ca=ca_der, cert=cert_der, key=key_der)   # certificates
    r = ep.call(ep.peer, GET, "time")            # like UdpEndpoint; r.error on failure
    ep.connect()                                 # optional: handshake now, DtlsError if it fails

Needs MicroPython's `tls` module with DTLS (Mbed TLS); PSK needs `psk_identity`/`psk_key` on
SSLContext. Certificates and keys are DER bytes (Mbed TLS here refuses PEM). On CPython (no
DTLS in `ssl`) this module imports but DtlsEndpoint raises DtlsError; see available().

How it works (found by experiment on the unix port, Mbed TLS 3.6):
- One UDP socket for the endpoint's life (PC-08), connected to the server, non-blocking.
  The DTLS layer wraps a tiny stream proxy (_Dgram) around it, so a failed or closed session
  is dropped and a new one started without ever closing or re-binding the socket, and socket
  errors (ECONNREFUSED from ICMP) become clear messages instead of exceptions inside Mbed TLS.
- The handshake is non-blocking and driven by us: the first datagram to send is kept and
  written with SSLSocket.write(), which returns None while the handshake runs; poll()/tick()/
  the asyncio reader keep calling it (Mbed TLS retransmits its flights on its own 1-2-4 s
  timer). Our own deadline (hs_timeout_ms) bounds it: a wrong PSK is silently dropped by
  the server (bad record MAC), so without a deadline it would wait for ever. A failed
  handshake finishes every pending request with r.error = 'handshake failed: ...'.
  (Setting a socket timeout before a blocking wrap_socket() also bounds it, but the time it
  takes varies: timeout 0.5/1/2/3 s -> error after 0.5/2/5/6 s; and it blocks asyncio.)
- Poll the raw UDP socket, then read the session with recv() until it returns None (one
  record per call; never read(n), it waits for n bytes). SSLSocket.cipher() before the
  handshake is done crashes the unix port (segfault): only call it once up.
- Mbed TLS here offers no CCM suites: TLS_PSK_WITH_AES_128_CCM_8 (RFC 7252 9.1.3.1) is
  offered first when get_ciphers() lists it, then the other PSK AEAD suites (PC-07).
"""
import io
import time
from binascii import unhexlify
from micropython import const

from coap.endpoint import Endpoint, Req
from coap.udp import UdpEndpoint, resolve

try:
    import tls
except ImportError:
    tls = None
if tls is not None and not hasattr(tls, "PROTOCOL_DTLS_CLIENT"):
    tls = None   # old firmware without DTLS

CCM_8 = "TLS-PSK-WITH-AES-128-CCM-8"
# PSK suites with AEAD, in order of preference (PC-07: CCM_8 first where available).
PSK_SUITES = (CCM_8, "TLS-PSK-WITH-AES-128-CCM", "TLS-PSK-WITH-AES-128-GCM-SHA256",
              "TLS-PSK-WITH-AES-256-CCM-8", "TLS-PSK-WITH-AES-256-CCM",
              "TLS-PSK-WITH-AES-256-GCM-SHA384", "TLS-PSK-WITH-CHACHA20-POLY1305-SHA256")

_EAGAIN = const(11)
_ETIMEDOUT = const(110)
_ECONNREFUSED = const(111)
_FATAL_ALERT = const(-0x7780)  # MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE
_HS_STEP = const(100)     # ms between handshake pumps when nothing arrives
_MAX_QUEUED = const(4)    # datagrams kept while the handshake runs
_RX_MAX = const(1500)     # largest DTLS datagram read (Ethernet MTU); bufsize if larger


class DtlsError(Exception):
    """DTLS unavailable, bad credentials, or a handshake that failed (str says which)."""


def available():
    """True when this platform can run DTLS client sessions."""
    return tls is not None


def psk_bytes(v):
    """A PSK from the secrets file: bytes as is, 'hex:0a1b..' decoded, other text as UTF-8."""
    if isinstance(v, (bytes, bytearray)):
        return bytes(v)
    if not isinstance(v, str) or not v:
        raise DtlsError("psk must be a non-empty string")
    if v[:4] == "hex:":
        try:
            return unhexlify(v[4:])
        except ValueError:
            raise DtlsError("psk: bad hex")
    return v.encode()


def credentials(secrets, ue_service_id=None, read=None):
    """Keyword arguments for DtlsEndpoint from a secrets dict (docs/dtls.md):
    pskIdentity (default: the UE Service ID, PC-07), psk, caDer, certDer, keyDer (file paths).
    `read(path) -> bytes` reads a file (default: open(path, 'rb'))."""
    read = read or _read
    kw = {}
    if secrets.get("psk") is not None:
        kw["psk"] = psk_bytes(secrets["psk"])
        ident = secrets.get("pskIdentity") or ue_service_id
        if not ident:
            raise DtlsError("pskIdentity missing")
        kw["psk_identity"] = ident
    for k, n in (("caDer", "ca"), ("certDer", "cert"), ("keyDer", "key")):
        if secrets.get(k):
            try:
                kw[n] = read(secrets[k])
            except OSError:
                raise DtlsError("cannot read " + k)
    return kw


def _read(path):
    with open(path, "rb") as f:
        return f.read()


def _why(e):
    if isinstance(e, OSError) and e.args:
        a = e.args
        if a[0] == _ECONNREFUSED:
            return "connection refused (no server on that port)"
        if a[0] == _FATAL_ALERT:
            return "the server sent a fatal alert (client certificate missing or not " \
                   "trusted, or no common cipher suite)"
        if len(a) > 1:
            return "%s (%d)" % (a[1], a[0])     # Mbed TLS: (-code, 'MBEDTLS_ERR_...')
        return "OSError %d" % a[0]
    return str(e).strip() or repr(e)


class _Dgram(io.IOBase):
    """Stream proxy between Mbed TLS and what carries the datagrams (`sock`: anything with
    send(buf) and recv(n), recv giving None or raising EAGAIN when nothing waits: a UDP socket,
    or modem.dtls's link adapter): one datagram per read/write. Never raises into Mbed TLS (an
    exception there would unwind through C); remembers the error."""

    def __init__(self, sock, cap):
        self.s = sock
        self.cap = cap
        self.err = None

    def readinto(self, buf):
        # recv, not the socket's readinto(): that one loops and would join datagrams. Mbed
        # TLS offers its whole ~16.7 KB input buffer each time; recv() of that much would
        # allocate 16.7 KB per datagram, so ask for at most `cap` (a larger datagram is cut:
        # servers keep DTLS datagrams to the path MTU, libcoap to 1152 octets).
        n = len(buf)
        try:
            d = self.s.recv(n if n < self.cap else self.cap)
        except OSError as e:
            if e.args[0] not in (_EAGAIN, _ETIMEDOUT):
                self.err = e
            return None
        if d is None:
            return None
        n = len(d)
        buf[:n] = d
        return n

    def write(self, buf):
        try:
            return self.s.send(buf)
        except OSError as e:
            if e.args[0] not in (_EAGAIN, _ETIMEDOUT):
                self.err = e
            return len(buf)   # treated as lost: DTLS/CoAP retransmission recovers

    def discard(self):
        """Drop what waits before a new handshake: stale datagrams, and a pending ICMP error
        (ECONNREFUSED left by our last close_notify to a dead server) that would fail it."""
        for _ in range(_MAX_QUEUED):
            try:
                if self.s.recv(self.cap) is None:
                    break
            except OSError as e:
                if e.args[0] in (_EAGAIN, _ETIMEDOUT):
                    break
        self.err = None

    def ioctl(self, req, arg):
        return 0   # close/poll/settimeout are ours to do on the real socket

    def close(self):
        pass


def context(psk_identity=None, psk=None, ca=None, cert=None, key=None, verify=True,
            ciphers=None):
    """The SSLContext of a DTLS client (credentials as DtlsEndpoint takes them). Raises
    DtlsError: no DTLS on this platform, or credentials missing or bad."""
    if tls is None:
        raise DtlsError("DTLS is not available on this platform (no tls module with DTLS)")
    if (cert is None) != (key is None):
        raise DtlsError("client certificate needs both cert and key")
    ctx = tls.SSLContext(tls.PROTOCOL_DTLS_CLIENT)
    try:
        if psk is not None:
            if not hasattr(ctx, "psk_identity"):
                raise DtlsError("this firmware's tls module has no PSK support")
            if not psk_identity:
                raise DtlsError("psk_identity missing")
            ctx.verify_mode = tls.CERT_NONE
            ctx.psk_identity = psk_identity
            ctx.psk_key = psk_bytes(psk)
            if ciphers is None:
                have = ctx.get_ciphers()
                ciphers = [c for c in PSK_SUITES if c in have]
        else:
            if ca is not None:
                ctx.load_verify_locations(ca)
                ctx.verify_mode = tls.CERT_REQUIRED
            elif verify:
                raise DtlsError("no credentials: give psk_identity+psk, or ca (DER)")
            else:
                ctx.verify_mode = tls.CERT_NONE
            if cert is not None:
                ctx.load_cert_chain(cert, key)
        if ciphers:
            ctx.set_ciphers(list(ciphers))
    except DtlsError:
        raise
    except Exception as e:   # ValueError / OSError from Mbed TLS: bad DER, unknown suite
        raise DtlsError("bad credentials: " + _why(e))
    return ctx


class DtlsSession:
    """The DTLS client session of an Endpoint, mixed in before the Endpoint class that owns the
    transport: `class X(DtlsSession, UdpEndpoint)`. That class calls _session() once its
    Endpoint is set up, calls _hs_tick(w) from its tick(), feeds received datagrams to
    _records() (through self._io) and ends with _drop_session() in close(). No base class of
    its own: with MicroPython's depth-first method lookup an Endpoint base here would hide the
    transport's overrides (tick, poll, _in, close)."""

    def _session(self, ctx, psk_mode, sock, server_hostname, hs_timeout_ms, retry_ms):
        self.ctx = ctx
        self.psk_mode = psk_mode
        self.server_hostname = server_hostname
        self.hs_timeout_ms = hs_timeout_ms
        self.retry_ms = retry_ms
        self.ml.send_raw = self._send  # every datagram goes through the session
        self._io = _Dgram(sock, max(self.bufsize, _RX_MAX))
        self._ss = None        # SSLSocket of the current session (None: no session)
        self._up = False       # handshake complete
        self._out = []         # datagrams waiting for the handshake
        self._t0 = 0
        self._next_try = None  # after a failed handshake: no new one before this tick
        self.error = None      # DtlsError of the last failure (None: none yet)
        self.handshakes = 0    # completed handshakes
        self.failures = 0      # failed handshakes and broken sessions
        self.hs_ms = None      # duration of the last completed handshake
        self.suite = None      # (cipher suite, version) of the last session
        self.dropped = 0       # datagrams not sent (other peer, or queue overflow)

    @property
    def connected(self):
        return self._up

    def cipher(self):
        """(suite, version) of the session, or None while there is none."""
        return self.suite if self._up else None

    def _start(self, now):
        self._io.discard()
        try:
            self._ss = self.ctx.wrap_socket(self._io, server_side=False,
                                            do_handshake_on_connect=False,
                                            server_hostname=self.server_hostname)
        except Exception as e:
            self._fail("handshake failed: " + _why(e), now)
            return
        self._up = False
        self._t0 = now

    def _pump(self, now):
        """Advance the handshake by writing the first queued datagram; flush on success."""
        out = self._out
        while out:
            try:
                n = self._ss.write(out[0])
            except Exception as e:   # ValueError (certificate) or OSError (alert)
                self._fail("handshake failed: " + _why(e), now)
                return
            if self._io.err is not None:
                self._fail("handshake failed: " + _why(self._io.err), now)
                return
            if n is None:
                if time.ticks_diff(now, self._t0) >= self.hs_timeout_ms:
                    self._fail("handshake failed: no answer within %d ms (%sno DTLS server "
                               "there)" % (self.hs_timeout_ms, "wrong PSK or identity, or "
                                           if self.psk_mode else ""), now)
                return
            if not self._up:
                self._up = True
                self.handshakes += 1
                self.hs_ms = time.ticks_diff(time.ticks_ms(), self._t0)
                self.suite = self._ss.cipher()   # only safe once up (see above)
                self.error = None
                if self.log:
                    self.log("dtls: session up in %d ms" % self.hs_ms)
            out.pop(0)

    def _drop_session(self):
        ss = self._ss
        self._ss = None
        self._up = False
        if ss is not None:
            try:
                ss.close()        # sends close_notify when up; the proxy keeps the socket
            except Exception:
                pass

    def _fail(self, msg, now):
        """The handshake failed: remember why, back off, finish every pending request."""
        self._drop_session()
        self.failures += 1
        self.error = DtlsError(msg)
        self._out = []
        self._next_try = time.ticks_add(now, self.retry_ms)
        if self.log:
            self.log("dtls: " + msg)
        ml = self.ml
        txs = list(ml.pending.values()) + ml.backlog
        del ml.backlog[:]
        for tx in txs:
            ml.cancel(tx, now)
            self._end(tx, None, msg)
        for req in list(self._reqs.values()):
            self._end(req, None, msg)

    def _broken(self, msg):
        """An established session ended (close_notify, fatal alert, ICMP): the next datagram
        starts a new handshake; requests in flight retransmit through it."""
        self._drop_session()
        self.failures += 1
        self.error = DtlsError(msg)
        if self.log:
            self.log("dtls: " + msg)

    def on_tx(self, tx, msg, err, now):
        # No answer at all over an established session: the server may have lost it (restart,
        # idle expiry) and silently drops our records. Start a new session on the next send.
        Endpoint.on_tx(self, tx, msg, err, now)
        if err == "timeout" and self._up:
            self._broken("no answer over the session: new handshake on the next request")

    def _send(self, data, addr):
        if addr != self.peer:
            self.dropped += 1
            raise OSError(_ECONNREFUSED)   # counted as a send error by the message layer
        if self._up:
            try:
                self._ss.write(data)
            except Exception as e:
                self._broken("session lost: " + _why(e))
            return
        now = time.ticks_ms()
        if self._ss is None:
            if self._backoff():
                raise OSError(_EAGAIN)     # backing off after a failure: looks like loss
            self._start(now)
            if self._ss is None:
                return
        if len(self._out) >= _MAX_QUEUED:
            self._out.pop(0)
            self.dropped += 1
        self._out.append(bytes(data))
        self._pump(now)
        self.kick()

    def _backoff(self):
        """True while no new handshake may start (retry_ms after a failed one)."""
        nt = self._next_try
        return self._ss is None and nt is not None and time.ticks_diff(nt, time.ticks_ms()) > 0

    def send_request(self, addr, msg, callback=None, timeout=None):
        if self._backoff():   # fail fast with the reason instead of timing out
            req = Req(addr, msg, callback)
            self._end(req, None, str(self.error))
            return req
        return Endpoint.send_request(self, addr, msg, callback, timeout)

    def connect(self, timeout_ms=None):
        """Blocking: handshake now (a CoAP ping carries it and checks that the server
        answers). Returns the handshake time in ms; raises DtlsError if it fails."""
        if self._up:
            return 0
        self._next_try = None
        r = self.ping(self.peer)
        self.run_until(lambda: r.done or self._up, timeout_ms or self.hs_timeout_ms + 1000)
        if not self._up:
            self.cancel(r)
            raise self.error or DtlsError("handshake failed: timeout")
        return self.hs_ms

    def _records(self):
        """Process what the transport holds: advance the handshake, or read the session's
        records until it has none; without a session drop the strays. Returns records read."""
        n = 0
        ss = self._ss
        if ss is None:
            while self._io.readinto(bytearray(self.bufsize)):  # stray: no session
                n += 1
            self._io.err = None
            return n
        if not self._up:
            self._pump(time.ticks_ms())
            if not self._up:
                return n
        while self._ss is ss:
            try:
                # A record is read whole (it came in a datagram of at most _io.cap octets):
                # reading less would leave its rest for the next recv(), which returns it as if
                # it were a record of its own. Longer than bufsize: 4.13 (the endpoint's _in).
                data = ss.recv(self._io.cap)
            except Exception as e:
                self._broken("session lost: " + _why(e))
                break
            if self._io.err is not None:
                self._broken("session lost: " + _why(self._io.err))
                break
            if data is None:
                break
            if not data:
                self._broken("session closed by the server")
                break
            n += 1
            self._in(data, self.peer)
        return n

    def _hs_tick(self, w):
        """The endpoint's tick() wait w, after pumping a running handshake (Mbed TLS resends
        its flights on its own timer only when called: at most _HS_STEP ms apart)."""
        if self._ss is not None and not self._up:
            self._pump(time.ticks_ms())
            if self._ss is not None and not self._up and (w is None or w > _HS_STEP):
                w = _HS_STEP
        return w


class DtlsEndpoint(DtlsSession, UdpEndpoint):
    """An Endpoint whose datagrams to/from `peer` go through one DTLS client session.

    Credentials: psk_identity + psk (bytes or str) for PSK mode; otherwise certificate mode
    with ca (DER, verifies the server; server_hostname defaults to host and must match its
    CN/SAN), optionally cert + key (DER) for a client certificate. verify=False accepts any
    server certificate (labs only). Datagrams addressed to another peer are dropped.
    """

    def __init__(self, host, port=5684, params=None, psk_identity=None, psk=None, ca=None,
                 cert=None, key=None, local_host="0.0.0.0", local_port=0,
                 server_hostname=None, verify=True, ciphers=None, hs_timeout_ms=10000,
                 retry_ms=5000, bufsize=1280, **kw):
        ctx = context(psk_identity, psk, ca, cert, key, verify, ciphers)
        self.peer = resolve(host, port)
        self.host = host
        UdpEndpoint.__init__(self, local_host, local_port, params, bufsize, **kw)
        self.sock.connect(self.peer)   # the kernel now drops datagrams from anyone else
        self._session(ctx, psk is not None, self.sock, server_hostname or host,
                      hs_timeout_ms, retry_ms)

    # ---------------- I/O: poll() here, run() inherited (its reader calls _drain) ----------
    def poll(self, timeout_ms=0):
        """Run due timers, wait up to timeout_ms for the socket, process what came."""
        w = self.tick()
        if w is None or w > timeout_ms:
            w = timeout_ms
        if self._poller.poll(w if w > 0 else 0):
            self._drain()

    def _drain(self):
        return self._records()

    def tick(self):
        return self._hs_tick(UdpEndpoint.tick(self))

    def close(self):
        self._drop_session()
        UdpEndpoint.close(self)
