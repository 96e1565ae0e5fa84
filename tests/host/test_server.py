"""Reference MSGin5G Server (tools/server/m5server): registration, routing, reports,
store-and-forward, segmentation, aggregation, topics — over real CoAP on 127.0.0.1 with
aiocoap UEs (each UE = one context/socket serving /msgin5g/ue/<id>). Ports 15000-15999."""
import asyncio
import os
import random
import socket
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_SRV = os.path.join(ROOT, "tools", "server")
if _SRV not in sys.path:
    sys.path.insert(0, _SRV)

from m5server import CoapUE, M5Server, wire  # noqa: E402

_rng = random.Random(os.getpid() ^ int(time.time()))
_used = set()


def free_port():
    """A UDP port in 15000-15999 that nobody holds (probe bind without SO_REUSEPORT)."""
    start = _rng.randrange(1000)
    for i in range(1000):
        p = 15000 + (start + i) % 1000
        if p in _used:
            continue
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.bind(("127.0.0.1", p))
        except OSError:
            continue
        finally:
            s.close()
        _used.add(p)
        return p
    raise RuntimeError("no free UDP port in 15000-15999")


def run(scenario, timeout=15.0, **server_kw):
    """Start a server (+ UE factory), run scenario(srv, ue), tear everything down."""
    async def main():
        srv = await M5Server.start("127.0.0.1", free_port(), **server_kw)
        ues = []

        async def ue(uid, reg=True, max_seg=512, port=None):
            u = await CoapUE.start(uid, port or free_port(), srv.port)
            ues.append(u)
            if reg:
                code, _ = await u.reg(max_seg=max_seg)
                assert code == "2.01", code
            return u

        try:
            await asyncio.wait_for(scenario(srv, ue), timeout)
        finally:
            for u in ues:
                await u.close()
            await srv.stop()
        assert srv.counters["internal_errors"] == 0
        assert "5.00" not in srv.codes
    asyncio.run(main())


def rfc3339(ts):
    return wire.format_time(ts)


def payload_of(d):
    return wire.b64decode(d["payload"])


# ---- registration ---------------------------------------------------------------------------

def test_reg_dereg_codes_and_log_line():
    async def t(srv, ue):
        a = await ue("ue-a", reg=False)
        code, body = await a.reg(max_seg=256)
        assert code == "2.01" and body == {"msgType": "REG", "ueServiceId": "ue-a", "result": "SUCCESS"}
        code, body = await a.reg(max_seg=128)  # refresh (PC-15)
        assert code == "2.04" and body["result"] == "SUCCESS"
        reg = srv.registrations()
        assert len(reg) == 1 and reg[0]["maxSegSize"] == 128 and reg[0]["segSize"] == 128
        b = await ue("ue-b")
        assert (await a.dereg("ue-b"))[0] == "4.03"  # not from ue-b's address
        assert (await a.dereg())[0] == "2.04"  # PC-16
        code, body = await a.dereg()
        assert code == "4.04" and body["result"] == "FAILURE"
        assert [r["ueServiceId"] for r in srv.registrations()] == ["ue-b"]
        assert (await b.reg())[0] == "2.04"
        lines = list(srv.log_lines)
        assert any(ln.startswith("REG ue-a from 127.0.0.1:") and ln.endswith(" -> 2.01")
                   for ln in lines)
        assert any(ln.startswith("DEREG ue-a from") and ln.endswith("-> 4.04 (not registered)")
                   for ln in lines)
    run(t)


def test_reg_forbidden_and_reg_moves_downlink_address():
    async def t(srv, ue):
        bad = await ue("ue-stolen", reg=False)
        code, body = await bad.reg()
        assert code == "4.03" and body["result"] == "FAILURE"
        a = await ue("ue-a")
        b = await ue("ue-b")
        # ue-b re-registers from a new socket (IP/port change, PC-17): downlinks follow it
        b2 = await ue("ue-b", reg=False)
        assert (await b2.reg())[0] == "2.04"
        code, _, mid = await a.send("ue-b", b"where are you")
        assert code == "2.04"
        got = await b2.wait("MSG")
        assert got["msgId"] == mid
        assert await b.quiet(0.2)
        # the old socket may no longer speak for ue-b
        assert (await b.send("ue-a", b"x"))[0] == "4.03"
    run(t, forbidden=["ue-stolen"])


# ---- P2P / P2A / A2P and reports ---------------------------------------------------------------

def test_p2p_delivery_and_report_forwarding():
    async def t(srv, ue):
        a = await ue("ue-a")
        b = await ue("ue-b")
        code, body, mid = await a.send("ue-b", b"hello b", report=True, app_id=17)
        assert code == "2.04" and body == b""
        m = await b.wait("MSG")
        assert m["msgId"] == mid and payload_of(m) == b"hello b" and m["appId"] == "17"
        assert m["oriAddr"] == {"addrType": "UE", "addr": "ue-a"}
        assert m["destAddr"] == {"addrType": "UE", "addr": "ue-b"}
        assert m["delivStReqInd"] is True
        assert (await b.imdn("ue-a", mid))[0] == "2.04"
        r = await a.wait("IMDN")
        assert r["msgId"] == mid and r["delivSt"] == "REPT_DELY_SUCCESS"
        assert r["oriAddr"]["addr"] == "ue-b"
        # a failed report with a cause is forwarded too
        await b.imdn("ue-a", mid, st="REPT_DELY_FAILED", cause="app busy")
        r = await a.wait("IMDN")
        assert r["delivSt"] == "REPT_DELY_FAILED" and r["failureCause"] == "app busy"
        # a report to an unregistered UE cannot be forwarded
        assert (await b.imdn("ue-nobody", mid))[0] == "4.04"
        st = srv.stats()
        assert st["delivered"] == 1 and st["reports"] == 2 and st["received"] >= 5
    run(t)


def test_p2a_inbox_and_report_on_behalf_of_as():
    async def t(srv, ue):
        a = await ue("ue-a")
        code, _, mid = await a.send("as-42", b"Hello", to_type="AS", app_id=7, report=True)
        assert code == "2.04"
        inbox = srv.as_inbox("as-42")
        assert len(inbox) == 1
        e = inbox[0]
        assert e["payload"] == b"Hello" and e["from"] == "ue-a" and e["appId"] == "7"
        assert e["msgId"] == mid and not e["segmented"]
        r = await a.wait("IMDN")  # §13.3 worked example
        assert r == {"msgType": "IMDN", "oriAddr": {"addrType": "AS", "addr": "as-42"},
                     "destAddr": {"addrType": "UE", "addr": "ue-a"}, "msgId": mid,
                     "delivSt": "REPT_DELY_SUCCESS"}
        # without delivStReqInd no report
        await a.send("as-42", b"quiet", to_type="AS")
        assert await a.quiet(0.2, "IMDN")
        assert [x["payload"] for x in srv.as_inbox("as-42", since=1)] == [b"quiet"]
    run(t)


def test_a2p_via_admin_api_and_report_to_as():
    async def t(srv, ue):
        b = await ue("ue-b")
        admin = await ue("admin", reg=False)  # any loopback CoAP client may use the admin API
        code, res = await admin.request(
            {"to": "ue-b", "appId": 5, "payload": "from the AS", "report": True},
            path="as/as-9/send")
        assert code == "2.04" and res["status"] == "DELIVERED"
        assert res["recipients"] == {"ue-b": "DELIVERED"}
        m = await b.wait("MSG")
        assert payload_of(m) == b"from the AS" and m["appId"] == "5"
        assert m["oriAddr"] == {"addrType": "AS", "addr": "as-9"} and m["msgId"] == res["msgId"]
        assert m["delivStReqInd"] is True
        assert (await b.imdn("as-9", m["msgId"], to_type="AS"))[0] == "2.04"
        code, inbox = await admin.request(None, code=wire_get(), path="as/as-9/inbox")
        assert code == "2.05"
        reps = inbox["reports"]
        assert len(reps) == 1 and reps[0]["kind"] == "IMDN"
        assert reps[0]["msgId"] == res["msgId"] and reps[0]["delivSt"] == "REPT_DELY_SUCCESS"
        # base64 payload, unknown recipient
        code, res = await admin.request(
            {"to": "ue-b", "payload": wire.b64encode(b"\x00\xff"), "encoding": "base64"},
            path="as/as-9/send")
        assert code == "2.04" and payload_of(await b.wait("MSG")) == b"\x00\xff"
        code, res = await admin.request({"to": "ue-zz", "payload": "x"}, path="as/as-9/send")
        assert code == "4.04" and res["status"] == "FAILED"
        assert (await admin.request({"payload": "x"}, path="as/as-9/send"))[0] == "4.00"
        assert (await admin.request(b"{}", cf=0, path="as/as-9/send"))[0] == "4.15"
        code, st = await admin.request(None, code=wire_get(), path="stats")
        assert code == "2.05" and st["as_sent"] == 3 and st["registered"] == 1
        code, ues = await admin.request(None, code=wire_get(), path="ues")
        assert [u["ueServiceId"] for u in ues["ues"]] == ["ue-b"]
        # DELETE clears the inbox
        assert (await admin.request(None, code=wire_delete(), path="as/as-9/inbox"))[0] == "2.02"
        assert srv.as_reports("as-9") == []
    run(t)


def wire_get():
    from aiocoap import Code
    return Code.GET


def wire_delete():
    from aiocoap import Code
    return Code.DELETE


def test_group_and_broadcast_exclude_sender():
    async def t(srv, ue):
        a = await ue("ue-a")
        b = await ue("ue-b")
        c = await ue("ue-c")
        code, _, mid = await a.send("grp", b"to the group", to_type="GROUP")
        assert code == "2.04"
        for u in (b, c):
            m = await u.wait("MSG")
            assert m["msgId"] == mid and m["destAddr"] == {"addrType": "GROUP", "addr": "grp"}
        assert await a.quiet(0.2)
        code, body, _ = await a.send("nogroup", b"x", to_type="GROUP")
        assert code == "4.04" and body["status"] == "DELY_FAILED"
        # broadcast: every registered UE except the sender
        code, _, mid = await b.send("area-1", b"bc", to_type="BC")
        assert code == "2.04"
        assert (await a.wait("MSG"))["msgId"] == mid and (await c.wait("MSG"))["msgId"] == mid
        assert await b.quiet(0.2)
        # A2P group send reports per member; the offline member ue-d fails
        res = await srv.as_send("as-1", "grp", b"hi all", to_type="GROUP")
        assert res["status"] == "PARTIAL"
        assert res["recipients"]["ue-a"] == "DELIVERED" and res["recipients"]["ue-d"].startswith("FAILED")
    run(t, groups={"grp": ["ue-a", "ue-b", "ue-c", "ue-d"]})


def test_topic_subscribe_publish_unsubscribe():
    async def t(srv, ue):
        a = await ue("ue-a")
        b = await ue("ue-b")
        c = await ue("ue-c")
        code, body = await b.topic(["t1", "t2"])
        assert code == "2.01" and body["result"] == "SUCCESS" and body["topics"] == ["t1", "t2"]
        assert (await b.topic(["t1"]))[0] == "2.04"  # refresh (PC-33)
        assert srv.as_subscribe("as-t", ["t1"]) == ["t1"]
        code, _, mid = await a.send("t1", b"news", to_type="TOPIC")
        assert code == "2.04"
        m = await b.wait("MSG")
        assert m["msgId"] == mid and m["destAddr"] == {"addrType": "TOPIC", "addr": "t1"}
        assert [e["payload"] for e in srv.as_inbox("as-t")] == [b"news"]
        assert await c.quiet(0.2)
        # the publisher does not get its own message back
        await b.send("t2", b"self", to_type="TOPIC")
        assert await b.quiet(0.2)
        code, body = await b.topic(["t1"], sub=False)
        assert code == "2.04" and body["topics"] == ["t1"]
        assert (await b.topic(["t1"], sub=False))[0] == "4.04"
        await a.send("t1", b"again", to_type="TOPIC")
        assert await b.quiet(0.2)
        # expired subscriptions are rejected / dropped
        assert (await c.topic(["t3"], expiration=rfc3339(time.time() - 10)))[0] == "4.00"
        assert (await c.topic(["t3"], expiration=rfc3339(time.time() + 1)))[0] == "2.01"
        await asyncio.sleep(1.3)
        await a.send("t3", b"late", to_type="TOPIC")
        assert await c.quiet(0.2)
        # DEREG ends subscriptions
        await b.topic(["t4"])
        await b.dereg()
        await b.reg()
        await a.send("t4", b"gone", to_type="TOPIC")
        assert await b.quiet(0.2)
    run(t, tick=0.1)


def test_sender_must_be_itself():
    async def t(srv, ue):
        a = await ue("ue-a")
        b = await ue("ue-b")
        stranger = await ue("ue-s", reg=False)
        assert (await a.send("ue-b", b"x", ori="ue-b"))[0] == "4.03"  # a claims to be b
        assert (await stranger.send("ue-b", b"x"))[0] == "4.03"  # not registered
        assert (await stranger.send("ue-b", b"x", ori="ue-a"))[0] == "4.03"
        d = a.msg("ue-b", b"x")
        d["oriAddr"] = {"addrType": "AS", "addr": "as-1"}  # a UE cannot send as an AS
        assert (await a.request(d))[0] == "4.03"
        code, _ = await a.request({"msgType": "IMDN", "oriAddr": b.addr(), "destAddr": a.addr(),
                                   "msgId": wire.new_msg_id(), "delivSt": "REPT_DELY_SUCCESS"})
        assert code == "4.03"
        code, _ = await a.request({"msgType": "TOPICSUB", "oriAddr": b.addr(),
                                   "msgId": wire.new_msg_id(), "topics": ["t"]})
        assert code == "4.03"
        assert await b.quiet(0.2)
        assert srv.stats()["delivered"] == 0
    run(t)


# ---- store and forward --------------------------------------------------------------------------

def test_store_and_forward_delivers_on_registration_and_expires():
    async def t(srv, ue):
        a = await ue("ue-a")
        code, body, mid = await a.send("ue-c", b"x")
        assert code == "4.04" and body["status"] == "DELY_FAILED" and body["msgId"] == mid
        code, body, mid1 = await a.send("ue-c", b"kept for you", sto_fw=True, report=True)
        assert code == "2.04" and body["msgType"] == "MSGRESP"
        assert body["status"] == "DELY_STORED" and body["msgId"] == mid1
        code, body, mid2 = await a.send("ue-c", b"short-lived", sto_fw=True,
                                        expr=rfc3339(time.time() + 0.5))
        assert code == "2.04" and body["status"] == "DELY_STORED"
        assert srv.stats()["stored_now"] == 2
        exp = await a.wait("MSGRESP", timeout=3)  # PC-25 (b): separate downlink
        assert exp["msgId"] == mid2 and exp["status"] == "DELY_FAILED"
        assert exp["failureCause"] == "STORE_EXPIRED"
        c = await ue("ue-c")  # registration triggers delivery
        m = await c.wait("MSG")
        assert m["msgId"] == mid1 and payload_of(m) == b"kept for you" and m["delivStReqInd"]
        assert await c.quiet(0.3)  # the expired one is never delivered
        await c.imdn("ue-a", mid1)
        assert (await a.wait("IMDN"))["msgId"] == mid1
        st = srv.stats()
        assert st["stored"] == 2 and st["expired"] == 1 and st["stored_now"] == 0
        # A2P store-and-forward: expiry is reported to the AS
        res = await srv.as_send("as-1", "ue-d", b"for d", store_fwd=True, expire=0.3)
        assert res["status"] == "STORED"
        for _ in range(60):
            reps = srv.as_reports("as-1")
            if reps:
                break
            await asyncio.sleep(0.05)
        assert reps and reps[0]["kind"] == "MSGRESP" and reps[0]["status"] == "DELY_FAILED"
        assert reps[0]["msgId"] == res["msgId"]
    run(t, tick=0.1)


def test_unreachable_registered_ue_stores_then_delivers():
    async def t(srv, ue):
        a = await ue("ue-a")
        cport = free_port()
        c = await ue("ue-c", port=cport)
        await c.close()  # registered but gone: downlinks fail (ICMP / timeout)
        code, body, mid = await a.send("ue-c", b"are you there", sto_fw=True)
        assert code == "2.04"  # accepted; the outcome comes later (PC-25 b)
        r = await a.wait("MSGRESP", timeout=5)
        assert r["msgId"] == mid and r["status"] == "DELY_STORED"
        code, body, mid2 = await a.send("ue-c", b"no store")
        r = await a.wait("MSGRESP", timeout=5)
        assert r["msgId"] == mid2 and r["status"] == "DELY_FAILED"
        # known unreachable: the next stored message is answered DELY_STORED at once
        code, body, mid3 = await a.send("ue-c", b"second", sto_fw=True)
        assert code == "2.04" and body["status"] == "DELY_STORED"
        c2 = await ue("ue-c", reg=False, port=cport)
        assert (await c2.reg())[0] == "2.04"
        got = await c2.wait_all(2, "MSG")
        assert [g["msgId"] for g in got] == [mid, mid3]
        assert srv.stats()["stored_now"] == 0
    run(t, ack_timeout=0.2, max_retransmit=1)


def test_stored_messages_are_tried_again_without_an_uplink():
    # A UE that lost one downlink is marked unreachable and what follows is stored; a UE that
    # never sends (it only listens) still gets them: the server tries again every store_retry.
    async def t(srv, ue):
        a = await ue("ue-a")
        cport = free_port()
        c = await ue("ue-c", port=cport)
        await c.close()  # gone for a moment: the downlink fails, the UE is unreachable
        code, body, mid = await a.send("ue-c", b"first", sto_fw=True)
        assert (await a.wait("MSGRESP", timeout=5))["status"] == "DELY_STORED"
        code, body, mid2 = await a.send("ue-c", b"second", sto_fw=True)
        assert body["status"] == "DELY_STORED"
        c2 = await ue("ue-c", reg=False, port=cport)   # back, listening, sends nothing
        t0 = time.time()
        got = await c2.wait_all(2, "MSG", timeout=5)
        assert [g["msgId"] for g in got] == [mid, mid2] and time.time() - t0 < 3
        for _ in range(50):     # the UE's ACK of the last one is on its way to the server
            if srv.counters["forwarded_stored"] == 2:
                break
            await asyncio.sleep(0.02)
        assert srv.stats()["stored_now"] == 0 and srv.counters["forwarded_stored"] == 2
        assert srv.regs["ue-c"].reachable
    run(t, ack_timeout=0.2, max_retransmit=1, store_retry=1.0)


def test_refusing_recipient_gets_dely_failed_to_sender():
    async def t(srv, ue):
        a = await ue("ue-a")
        b = await ue("ue-b")
        b.response_code = "4.00"  # recipient refuses (e.g. malformed for it)
        code, _, mid = await a.send("ue-b", b"x", sto_fw=True)
        assert code == "2.04"
        r = await a.wait("MSGRESP")
        assert r["msgId"] == mid and r["status"] == "DELY_FAILED" and "4.00" in r["failureCause"]
        assert srv.stats()["stored_now"] == 0
    run(t)


def test_busy_recipient_is_retried_after_max_age():
    # 5.03 from a UE (out of heap, reassembly slots full) means "later", not "gone".
    async def t(srv, ue):
        a = await ue("ue-a")
        b = await ue("ue-b")
        b.busy = 2
        t0 = time.time()
        code, _, mid = await a.send("ue-b", b"later", report=True)
        assert code == "2.04"
        got = await b.wait("MSG", timeout=5)
        assert payload_of(got) == b"later" and time.time() - t0 >= 2.0   # Max-Age 1 s, twice
        assert srv.counters["downlink_busy_retries"] == 2 and srv.regs["ue-b"].reachable
    run(t)


def test_recipient_busy_beyond_the_retries_fails_as_before():
    async def t(srv, ue):
        a = await ue("ue-a")
        b = await ue("ue-b")
        b.busy = 5
        code, _, mid = await a.send("ue-b", b"x")
        r = await a.wait("MSGRESP", timeout=6)
        assert r["msgId"] == mid and r["status"] == "DELY_FAILED" and "5.03" in r["failureCause"]
        assert srv.counters["downlink_busy_retries"] == 3 and b.received == []
    run(t)


# ---- segmentation ---------------------------------------------------------------------------------

def test_segments_that_fit_are_forwarded_as_is():
    async def t(srv, ue):
        a = await ue("ue-a")
        b = await ue("ue-b", max_seg=512)
        data = bytes(range(256)) + b"tail"
        sid, segs = a.segments("ue-b", data, 100, report=True)
        for s in segs:
            assert (await a.request(s))[0] == "2.04"
        got = await b.wait_all(3, "MSG")
        assert [g["msgId"] for g in got] == [s["msgId"] for s in segs]
        assert [g["segParams"] for g in got] == [s["segParams"] for s in segs]
        assert got[0]["delivStReqInd"] and "delivStReqInd" not in got[1]
        assert b"".join(payload_of(g) for g in got) == data
        # SEGCONFIR / SEGREC of the recipient travel end to end
        confirm = {"msgType": "SEGCONFIR", "oriAddr": b.addr(), "destAddr": a.addr(),
                   "msgId": wire.new_msg_id(), "segId": sid, "result": "SUCCESS"}
        assert (await b.request(confirm))[0] == "2.04"
        assert (await a.wait("SEGCONFIR"))["segId"] == sid
        rec = {"msgType": "SEGREC", "oriAddr": b.addr(), "destAddr": a.addr(),
               "msgId": wire.new_msg_id(), "segId": sid, "missingSegs": [2]}
        assert (await b.request(rec))[0] == "2.04"
        assert (await a.wait("SEGREC"))["missingSegs"] == [2]
        await b.imdn("ue-a", sid)  # reports for a segmented message carry segId (PC-31)
        assert (await a.wait("IMDN"))["msgId"] == sid
        st = srv.stats()
        assert st["segments_in"] == 3 and st["segments_out"] == 3
    run(t)


def test_resegmentation_for_smaller_recipient_and_segrec_served_by_server():
    async def t(srv, ue):
        a = await ue("ue-a")
        b = await ue("ue-b", max_seg=40)
        data = os.urandom(250)
        sid, segs = a.segments("ue-b", data, 100, report=True, app_id=3)
        for s in segs:
            assert (await a.request(s))[0] == "2.04"
        got = await b.wait_all(7, "MSG")
        assert all(g["segParams"]["segId"] == sid for g in got)  # segId kept
        assert [g["segParams"]["segNumb"] for g in got] == list(range(1, 8))
        assert got[0]["segParams"]["totalSegCount"] == 7 and got[-1]["segParams"]["lastSegFlag"]
        assert all(len(payload_of(g)) <= 40 for g in got)
        assert b"".join(payload_of(g) for g in got) == data
        assert got[0]["delivStReqInd"] and got[0]["appId"] == "3"
        # the server produced these segments, so it answers the recipient's SEGREC itself
        rec = {"msgType": "SEGREC", "oriAddr": b.addr(), "destAddr": a.addr(),
               "msgId": wire.new_msg_id(), "segId": sid, "missingSegs": [3]}
        assert (await b.request(rec))[0] == "2.04"
        again = await b.wait("MSG")
        assert again["msgId"] == got[2]["msgId"] and again["segParams"]["segNumb"] == 3
        assert await a.quiet(0.2, "SEGREC")
        confirm = {"msgType": "SEGCONFIR", "oriAddr": b.addr(), "destAddr": a.addr(),
                   "msgId": wire.new_msg_id(), "segId": sid, "result": "SUCCESS"}
        assert (await b.request(confirm))[0] == "2.04"
        assert (await a.wait("SEGCONFIR"))["segId"] == sid
        assert srv.stats()["reassembled"] == 1
    run(t)


def test_unsegmented_p2p_is_segmented_for_small_recipient():
    async def t(srv, ue):
        a = await ue("ue-a")
        b = await ue("ue-b", max_seg=64)
        data = os.urandom(200)
        code, _, mid = await a.send("ue-b", data)
        assert code == "2.04"
        got = await b.wait_all(4, "MSG")
        assert all(g["segParams"]["segId"] == mid for g in got)
        assert b"".join(payload_of(g) for g in got) == data
    run(t)


def test_a2p_segmentation_segrec_and_segconfir_to_as():
    async def t(srv, ue):
        b = await ue("ue-b", max_seg=100)
        data = os.urandom(300)
        res = await srv.as_send("as-1", "ue-b", data, report=True)
        assert res["status"] == "DELIVERED"
        got = await b.wait_all(3, "MSG")
        assert all(g["segParams"]["segId"] == res["msgId"] for g in got)
        assert b"".join(payload_of(g) for g in got) == data
        rec = {"msgType": "SEGREC", "oriAddr": b.addr(), "destAddr": {"addrType": "AS", "addr": "as-1"},
               "msgId": wire.new_msg_id(), "segId": res["msgId"], "fromSeg": 2}
        assert (await b.request(rec))[0] == "2.04"
        again = await b.wait_all(2, "MSG")
        assert [g["segParams"]["segNumb"] for g in again] == [2, 3]
        confirm = {"msgType": "SEGCONFIR", "oriAddr": b.addr(),
                   "destAddr": {"addrType": "AS", "addr": "as-1"},
                   "msgId": wire.new_msg_id(), "segId": res["msgId"], "result": "SUCCESS"}
        assert (await b.request(confirm))[0] == "2.04"
        await b.imdn("as-1", res["msgId"], to_type="AS")
        kinds = [(r["kind"], r.get("segId") or r.get("msgId")) for r in srv.as_reports("as-1")]
        assert kinds == [("SEGCONFIR", res["msgId"]), ("IMDN", res["msgId"])]
        # after SEGCONFIR the server no longer holds the segments
        assert (await b.request(rec))[0] == "4.04"
    run(t)


def test_p2a_reassembly_segconfir_and_report():
    async def t(srv, ue):
        a = await ue("ue-a")
        data = os.urandom(700)
        sid, segs = a.segments("as-7", data, 256, to_type="AS", report=True)
        for s in segs:
            assert (await a.request(s))[0] == "2.04"
        inbox = srv.as_inbox("as-7")
        assert len(inbox) == 1 and inbox[0]["payload"] == data and inbox[0]["segmented"]
        assert inbox[0]["msgId"] == sid
        conf = await a.wait("SEGCONFIR")
        assert conf["segId"] == sid and conf["result"] == "SUCCESS"
        assert conf["oriAddr"] == {"addrType": "AS", "addr": "as-7"}
        assert (await a.wait("IMDN"))["msgId"] == sid
    run(t)


def test_reassembly_timeout_sends_segrec_then_failure():
    async def t(srv, ue):
        a = await ue("ue-a")
        sid, segs = a.segments("as-7", b"A" * 30, 10, to_type="AS")
        await a.request(segs[0])
        await a.request(segs[2])
        rec = await a.wait("SEGREC", timeout=2)
        assert rec["segId"] == sid and rec["missingSegs"] == [2]
        await a.request(segs[1])
        conf = await a.wait("SEGCONFIR")
        assert conf["result"] == "SUCCESS" and srv.as_inbox("as-7")[0]["payload"] == b"A" * 30
        # never completed: two SEGREC rounds (PC-32), then SEGCONFIR FAILURE + failed IMDN
        sid2, segs2 = a.segments("as-7", b"B" * 20, 10, to_type="AS", report=True)
        await a.request(segs2[0])
        r1 = await a.wait("SEGREC", timeout=2)
        r2 = await a.wait("SEGREC", timeout=2)
        assert r1["segId"] == r2["segId"] == sid2 and r1["missingSegs"] == [2]
        assert "fromSeg" not in r1  # segment 1 announced totalSegCount
        fail = await a.wait("SEGCONFIR", timeout=2)
        assert fail["segId"] == sid2 and fail["result"] == "FAILURE"
        imdn = await a.wait("IMDN")
        assert imdn["delivSt"] == "REPT_DELY_FAILED" and imdn["failureCause"] == "SEGMENTS_MISSING"
        assert len(srv.as_inbox("as-7")) == 1
    run(t, reasm_timeout=0.3, tick=0.05)


def test_segmented_store_and_forward_reassembled_for_later_delivery():
    async def t(srv, ue):
        a = await ue("ue-a")
        data = os.urandom(150)
        sid, segs = a.segments("ue-c", data, 60, sto_fw=True)
        for s in segs:
            code, body = await a.request(s)
            assert code == "2.04" and body["status"] == "DELY_STORED"
        c = await ue("ue-c", max_seg=512)
        m = await c.wait("MSG")
        assert m["msgId"] == sid and payload_of(m) == data and "segInd" not in m
    run(t)


# ---- aggregation (PC-29) ---------------------------------------------------------------------------

def test_aggregated_message_and_report():
    async def t(srv, ue):
        a = await ue("ue-a")
        b = await ue("ue-b")
        small = await ue("ue-small", max_seg=8)
        items = [{"msgId": wire.new_msg_id(), "payload": wire.b64encode(b"item%d" % i),
                  "delivStReqInd": i > 0} for i in range(3)]
        agg = {"msgType": "MSG", "oriAddr": a.addr(), "destAddr": {"addrType": "UE", "addr": "ue-b"},
               "msgId": wire.new_msg_id(), "aggrInd": True, "msgs": items, "stoAndFwInd": False}
        assert (await a.request(agg))[0] == "2.04"
        m = await b.wait("MSG")
        assert m["aggrInd"] and [i["msgId"] for i in m["msgs"]] == [i["msgId"] for i in items]
        # aggregated report back (PC-29)
        rep = {"msgType": "IMDN", "oriAddr": b.addr(), "destAddr": a.addr(), "msgId": wire.new_msg_id(),
               "aggrInd": True, "reports": [{"msgId": items[1]["msgId"], "delivSt": "REPT_DELY_SUCCESS"},
                                            {"msgId": items[2]["msgId"], "delivSt": "REPT_DELY_SUCCESS"}]}
        assert (await b.request(rep))[0] == "2.04"
        r = await a.wait("IMDN")
        assert r["aggrInd"] and len(r["reports"]) == 2
        # too big for the recipient's segment size: delivered item by item
        agg2 = dict(agg, destAddr={"addrType": "UE", "addr": "ue-small"}, msgId=wire.new_msg_id())
        assert (await a.request(agg2))[0] == "2.04"
        got = await small.wait_all(3, "MSG")
        assert [g["msgId"] for g in got] == [i["msgId"] for i in items]
        # to an AS: 3 inbox entries, one aggregated IMDN on the AS's behalf
        agg3 = dict(agg, destAddr={"addrType": "AS", "addr": "as-1"}, msgId=wire.new_msg_id())
        assert (await a.request(agg3))[0] == "2.04"
        assert [e["payload"] for e in srv.as_inbox("as-1")] == [b"item0", b"item1", b"item2"]
        r = await a.wait("IMDN")
        assert r["aggrInd"] and sorted(x["msgId"] for x in r["reports"]) == \
            sorted([items[1]["msgId"], items[2]["msgId"]])
    run(t)


# ---- raw CoAP: §13.3 bytes, duplicates, retransmissions ------------------------------------------------

def _coap_reg_datagram(mid, token, body):
    host = b"msgin5g.example.net"
    return (bytes([0x44, 0x02, mid >> 8, mid & 0xFF]) + token
            + bytes([0x3D, len(host) - 13]) + host + b"\x87msgin5g" + b"\x11\x32" + b"\xff" + body)


def test_raw_reg_datagram_duplicate_and_downlink_retransmission():
    async def t(srv, ue):
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", free_port()))
        sock.setblocking(False)
        try:
            body = b'{"msgType":"REG","ueServiceId":"ue-raw","clientProfile":{"maxSegSize":512}}'
            dgram = _coap_reg_datagram(0x1A2B, b"\x01\x02\x03\x04", body)
            for _ in range(2):  # the second copy is a CoAP duplicate (same MID)
                await loop.sock_sendto(sock, dgram, ("127.0.0.1", srv.port))
                resp = await asyncio.wait_for(loop.sock_recv(sock, 2048), 3)
                assert resp[0] == 0x64 and resp[1] == 0x41  # ACK, TKL 4, 2.01 Created
                assert resp[2:4] == b"\x1a\x2b" and resp[4:8] == b"\x01\x02\x03\x04"
            assert srv.counters["rx_REG"] == 1 and srv.stats()["duplicates"] == 1
            # downlink: ignore the first transmission, ACK the retransmission
            a = await ue("ue-a")
            code, _, mid = await a.send("ue-raw", b"raw")
            first = await asyncio.wait_for(loop.sock_recv(sock, 2048), 3)
            second = await asyncio.wait_for(loop.sock_recv(sock, 2048), 3)
            assert first == second and first[0] >> 4 == 0x4  # CON, same datagram again
            tkl = first[0] & 0x0F
            assert first[1] == 0x02 and b"ue-raw" in first and mid.encode() in first
            ack = bytes([0x60 | tkl, 0x44]) + first[2:4] + first[4:4 + tkl]  # ACK 2.04
            await loop.sock_sendto(sock, ack, ("127.0.0.1", srv.port))
            for _ in range(50):
                if srv.stats()["delivered"] == 1:
                    break
                await asyncio.sleep(0.02)
            st = srv.stats()
            assert st["delivered"] == 1 and st["retransmissions"] >= 1
        finally:
            sock.close()
    run(t, ack_timeout=0.2)


def test_long_identifiers_still_fit_1152_octets():
    async def t(srv, ue):
        long_a = "a" * 250 + "@x"
        long_b = "b" * 250 + "@x"
        a = await ue(long_a)
        b = await ue(long_b, max_seg=512)
        data = os.urandom(500)  # fits b's 512 octets, but not one CoAP message with these ids
        res = await srv.as_send("as-" + "c" * 240, long_b, data)
        assert res["status"] == "DELIVERED"
        first = await b.wait("MSG")
        n = first["segParams"]["totalSegCount"]
        got = [first] + await b.wait_all(n - 1, "MSG")
        assert b"".join(payload_of(g) for g in got) == data
        assert max(b.raw_sizes) + 4 + 8 + 8 + 3 + 3 + len(long_b) + 2 + 1 <= 1152
        assert a is not None
    run(t)
