"""A downlink MSG too long for a device's receive buffer gets 4.13 (PC-26), from a device running
firmware/main.py on the unix port, with aiocoap playing the MSGin5G server: it accepts the
device's REG and uplinks and sends the downlinks from its own socket, a 3000-octet MSG in one
datagram (no block-wise) and then an ordinary one, which still gets through."""
import asyncio
import base64
import json
import os
import signal
import subprocess
import tempfile

import mp
from msgin5g import wire

SRV_PORT = 19731
UE_PORT = 19732
UE = "ue-big"


def _downlink(ctx, aiocoap, msg_id, payload):
    body = wire.encode(wire.msg(wire.addr("AS", "as-1"), wire.addr("UE", UE), msg_id, payload,
                                app_id=1))
    m = aiocoap.Message(code=aiocoap.POST, payload=body, content_format=50,
                        uri="coap://127.0.0.1:%d/msgin5g/ue/%s" % (UE_PORT, UE))
    return ctx.request(m, handle_blockwise=False).response, len(body)


def test_too_long_downlink_msg_gets_413_then_the_device_carries_on():
    import aiocoap
    import aiocoap.resource as resource

    uplinks = []

    class Msgin5g(resource.Resource):
        async def render_post(self, request):
            d = json.loads(request.payload)
            uplinks.append(d)
            reg = d["msgType"] == "REG"
            return aiocoap.Message(code=aiocoap.CREATED if reg else aiocoap.CHANGED)

    async def scenario(p):
        site = resource.Site()
        site.add_resource(["msgin5g"], Msgin5g())
        ctx = await aiocoap.Context.create_server_context(site, bind=("127.0.0.1", SRV_PORT))
        try:
            for _ in range(200):                           # the device registers
                if any(u["msgType"] == "REG" for u in uplinks):
                    break
                assert p.poll() is None
                await asyncio.sleep(0.05)
            assert [u["msgType"] for u in uplinks] == ["REG"]
            big, n = _downlink(ctx, aiocoap, "11111111-2222-4333-8444-000000000001",
                               b"B" * 2100)
            r = await asyncio.wait_for(big, 20)
            assert n > 2900 and (str(r.code), r.opt.size1) == ("4.13 Request Entity Too Large",
                                                               1280), (n, r.code)
            ok, n = _downlink(ctx, aiocoap, "11111111-2222-4333-8444-000000000002", b"small")
            r = await asyncio.wait_for(ok, 20)
            assert str(r.code) == "2.04 Changed"
            for _ in range(100):                           # the echo app answers the small one
                if len(uplinks) > 1:
                    break
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.3)
            return uplinks[1:]
        finally:
            await ctx.shutdown()

    with tempfile.TemporaryDirectory() as d:
        cfg = os.path.join(d, "ue.json")
        with open(cfg, "w") as f:
            json.dump({"server": "coap://127.0.0.1:%d" % SRV_PORT, "ueServiceId": UE,
                       "listenPort": UE_PORT, "keepAliveSec": 0, "app": "echo", "appId": 1}, f)
        p = mp.popen([os.path.join(mp.ROOT, "firmware", "main.py"), cfg], heap="256k", mpy=True,
                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            echoed = asyncio.run(scenario(p))
        finally:
            p.send_signal(signal.SIGINT)
            out = p.communicate(timeout=10)[0]
    # Only the small message reached the application (echoed once); the big one never did.
    msgs = [u for u in echoed if u["msgType"] == "MSG"]
    assert len(msgs) == 1, (echoed, out)
    assert msgs[0]["destAddr"] == {"addrType": "AS", "addr": "as-1"}
    assert base64.b64decode(msgs[0]["payload"]) == b"small", out
    assert "Traceback" not in out, out
