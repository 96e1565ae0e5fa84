# board-heapsize: 354k   (unix32, library frozen; measured minimum 282k)
"""Annex A.2 binary coding (PC-37): byte-exact vectors for every message type, round trips and
every decode/encode error. Expected bytes are written by hand from the PC-37 tables."""
from binascii import unhexlify

from msgin5g.constrained import a2
from tinytest import raises

MID = bytes(range(16))  # 000102..0f
RID = bytes(range(16, 32))  # 101112..1f
MIDH = "000102030405060708090a0b0c0d0e0f"
RIDH = "101112131415161718191a1b1c1d1e1f"


def h(*chunks):
    return unhexlify("".join(chunks).replace(" ", ""))


# (message dict, [mandatory part hex, optional IE hex, ...]) - one entry per wire form.
VECTORS = [
    # 0x01 REGISTRATION REQUEST: type, Application ID (V 2) = 17
    ({"type": 1, "app_id": 17}, ["01 0011"]),
    ({"type": 1, "app_id": 0}, ["01 0000"]),
    # 0x02 REGISTRATION RESPONSE accepted: Result 00, then Registration ID TV (0x0C + 4 octets)
    ({"type": 2, "result": 0, "reg_id": 0x01020304}, ["02 00", "0c 01020304"]),
    # rejected: Result 01, then Failure Reason TLV (0x0B, length 1, cause 02 not authorized)
    ({"type": 2, "result": 1, "cause": 2}, ["02 01", "0b 01 02"]),
    # 0x03 DE-REGISTRATION REQUEST: Registration ID (V 4)
    ({"type": 3, "reg_id": 0xFFFFFFFF}, ["03 ffffffff"]),
    # 0x04 DE-REGISTRATION RESPONSE accepted / rejected (cause 05 unknown Registration ID)
    ({"type": 4, "result": 0, "reg_id": 1}, ["04 00", "0c 00000001"]),
    ({"type": 4, "result": 1, "cause": 5}, ["04 01", "0b 01 05"]),
    # 0x05 MESSAGE SENDING REQUEST: Target address LV ("ue-12345", 8 octets), Message ID V 16,
    # Payload LV-E (2-octet length 0002, "hi"); then 0x0A Application ID 0x0011, B- 1 (report
    # required), D- 010 (AS) - table A.2.1.1-1 order
    ({"type": 5, "target": "ue-12345", "msg_id": MID, "payload": b"hi", "app_id": 17,
      "report": True, "target_type": 2},
     ["05 08 75652d3132333435" + MIDH + "0002 6869", "0a 0011", "b1", "d2"]),
    ({"type": 5, "target": "group", "msg_id": MID, "payload": b"\x00"},
     ["05 05 67726f7570" + MIDH + "0001 00"]),
    ({"type": 5, "target": "ue-12", "msg_id": MID, "payload": b"x", "report": False,
      "target_type": 3}, ["05 05 75652d3132" + MIDH + "0001 78", "b0", "d3"]),
    # 0x06 DELIVERY REPORT SENDING REQUEST: Message ID, Reply-to Message ID, Delivery Status 00
    ({"type": 6, "msg_id": MID, "reply_to": RID, "status": 0}, ["06" + MIDH + RIDH + "00"]),
    # failed (01) with Failure Reason 07 recipient unreachable
    ({"type": 6, "msg_id": MID, "reply_to": RID, "status": 1, "cause": 7},
     ["06" + MIDH + RIDH + "01", "0b 01 07"]),
    # 0x07 MESSAGE RECEIVED RESPONSE: Message ID (PC-37), Result 00 / 01 + cause 06 too large
    ({"type": 7, "msg_id": MID, "result": 0}, ["07" + MIDH + "00"]),
    ({"type": 7, "msg_id": MID, "result": 1, "cause": 6}, ["07" + MIDH + "01", "0b 01 06"]),
    ({"type": 7, "msg_id": MID, "result": 1}, ["07" + MIDH + "01"]),
    # 0x08 MESSAGE DELIVERY REQUEST (PC-19): originator "as-server" LV, Message ID, Payload;
    # 0x0A ffff, B- 0, D- 001 (UE)
    ({"type": 8, "target": "as-server", "msg_id": RID, "payload": b"\x00\xff", "app_id": 0xFFFF,
      "report": False, "target_type": 1},
     ["08 09 61732d736572766572" + RIDH + "0002 00ff", "0a ffff", "b0", "d1"]),
    ({"type": 8, "target": "ue-99", "msg_id": RID, "payload": b"ab"},
     ["08 05 75652d3939" + RIDH + "0002 6162"]),
    # 0x09 DELIVERY REPORT DELIVERY REQUEST (PC-19): delivered / failed + cause 08
    ({"type": 9, "msg_id": RID, "reply_to": MID, "status": 0}, ["09" + RIDH + MIDH + "00"]),
    ({"type": 9, "msg_id": RID, "reply_to": MID, "status": 1, "cause": 8},
     ["09" + RIDH + MIDH + "01", "0b 01 08"]),
]


def test_constants():
    assert (a2.REG_REQ, a2.REG_RESP, a2.DEREG_REQ, a2.DEREG_RESP) == (1, 2, 3, 4)
    assert a2.MSG_SEND_REQ == 5
    assert (a2.RPT_SEND_REQ, a2.MSG_RECV_RESP, a2.MSG_DELIV_REQ, a2.RPT_DELIV_REQ) == (6, 7, 8, 9)
    assert (a2.TT_UE, a2.TT_AS, a2.TT_GROUP) == (1, 2, 3)
    assert a2.CAUSE_UNSPECIFIED == 1 and a2.CAUSE_PROTOCOL_ERROR == 9
    assert a2.CAUSE_TOO_LARGE == 6 and a2.CAUSE_GW_NOT_REGISTERED == 8
    assert len(a2.CAUSE_TEXT) == 10
    assert a2.CAUSE_TEXT[a2.CAUSE_UNSPECIFIED] == "UNSPECIFIED"
    assert a2.CAUSE_TEXT[a2.CAUSE_UNKNOWN_REG_ID] == "UNKNOWN_REGISTRATION_ID"
    assert a2.CAUSE_TEXT[a2.CAUSE_PROTOCOL_ERROR] == "PROTOCOL_ERROR"


def test_every_type_has_a_vector():
    assert sorted(set(m["type"] for m, _ in VECTORS)) == list(range(1, 10))


def test_encode_vectors():
    for m, chunks in VECTORS:
        assert a2.encode(m) == h(*chunks), m


def test_decode_vectors():
    for m, chunks in VECTORS:
        d = a2.decode(h(*chunks))
        assert d == m, (d, m)
        assert a2.encode(d) == h(*chunks)


def test_decode_other_buffers():
    m, chunks = VECTORS[7]
    raw = h(*chunks)
    assert a2.decode(bytearray(raw)) == m
    assert a2.decode(memoryview(raw)) == m
    d = a2.decode(memoryview(b"\xee" + raw)[1:])
    assert d == m and type(d["msg_id"]) is bytes and type(d["payload"]) is bytes


def test_encode_none_is_absent():
    m = {"type": 5, "target": "ue-12345", "msg_id": MID, "payload": b"hi", "app_id": None,
         "report": None, "target_type": None, "cause": 3, "reg_id": 9}  # not allowed in 0x05
    assert a2.encode(m) == h("05 08 75652d3132333435" + MIDH + "0002 6869")


def test_truncated_at_every_length():
    for m, chunks in VECTORS:
        raw = h(*chunks)
        ok = set()
        n = len(h(chunks[0]))
        for c in chunks[1:]:
            ok.add(n)
            n += len(h(c))
        for cut in range(len(raw)):
            if cut in ok:  # ends on an IE boundary: a shorter valid message (or lacks reg_id)
                if m["type"] in (2, 4) and m["result"] == 0:
                    assert raises(a2.A2Error, a2.decode, raw[:cut]).reason == "conditional IE"
                else:
                    assert a2.decode(raw[:cut])["type"] == m["type"]
                continue
            e = raises(a2.A2Error, a2.decode, raw[:cut])
            assert e.reason == "truncated", (m, cut, e.reason)


def test_unknown_type():
    for t in (0x00, 0x0A, 0x10, 0x7F, 0x80, 0xFF):
        assert raises(a2.A2Error, a2.decode, bytes((t, 0, 0, 0, 0))).reason == "unknown type"
        assert raises(a2.A2Error, a2.decode, bytes((t,))).reason == "unknown type"
    assert raises(a2.A2Error, a2.decode, b"").reason == "truncated"


def test_a2error_is_valueerror():
    e = raises(ValueError, a2.decode, b"\x00")
    assert isinstance(e, a2.A2Error) and e.args == ("unknown type",)


def test_bad_lengths():
    # Target address shorter than 5 octets (PC-37: LV 6-n)
    for n in (0, 1, 4):
        raw = h("05", "%02x" % n, "61" * n, MIDH, "0001 00")
        assert raises(a2.A2Error, a2.decode, raw).reason == "bad length"
    # Payload of length 0 (LV-E 3-65537 implies at least 1 octet)
    raw = h("05 05 75652d3132", MIDH, "0000")
    assert raises(a2.A2Error, a2.decode, raw).reason == "bad length"
    # Failure Reason with an empty value
    raw = h("07", MIDH, "01 0b 00")
    assert raises(a2.A2Error, a2.decode, raw).reason == "bad length"
    # Payload length beyond the data
    raw = h("05 05 75652d3132", MIDH, "0003 6869")
    assert raises(a2.A2Error, a2.decode, raw).reason == "truncated"


def test_failure_reason_longer_value_ignores_extra_octets():
    raw = h("07", MIDH, "01 0b 03 04 ee ee")
    assert a2.decode(raw) == {"type": 7, "msg_id": MID, "result": 1, "cause": 4}


def test_bad_values():
    cases = [
        h("02 02"),  # Registration Result 2
        h("04 ff"),
        h("07", MIDH, "02"),  # Result 2
        h("06", MIDH, RIDH, "02"),  # Delivery Status 2
        h("09", MIDH, RIDH, "ff"),
        h("03 00000000"),  # Registration ID 0 (PC-06)
        h("02 00 0c 00000000"),
        h("05 05 75ff2d3132", MIDH, "0001 00"),  # target not UTF-8
    ]
    for raw in cases:
        assert raises(a2.A2Error, a2.decode, raw).reason == "bad value", raw


def test_accepted_response_needs_reg_id():
    for t in ("02", "04"):
        assert raises(a2.A2Error, a2.decode, h(t, "00")).reason == "conditional IE"
        assert raises(a2.A2Error, a2.decode, h(t, "00 0b 01 01")).reason == "conditional IE"
        # a rejected response without a cause is still understood
        assert a2.decode(h(t, "01")) == {"type": int(t), "result": 1}


def test_unknown_optional_ies_are_skipped():
    base = "07" + MIDH + "01"
    want = {"type": 7, "msg_id": MID, "result": 1, "cause": 9}
    for extra in ("20 02 aabb",  # unknown TLV (bit 8 = 0)
                  "7f 00",  # unknown empty TLV
                  "90", "f5", "c1",  # unknown type-1 half-octet IEs (bit 8 = 1)
                  "a5",  # type 2 (one octet)
                  "0a 1234",  # Application ID: known TV, not part of 0x07
                  "0c 00000001",  # Registration ID: known TV, not part of 0x07
                  "b1", "d2"):  # half-octet IEs not part of 0x07
        assert a2.decode(h(base, extra, "0b 01 09")) == want, extra
        assert a2.decode(h(base, "0b 01 09", extra)) == want, extra
    # Failure Reason is not part of 0x05: skipped as a TLV
    m, chunks = VECTORS[8]
    assert a2.decode(h(chunks[0], "0b 01 03")) == m


def test_unknown_tlv_beyond_data_is_truncated():
    base = "07" + MIDH + "00"
    for extra in ("20", "20 05 aabb", "0a 12", "0c 000000"):
        assert raises(a2.A2Error, a2.decode, h(base, extra)).reason == "truncated", extra


def test_optional_ies_in_any_order():
    m, chunks = VECTORS[7]
    for order in ((3, 2, 1), (2, 1, 3), (1, 3, 2), (3, 1, 2)):
        raw = h(chunks[0], *[chunks[i] for i in order])
        assert a2.decode(raw) == m
    raw = h("02 00", "0c 01020304")
    assert a2.decode(raw) == VECTORS[2][0]


def test_repeated_optional_ie_first_wins():
    m, chunks = VECTORS[7]
    raw = h(*chunks) + h("0a 0099 b0 d3")
    assert a2.decode(raw) == m


def test_half_octet_values():
    base = "05 05 75652d3132" + MIDH + "0001 00"
    # Target Type: bits 1-3; reserved 000 / 1xx read as UE (PC-37); bit 4 spare
    for ie, tt in (("d1", 1), ("d2", 2), ("d3", 3), ("d0", 1), ("d4", 1), ("d7", 1), ("da", 2)):
        assert a2.decode(h(base, ie))["target_type"] == tt, ie
    # Delivery status required: bit 1 only
    for ie, rep in (("b1", True), ("b0", False), ("bf", True), ("be", False)):
        assert a2.decode(h(base, ie))["report"] is rep, ie


def test_limits_round_trip():
    big = bytes(range(256)) * 255 + bytes(range(255))  # 65535 octets
    m = {"type": 5, "target": "t" * 255, "msg_id": MID, "payload": big}
    raw = a2.encode(m)
    assert raw[:2] == b"\x05\xff" and raw[257 + 16:257 + 18] == b"\xff\xff"
    assert len(raw) == 1 + 256 + 16 + 2 + 65535
    assert a2.decode(raw) == m
    m = {"type": 8, "target": "ué-1234", "msg_id": RID, "payload": b"\x01"}
    raw = a2.encode(m)
    assert raw[1] == 8  # UTF-8 octets, not characters
    assert a2.decode(raw) == m


def _enc_err(m):
    return raises(a2.A2Error, a2.encode, m).reason


def test_encode_range_errors():
    msr = {"type": 5, "target": "ue-12", "msg_id": MID, "payload": b"x"}
    for k, v in (("target", "ue-1"), ("target", "x" * 256), ("msg_id", MID[:15]),
                 ("msg_id", MID + b"\x00"), ("payload", b""), ("payload", bytes(65536)),
                 ("app_id", -1), ("app_id", 65536), ("app_id", "17"), ("target_type", 0),
                 ("target_type", 4)):
        m = dict(msr)
        m[k] = v
        assert _enc_err(m) == "bad value", (k, v)
    assert _enc_err({"type": 1, "app_id": 70000}) == "bad value"
    assert _enc_err({"type": 1, "app_id": True}) == "bad value"
    assert _enc_err({"type": 3, "reg_id": 0}) == "bad value"
    assert _enc_err({"type": 3, "reg_id": 1 << 32}) == "bad value"
    assert _enc_err({"type": 7, "msg_id": MID, "result": 2}) == "bad value"
    assert _enc_err({"type": 6, "msg_id": MID, "reply_to": RID, "status": -1}) == "bad value"
    assert _enc_err({"type": 6, "msg_id": MID, "reply_to": RID, "status": 1,
                     "cause": 256}) == "bad value"
    for t in (0, 10, 255, -1, "5", None, True):
        assert _enc_err({"type": t}) == "unknown type", t


def test_encode_conditional_ies():
    for t in (2, 4):
        assert _enc_err({"type": t, "result": 0}) == "conditional IE"
        assert _enc_err({"type": t, "result": 0, "reg_id": 5, "cause": 1}) == "conditional IE"
        assert _enc_err({"type": t, "result": 1}) == "conditional IE"
        assert _enc_err({"type": t, "result": 1, "reg_id": 5, "cause": 1}) == "conditional IE"
    assert _enc_err({"type": 7, "msg_id": MID, "result": 0, "cause": 1}) == "conditional IE"


def test_encode_missing_mandatory_key():
    raises(KeyError, a2.encode, {"type": 5, "target": "ue-12", "msg_id": MID})
    raises(KeyError, a2.encode, {"type": 1})
