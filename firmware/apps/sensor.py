"""sensor: sends a reading (JSON: counter, uptime, value) every periodSec to reportTo.

With "deepSleep": true it sends one reading per wake-up and then puts the board into deep
sleep until periodSec after the wake (msgin5g.dutycycle): the duty cycle for battery devices.
The registration, the reading counter and the msgIds seen stay in the sleep record, so a wake
sends at once without a REG; the record is saved as soon as the reading's outcome is in, and
the device sleeps awakeSec after the last exchange. The unix board prints `SLEEP <ms>` and
ends the process.
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
        dev.client.on_message(None, self.message)
        asyncio.create_task(self.run())

    def message(self, m):
        """A downlink for the sensor's application (e.g. stored while it slept): logged."""
        log.info("sensor: message %s from %s: %s", m["msgId"], m["oriAddr"]["addr"],
                 bytes(m.get("payload") or b"")[:64])

    def reading(self):
        b = self.dev.board
        v = b.read_sensor() if b else None
        self.n += 1
        return json.dumps({"n": self.n, "uptimeMs": self.dev.uptime_ms(), "value": v})

    def send(self, done=None):
        try:
            return self.dev.client.send(self.dest, self.reading(), dest_type=self.dest_type,
                                        app_id=self.dev.cfg["appId"], done=done)
        except Exception as e:   # e.g. JournalFull while the server is unreachable
            log.warn("sensor: reading %d not sent: %s", self.n, e)

    async def run(self):
        period = self.dev.cfg["periodSec"] * 1000
        if self.dev.duty is not None:
            return await self.once_then_sleep()
        while True:
            await asyncio.sleep_ms(period)
            self.send()

    async def once_then_sleep(self):
        duty = self.dev.duty
        ev = asyncio.Event()

        def done(msg_id, status, cause):
            self.outcome = status
            ev.set()

        self.n = duty.st.app                     # readings taken before this wake
        if self.send(done) is None:
            ev.set()                             # not taken: nothing to wait for
        duty.st.app = self.n
        try:
            await asyncio.wait_for_ms(ev.wait(), 30000)   # the outcome, or 30 s at most
        except asyncio.TimeoutError:
            pass
        duty.save()                              # the record, as soon as the outcome is in
        log.info("sensor: reading %d %s", self.n, self.outcome or "TIMEOUT")
        await duty.sleep_when_done()


def start(dev):
    return Sensor(dev)
