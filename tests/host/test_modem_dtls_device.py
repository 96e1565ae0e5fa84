"""A device whose only link is a modem (tools/modemsim on a pty, bridged to loopback UDP) and
whose server is coaps:// runs its MSGin5G Client over one DTLS-PSK session carried by the
modem's AT sockets (PC-07/PC-08; modem.dtls). The peer is libcoap's coap-server-openssl -k KEY,
which speaks DTLS only on its second port and does not speak MSGin5G: its 4.xx answer to our
REG proves the registration crossed the DTLS session, through the modem. The reference server
(tools/server/m5server, aiocoap without tinydtls) serves no DTLS. Ports 19100-19149.
"""
import os
import re
import shutil
import subprocess
import tempfile
import time

import pytest

import mp
from modemsim import ModemSim
from test_dtls import _mp_has_dtls, _wait_port
from test_modem_device import ModemDevice

KEY = "modem-dtls-key"

pytestmark = pytest.mark.skipif(shutil.which("coap-server-openssl") is None,
                                reason="libcoap3-bin missing")


@pytest.fixture
def dtls_server():
    procs = []

    def start(port):
        """coap-server-openssl: plain CoAP on port, DTLS-PSK on port + 1; returns port + 1."""
        procs.append(subprocess.Popen(["coap-server-openssl", "-p", str(port), "-k", KEY],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        _wait_port(port + 1)
        return port + 1
    yield start
    for p in procs:
        p.terminate()
        p.wait(5)


def device(d, sim, model, port, key, board="unix"):
    with open(os.path.join(d, "secrets.json"), "w") as f:
        f.write('{"psk": "%s", "pskIdentity": "ue-mdtls"}' % key)
    return ModemDevice(d, "ue-mdtls", sim, "coaps://127.0.0.1:%d" % port, model, board,
                       app="none")


def log_of(d):
    with open(os.path.join(d, "ue-mdtls.log")) as f:
        return f.read()


@pytest.mark.parametrize("model,port", [("sim7080", 19100), ("bg95", 19110)])
def test_registration_goes_over_dtls_through_the_modem(model, port, dtls_server):
    if not _mp_has_dtls():
        pytest.skip("this micropython has no DTLS/PSK in tls")
    dport = dtls_server(port)
    with ModemSim(model, reg_delay=0.3) as sim, tempfile.TemporaryDirectory() as d:
        dev = device(d, sim, model, dport, KEY)
        try:
            assert mp.wait_for(lambda: re.search(r"REG -> 4\.0[45]", log_of(d)), 30), \
                log_of(d)[-3000:]
            # A modem reset takes the socket, and the address the server knows the session
            # by: the link coming up again re-registers through a new handshake.
            sim.reset()
            assert mp.wait_for(lambda: len(re.findall(r"REG -> 4\.0[45]", log_of(d))) >= 2,
                               30), log_of(d)[-3000:]
        finally:
            dev.stop()
        out = dev.text
        assert out.count("dtls: session up") == 2, out[-3000:]
        assert "dtls: modem link down: new handshake" in out, out[-3000:]
        assert KEY not in out                               # secrets never logged
        c = sim.counters()
        # two handshakes (2 flights each way) and REGs went through the modem's sockets
        assert c["ul_datagrams"] >= 6 and c["dl_datagrams"] >= 6 and c["resets"] == 1, c


def test_wrong_key_is_a_clear_handshake_failure(dtls_server):
    if not _mp_has_dtls():
        pytest.skip("this micropython has no DTLS/PSK in tls")
    dport = dtls_server(19120)
    with ModemSim("sim7080", reg_delay=0.3) as sim, tempfile.TemporaryDirectory() as d:
        dev = device(d, sim, "sim7080", dport, "wrong-key")
        try:
            # bounded: 20 s of handshake (modem.dtls) once the link is up
            assert mp.wait_for(lambda: "REG -> handshake failed" in log_of(d), 40), \
                log_of(d)[-3000:]
        finally:
            dev.stop()
        assert "wrong PSK or identity" in dev.text, dev.text[-3000:]
        assert "session up" not in dev.text


def test_board_without_tls_says_so(unix32):
    """The board-true build has no tls module: a coaps:// modem device stops at start-up
    with one line saying why (exit 2), before any datagram."""
    with ModemSim("bg95", reg_delay=0.3) as sim, tempfile.TemporaryDirectory() as d:
        dev = device(d, sim, "bg95", 19131, KEY, board="unix32")
        t = time.monotonic()
        while dev.p.poll() is None and time.monotonic() - t < 20:
            time.sleep(0.1)
        dev.stop()
        assert dev.p.returncode == 2, dev.text[-2000:]
        assert "start-up: DTLS is not available on this platform" in dev.text, dev.text
        assert sim.counters()["ul_datagrams"] == 0
