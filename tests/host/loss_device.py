# MicroPython (unix port) helper for tests/host/test_loss.py, test_outage.py, tools/bench_loss.py:
# runs firmware/main.py's main() unchanged, with two test knobs:
#
#   micropython loss_device.py CONFIG ACK_MS [gen PEER N [WINDOW]]
#
# ACK_MS   CoAP ACK_TIMEOUT of the device endpoint (RFC 7252 default 2000). Tests scale it down
#          (same MAX_RETRANSMIT = 4, so the same loss statistics) to fit their time budget.
# gen      instead of the configured app, send N messages "p2p <me> <i>" to UE PEER (store and
#          forward), at most WINDOW not yet echoed back (so that the peer's uplink queue,
#          PC-39, does not overflow on a slow lossy link); count every outcome and every message
#          received (the peer echoes); print "GEN {json}" once all N outcomes and N distinct
#          echoes are in, or all outcomes and no new echo for 40 ACK timeouts (an echo is not
#          store-and-forward: the server may give up on it and tell the peer DELY_FAILED).
#          The STATUS line still comes on SIGINT.
import sys
import json

import asyncio
from coap.endpoint import Params
from msgin5g import device

_ACK = int(sys.argv[2])


def _params():
    return Params(ack_timeout=_ACK)


device.Params = _params     # Device() builds its endpoint with Params()


async def _gen(dev, peer, n, window):
    c = dev.client
    outcomes = {}
    echoes = {}

    def on_msg(m):
        p = bytes(m["payload"])
        echoes[p] = echoes.get(p, 0) + 1

    def done(mid, st, cause):
        outcomes.setdefault(mid, []).append(st if cause is None else st + ":" + str(cause))

    c.on_message(None, on_msg)
    sent = []
    i = 0
    while i < n:
        if len(sent) - len(echoes) < window:
            sent.append(c.send(peer, "p2p %s %d" % (c.id, i), store_fwd=True, done=done))
            i += 1
        else:
            await asyncio.sleep_ms(20)
    quiet = 0
    last = -1
    # an echo whose exchange timed out is retried after 7.5 s, 15 s ... (PC-24): wait for one
    while len(outcomes) < n or (len(echoes) < n and quiet < 80 * _ACK):
        await asyncio.sleep_ms(50)
        quiet = 0 if len(echoes) != last else quiet + 50
        last = len(echoes)
    await asyncio.sleep_ms(200)  # late duplicates would show up here
    summary = {"sent": len(sent), "outcomes": {}, "multi": 0, "echoes": sum(echoes.values()),
               "distinct": len(echoes), "max": max(echoes.values())}
    for mid in sent:
        o = outcomes.get(mid, ["NONE"])
        if len(o) > 1:
            summary["multi"] += 1
        k = ",".join(o)
        summary["outcomes"][k] = summary["outcomes"].get(k, 0) + 1
    print("GEN " + json.dumps(summary))


if len(sys.argv) > 3 and sys.argv[3] == "gen":
    _peer, _n = sys.argv[4], int(sys.argv[5])
    _w = int(sys.argv[6]) if len(sys.argv) > 6 else 3

    def _start_app(self):
        asyncio.create_task(_gen(self, _peer, _n, _w))

    device.Device.start_app = _start_app

import main  # noqa: E402  firmware/main.py

sys.exit(main.main([sys.argv[0], sys.argv[1]]))
