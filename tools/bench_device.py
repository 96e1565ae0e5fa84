# MicroPython: heap of a device at boot and once registered (make bench; run on the unix port).
#   micropython tools/bench_device.py CONFIG
# Prints `boot_used N` (config loaded, Device built, nothing started: what main.py holds
# before asyncio.run) and `registered_used N` / `registered_largest N` (after the client's
# REG was answered), each after a collection. Exits 1 when no registration within 10 s.
import gc
import sys

import asyncio
from msgin5g import devconfig, log
from msgin5g.device import Device, heap

cfg = devconfig.load(sys.argv[1])
log.set_level(cfg["logLevel"])
gc.collect()
base = gc.mem_alloc()
dev = Device(cfg)
gc.collect()
print("boot_used", gc.mem_alloc())
print("device_object", gc.mem_alloc() - base)


async def until_registered():
    asyncio.create_task(dev.main())
    for _ in range(1000):
        await asyncio.sleep_ms(10)
        if dev.client is not None and dev.client.state == "REGISTERED":
            h = heap()
            print("registered_used", h["used"])
            print("registered_largest", h["largestBlock"])
            return True
    return False


ok = asyncio.run(until_registered())
if ok:
    dev.shutdown()
sys.exit(0 if ok else 1)
