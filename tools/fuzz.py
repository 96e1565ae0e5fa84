#!/usr/bin/env python3
"""Fuzz targets for every receive path, run by atheris (libFuzzer) and by hypothesis.

    make fuzz [FUZZ_SECONDS=60] [FUZZ_TARGETS="coap wire"]     atheris, each target in turn
    build/fuzz-venv/bin/python tools/fuzz.py TARGET [libFuzzer flags] [CORPUS_DIR]
    python tools/fuzz.py --replay TARGET FILE...              re-run saved inputs (no atheris)
    python tools/fuzz.py --list

Each target takes arbitrary bytes and raises only when it finds a bug (an AssertionError for a
broken property, anything else for a crash); tests/host/test_fuzz.py feeds the same functions
from hypothesis. Targets:

  coap      coap.codec.decode: raises only CoapFormatError; decoding is canonical, so
            encode(decode(x)) == x
  endpoint  Endpoint.received with datagrams from three peers interleaved with clock steps,
            client requests and separate responses: never raises, state stays bounded, every
            exchange ends within its lifetime (no peer wedged by NSTART), and afterwards a
            normal request from a fresh peer is answered and a request to it completes
  wire      msgin5g.wire.decode (request and response rules): raises only WireError (4.00 or
            4.13); what decodes re-encodes to a fixed point
  a2        msgin5g.constrained.a2.decode: raises only A2Error; what encode accepts of it
            round-trips (decode is lenient on conditional IEs, encode strict)
  a3        msgin5g.constrained.a3.decode: raises only A3Error; encode is a fixed point
            after decode
  client    a registered msgin5g.client.Client fed downlink CoAP requests (structured
            MSGin5G JSON built from the bytes, or raw datagrams), uplink answers, sends and
            clock steps: no handler exception, only the PC-26 answer codes, bounded queues,
            the queue drains once the server answers, and a fresh MSG is still delivered

The bytes drive a small deterministic decoder (Src) so that libFuzzer's mutations and
hypothesis's shrinking both work on plain bytes. atheris pin: atheris==3.0.0 (cp311 wheel).
"""
import json
import os
import random
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for _p in ("lib", "tools/host"):
    _full = os.path.join(ROOT, _p)
    if _full not in sys.path:
        sys.path.insert(0, _full)

import cpython_shim  # noqa: E402

cpython_shim.install()

from binascii import b2a_base64  # noqa: E402

from coap import codec  # noqa: E402
from coap.codec import CoapFormatError, Message  # noqa: E402
from coap.endpoint import Endpoint, Params  # noqa: E402
from msgin5g import wire  # noqa: E402
from msgin5g.client import Client  # noqa: E402
from msgin5g.constrained import a2, a3  # noqa: E402

CON, NON, ACK, RST = 0, 1, 2, 3
GET, POST = 1, 2


class Src:
    """Deterministic choices from fuzz bytes; reads zeros once the bytes run out."""

    def __init__(self, data):
        self.d = bytes(data)
        self.i = 0

    def left(self):
        return len(self.d) - self.i

    def byte(self):
        if self.i >= len(self.d):
            return 0
        self.i += 1
        return self.d[self.i - 1]

    def u16(self):
        return self.byte() << 8 | self.byte()

    def take(self, n):
        b = self.d[self.i:self.i + n]
        self.i += len(b)
        return b

    def pick(self, seq):
        return seq[self.byte() % len(seq)]

    def chance(self, n256):
        return self.byte() < n256


class Clock:
    def __init__(self, t=1000):
        self.t = t

    def __call__(self):
        return self.t


# ------------------------------------------------------------------ codecs
def fuzz_coap(data):
    try:
        m = codec.decode(data)
    except CoapFormatError:
        return
    assert codec.encode(m) == bytes(data), "CoAP decode is not canonical"
    assert 0 <= m.mtype <= 3 and len(m.token) <= 8


def fuzz_wire(data):
    for response in (False, True):
        try:
            d = wire.decode(data, response)
        except wire.WireError as e:
            assert e.code in (wire.BAD_REQUEST, wire.REQUEST_TOO_LARGE), e.code
            continue
        assert isinstance(d, dict) and d["msgType"] in wire._MAND
        b = wire.encode(d)
        try:
            d2 = wire.decode(b, response)
        except wire.WireError as e:
            raise AssertionError("re-encoded message refused: %s" % e)
        assert wire.encode(d2) == b, "wire encode/decode not a fixed point"


def fuzz_a2(data):
    try:
        m = a2.decode(data)
    except a2.A2Error:
        return
    try:
        b = a2.encode(m)
    except a2.A2Error:
        return      # decode is lenient on conditional IEs (TS 24.007), encode is strict
    assert a2.decode(b) == m, "A.2 round trip"


def fuzz_a3(data):
    try:
        d = a3.decode(data)
    except a3.A3Error as e:
        assert e.code in (a3.BAD_REQUEST, a3.TOO_LARGE)
        return
    b = a3.encode(d)
    try:
        d2 = a3.decode(b, 1 << 20)
    except a3.A3Error:
        raise AssertionError("A.3 re-encoded message refused")
    assert a3.encode(d2) == b, "A.3 encode not a fixed point"


# ------------------------------------------------------------------ endpoint
# Known bug B4 (test_fuzz.py::test_b4_*): MessageLayer.cancel() frees the peer's NSTART slot
# but does not start the backlog, so a request queued behind one that ended by a separate
# CON/NON response (or by Endpoint.cancel / a deadline) is never sent. Set False once fixed.
KNOWN_B4 = False
PEERS = (("10.0.0.1", 5683), ("10.0.0.2", 5683), ("10.0.0.3", 40000))
FRESH = ("10.9.9.9", 5683)


class EpWorld:
    """An Endpoint on a fake send function and clock, with a plain resource 'r' and a
    deferred one 'd' (answered later with a separate response)."""

    def __init__(self):
        self.clock = Clock()
        self.out = []
        self.ep = Endpoint(self.send, Params(), self.clock, rand=lambda: 0.0)
        self.ep.ml.mid = 0            # predictable Message IDs: the fuzzer can hit them
        self.deferred = []
        self.ep.resource("r", lambda req: (0x45, b"ok"))
        self.ep.resource("d", self._defer, methods=(GET, POST))
        self.reqs = []

    def send(self, data, addr):
        self.out.append((bytes(data), addr))

    def _defer(self, req):
        self.deferred.append(req)
        return None

    def step(self, src):
        op = src.byte() % 8
        if op <= 3:                   # a datagram from a peer
            self.ep.received(src.take(src.byte()), src.pick(PEERS))
        elif op == 4:                 # a header + token of an outstanding exchange, then fuzz
            tok = src.pick(self.reqs).msg.token if self.reqs else b""
            mid = self.ep.ml.mid - (src.byte() & 3)
            hdr = bytes((0x40 | (src.byte() & 3) << 4 | len(tok), src.byte(),
                         mid >> 8 & 0xFF, mid & 0xFF)) + tok
            self.ep.received(hdr + src.take(src.byte() & 31), src.pick(PEERS))
        elif op == 5:                 # time passes
            self.clock.t += src.pick((1, 500, 2000, 5000, 30000, 250000))
            self.ep.tick()
        elif op == 6:                 # we send a request (short tokens: guessable)
            t = src.pick((CON, CON, NON))
            tok = bytes((src.byte(),))
            k = 0
            while tok in self.ep._reqs:   # a token in use is bug B3 (see test_fuzz.py)
                k += 1
                tok = bytes((tok[0], k))
            m = Message(t, GET, 0, tok, [])
            m.set_path("r")
            self.reqs.append(self.ep.send_request(src.pick(PEERS), m))
            del self.reqs[:-16]
        elif self.deferred:           # a separate response to a deferred request
            req = self.deferred.pop(0)
            self.ep.respond(req, src.pick((0x45, 0x44, 0xA0)), b"late")


def _bounded(ep):
    p = ep.p
    ml = ep.ml
    assert len(ml._dk) == len(ml._peers) == p.dedup_size, "dedup ring grew"
    assert len(ml.backlog) <= p.backlog, "backlog grew"
    assert len(ep._reqs) <= p.max_pending, "pending requests grew"


def fuzz_endpoint(data):
    w = EpWorld()
    src = Src(data)
    ep = w.ep
    while src.left():
        w.step(src)
        _bounded(ep)
    assert ep.handler_errors == 0
    # Every exchange ends within its lifetime: nothing left to wedge a peer (NSTART).
    while w.deferred:
        ep.respond(w.deferred.pop(0), 0x45)
    p = ep.p
    t0 = w.clock.t
    for _ in range(1000):
        wait = ep.tick()
        if wait is None:
            break
        w.clock.t += max(wait, 1)
    assert w.clock.t - t0 <= (p.backlog + p.max_pending + 1) * p.lifetime
    ml = ep.ml
    if KNOWN_B4 and ml.backlog and not ml.pending and not ml.busy:
        return      # bug B4: a cancelled exchange does not start the backlog
    assert not ml.pending and not ml.backlog and not ml.busy, "exchanges left after lifetime"
    assert not ep._reqs, "client requests left after lifetime"
    assert all(r.done for r in w.reqs), "a request never finished"
    # A normal request from a fresh peer is still answered (piggybacked 2.05).
    w.out = []
    req = Message(CON, GET, 0x7777, b"ok", [])
    req.set_path("r")
    ep.received(codec.encode(req), FRESH)
    got = [codec.decode(d) for d, a in w.out if a == FRESH]
    assert any(m.mtype == ACK and m.mid == 0x7777 and m.code == 0x45 and m.token == b"ok"
               for m in got), "fresh peer not answered after fuzz"
    # ... and a request to a fresh peer completes.
    w.out = []
    r = ep.request(FRESH, GET, "x")
    (d, a), = w.out
    m = codec.decode(d)
    ep.received(codec.encode(Message(ACK, 0x45, m.mid, m.token, [], b"x")), FRESH)
    assert r.done and r.response is not None and r.response.code == 0x45, "request wedged"


# ------------------------------------------------------------------ MSGin5G JSON documents
_TYPES = (wire.MSG, wire.MSG, wire.MSG, wire.IMDN, wire.MSGRESP, wire.SEGREC, wire.SEGCONFIR,
          wire.REG, wire.TOPICSUB, wire.DEREG, "NOPE")
_IDS = ("11111111-2222-4333-8444-555555555555", "11111111-2222-4333-8444-555555555556",
        "x", "")
_ADDRS = ("ue-1", "as-1", "ue-2", "", "x" * 300)
_SEGN = (1, 1, 2, 3, 128, 129, 0, -1, 2 ** 40, 1.0, "1", True)


def _any(src, depth=0):
    k = src.byte() % (8 if depth < 3 else 5)
    if k == 0:
        return None
    if k == 1:
        return src.pick((True, False))
    if k == 2:
        return src.pick((0, 1, -1, 65535, 65536, 2 ** 63, 2 ** 70, 1.5, -0.0, 1e308))
    if k == 3:
        return src.take(src.byte() & 15).decode("latin-1")
    if k == 4:
        return src.pick(_IDS + _ADDRS)
    if k == 5:
        return [_any(src, depth + 1) for _ in range(src.byte() & 3)]
    if k == 6:
        return {src.pick(_KEYS): _any(src, depth + 1) for _ in range(src.byte() & 3)}
    return {"addrType": "UE", "addr": "ue-1"}


def _payload(src):
    if src.chance(24):
        return src.pick(("", "=", "AAA", "A===", "@@@@", "SGVsbG8=\n", "SGVsbG8"))
    n = src.pick((0, 1, 5, 60, 200, 700, 2049, 3000))
    raw = src.take(n)
    raw += bytes(n - len(raw))
    return b2a_base64(raw, newline=False).decode()


def _value(src, key, ctx, depth):
    if src.chance(32):
        return _any(src, depth)
    kind = wire._KIND.get(key)
    if key in ("oriAddr", "destAddr"):
        return {"addrType": src.pick(wire.ADDR_TYPES + ("X",)), "addr": src.pick(_ADDRS)}
    if key in ("msgId", "segId"):
        return src.pick(ctx)
    if key == "appId":
        return src.pick(("1", "7", "65535", "65536", "-1", "01", "", "x", "1.5"))
    if key == "payload":
        return _payload(src)
    if key == "segParams":
        p = {"segId": src.pick(ctx), "segNumb": src.pick(_SEGN)}
        if src.chance(128):
            p["totalSegCount"] = src.pick(_SEGN)
        if src.chance(64):
            p["lastSegFlag"] = src.pick((True, False))
        return p
    if key == "msgs":
        return [{"msgId": src.pick(ctx), "payload": _payload(src),
                 "appId": src.pick(("1", "7", "x"))} for _ in range(src.byte() % 18)]
    if key == "reports":
        return [{"msgId": src.pick(ctx), "delivSt": src.pick(wire.DELIV_STATUSES + ("X",))}
                for _ in range(src.byte() % 18)]
    if key == "missingSegs":
        return [src.pick(_SEGN) for _ in range(src.byte() % 6)]
    if key == "topics":
        return [src.pick(("t", "", "alerts")) for _ in range(src.byte() & 3)]
    if kind == wire._K_BOOL:
        return src.pick((True, True, False, 1, None))
    if kind in (wire._K_SEGN, wire._K_UINT):
        return src.pick(_SEGN)
    if isinstance(kind, tuple):
        return src.pick(kind + ("BOGUS",))
    if kind in (wire._K_OBJ, wire._K_SEGP):
        return _any(src, depth + 1)
    return _any(src, depth)


_KEYS = tuple(sorted(wire._KIND)) + ("payload", "msgs", "reports", "msgType")


def json_doc(src, ctx=_IDS):
    """A MSGin5G-1 JSON body: mostly well-formed, with fuzz-chosen members and values."""
    t = src.pick(_TYPES)
    d = {"msgType": t}
    for k in wire._MAND.get(t, ()):
        if not src.chance(8):
            d[k] = _value(src, k, ctx, 0)
    if t == wire.MSG and src.chance(160):
        d["payload"] = _payload(src)
    if t == wire.MSG and src.chance(64):
        d["segInd"] = True
        d["segParams"] = _value(src, "segParams", ctx, 0)
    if src.chance(32):
        d["aggrInd"] = True
        d["msgs" if t == wire.MSG else "reports"] = _value(
            src, "msgs" if t == wire.MSG else "reports", ctx, 0)
    for _ in range(src.byte() & 3):
        k = src.pick(_KEYS)
        d[k] = _value(src, k, ctx, 0)
    b = json.dumps(d, separators=(",", ":")).encode()
    if src.chance(16) and b:          # a damaged document
        i = src.u16() % len(b)
        b = b[:i] + bytes((src.byte(),)) + b[i + 1:]
    return b


# ------------------------------------------------------------------ client
SRV = ("10.0.0.9", 5683)
OTHER = ("10.0.0.66", 5683)
_DL_CODES = (0x44, 0x80, 0x83, 0x84, 0x85, 0x8D, 0x8F, 0xA3)   # 0x83: not from the server


class ClientWorld:
    def __init__(self):
        self.clock = Clock(5000)
        self.out = []
        self.ep = Endpoint(self.send, Params(), self.clock, rand=lambda: 0.0)
        self.c = Client(self.ep, SRV, "ue-1", "srv.example", seg_size=64, backoff_ms=1000,
                        keepalive_ms=0)
        self.got = []
        self.c.on_message(None, self.got.append)
        self.ids = list(_IDS)
        self.mid = 1
        self.answers = []             # codes of our answers to downlinks
        self.sent = []                # msgIds from send()
        self.outcomes = {}            # msgId -> [(status, cause)] given to done()
        self.c.start()
        self.answer_all(0x41)
        assert self.c.state == "REGISTERED"

    def send(self, data, addr):
        self.out.append((codec.decode(data), addr))

    def _done(self, msg_id, status, cause):
        self.outcomes.setdefault(msg_id, []).append((status, cause))

    def answer_all(self, code, body=None, rounds=1):
        """Answer every request the client sent (piggybacked ACK), `rounds` times over."""
        for _ in range(rounds):
            if not self.out:
                break
            self._answer(code, body)
        self.c.tick()

    def _answer(self, code, body):
        out, self.out = self.out, []
        for m, a in out:
            if m.mtype == CON and m.code == POST and a == SRV:
                if json.loads(m.payload).get("msgType") == "REG":   # always accepted here
                    self.ep.received(codec.encode(Message(ACK, 0x41, m.mid, m.token)), SRV)
                else:
                    self.ep.received(codec.encode(Message(ACK, code, m.mid, m.token, [],
                                                          body or b"")), SRV)

    def downlink(self, payload, path=("msgin5g", "ue", "ue-1"), cf=50, mtype=CON, peer=SRV):
        self.mid = (self.mid + 1) & 0xFFFF
        while self.ep.ml._slot(peer, self.mid) is not None:   # a fresh MID
            self.mid = (self.mid + 1) & 0xFFFF
        m = Message(mtype, POST, self.mid, b"d%d" % self.mid, [], payload)
        m.set_path(list(path))
        if cf is not None:
            m.add(12, cf)
        self.ep.received(codec.encode(m), peer)
        for r, a in self.out:
            if r.mtype in (ACK, NON) and r.token == m.token and r.code:
                self.answers.append(r.code)
        self.out = [(r, a) for r, a in self.out if r.token != m.token]
        self.c.tick()

    def step(self, src):
        op = src.byte() % 10
        c = self.c
        if op <= 4:
            path = ("msgin5g", "ue", src.pick(("ue-1", "ue-1", "ue-1", "ue-2")))
            if src.chance(8):
                path = path[:src.byte() % 3]
            self.downlink(json_doc(src, self.ids), path, src.pick((50, 50, 50, 50, 0, None)),
                          src.pick((CON, CON, NON)), src.pick((SRV, SRV, SRV, OTHER)))
        elif op == 5:
            self.ep.received(src.take(src.byte()), SRV)
            self.c.tick()
        elif op == 6:
            self.clock.t += src.pick((100, 1000, 5000, 60000, 200000))
            self.ep.tick()
            c.tick()
        elif op == 7:
            code = src.pick((0x44, 0x44, 0x84, 0xA3, 0x80, 0x83, 0x8D, 0x41))
            body = None
            if src.chance(64):
                body = wire.encode(wire.msgresp(wire.addr("UE", "srv"), src.pick(self.ids),
                                                src.pick(wire.RESP_STATUSES)))
            self.answer_all(code, body)
        elif op == 8:
            n = src.pick((0, 10, 64, 65, 200, 3000))
            mid = c.send(src.pick(("as-1", "ue-2")), bytes(n), src.pick(("AS", "UE")),
                         app_id=src.pick((None, 1)), report=src.chance(128), done=self._done)
            self.sent.append(mid)
            self.ids.append(mid)
            del self.ids[:-12]
        else:
            c.subscribe(["t"]) if src.chance(128) else c.unsubscribe(["t"])


def fuzz_client(data):
    w = ClientWorld()
    src = Src(data)
    c = w.c
    while src.left():
        w.step(src)
        assert w.ep.handler_errors == 0, "exception in the downlink handler"
        assert len(c._q) <= c.queue_max + 2 * c.reasm.max_sets + 2, \
            "client queue grew to %d" % len(c._q)
        assert len(c.reasm) <= c.reasm.max_sets and len(c.hold) <= c.hold.max_sets
        _bounded(w.ep)
    bad = [x for x in w.answers if x not in _DL_CODES]
    assert not bad, "unexpected answer codes %r" % bad
    # Once the server answers everything, the queue drains and the client is registered.
    for _ in range(40):
        w.clock.t += 5000
        w.ep.tick()
        c.tick()
        w.answer_all(0x44, rounds=1000)
        if not c.queued() and c.state == "REGISTERED" and c._req is None:
            break
    assert not c.queued() and c._req is None, "client queue wedged: %d" % c.queued()
    assert c.state == "REGISTERED", c.state
    # send()'s done callback: exactly one outcome, or STORED and later the final one (PC-25).
    for mid in w.sent:
        o = w.outcomes.get(mid, [])
        assert o, "send() without an outcome"
        assert len(o) == 1 or (len(o) == 2 and o[0][0] == "STORED"), o
    # A fresh message is still delivered.
    n = len(w.got)
    w.downlink(wire.encode(wire.msg(wire.addr("AS", "as-1"), wire.addr("UE", "ue-1"),
                                    "99999999-2222-4333-8444-555555555555", b"after")))
    assert w.answers[-1] == 0x44 and len(w.got) == n + 1 and w.got[-1]["payload"] == b"after"


def _deterministic(fn):
    """Run fn with os.urandom from a fixed seed (msgIds, tokens, Message IDs, jitter), so that
    an input always does the same thing (hypothesis and crash replay need that)."""
    def run(data):
        real = os.urandom
        rng = random.Random(0)
        os.urandom = lambda n: bytes(rng.getrandbits(8) for _ in range(n))
        try:
            return fn(data)
        finally:
            os.urandom = real
    run.__name__ = fn.__name__
    return run


fuzz_endpoint = _deterministic(fuzz_endpoint)
fuzz_client = _deterministic(fuzz_client)

TARGETS = {"coap": fuzz_coap, "endpoint": fuzz_endpoint, "wire": fuzz_wire, "a2": fuzz_a2,
           "a3": fuzz_a3, "client": fuzz_client}


def seeds(name):
    """A few valid inputs to start a corpus with."""
    if name == "coap":
        m = Message(CON, POST, 0x1234, b"tk", [], b"{}").set_path("msgin5g").add(12, 50)
        return [codec.encode(m), codec.encode(Message(ACK, 0x45, 1, b"", [(300, b"x" * 20)]))]
    if name == "wire":
        ue, as1 = wire.addr("UE", "ue-1"), wire.addr("AS", "as-1")
        return [wire.encode(wire.msg(as1, ue, _IDS[0], b"hi", 7, True)),
                wire.encode(wire.imdn(as1, ue, _IDS[0], wire.DELIV_SUCCESS)),
                wire.encode(wire.segrec(as1, ue, _IDS[0], _IDS[1], [2, 3]))]
    if name == "a2":
        return [a2.encode({"type": a2.MSG_SEND_REQ, "target": "as-001", "msg_id": bytes(16),
                           "payload": b"x", "app_id": 7, "report": True}),
                a2.encode({"type": a2.REG_RESP, "result": 0, "reg_id": 5})]
    if name == "a3":
        return [a3.encode(a3.msg_send_req(_IDS[0], "as-1", b"x", "AS", 7, True)),
                a3.encode(a3.reg_resp(5))]
    return [bytes(64)]


def main(argv):
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        print(__doc__)
        return 2
    if argv[1] == "--list":
        print(" ".join(TARGETS))
        return 0
    if argv[1] == "--replay":
        fn = TARGETS[argv[2]]
        for path in argv[3:]:
            with open(path, "rb") as f:
                fn(f.read())
            print("ok", path)
        return 0
    if argv[1] == "--seed":           # write seed inputs into a corpus directory
        os.makedirs(argv[3], exist_ok=True)
        for i, s in enumerate(seeds(argv[2])):
            with open(os.path.join(argv[3], "seed-%d" % i), "wb") as f:
                f.write(s)
        return 0
    import atheris
    fn = TARGETS[argv[1]]
    atheris.instrument_all()
    atheris.Setup([argv[0]] + argv[2:], fn)
    atheris.Fuzz()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
