"""CoAP over DTLS 1.2 (coaps://, PC-07): our client (coap.dtls.DtlsEndpoint and tools/mpcoap on
the MicroPython unix port) against libcoap's coap-server-openssl, PSK and certificate modes.

coap-server-openssl -p N serves plain CoAP on N and DTLS on N+1 (-k KEY: PSK, -c/-j/-C: PEM
certificates). Ports 21100-21199 (assigned range 21000-21999)."""
import json
import os
import shutil
import subprocess
import time

import pytest

import mp

MPCOAP = os.path.join(mp.ROOT, "tools", "mpcoap")
DRIVER = os.path.join(mp.ROOT, "tests", "host", "dtls_mp.py")
KEY = "dtls-test-key-21"

pytestmark = pytest.mark.skipif(shutil.which("coap-server-openssl") is None,
                                reason="libcoap3-bin missing (make setup installs it)")


def _mp_has_dtls():
    r = mp.run(["-c", "import tls; print(hasattr(tls, 'PROTOCOL_DTLS_CLIENT'), "
                "hasattr(tls.SSLContext(tls.PROTOCOL_DTLS_CLIENT), 'psk_identity'))"])
    return r.stdout.split() == ["True", "True"]


@pytest.fixture(scope="module", autouse=True)
def need_dtls():
    if not _mp_has_dtls():
        pytest.skip("this micropython has no DTLS/PSK in tls")


def mpcoap(*args, timeout=60):
    t = time.monotonic()
    r = subprocess.run([MPCOAP] + list(args), capture_output=True, text=True, timeout=timeout)
    return r.returncode, r.stdout.strip(), r.stderr, time.monotonic() - t


def _wait_port(port, tries=50):
    for _ in range(tries):
        # listening (unconnected) UDP sockets only: our client's socket names the port too
        out = subprocess.run(["ss", "-uanlH"], capture_output=True, text=True).stdout
        if any(ln.split()[3].endswith(":%d" % port) for ln in out.splitlines()
               if len(ln.split()) > 3):
            return
        time.sleep(0.05)


@pytest.fixture
def server():
    procs = []

    def start(port, *args):
        p = subprocess.Popen(["coap-server-openssl", "-p", str(port)] + list(args),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(p)
        _wait_port(port + 1)
        return p

    yield start
    for p in procs:
        if p.poll() is None:
            p.terminate()
            p.wait(5)


# ---------------- PSK ----------------

def test_psk_get_post_ping(server):
    server(21100, "-k", KEY, "-d", "10")
    base = "coaps://127.0.0.1:21101"
    psk = ("--psk-id", "ue-21", "--psk", KEY)
    rc, out, err, _ = mpcoap("get", base + "/", *psk, "--verbose")
    assert rc == 0 and out.startswith("2.05 This is a test server made with libcoap"), (out, err)
    # PC-07: a PSK AEAD suite (CCM_8 would come first; this Mbed TLS build has no CCM).
    assert "cipher=TLS-PSK-WITH-AES-" in err and ("GCM" in err or "CCM" in err), err
    rc, out, _, _ = mpcoap("get", base + "/time", *psk)
    assert rc == 0 and out.startswith("2.05 ") and len(out) > 8
    rc, out, _, _ = mpcoap("post", base + "/dtls21100", "--payload", '{"v":21}',
                           "--format", "50", *psk)
    assert (rc, out) == (0, "2.01")
    rc, out, _, _ = mpcoap("get", base + "/dtls21100", *psk)
    assert (rc, out) == (0, '2.05 {"v":21}')
    rc, out, _, _ = mpcoap("get", base + "/missing", *psk)
    assert (rc, out) == (1, "4.04 Not Found")
    rc, out, _, _ = mpcoap("ping", base, *psk)
    assert (rc, out) == (0, "pong")
    # hex form of the same key (secrets file "psk": "hex:...")
    rc, out, _, _ = mpcoap("get", base + "/time", "--psk-id", "ue-21",
                           "--psk", "hex:" + KEY.encode().hex())
    assert rc == 0 and out.startswith("2.05 ")


def test_psk_wrong_key_fails_fast_with_clear_error(server):
    server(21102, "-k", KEY)
    rc, out, _, dt = mpcoap("get", "coaps://127.0.0.1:21103/time", "--psk-id", "ue-21",
                            "--psk", "not-the-key", "--hs-timeout", "2")
    assert rc == 4
    assert out.startswith("dtls: handshake failed: no answer within 2000 ms"), out
    assert dt < 5, dt


def test_no_dtls_server_is_refused_at_once():
    rc, out, _, dt = mpcoap("get", "coaps://127.0.0.1:21199/time", "--psk-id", "a", "--psk", "b")
    assert (rc, out) == (4, "dtls: handshake failed: connection refused (no server on that port)")
    assert dt < 3, dt


def test_plain_coap_still_works_next_to_dtls(server):
    server(21104, "-k", KEY)
    rc, out, _, _ = mpcoap("get", "coap://127.0.0.1:21104/time")
    assert rc == 0 and out.startswith("2.05 ")


def test_usage_errors():
    assert mpcoap("get", "coaps://127.0.0.1:21199/")[:2] == (
        3, "mpcoap: coaps:// needs --psk-id/--psk or --ca")
    assert mpcoap("get", "coaps://127.0.0.1:21199/", "--psk", "x")[:2] == (
        3, "mpcoap: --psk and --psk-id go together")


# ---------------- certificates ----------------

def _openssl(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """CA, server cert (SAN localhost + 127.0.0.1), client cert; PEM for libcoap, DER for us."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl CLI missing")
    d = tmp_path_factory.mktemp("pki")
    o = lambda *a: _openssl(*a, cwd=d)  # noqa: E731
    for name in ("ca", "srv", "cli", "other"):
        o("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", name + ".key")
    o("req", "-x509", "-new", "-key", "ca.key", "-subj", "/CN=Test CA 21", "-days", "2",
      "-out", "ca.pem")
    o("req", "-x509", "-new", "-key", "other.key", "-subj", "/CN=Other CA", "-days", "2",
      "-out", "other.pem")
    (d / "srv.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    o("req", "-new", "-key", "srv.key", "-subj", "/CN=localhost", "-out", "srv.csr")
    o("x509", "-req", "-in", "srv.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
      "-CAcreateserial", "-days", "2", "-extfile", "srv.ext", "-out", "srv.pem")
    o("req", "-new", "-key", "cli.key", "-subj", "/CN=ue-21", "-out", "cli.csr")
    o("x509", "-req", "-in", "cli.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
      "-CAcreateserial", "-days", "2", "-out", "cli.pem")
    for name in ("ca", "other", "cli"):
        o("x509", "-in", name + ".pem", "-outform", "DER", "-out", name + ".der")
    o("pkey", "-in", "cli.key", "-outform", "DER", "-out", "cli.key.der")
    return d


def test_certificate_mode(server, pki):
    server(21110, "-c", str(pki / "srv.pem"), "-j", str(pki / "srv.key"),
           "-C", str(pki / "ca.pem"))
    base = "coaps://127.0.0.1:21111"
    cli = ("--cert", str(pki / "cli.der"), "--key", str(pki / "cli.key.der"))
    ca = ("--ca", str(pki / "ca.der"))
    # server name checked against the SAN: IP address (default: the URI host) or DNS name
    rc, out, err, _ = mpcoap("get", base + "/time", *ca, *cli, "--verbose")
    assert rc == 0 and out.startswith("2.05 "), (out, err)
    assert "cipher=TLS-ECDHE-ECDSA-" in err
    rc, out, _, _ = mpcoap("get", base + "/", *ca, *cli, "--hostname", "localhost")
    assert rc == 0 and out.startswith("2.05 This is a test server")
    # the server's certificate is not from our CA
    rc, out, _, dt = mpcoap("get", base + "/time", "--ca", str(pki / "other.der"), *cli)
    assert (rc, out) == (4, "dtls: handshake failed: The certificate is not correctly "
                            "signed by the trusted CA")
    assert dt < 3
    # name mismatch
    rc, out, _, _ = mpcoap("get", base + "/time", *ca, *cli, "--hostname", "wrong.example")
    assert rc == 4 and "Common Name (CN) does not match" in out
    # the server (-C) wants a client certificate: it refuses us with an alert
    rc, out, _, _ = mpcoap("get", base + "/time", *ca)
    assert rc == 4 and "fatal alert" in out, out
    # PEM is refused by Mbed TLS: clear error, no hang
    rc, out, _, _ = mpcoap("get", base + "/time", "--ca", str(pki / "ca.pem"))
    assert rc == 4 and out.startswith("dtls: bad credentials"), out


def test_certificate_mode_server_auth_only(server, pki):
    # no -C on the server: it asks for no client certificate; we still verify the server
    server(21112, "-c", str(pki / "srv.pem"), "-j", str(pki / "srv.key"))
    rc, out, _, _ = mpcoap("get", "coaps://127.0.0.1:21113/time", "--ca", str(pki / "ca.der"))
    assert rc == 0 and out.startswith("2.05 ")
    rc, out, _, _ = mpcoap("get", "coaps://127.0.0.1:21113/time", "--ca", str(pki / "other.der"))
    assert rc == 4 and "not correctly signed" in out


# ---------------- endpoint API on the unix port ----------------

def _driver(*args, timeout=60):
    r = mp.run([DRIVER] + [str(a) for a in args], timeout=timeout)
    assert r.returncode == 0, r.stdout + r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_asyncio_run_and_nonblocking_handshake(server):
    server(21120, "-k", KEY, "-d", "10")
    out = _driver("async", 21121, KEY)
    assert out["first"][:2] == [69, None]                         # 2.05 over DTLS
    assert out["codes"] == [65, 68, 68, 68, 68, 69]               # 2.01, 2.04 x4, 2.05
    assert out["last"] == "v4" and out["handshakes"] == 1
    # wrong key: bounded (hs_timeout_ms=2000) and the event loop kept running meanwhile
    out = _driver("async", 21121, "wrong-key")
    code, err, ms = out["first"]
    assert code is None and err.startswith("handshake failed: no answer within 2000 ms")
    assert 1900 <= ms < 3000
    assert out["ticks_at_first"] > 100                             # 10 ms ticker ran ~200x
    assert out["codes"] == [None] * 6                              # then fail fast (backoff)


def test_session_survives_server_restart(server):
    first = server(21130, "-k", KEY)
    p = mp.popen([DRIVER, "restart", "21131", KEY], stdin=subprocess.PIPE,
                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def cmd(c):
        p.stdin.write(c + "\n")
        p.stdin.flush()
        return json.loads(p.stdout.readline())

    try:
        assert cmd("get") == [69, None, 1]             # [code, error, handshakes]
        first.terminate()                               # server gone: fail fast with reason
        first.wait(5)
        code, err, hs = cmd("get")
        assert code is None and "connection refused" in err and hs == 1
        server(21130, "-k", KEY)                        # back: a new session is set up
        assert cmd("get") == [69, None, 2]
        assert cmd("get") == [69, None, 2]              # and kept
    finally:
        p.stdin.write("quit\n")
        p.stdin.close()
        p.wait(10)


def test_figures_handshake_and_round_trips(server):
    server(21150, "-k", KEY)
    out = _driver("bench", 21150, 21151, 400, KEY)
    print("\nDTLS figures (unix port, loopback, libcoap server): %s" % json.dumps(out))
    assert out["handshakes"] == 1 and out["suite"].startswith("TLS-PSK-WITH-AES-")
    assert out["hs_ms_max"] < 1000
    assert out["rps_dtls"] > 200 and out["rps_plain"] > 200
