"""ServerThread: an M5Server on its own asyncio loop in a daemon thread, for synchronous code.

    with ServerThread(port=15000, groups={"g": ["ue-1", "ue-2"]}) as st:
        st.as_send("as-1", "ue-1", b"hi")      # -> result dict (see M5Server.as_send)
        st.as_inbox("as-1"); st.stats()
"""
import asyncio
import threading

from .server import M5Server


class ServerThread:
    def __init__(self, host="127.0.0.1", port=5683, **kw):
        self.host = host
        self.port = port
        self.kw = kw
        self.loop = None
        self.server = None
        self._thread = None
        self._err = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self, timeout=10.0):
        ready = threading.Event()
        self._thread = threading.Thread(target=self._main, args=(ready,), daemon=True,
                                        name="m5server-%d" % self.port)
        self._thread.start()
        if not ready.wait(timeout):
            raise RuntimeError("M5Server did not start within %.0f s" % timeout)
        if self._err is not None:
            raise self._err
        return self

    def _main(self, ready):
        loop = self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            self.server = loop.run_until_complete(M5Server.start(self.host, self.port, **self.kw))
        except BaseException as e:  # bind error, bad groups file, ...
            self._err = e
            ready.set()
            loop.close()
            return
        ready.set()
        try:
            loop.run_forever()
        finally:
            loop.close()

    def stop(self, timeout=10.0):
        if self._thread is None or self.server is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop).result(timeout)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout)
            self._thread = None

    def run(self, coro, timeout=30.0):
        """Run a coroutine on the server's loop and return its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def call(self, fn, *a, **kw):
        """Call a plain function on the server's loop (thread-safe access to its state)."""
        async def _c():
            return fn(*a, **kw)
        return self.run(_c())

    def as_send(self, as_id, to, payload, **kw):
        return self.run(self.server.as_send(as_id, to, payload, **kw))

    def as_inbox(self, as_id, since=0):
        return self.call(self.server.as_inbox, as_id, since)

    def as_reports(self, as_id, since=0):
        return self.call(self.server.as_reports, as_id, since)

    def as_subscribe(self, as_id, topics=(), unsubscribe=()):
        return self.call(self.server.as_subscribe, as_id, topics, unsubscribe)

    def stats(self):
        return self.call(self.server.stats)

    def registrations(self):
        return self.call(self.server.registrations)
