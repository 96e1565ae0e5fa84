"""CoapUE: a scripted MSGin5G UE on aiocoap (one socket for uplink and downlink, PC-08),
for host tests and the simulation. Not the firmware client: it only builds the JSON of
PROTOCOL.md §4/§6/§7/§8 and records what the server sends to /msgin5g/ue/<id>.

    ue = await CoapUE.start("ue-1", port=15101, server_port=15000)
    code, body = await ue.reg(max_seg=512)            # ('2.01', {...})
    code, body, mid = await ue.send("ue-2", b"hi", report=True)
    got = await ue.wait("IMDN")                       # next downlink IMDN (dict)
    await ue.close()
"""
import asyncio

import aiocoap
from aiocoap import Code, Message
from aiocoap import resource as ares

from . import wire
from .server import probe_port


class _Downlink(ares.Resource, ares.PathCapable):
    def __init__(self, ue):
        ares.Resource.__init__(self)
        self.ue = ue

    async def needs_blockwise_assembly(self, request):
        return False

    async def render(self, req):
        ue = self.ue
        path = tuple(req.opt.uri_path)
        if req.code != Code.POST or len(path) != 3 or path[:2] != ("msgin5g", "ue"):
            return Message(code=Code.NOT_FOUND)
        if path[2] != ue.ue_id:  # PC-09: recipient option must be our own id
            return Message(code=Code.NOT_FOUND)
        cf = req.opt.content_format
        if cf is None or int(cf) != wire.CF_JSON:
            return Message(code=Code.UNSUPPORTED_CONTENT_FORMAT)
        try:
            d = wire.loads(req.payload)
        except wire.Reject:
            return Message(code=Code.BAD_REQUEST)
        if ue.busy:             # overloaded: not taken, ask to retry after Max-Age
            ue.busy -= 1
            return Message(code=Code.SERVICE_UNAVAILABLE, max_age=ue.busy_max_age)
        ue.received.append(d)
        ue.raw_sizes.append(len(req.payload))
        ue._ev.set()
        c, dd = ue.response_code.split(".")
        return Message(code=Code((int(c) << 5) + int(dd)))


class CoapUE:
    def __init__(self, ue_id, server, uri_host):
        self.ue_id = ue_id
        self.server = server
        self.uri_host = uri_host
        self.received = []  # downlink JSON bodies not yet taken by wait()
        self.raw_sizes = []
        self.response_code = "2.04"  # answer to downlinks (set e.g. "4.00" to refuse)
        self.busy = 0               # answer this many next downlinks 5.03 ...
        self.busy_max_age = 1       # ... with this Max-Age (s)
        self.ctx = None
        self._ev = asyncio.Event()

    @classmethod
    async def start(cls, ue_id, port, server_port=5683, host="127.0.0.1", server_host="127.0.0.1",
                    uri_host="msgin5g.example.net"):
        self = cls(ue_id, (server_host, server_port), uri_host)
        probe_port(host, port)
        self.ctx = await aiocoap.Context.create_server_context(
            _Downlink(self), bind=(host, port), transports=["udp6"])
        return self

    async def close(self):
        if self.ctx is not None:
            await self.ctx.shutdown()
            self.ctx = None

    # ---- uplink -----------------------------------------------------------------------

    async def request(self, body, cf=wire.CF_JSON, code=Code.POST, path="msgin5g", query=(),
                      accept=None, timeout=10.0):
        """Send a request to the server. body: dict (JSON-encoded), bytes or None.
        Returns (code 'c.dd', JSON dict or raw bytes)."""
        host, port = self.server
        h = ("[%s]" % host) if ":" in host else host
        m = Message(code=code, uri="coap://%s:%d/%s" % (h, port, path))
        m.opt.uri_host = self.uri_host  # PC-09: Uri-Host = server host, always sent
        if body is not None:
            m.payload = wire.dumps(body) if isinstance(body, dict) else bytes(body)
        if cf is not None and body is not None:
            m.opt.content_format = cf
        if query:
            m.opt.uri_query = tuple(query)
        if accept is not None:
            m.opt.accept = accept
        resp = await asyncio.wait_for(self.ctx.request(m, handle_blockwise=False).response, timeout)
        out = resp.payload
        if resp.opt.content_format is not None and int(resp.opt.content_format) == wire.CF_JSON:
            out = wire.loads(resp.payload)
        return resp.code.dotted, out

    def addr(self):
        return {"addrType": "UE", "addr": self.ue_id}

    async def reg(self, max_seg=512, ue_id=None, **extra):
        body = {"msgType": "REG", "ueServiceId": ue_id or self.ue_id}
        if max_seg is not None:
            body["clientProfile"] = {"maxSegSize": max_seg}
        body.update(extra)
        return await self.request(body)

    async def dereg(self, ue_id=None):
        return await self.request({"msgType": "DEREG", "ueServiceId": ue_id or self.ue_id})

    def msg(self, to, payload=b"", to_type="UE", report=False, sto_fw=False, expr=None,
            app_id=None, msg_id=None, ori=None):
        d = {"msgType": "MSG", "oriAddr": {"addrType": "UE", "addr": ori or self.ue_id},
             "destAddr": {"addrType": to_type, "addr": to}, "msgId": msg_id or wire.new_msg_id(),
             "payload": wire.b64encode(payload), "stoAndFwInd": bool(sto_fw)}
        if report:
            d["delivStReqInd"] = True
        if app_id is not None:
            d["appId"] = str(app_id)
        if expr is not None:
            d["stoAndFwParams"] = {"exprTime": expr}
        return d

    async def send(self, to, payload=b"", **kw):
        """MSG (§6.3) -> (code, body, msgId)."""
        d = self.msg(to, payload, **kw)
        code, body = await self.request(d)
        return code, body, d["msgId"]

    def segments(self, to, payload, seg_size, to_type="UE", report=False, sto_fw=False,
                 app_id=None, seg_id=None):
        """PC-31 segments of payload -> (segId, [bodies])."""
        sid = seg_id or wire.new_msg_id()
        n = (len(payload) + seg_size - 1) // seg_size
        out = []
        for i in range(n):
            d = self.msg(to, payload[i * seg_size:(i + 1) * seg_size], to_type=to_type,
                         report=report and i == 0, sto_fw=sto_fw, app_id=app_id)
            sp = {"segId": sid, "segNumb": i + 1}
            if i == 0:
                sp["totalSegCount"] = n
            if i == n - 1:
                sp["lastSegFlag"] = True
            d["segInd"] = True
            d["segParams"] = sp
            out.append(d)
        return sid, out

    async def imdn(self, to, msg_id, to_type="UE", st="REPT_DELY_SUCCESS", cause=None):
        d = {"msgType": "IMDN", "oriAddr": self.addr(), "destAddr": {"addrType": to_type, "addr": to},
             "msgId": msg_id, "delivSt": st}
        if cause:
            d["failureCause"] = cause
        return await self.request(d)

    async def topic(self, topics, sub=True, expiration=None):
        d = {"msgType": "TOPICSUB" if sub else "TOPICUNSUB", "oriAddr": self.addr(),
             "msgId": wire.new_msg_id(), "topics": list(topics)}
        if expiration:
            d["expiration"] = expiration
        return await self.request(d)

    # ---- downlink -----------------------------------------------------------------------

    async def wait(self, msg_type=None, timeout=3.0, pred=None):
        """Take the first received downlink matching msg_type/pred, waiting up to timeout."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while True:
            for i, d in enumerate(self.received):
                if (msg_type is None or d.get("msgType") == msg_type) and (pred is None or pred(d)):
                    return self.received.pop(i)
            left = end - loop.time()
            if left <= 0:
                raise asyncio.TimeoutError("%s: no %s downlink within %.1f s (have %r)" % (
                    self.ue_id, msg_type or "", timeout, [x.get("msgType") for x in self.received]))
            self._ev.clear()
            try:
                await asyncio.wait_for(self._ev.wait(), left)
            except asyncio.TimeoutError:
                pass

    async def wait_all(self, n, msg_type=None, timeout=3.0):
        return [await self.wait(msg_type, timeout) for _ in range(n)]

    async def quiet(self, within=0.3, msg_type=None):
        """True if no (matching) downlink arrives within `within` seconds."""
        try:
            await self.wait(msg_type, within)
        except asyncio.TimeoutError:
            return True
        return False
