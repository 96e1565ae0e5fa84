"""mpcoap: a command-line CoAP client and demo server on our stack, run by the unix-port
`micropython` (see the `tools/mpcoap` wrapper). Used for bring-up and for interop tests.

  mpcoap get URI [--accept N] [--non] [--timeout S] [--verbose]
  mpcoap post URI --payload TEXT [--format N] [--non] [--timeout S]
  mpcoap ping URI
  mpcoap serve [--port N] [--host H]

Client commands print one line `CODE PAYLOAD` (e.g. `2.05 hello`) and exit 0 on 2.xx,
1 on 4.xx/5.xx, 2 on timeout or reset, 3 on bad usage.
"""
import sys
import time

from coap import codec, const as C
from coap.params import Params
from coap.udp import UdpEndpoint, resolve


def parse_uri(uri):
    if "://" not in uri:
        raise ValueError("URI must start with coap://")
    scheme, rest = uri.split("://", 1)
    if scheme != "coap":
        raise ValueError("only coap:// is supported here")
    hostport, _, path = rest.partition("/")
    path, _, query = path.partition("?")
    host, port = hostport, 5683
    if hostport.startswith("["):
        host, _, p = hostport[1:].partition("]")
        if p.startswith(":"):
            port = int(p[1:])
    elif ":" in hostport:
        host, p = hostport.rsplit(":", 1)
        port = int(p)
    return host, port, path, [q for q in query.split("&") if q]


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
    host, port, path, query = parse_uri(pos[0])
    timeout_ms = int(float(flags.get("timeout", 95)) * 1000)
    ep = UdpEndpoint("0.0.0.0", 0, Params(max_retransmit=int(flags.get("retransmit", 4))))
    addr = resolve(host, port)
    if cmd == "ping":
        r = ep.ping(addr)
        ep.run_until(lambda: r.done, timeout_ms)
        if r.done and r.error is None:
            print("pong")
            return 0
        print("timeout" if not r.done else r.error)
        return 2
    code = C.GET if cmd == "get" else C.POST
    payload = flags.get("payload", "").encode()
    cf = flags.get("format")
    r = ep.request(addr, code, path, payload, cf=int(cf) if cf is not None else None,
                   con="non" not in flags, query=query,
                   accept=int(flags["accept"]) if "accept" in flags else None)
    ep.run_until(lambda: r.done, timeout_ms)
    ep.close()
    if "verbose" in flags:
        sys.stderr.write("retransmits=%d\n" % ep.ml.retransmitted)
    if not r.done or r.error:
        print(r.error or "timeout")
        return 2
    resp = r.response
    try:
        text = resp.payload.decode()
    except UnicodeError:
        text = resp.payload.hex()
    print(codec.code_str(resp.code) + (" " + text if text else ""))
    return 0 if resp.code < 0x80 else 1


def serve(flags):
    host = flags.get("host", "0.0.0.0")
    port = int(flags.get("port", 5683))
    ep = UdpEndpoint(host, port)

    def hello(req):
        return C.CONTENT, b"hello", C.CF_TEXT

    def echo(req):
        return C.CHANGED, req.payload, req.content_format

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
