"""mpcoap: a command-line CoAP client and demo server on our stack, run by the unix-port
`micropython` (see the `tools/mpcoap` wrapper). Used for bring-up and for interop tests.

  mpcoap get URI [--accept N] [--non] [--timeout S] [--verbose]
  mpcoap post URI --payload TEXT [--format N] [--non] [--timeout S]
  mpcoap ping URI
  mpcoap serve [--port N] [--host H]

coaps:// URIs (DTLS 1.2, default port 5684, MicroPython only; see docs/dtls.md) take
  --psk-id ID --psk KEY           PSK mode (KEY as text, or hex:0a1b...)
  --ca FILE [--cert FILE --key FILE] [--hostname NAME]   certificate mode, DER files
  --hs-timeout S                  bound on the DTLS handshake (default 10)

Client commands print one line `CODE PAYLOAD` (e.g. `2.05 hello`) and exit 0 on 2.xx,
1 on 4.xx/5.xx, 2 on timeout or reset, 3 on bad usage, 4 when DTLS fails (the line then
reads `dtls: handshake failed: ...`).
"""
import sys
import time

from coap import codec, const as C
from coap.endpoint import Params
from coap.udp import UdpEndpoint, resolve


def parse_uri(uri):
    """'coap[s]://host[:port]/path?q' -> (host, port, path, [queries]); see parse_scheme."""
    return _parse(uri)[1:]


def parse_scheme(uri):
    return _parse(uri)[0]


def _parse(uri):
    if "://" not in uri:
        raise ValueError("URI must start with coap:// or coaps://")
    scheme, rest = uri.split("://", 1)
    if scheme not in ("coap", "coaps"):
        raise ValueError("only coap:// and coaps:// are supported here")
    hostport, _, path = rest.partition("/")
    path, _, query = path.partition("?")
    host, port = hostport, 5684 if scheme == "coaps" else 5683
    if hostport.startswith("["):
        host, _, p = hostport[1:].partition("]")
        if p.startswith(":"):
            port = int(p[1:])
    elif ":" in hostport:
        host, p = hostport.rsplit(":", 1)
        port = int(p)
    return scheme, host, port, path, [q for q in query.split("&") if q]


def _readfile(path):
    with open(path, "rb") as f:
        return f.read()


def dtls_endpoint(host, port, params, flags):
    """A DtlsEndpoint from the command-line flags (raises ValueError on bad usage)."""
    from coap.dtls import DtlsEndpoint
    kw = {}
    if "psk" in flags or "psk-id" in flags:
        if "psk" not in flags or "psk-id" not in flags:
            raise ValueError("--psk and --psk-id go together")
        kw["psk_identity"] = flags["psk-id"]
        kw["psk"] = flags["psk"]
    else:
        for f in ("ca", "cert", "key"):
            if f in flags:
                try:
                    kw[f] = _readfile(flags[f])
                except OSError:
                    raise ValueError("cannot read --%s file" % f)
        if "ca" not in kw:
            raise ValueError("coaps:// needs --psk-id/--psk or --ca")
    return DtlsEndpoint(host, port, params=params, server_hostname=flags.get("hostname"),
                        hs_timeout_ms=int(float(flags.get("hs-timeout", 10)) * 1000), **kw)


def opts(argv):
    flags = {}
    pos = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("--non", "--verbose"):
            flags[a[2:]] = True
        elif a.startswith("--"):
            if i + 1 >= len(argv):
                raise ValueError("missing value for " + a)
            flags[a[2:]] = argv[i + 1]
            i += 1
        else:
            pos.append(a)
        i += 1
    return pos, flags


def client(cmd, pos, flags):
    scheme, host, port, path, query = _parse(pos[0])
    timeout_ms = int(float(flags.get("timeout", 95)) * 1000)
    params = Params(max_retransmit=int(flags.get("retransmit", 4)))
    if scheme == "coaps":
        from coap.dtls import DtlsError
        try:
            ep = dtls_endpoint(host, port, params, flags)
        except DtlsError as e:
            print("dtls: %s" % e)
            return 4
        addr = ep.peer
    else:
        ep = UdpEndpoint("0.0.0.0", 0, params)
        addr = resolve(host, port)
    if cmd == "ping":
        r = ep.ping(addr)
        ep.run_until(lambda: r.done, timeout_ms)
        if r.done and r.error is None:
            print("pong")
            return 0
        if scheme == "coaps" and ep.error is not None and not ep.handshakes:
            print("dtls: %s" % ep.error)
            return 4
        print("timeout" if not r.done else r.error)
        return 2
    code = C.GET if cmd == "get" else C.POST
    payload = flags.get("payload", "").encode()
    cf = flags.get("format")
    opts = [(C.URI_QUERY, q) for q in query or ()]
    if "accept" in flags:
        opts.append((C.ACCEPT, int(flags["accept"])))
    r = ep.request(addr, code, path, payload, cf=int(cf) if cf is not None else None,
                   con="non" not in flags, options=opts)
    ep.run_until(lambda: r.done, timeout_ms)
    ep.close()
    if "verbose" in flags:
        sys.stderr.write("retransmits=%d\n" % ep.ml.retransmitted)
        if scheme == "coaps" and ep.hs_ms is not None:
            sys.stderr.write("handshake_ms=%d cipher=%s\n" % (ep.hs_ms, ep.suite[0]))
    if scheme == "coaps" and ep.error is not None and not ep.handshakes:
        print("dtls: %s" % ep.error)
        return 4
    if not r.done or r.error:
        print(r.error or "timeout")
        return 2
    resp = r.response
    try:
        text = resp.payload.decode()
    except UnicodeError:
        text = resp.payload.hex()
    print(C.code_str(resp.code) + (" " + text if text else ""))
    return 0 if resp.code < 0x80 else 1


def serve(flags):
    host = flags.get("host", "0.0.0.0")
    port = int(flags.get("port", 5683))
    ep = UdpEndpoint(host, port)

    def hello(req):
        return C.CONTENT, b"hello", C.CF_TEXT

    def echo(req):
        return C.CHANGED, req.payload, req.uint(12)

    later = []

    def slow(req):  # answered after 300 ms: exercises the separate-response path
        later.append((time.ticks_add(time.ticks_ms(), 300), req))
        return None

    ep.resource("hello", hello, methods=(C.GET,))
    ep.resource("echo", echo, methods=(C.POST, C.PUT))
    ep.resource("slow", slow, methods=(C.GET,))
    print("mpcoap serving on %s:%d (/hello, /echo, /slow)" % (host, port))
    try:
        while True:
            ep.poll(100 if later else 1000)
            now = time.ticks_ms()
            while later and time.ticks_diff(now, later[0][0]) >= 0:
                ep.respond(later.pop(0)[1], C.CONTENT, b"slow hello", C.CF_TEXT)
    except KeyboardInterrupt:
        pass
    return 0


def main(argv):
    if not argv or argv[0] not in ("get", "post", "ping", "serve"):
        print(__doc__)
        return 3
    try:
        pos, flags = opts(argv[1:])
        if argv[0] == "serve":
            return serve(flags)
        if not pos:
            raise ValueError("missing URI")
        return client(argv[0], pos, flags)
    except ValueError as e:
        print("mpcoap: %s" % e)
        return 3


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
