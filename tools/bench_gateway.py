"""Gateway heap per registered constrained UE (unix port): registers N constrained UEs over A.2
(PC-37) on a socket-free gateway and prints the heap held per registration."""
import gc

from coap.endpoint import Endpoint
from msgin5g.client import Client
from msgin5g.constrained import a2
from msgin5g.constrained.gateway import Gateway

N = 16
out = []
ep = Endpoint(lambda d, a: None)
c = Client(ep, ("10.0.0.9", 5683), "gw-1", "srv", keepalive_ms=0)
c.state = "REGISTERED"
gw = Gateway(c, max_devices=N)


def sent(d, a):
    if a2.decode(d).get("result") == 0:
        out.append(1)          # count only: keep the answers out of the measured heap


gw.attach_a2(sent)
out.append(0)
out.pop()
gc.collect()
a0 = gc.mem_alloc()
for i in range(N):
    gw.a2_received(a2.encode({"type": a2.REG_REQ, "app_id": 100 + i}), ("10.0.1.%d" % i, 40000 + i))
gc.collect()
ok = len(out)
print("gateway_registered", ok)
print("gateway_heap_per_cue", (gc.mem_alloc() - a0) // N)
