"""m5server: reference MSGin5G Server for simulation and tests (CPython + aiocoap 0.4.17).

Contract: /work/shared/spec/PROTOCOL.md (MSGin5G-1 profile, PC-nn project choices). Host-only
code: never imported by lib/ or firmware.

Run it
------
    make server                                  # 127.0.0.1:5683, groups from tools/server/groups.json
    PYTHONPATH=tools/server .venv/bin/python -m m5server --port 5683 [--groups F] [--devices F]
        [--forbidden ID ...] [--store-ttl S] [--reasm-timeout S] [--seg-size N] [--quiet] ...
    tools/m5as send as-1 ue-0001 "hello"          # application-server CLI (see ascli.py)

CoAP resources (all on the one UDP socket, PC-08)
-------------------------------------------------
    POST /msgin5g (any Uri-Host, Content-Format 50) msgType REG / DEREG / MSG / IMDN / SEGREC /
         SEGCONFIR / TOPICSUB / TOPICUNSUB. Codes: REG 2.01 new, 2.04 refresh, 4.03 forbidden;
         DEREG 2.04, 4.04 not registered; MSG 2.04 (+ MSGRESP DELY_STORED when stored),
         4.04 + MSGRESP DELY_FAILED unknown recipient/group, 4.03 sender not registered or
         oriAddr is not the UE registered from the request's source address; TOPICSUB 2.01/2.04;
         TOPICUNSUB 2.04/4.04; unknown msgType, bad JSON, missing/invalid member 4.00; wrong or
         missing Content-Format 4.15; body > 1152 octets 4.13 (Size1); method other than POST 4.05.
    Downlink: CON POST /msgin5g/ue/<UE Service ID>, Content-Format 50, to the address the UE
         registered from; 2.xx = delivered; 5.03 = busy: sent again after its Max-Age
         (default 60 s, capped at busy_wait_cap) up to busy_retries times; 4.04 / other 5.xx /
         5.03 beyond the retries / timeout / ICMP = unreachable (stored when stoAndFwInd);
         other 4.xx = refused (MSGRESP DELY_FAILED to the sender). Stored messages go at
         the UE's next uplink or registration, and every store_retry s (30) while registered.
    GET  /su-uc/v1/val-services/msgin5g/ue-configurations?val-ue-id=<id>[&val-user-id=<id>]
         2.05 + §9.3 XML (Content-Format 41, ETag, Max-Age 3600); 4.04 unknown device (only
         with a devices file; without one every id is known and its UE Service ID is
         val-user-id or val-ue-id); 4.03 forbidden; 4.00 no val-ue-id; 4.06 Accept not 41.
    Admin API (loopback peers only unless admin_any / --admin-any), JSON (Content-Format 50):
    POST /as/<asId>/send   {"to", "toType": UE|GROUP|BC|TOPIC|AS (default UE), "appId",
                            "payload": str, "encoding": "text"|"base64", "report": bool,
                            "storeFwd": bool, "ttl": s | "exprTime": RFC 3339, "priority"}
                           -> 2.04 {"msgId","status","recipients":{id: DELIVERED|STORED|FAILED: ..}}
                              (4.04 + same shape with failureCause for unknown recipient/group)
    GET  /as/<asId>/inbox[?since=N] -> 2.05 {"asId","messages":[{seq,time,from,fromType,to,msgId,
                            appId,payload(base64),text,segmented,aggregated}],"reports":[{seq,
                            time,kind: IMDN|MSGRESP|SEGCONFIR, ...}]}
    DELETE /as/<asId>/inbox -> 2.02 (clears messages and reports)
    GET|POST /as/<asId>/topics  POST body {"subscribe":[..],"unsubscribe":[..]} -> {"topics":[..]}
    GET  /stats -> counters;  GET /ues -> {"ues": [registrations]};  GET /groups -> {"groups": {..}}

Behaviour
---------
Routing by destAddr.addrType: UE (P2P), AS (P2A: lands in the AS inbox; when delivStReqInd
the server sends IMDN REPT_DELY_SUCCESS on the AS's behalf), GROUP (members from the groups
file, sender excluded), BC (every registered UE but the sender), TOPIC (subscribers, UEs via
TOPICSUB, ASes via the admin API). IMDNs and aggregated IMDNs are forwarded to destAddr (UE
downlink, or kept in the AS's reports). Store-and-forward when stoAndFwInd: recipient not
registered -> 2.04 + MSGRESP DELY_STORED; registered but the downlink fails -> separate
MSGRESP DELY_STORED downlink; delivered on the UE's next REG or uplink; on expiry
(stoAndFwParams.exprTime, else store_ttl) MSGRESP DELY_FAILED "STORE_EXPIRED" to the sender.
Segmentation (PC-30..32): the recipient's segment size is min(REG clientProfile.maxSegSize or
default_seg_size, max_seg_size). Segments that fit are forwarded as they arrive; otherwise the
server reassembles (T_REASM = reasm_timeout, 2 SEGREC rounds) and re-segments with the same
segId; A2P messages larger than the segment size are segmented (segId = msgId); P2A segments
are reassembled, put in the inbox and confirmed with SEGCONFIR. The server answers SEGREC for
segments it produced itself; other SEGREC/SEGCONFIR go end to end. Aggregated MSG (PC-29) is
forwarded whole, or item by item when it exceeds the recipient's segment size.

Python API
----------
    from m5server import M5Server, ServerThread, CoapUE
    server = await M5Server.start(host="127.0.0.1", port=5683, groups=None, devices=None,
        forbidden=(), quiet=True, log=None, store_ttl=86400.0, reasm_timeout=60.0,
        seg_hold=None, default_seg_size=512, max_seg_size=512, max_body=1152,
        ack_timeout=None, max_retransmit=None, admin_any=False, advertise=None, tick=0.25,
        max_sets=64, busy_retries=3, busy_wait_cap=60.0)
      groups: dict or JSON path {group id: [UE Service IDs]}; devices: dict or JSON path
      {"devices": {ueId: {"ueServiceId", "segmentSize"?, "server"?}}, "forbidden": [...]};
      log: callable(line) (default print unless quiet); ack_timeout/max_retransmit tune
      downlink CoAP retransmission.
    await server.stop()
    await server.as_send(as_id, to, payload, app_id=None, report=False, to_type="UE",
                         store_fwd=False, expire=None, priority=None) -> dict (see admin send)
    server.as_inbox(as_id, since=0) -> [dict] (payload as bytes)
    server.as_reports(as_id, since=0) -> [dict]; server.as_clear(as_id)
    server.as_subscribe(as_id, topics=(), unsubscribe=()) -> [topics]
    server.stats() -> {received, delivered, stored, expired, failed, reports, downlinks,
                       downlink_failures, segments_in, segments_out, reassembled,
                       retransmissions, duplicates, registered, stored_now, codes, ...}
    server.registrations() -> [dict];  server.log_lines (last 2000 log lines)
    ServerThread(host, port, **same kwargs): context manager running the server in a
      daemon thread; .server, .run(coro), .call(fn, ...), .as_send(...), .as_inbox(...),
      .as_reports(...), .as_subscribe(...), .stats(), .registrations()
    CoapUE (m5server.ue): scripted aiocoap UE for tests and the simulation.
"""
from .server import M5Server
from .thread import ServerThread
from .ue import CoapUE

__all__ = ["M5Server", "ServerThread", "CoapUE"]
