"""echo: every received message goes back to its originator, same appId and payload
(segmented when large), after the delivery report if one was requested."""
import asyncio


class Echo:
    def __init__(self, dev):
        self.client = c = dev.client
        self.todo = []
        self.ev = asyncio.Event()
        c.on_message(None, self.received)
        asyncio.create_task(self.run())

    def received(self, m):
        # Deferred to our task so that the client queues its IMDN first (PC-26 step 4).
        self.todo.append(m)
        self.ev.set()

    async def run(self):
        while True:
            await self.ev.wait()
            self.ev.clear()
            self.flush()

    def flush(self):
        # Not in run(): a coroutine's frame lives on, and its stack would keep the last
        # message (and its payload, 5 KB for a segmented one) until the next one comes.
        while self.todo:
            m = self.todo.pop(0)
            o = m["oriAddr"]
            app = m.get("appId")
            self.client.send(o["addr"], m["payload"], dest_type=o["addrType"],
                             app_id=int(app) if app is not None else None)


def start(dev):
    return Echo(dev)
