"""sensor: sends a reading (JSON: counter, uptime, value) every periodSec to reportTo."""
import asyncio
import json

from msgin5g import log


class Sensor:
    def __init__(self, dev):
        self.dev = dev
        self.n = 0
        t = dev.cfg["reportTo"]
        self.dest, self.dest_type = t["addr"], t["type"]
        asyncio.create_task(self.run())

    def reading(self):
        b = self.dev.board
        v = b.read_sensor() if b else None
        self.n += 1
        return json.dumps({"n": self.n, "uptimeMs": self.dev.uptime_ms(), "value": v})

    async def run(self):
        period = self.dev.cfg["periodSec"] * 1000
        c = self.dev.client
        while True:
            await asyncio.sleep_ms(period)
            try:
                c.send(self.dest, self.reading(), dest_type=self.dest_type,
                       app_id=self.dev.cfg["appId"])
            except Exception as e:   # e.g. JournalFull while the server is unreachable
                log.warn("sensor: reading %d not sent: %s", self.n, e)


def start(dev):
    return Sensor(dev)
