"""sensor: sends a reading (JSON: counter, uptime, value) every periodSec to reportTo.

With "deepSleep": true it sends one reading per wake-up and then puts the board into
machine.deepsleep for periodSec (the board resets on wake and registers again, PC-17): the
duty cycle for battery devices. The unix board only records the sleep.
"""
import asyncio
import json

from msgin5g import log


class Sensor:
    def __init__(self, dev):
        self.dev = dev
        self.n = 0
        t = dev.cfg["reportTo"]
        self.dest, self.dest_type = t["addr"], t["type"]
        self.outcome = None
        asyncio.create_task(self.run())

    def reading(self):
        b = self.dev.board
        v = b.read_sensor() if b else None
        self.n += 1
        return json.dumps({"n": self.n, "uptimeMs": self.dev.uptime_ms(), "value": v})

    def send(self, done=None):
        try:
            self.dev.client.send(self.dest, self.reading(), dest_type=self.dest_type,
                                 app_id=self.dev.cfg["appId"], done=done)
        except Exception as e:   # e.g. JournalFull while the server is unreachable
            log.warn("sensor: reading %d not sent: %s", self.n, e)

    async def run(self):
        period = self.dev.cfg["periodSec"] * 1000
        if self.dev.cfg.get("deepSleep"):
            return await self.once_then_sleep(period)
        while True:
            await asyncio.sleep_ms(period)
            self.send()

    async def once_then_sleep(self, period):
        def done(msg_id, status, cause):
            self.outcome = status

        self.send(done)
        for _ in range(300):                     # the outcome, or 30 s at most
            if self.outcome is not None:
                break
            await asyncio.sleep_ms(100)
        log.info("sensor: reading %s, deep sleep %d ms", self.outcome or "TIMEOUT", period)
        b = self.dev.board
        if b is not None:
            b.deepsleep(period)


def start(dev):
    return Sensor(dev)
