"""Server and gateway URIs of the device config (PC-08): kept apart from devconfig so that the
runtime can parse URIs after the config validator has been unloaded to free its RAM."""

_PORTS = {"coap": 5683, "coaps": 5684, "udp": 5690}


def parse_uri(uri, default_scheme="coap"):
    """'coap://host:port', 'coaps://[::1]', 'host' ... -> (scheme, host, port).

    Default ports: coap 5683, coaps 5684, udp 5690. A bare host[:port] takes
    `default_scheme` (PC-08: coaps when the platform has DTLS). Raises ValueError.
    """
    if not isinstance(uri, str) or not uri:
        raise ValueError("empty URI")
    i = uri.find("://")
    scheme = uri[:i].lower() if i >= 0 else default_scheme
    rest = uri[i + 3:] if i >= 0 else uri
    if scheme not in _PORTS:
        raise ValueError("unsupported scheme")
    if rest.endswith("/"):
        rest = rest[:-1]
    for c in "/?#@ \t\r\n":
        if c in rest:
            raise ValueError("only host[:port] allowed")
    port = None
    if rest.startswith("["):  # IPv6 literal
        j = rest.find("]")
        host = rest[1:j]
        tail = rest[j + 1:]
        if j < 0 or tail and tail[0] != ":":
            raise ValueError("bad IPv6 literal")
        if tail:
            port = tail[1:]
    else:
        j = rest.find(":")
        host = rest if j < 0 else rest[:j]
        if j >= 0:
            port = rest[j + 1:]
    if not host:
        raise ValueError("bad host")
    if port is None:
        return scheme, host, _PORTS[scheme]
    if not port or len(port) > 5 or not _digits(port) or not 0 < int(port) < 65536:
        raise ValueError("bad port")
    return scheme, host, int(port)


def _digits(s):
    for c in s:
        if not "0" <= c <= "9":
            return False
    return True
