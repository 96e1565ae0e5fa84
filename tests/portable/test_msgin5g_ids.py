# heapsize: 64k
# board-heapsize: 14k   (unix32, library frozen; measured minimum 10k)
"""msgin5g.ids: Message IDs as UUIDv4 text and 16 octets (PC-05)."""
from binascii import unhexlify

from msgin5g import ids
from tinytest import raises

TEXT = "5f0c6c1e-8d0b-4c53-9d53-3c1f0b2a9e11"
RAW = unhexlify("5f0c6c1e8d0b4c539d533c1f0b2a9e11")


def test_from_bytes_known_vector():
    assert ids.from_bytes(RAW) == TEXT
    assert ids.from_bytes(bytearray(RAW)) == TEXT
    assert ids.from_bytes(bytes(16)) == "00000000-0000-0000-0000-000000000000"
    assert ids.from_bytes(b"\xff" * 16) == "ffffffff-ffff-ffff-ffff-ffffffffffff"


def test_from_bytes_wrong_length():
    for b in (b"", bytes(15), bytes(17)):
        raises(ValueError, ids.from_bytes, b)


def test_to_bytes_and_round_trip():
    assert ids.to_bytes(TEXT) == RAW
    assert ids.to_bytes(TEXT.upper()) == RAW  # either case accepted
    for _ in range(20):
        t = ids.new_msg_id()
        assert ids.from_bytes(ids.to_bytes(t)) == t


def test_to_bytes_rejects_non_uuid_text():
    bad = ["", TEXT[:-1], TEXT + "0", TEXT.replace("-", ""), TEXT.replace("-", "_"),
           "5f0c6c1e-8d0b-4c53-9d53-3c1f0b2a9e1g", "5f0c6c1e8-d0b-4c53-9d53-3c1f0b2a9e11",
           " f0c6c1e-8d0b-4c53-9d53-3c1f0b2a9e11", "5f0c6c1e-8d0b-4c53-9d53-3c1f0b2a9e\u00fc",
           None, 5, RAW, TEXT.encode()]
    for s in bad:
        raises(ValueError, ids.to_bytes, s)
        assert not ids.is_msg_id(s)


def test_is_msg_id_canonical_lowercase_only():
    assert ids.is_msg_id(TEXT)
    assert not ids.is_msg_id(TEXT.upper())
    assert ids.is_msg_id("00000000-0000-1000-8000-000000000000")  # any version


def test_new_msg_id_is_random_v4():
    seen = set()
    for _ in range(50):
        t = ids.new_msg_id()
        assert ids.is_msg_id(t) and len(t) == 36
        assert t[14] == "4" and t[19] in "89ab"  # version 4, RFC 4122 variant
        seen.add(t)
    assert len(seen) == 50
