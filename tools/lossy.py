#!/usr/bin/env python3
"""A lossy UDP proxy for loopback tests: seeded loss, duplication, reordering and delay.

The kernel here has no netem (TOOLCHAIN.md), so tests put this proxy between the devices and
the server. Each direction has its own impairments:

    up   = client -> proxy (listen) -> target (server)
    down = target (server) -> proxy -> client

Every client address gets its own upstream socket, so the server sees one distinct source per
client and its own requests (downlinks to the address a UE registered from) come back through
the right upstream socket to the right client.

Library (asyncio):
    p = LossyProxy(listen=("127.0.0.1", 20001), target=("127.0.0.1", 20000),
                   loss=0.2, dup=0.05, reorder=0.05, delay_ms=(0, 20), seed=1,
                   down={"loss": 0.1})        # per-direction overrides
    # scripted loss on top: down={"drop_if": lambda data, client: ...}  (True = drop)
    await p.start(); ...; p.counters()  ->  {"up": {...}, "down": {...}, "clients": n}
    await p.stop()

Synchronous code (tests): with ProxyThread(listen=..., target=..., loss=0.2) as pt: pt.counters()

CLI:  python tools/lossy.py --listen 20001 --target 20000 --loss 20 --dup 5 --reorder 5
      --delay 0,20 --seed 1 [--up-loss PCT] [--down-loss PCT] [--duration S]
      (percentages on the command line; prints the counters at the end)

Runtime is bounded: idle clients are dropped after `idle_s`, at most `max_clients` upstream
sockets exist, and only loopback addresses are accepted.
"""
import argparse
import asyncio
import ipaddress
import random
import socket
import sys
import threading
import time

DIRS = ("up", "down")
COUNTERS = ("received", "forwarded", "dropped", "duplicated", "reordered", "delayed")


def _loopback(host):
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


class Impair:
    """Impairments of one direction and its seeded random source."""

    def __init__(self, loss=0.0, dup=0.0, reorder=0.0, delay_ms=(0, 0), reorder_ms=30,
                 seed=0, name="up", drop_if=None):
        for k, v in (("loss", loss), ("dup", dup), ("reorder", reorder)):
            if not 0.0 <= v <= 1.0:
                raise ValueError("%s must be a probability in 0..1" % k)
        if isinstance(delay_ms, (int, float)):
            delay_ms = (delay_ms, delay_ms)
        lo, hi = delay_ms
        if lo < 0 or hi < lo:
            raise ValueError("delay_ms must be (lo, hi) with 0 <= lo <= hi")
        self.loss, self.dup, self.reorder = loss, dup, reorder
        self.delay_ms = (lo, hi)
        self.reorder_ms = reorder_ms    # a held datagram goes out at the latest after this
        self.drop_if = drop_if          # scripted loss: drop_if(data, client_addr) -> bool
        self.rng = random.Random("%s/%s" % (seed, name))

    def describe(self):
        return "loss %.0f%% dup %.0f%% reorder %.0f%% delay %g-%g ms" % (
            self.loss * 100, self.dup * 100, self.reorder * 100, self.delay_ms[0],
            self.delay_ms[1])


class _Flow:
    """Per-client, per-direction state: the datagram held back for reordering."""
    __slots__ = ("held", "timer")

    def __init__(self):
        self.held = None
        self.timer = None


class _Upstream(asyncio.DatagramProtocol):
    """The proxy's socket towards the target for one client."""

    def __init__(self, proxy, client):
        self.proxy = proxy
        self.client = client
        self.transport = None
        self.last = time.monotonic()
        self.flows = {"up": _Flow(), "down": _Flow()}

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        self.last = time.monotonic()
        self.proxy._impair("down", self, data)

    def error_received(self, exc):  # e.g. ICMP port unreachable while the server is down
        self.proxy.errors += 1


class _Listen(asyncio.DatagramProtocol):
    def __init__(self, proxy):
        self.proxy = proxy

    def connection_made(self, transport):
        self.proxy._listen_tr = transport

    def datagram_received(self, data, addr):
        self.proxy._from_client(data, addr)

    def error_received(self, exc):
        self.proxy.errors += 1


class LossyProxy:
    def __init__(self, listen, target, loss=0.0, dup=0.0, reorder=0.0, delay_ms=(0, 0),
                 seed=0, up=None, down=None, reorder_ms=30, idle_s=600.0, max_clients=256,
                 allow_any=False):
        if not allow_any and not (_loopback(listen[0]) and _loopback(target[0])):
            raise ValueError("LossyProxy is for loopback addresses only")
        self.listen = tuple(listen)
        self.target = tuple(target)
        base = {"loss": loss, "dup": dup, "reorder": reorder, "delay_ms": delay_ms,
                "reorder_ms": reorder_ms}
        self.imp = {}
        for name, over in (("up", up), ("down", down)):
            kw = dict(base)
            kw.update(over or {})
            self.imp[name] = Impair(seed=seed, name=name, **kw)
        self.idle_s = idle_s
        self.max_clients = max_clients
        self.seed = seed
        self.port = listen[1]
        self.count = {d: dict.fromkeys(COUNTERS, 0) for d in DIRS}
        self.errors = 0
        self.refused_clients = 0
        self._clients = {}      # client addr -> _Upstream (or a pending future)
        self._listen_tr = None
        self._loop = None
        self._janitor = None
        self._handles = set()

    # ---------------------------------------------------------------- life cycle
    async def start(self):
        self._loop = asyncio.get_running_loop()
        fam = socket.AF_INET6 if ":" in self.listen[0] else socket.AF_INET
        await self._loop.create_datagram_endpoint(lambda: _Listen(self), local_addr=self.listen,
                                                  family=fam)
        self.port = self._listen_tr.get_extra_info("sockname")[1]
        self._janitor = self._loop.create_task(self._sweep())
        return self

    async def stop(self):
        if self._janitor:
            self._janitor.cancel()
        for h in list(self._handles):
            h.cancel()
        self._handles.clear()
        for up in list(self._clients.values()):
            if isinstance(up, _Upstream) and up.transport:
                up.transport.close()
        self._clients.clear()
        if self._listen_tr:
            self._listen_tr.close()
            self._listen_tr = None

    async def _sweep(self):
        while True:
            await asyncio.sleep(min(self.idle_s, 5.0))
            now = time.monotonic()
            for c, up in list(self._clients.items()):
                if isinstance(up, _Upstream) and now - up.last > self.idle_s:
                    up.transport.close()
                    del self._clients[c]

    # ---------------------------------------------------------------- counters
    def counters(self):
        out = {d: dict(self.count[d]) for d in DIRS}
        out["clients"] = sum(1 for u in self._clients.values() if isinstance(u, _Upstream))
        out["errors"] = self.errors
        return out

    def describe(self):
        return "up: %s; down: %s; seed %s" % (self.imp["up"].describe(),
                                               self.imp["down"].describe(), self.seed)

    # ---------------------------------------------------------------- data path
    def _from_client(self, data, addr):
        up = self._clients.get(addr)
        if isinstance(up, _Upstream):
            up.last = time.monotonic()
            self._impair("up", up, data)
            return
        if up is not None:          # upstream socket being created: keep order
            up.append(data)
            return
        if len(self._clients) >= self.max_clients:
            self.refused_clients += 1
            return
        pending = self._clients[addr] = [data]
        self._loop.create_task(self._open(addr, pending))

    async def _open(self, addr, pending):
        fam = socket.AF_INET6 if ":" in self.target[0] else socket.AF_INET
        up = _Upstream(self, addr)
        try:
            await self._loop.create_datagram_endpoint(lambda: up, remote_addr=self.target,
                                                      family=fam)
        except OSError:
            self.errors += 1
            self._clients.pop(addr, None)
            return
        if self._clients.get(addr) is not pending:   # stopped meanwhile
            up.transport.close()
            return
        self._clients[addr] = up
        for d in pending:
            self._impair("up", up, d)

    def _impair(self, d, up, data):
        imp = self.imp[d]
        c = self.count[d]
        rng = imp.rng
        c["received"] += 1
        if imp.drop_if is not None and imp.drop_if(data, up.client):
            c["dropped"] += 1
            return
        if rng.random() < imp.loss:
            c["dropped"] += 1
            return
        copies = 2 if rng.random() < imp.dup else 1
        if copies == 2:
            c["duplicated"] += 1
        flow = up.flows[d]
        for i in range(copies):
            lo, hi = imp.delay_ms
            delay = rng.uniform(lo, hi) / 1000.0 if hi > 0 else 0.0
            if i:   # the duplicate trails the original a little
                delay += rng.uniform(0, 10) / 1000.0
            if flow.held is None and rng.random() < imp.reorder:
                # hold it back: it goes out after the next datagram of this flow (or after
                # reorder_ms when nothing follows)
                c["reordered"] += 1
                flow.held = data
                flow.timer = self._later(imp.reorder_ms / 1000.0 + delay, self._release, d, up)
                continue
            self._send_later(d, up, data, delay)
            if flow.held is not None:
                held = flow.held
                flow.held = None
                if flow.timer:
                    flow.timer.cancel()
                    self._handles.discard(flow.timer)
                    flow.timer = None
                self._send_later(d, up, held, delay + 0.0005)

    def _release(self, d, up):
        flow = up.flows[d]
        flow.timer = None
        if flow.held is not None:
            data, flow.held = flow.held, None
            self._emit(d, up, data)

    def _send_later(self, d, up, data, delay):
        if delay <= 0:
            self._emit(d, up, data)
        else:
            self.count[d]["delayed"] += 1
            self._later(delay, self._emit, d, up, data)

    def _later(self, delay, fn, *a):
        h = None

        def run():
            self._handles.discard(h)
            fn(*a)

        h = self._loop.call_later(delay, run)
        self._handles.add(h)
        return h

    def _emit(self, d, up, data):
        try:
            if d == "up":
                if up.transport is None or up.transport.is_closing():
                    return
                up.transport.sendto(data)
            else:
                if self._listen_tr is None:
                    return
                self._listen_tr.sendto(data, up.client)
            self.count[d]["forwarded"] += 1
        except OSError:
            self.errors += 1


class ProxyThread:
    """LossyProxy on its own asyncio loop in a daemon thread (for synchronous tests)."""

    def __init__(self, **kw):
        self.kw = kw
        self.proxy = None
        self.loop = None
        self._thread = None
        self._err = None

    @property
    def port(self):
        return self.proxy.port

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def start(self, timeout=10.0):
        ready = threading.Event()
        self._thread = threading.Thread(target=self._main, args=(ready,), daemon=True,
                                        name="lossy-proxy")
        self._thread.start()
        if not ready.wait(timeout):
            raise RuntimeError("proxy did not start")
        if self._err is not None:
            raise self._err
        return self

    def _main(self, ready):
        loop = self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            self.proxy = LossyProxy(**self.kw)
            loop.run_until_complete(self.proxy.start())
        except BaseException as e:
            self._err = e
            ready.set()
            loop.close()
            return
        ready.set()
        try:
            loop.run_forever()
        finally:
            loop.close()

    def call(self, fn, *a):
        async def _c():
            return fn(*a)
        return asyncio.run_coroutine_threadsafe(_c(), self.loop).result(10)

    def counters(self):
        return self.call(self.proxy.counters)

    def stop(self, timeout=10.0):
        if self._thread is None or self.proxy is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(self.proxy.stop(), self.loop).result(timeout)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout)
            self._thread = None


def format_counters(c):
    lines = []
    for d in DIRS:
        x = c[d]
        lines.append("%-4s received %d, forwarded %d, dropped %d, duplicated %d, reordered %d"
                     % (d, x["received"], x["forwarded"], x["dropped"], x["duplicated"],
                        x["reordered"]))
    return lines


def _hostport(s, default_host="127.0.0.1"):
    if ":" not in s:
        return default_host, int(s)
    h, p = s.rsplit(":", 1)
    return h.strip("[]") or default_host, int(p)


def _pct(v):
    v = float(v)
    if not 0 <= v <= 100:
        raise argparse.ArgumentTypeError("a percentage 0..100")
    return v / 100.0


def main(argv=None):
    ap = argparse.ArgumentParser(description="Lossy UDP proxy (loopback only).")
    ap.add_argument("--listen", required=True, help="[host:]port to listen on")
    ap.add_argument("--target", required=True, help="[host:]port of the server")
    ap.add_argument("--loss", type=_pct, default=0.0, help="loss %% each way")
    ap.add_argument("--dup", type=_pct, default=0.0, help="duplication %% each way")
    ap.add_argument("--reorder", type=_pct, default=0.0, help="reordering %% each way")
    ap.add_argument("--delay", default="0,0", help="delay range ms 'lo,hi'")
    ap.add_argument("--up-loss", type=_pct, help="loss %% client->server (overrides --loss)")
    ap.add_argument("--down-loss", type=_pct, help="loss %% server->client (overrides --loss)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--duration", type=float, default=3600.0, help="stop after S seconds")
    a = ap.parse_args(argv)
    lo, _, hi = a.delay.partition(",")
    delay = (float(lo), float(hi or lo))
    up = {"loss": a.up_loss} if a.up_loss is not None else None
    down = {"loss": a.down_loss} if a.down_loss is not None else None

    async def run():
        p = LossyProxy(_hostport(a.listen), _hostport(a.target), loss=a.loss, dup=a.dup,
                       reorder=a.reorder, delay_ms=delay, seed=a.seed, up=up, down=down)
        await p.start()
        print("lossy proxy %s:%d -> %s:%d (%s)" % (p.listen[0], p.port, p.target[0],
                                                   p.target[1], p.describe()), flush=True)
        try:
            await asyncio.sleep(a.duration)
        finally:
            c = p.counters()
            await p.stop()
            for line in format_counters(c):
                print(line, flush=True)

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
