"""Data files of the reference server and the UE configuration document (PC-13, §9.3).

groups file (JSON): {"<Group Service ID>": ["<UE Service ID>", ...], ...}
devices file (JSON):
    {"devices": {"<MSGin5G UE ID>": {"ueServiceId": "...", "segmentSize": 512,
                                      "server": "coap://host:port"}, ...},
     "forbidden": ["<MSGin5G UE ID or UE Service ID>", ...]}
  Without a devices file every val-ue-id is known (open mode): its UE Service ID is the
  val-user-id query value if given, else the val-ue-id itself.
"""
import hashlib
import json
from xml.sax.saxutils import escape

from . import wire

VAL_SERVICE_ID = "msgin5g"  # PC-13 MSGIN5G_VAL_SERVICE_ID
CONFIG_PATH = ("su-uc", "v1", "val-services")  # 24.546 C.3 apiName/apiVersion
NS_M5 = "urn:3gpp:ns:seal:MSGin5GUEConfig:1.0"  # 24.538 7.2.4


def _read_json(src, what):
    if src is None:
        return None
    if isinstance(src, (dict, list)):
        return src
    with open(src, "r", encoding="utf-8") as f:
        try:
            return json.load(f)
        except ValueError as e:
            raise ValueError("%s file %s: %s" % (what, src, e))


def load_groups(src):
    """dict or path -> {group id: [UE Service ID, ...]} (validated, PC-03)."""
    g = _read_json(src, "groups") or {}
    if not isinstance(g, dict):
        raise ValueError("groups: expected an object {group id: [UE Service IDs]}")
    out = {}
    for gid, members in g.items():
        if not isinstance(members, list):
            raise ValueError("groups: members of %r must be a list" % gid)
        try:
            wire.ident(gid, "group id")
            out[gid] = [wire.ident(m, "member of " + gid) for m in members]
        except wire.Reject as e:
            raise ValueError("groups: " + e.reason)
    return out


def load_devices(src):
    """dict or path -> (devices dict or None, forbidden set)."""
    d = _read_json(src, "devices")
    if d is None:
        return None, set()
    if not isinstance(d, dict):
        raise ValueError("devices: expected an object")
    devs = d.get("devices")
    if devs is not None:
        if not isinstance(devs, dict):
            raise ValueError("devices: 'devices' must be an object")
        for k, v in devs.items():
            if not isinstance(v, dict) or not isinstance(v.get("ueServiceId"), str):
                raise ValueError("devices: %r needs a ueServiceId" % k)
            ss = v.get("segmentSize")
            if ss is not None and not wire.is_int(ss):
                raise ValueError("devices: %r segmentSize must be an integer" % k)
    forb = d.get("forbidden", [])
    if not isinstance(forb, list) or not all(isinstance(x, str) for x in forb):
        raise ValueError("devices: 'forbidden' must be a list of strings")
    return devs, set(forb)


def parse_query(opts):
    """Uri-Query options -> dict (first value wins)."""
    q = {}
    for item in opts:
        k, _, v = item.partition("=")
        q.setdefault(k, v)
    return q


def document(server_addr, ue_service_id, seg_size):
    """Configuration XML of §9.3 (PC-36 test shape), UTF-8 bytes."""
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<seal-UE-configuration xmlns:m5="%s">' % NS_M5,
        "  <on-network>",
        "    <m5:MSGin5G-Server-address>%s</m5:MSGin5G-Server-address>" % escape(server_addr),
        "    <m5:MSGin5G-UE-Service-id>%s</m5:MSGin5G-UE-Service-id>" % escape(ue_service_id),
    ]
    if seg_size:
        lines.append("    <m5:Segment-size>%d</m5:Segment-size>" % seg_size)
    lines += ["  </on-network>", "</seal-UE-configuration>", ""]
    return "\n".join(lines).encode("utf-8")


def etag(doc):
    return hashlib.sha1(doc).digest()[:8]
