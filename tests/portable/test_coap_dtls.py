# board-heapsize: 15k   (unix32, library frozen; measured minimum 12k)
"""coap.dtls without a network: it imports everywhere (CPython has no DTLS), credentials from
a secrets dict (docs/dtls.md), PSK text/hex forms, and early credential errors (PC-07)."""
from coap import dtls
from coap.dtls import DtlsEndpoint, DtlsError, credentials, psk_bytes
from tinytest import raises

_FILES = {"/ca.der": b"\x30\x82ca", "/c.der": b"\x30\x82cert", "/k.der": b"\x30\x82key"}


def _read(path):
    if path not in _FILES:
        raise OSError(2)
    return _FILES[path]


def test_psk_forms():
    assert psk_bytes("secret") == b"secret"
    assert psk_bytes("hex:00ff10") == b"\x00\xff\x10"
    assert psk_bytes(b"\x01\x02") == b"\x01\x02"
    assert psk_bytes("hex") == b"hex"            # only the 'hex:' prefix means hex
    raises(DtlsError, psk_bytes, "hex:zz")
    raises(DtlsError, psk_bytes, "")
    raises(DtlsError, psk_bytes, 5)


def test_credentials_psk_identity_defaults_to_ue_service_id():
    kw = credentials({"psk": "k"}, "ue-7")
    assert kw == {"psk": b"k", "psk_identity": "ue-7"}
    kw = credentials({"psk": "hex:6b", "pskIdentity": "dev-1"}, "ue-7")
    assert kw == {"psk": b"k", "psk_identity": "dev-1"}
    raises(DtlsError, credentials, {"psk": "k"})


def test_credentials_certificates_read_der_files():
    kw = credentials({"caDer": "/ca.der", "certDer": "/c.der", "keyDer": "/k.der",
                      "wifiPassword": "x"}, "ue", read=_read)
    assert kw == {"ca": _FILES["/ca.der"], "cert": _FILES["/c.der"], "key": _FILES["/k.der"]}
    e = raises(DtlsError, credentials, {"caDer": "/missing.der"}, "ue", read=_read)
    assert str(e) == "cannot read caDer"        # names the key, never the secret
    assert credentials({}, "ue") == {}


def test_endpoint_refuses_bad_setup_before_any_traffic():
    if not dtls.available():   # CPython: clear error, no crash at import
        e = raises(DtlsError, DtlsEndpoint, "127.0.0.1", 21999, psk_identity="a", psk="b")
        assert "not available" in str(e)
        return
    e = raises(DtlsError, DtlsEndpoint, "127.0.0.1", 21999)
    assert str(e).startswith("no credentials")
    e = raises(DtlsError, DtlsEndpoint, "127.0.0.1", 21999, psk="k")
    assert str(e) == "psk_identity missing"
    e = raises(DtlsError, DtlsEndpoint, "127.0.0.1", 21999, ca=b"-----BEGIN CERTIFICATE-----")
    assert str(e).startswith("bad credentials")
    e = raises(DtlsError, DtlsEndpoint, "127.0.0.1", 21999, ca=_FILES["/ca.der"],
               cert=_FILES["/c.der"])
    assert str(e) == "client certificate needs both cert and key"


def test_psk_suites_offered_in_pc07_order():
    assert dtls.PSK_SUITES[0] == dtls.CCM_8 == "TLS-PSK-WITH-AES-128-CCM-8"
    for s in dtls.PSK_SUITES:
        assert s.startswith("TLS-PSK-WITH-") and ("CCM" in s or "GCM" in s or "POLY" in s)
    if dtls.available():
        ep = DtlsEndpoint("127.0.0.1", 21999, psk_identity="a", psk="b")
        try:
            assert not ep.connected and ep.cipher() is None and ep.error is None
            have = ep.ctx.get_ciphers()
            assert any(s in have for s in dtls.PSK_SUITES)
        finally:
            ep.close()
