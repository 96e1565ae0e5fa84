"""m5as: application-server side CLI for the reference server's admin API (aiocoap client).

    tools/m5as [--server coap://127.0.0.1:5683] [--timeout S] [--json] COMMAND ...
    tools/m5as send AS_ID TO PAYLOAD [--type UE|GROUP|BC|TOPIC|AS] [--app N] [--report]
               [--store [--ttl S]] [--b64] [--priority HIGH|MIDDLE|LOW]
    tools/m5as inbox AS_ID [--since N] [--follow [--interval S]] [--clear]
    tools/m5as topics AS_ID [--sub T ...] [--unsub T ...]
    tools/m5as stats | ues | groups

Exit status: 0 on success (send: status DELIVERED or STORED), 1 on a failed send or an error
response, 2 when the server does not answer. The server URI may also come from $M5SERVER.
"""
import argparse
import asyncio
import json
import os
import sys

import aiocoap
from aiocoap import Code, Message

CF_JSON = 50


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="m5as", description="MSGin5G application-server CLI")
    p.add_argument("--server", default=os.environ.get("M5SERVER", "coap://127.0.0.1:5683"))
    p.add_argument("--timeout", type=float, default=30.0)
    p.add_argument("--json", action="store_true", help="print raw JSON")
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("send", help="send a message from an AS (A2P)")
    s.add_argument("as_id")
    s.add_argument("to")
    s.add_argument("payload")
    s.add_argument("--type", default="UE", choices=["UE", "GROUP", "BC", "TOPIC", "AS"])
    s.add_argument("--app", help="Application ID 0-65535 (PC-04)")
    s.add_argument("--report", action="store_true", help="ask for a delivery report")
    s.add_argument("--store", action="store_true", help="store-and-forward if unreachable")
    s.add_argument("--ttl", type=float, help="store-and-forward expiry (s)")
    s.add_argument("--b64", action="store_true", help="payload argument is base64")
    s.add_argument("--priority", choices=["HIGH", "MIDDLE", "LOW"])
    i = sub.add_parser("inbox", help="messages and reports that reached an AS")
    i.add_argument("as_id")
    i.add_argument("--since", type=int, default=0)
    i.add_argument("--follow", action="store_true", help="keep polling (Ctrl-C to stop)")
    i.add_argument("--interval", type=float, default=1.0)
    i.add_argument("--clear", action="store_true", help="delete the inbox after showing it")
    t = sub.add_parser("topics", help="show / change an AS's topic subscriptions")
    t.add_argument("as_id")
    t.add_argument("--sub", nargs="+", default=[])
    t.add_argument("--unsub", nargs="+", default=[])
    sub.add_parser("stats", help="server counters")
    sub.add_parser("ues", help="registered UEs")
    sub.add_parser("groups", help="configured groups")
    return p.parse_args(argv)


class Api:
    def __init__(self, ctx, base, timeout):
        self.ctx = ctx
        self.base = base.rstrip("/")
        self.timeout = timeout

    async def call(self, code, path, body=None, query=None):
        m = Message(code=code, uri=self.base + path + (("?" + query) if query else ""))
        if body is not None:
            m.payload = json.dumps(body, separators=(",", ":")).encode("utf-8")
            m.opt.content_format = CF_JSON
        resp = await asyncio.wait_for(self.ctx.request(m).response, self.timeout)
        data = resp.payload
        if resp.opt.content_format is not None and int(resp.opt.content_format) == CF_JSON:
            data = json.loads(resp.payload.decode("utf-8"))
        return resp.code, data


def _fail(code, data):
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else json.dumps(data)
    print("error: %s %s" % (code, text), file=sys.stderr)
    return 1


def print_inbox(d):
    for m in d.get("messages", []):
        text = m.get("text")
        shown = repr(text) if text is not None else "base64:" + m["payload"]
        flags = "".join([" [segmented]" if m.get("segmented") else "",
                         " [aggregated]" if m.get("aggregated") else ""])
        print("#%d %s MSG from %s app=%s id=%s%s: %s" % (
            m["seq"], m["time"], m["from"], m.get("appId"), m["msgId"], flags, shown))
    for r in d.get("reports", []):
        kind = r.get("kind")
        if kind == "IMDN":
            detail = "%s from %s" % (r.get("delivSt"), r.get("from"))
        elif kind == "MSGRESP":
            detail = "%s to %s" % (r.get("status"), r.get("recipient"))
        else:
            detail = "%s from %s segId=%s" % (r.get("result"), r.get("from"), r.get("segId"))
        cause = (" (%s)" % r["failureCause"]) if r.get("failureCause") else ""
        print("#%d %s %s %s id=%s%s" % (r["seq"], r["time"], kind, detail,
                                        r.get("msgId", r.get("segId")), cause))


async def run(a):
    ctx = await aiocoap.Context.create_client_context(transports=["udp6"])
    api = Api(ctx, a.server, a.timeout)
    try:
        if a.cmd == "send":
            body = {"to": a.to, "toType": a.type, "payload": a.payload,
                    "encoding": "base64" if a.b64 else "text", "report": a.report,
                    "storeFwd": a.store}
            if a.app is not None:
                body["appId"] = a.app
            if a.ttl is not None:
                body["ttl"] = a.ttl
            if a.priority:
                body["priority"] = a.priority
            code, d = await api.call(Code.POST, "/as/%s/send" % a.as_id, body)
            if not isinstance(d, dict):
                return _fail(code, d)
            if a.json:
                print(json.dumps(d))
            else:
                print("%s msgId=%s" % (d.get("status"), d.get("msgId")))
                for ue, st in sorted(d.get("recipients", {}).items()):
                    print("  %s: %s" % (ue, st))
                if d.get("failureCause"):
                    print("  cause: %s" % d["failureCause"])
            return 0 if d.get("status") in ("DELIVERED", "STORED") else 1
        if a.cmd == "inbox":
            since = a.since
            while True:
                code, d = await api.call(Code.GET, "/as/%s/inbox" % a.as_id,
                                         query="since=%d" % since)
                if not code.is_successful():
                    return _fail(code, d)
                if a.json:
                    print(json.dumps(d), flush=True)
                else:
                    print_inbox(d)
                    sys.stdout.flush()
                seqs = [e["seq"] for e in d.get("messages", []) + d.get("reports", [])]
                since = max(seqs + [since])
                if not a.follow:
                    break
                await asyncio.sleep(a.interval)
            if a.clear:
                code, d = await api.call(Code.DELETE, "/as/%s/inbox" % a.as_id)
                if not code.is_successful():
                    return _fail(code, d)
            return 0
        if a.cmd == "topics":
            if a.sub or a.unsub:
                code, d = await api.call(Code.POST, "/as/%s/topics" % a.as_id,
                                         {"subscribe": a.sub, "unsubscribe": a.unsub})
            else:
                code, d = await api.call(Code.GET, "/as/%s/topics" % a.as_id)
            if not code.is_successful():
                return _fail(code, d)
            print(json.dumps(d) if a.json else " ".join(d.get("topics", [])) or "(none)")
            return 0
        code, d = await api.call(Code.GET, "/" + a.cmd)
        if not code.is_successful():
            return _fail(code, d)
        if a.json:
            print(json.dumps(d))
        elif a.cmd == "groups":
            for g, members in sorted(d["groups"].items()):
                print("%s: %s" % (g, " ".join(members)))
        elif a.cmd == "stats":
            for k in sorted(d):
                print("%s: %s" % (k, d[k]))
        else:
            for u in d["ues"]:
                print("%s at %s seg=%s reachable=%s stored=%d topics=%s" % (
                    u["ueServiceId"], u["remote"], u["segSize"], u["reachable"], u["stored"],
                    ",".join(u["topics"]) or "-"))
        return 0
    except (asyncio.TimeoutError, aiocoap.error.NetworkError) as e:
        print("error: no answer from %s (%s)" % (a.server, type(e).__name__), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0
    finally:
        await ctx.shutdown()


def main(argv=None):
    try:
        return asyncio.run(run(parse_args(argv)))
    except KeyboardInterrupt:
        return 0
    except BrokenPipeError:  # output piped into head & co.
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
