"""tools/modemsim with real I/O: the pty (raw, from the creating side), the UDP bridge on
loopback (one host socket per modem socket), the control port, the CLI, and the MicroPython
unix port talking to it over the pty."""
import contextlib
import json
import os
import select
import signal
import socket
import subprocess
import time

import pytest

import mp
from modemsim import ModemSim

PAYLOAD = b"\x00a\r\nb\x1a\x1bAT\r\nOK\r\n"     # CR, LF, Ctrl-Z, Esc and lines that look like AT
LAUNCHER = os.path.join(mp.ROOT, "tools", "modemsim")


class Host:
    """The host end of the pty, opened as a driver opens it."""

    def __init__(self, path):
        self.fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
        self.buf = b""

    def send(self, data):
        os.write(self.fd, data)

    def expect(self, pattern, timeout=5.0):
        """Everything up to and including `pattern` (bounded wait)."""
        end = time.monotonic() + timeout
        while pattern not in self.buf:
            left = end - time.monotonic()
            assert left > 0, "no %r in %r" % (pattern, self.buf)
            if select.select([self.fd], [], [], left)[0]:
                self.buf += os.read(self.fd, 4096)
        i = self.buf.index(pattern) + len(pattern)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def cmd(self, line, until=b"OK\r\n"):
        self.send(line.encode() + b"\r")
        return self.expect(until)

    def quiet(self, seconds):
        """What arrives within `seconds` (to show that nothing does)."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if select.select([self.fd], [], [], max(0, end - time.monotonic()))[0]:
                self.buf += os.read(self.fd, 4096)
        out, self.buf = self.buf, b""
        return out

    def close(self):
        os.close(self.fd)


def udp_server():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(5)
    return s


def registered(host):
    for _ in range(100):
        if b"+CGATT: 1" in host.cmd("AT+CGATT?"):
            return
        time.sleep(0.02)
    raise AssertionError("not registered")


@contextlib.contextmanager
def session(model, **knobs):
    """A running ModemSim and its host end, past the banner, echo off, registered."""
    with ModemSim(model, **knobs) as sim:
        host = Host(sim.path)
        try:
            host.expect(b"SMS Ready\r\n" if model == "sim7080" else b"APP RDY\r\n")
            host.cmd("ATE0")
            registered(host)
            yield sim, host
        finally:
            host.close()


@pytest.fixture
def server():
    s = udp_server()
    yield s
    s.close()


def test_sim7080_over_pty_and_udp(server):
    with ModemSim("sim7080", reg_delay=0.05) as sim:
        host = Host(sim.path)
        try:
            assert host.expect(b"SMS Ready\r\n") == \
                b"\r\nRDY\r\n\r\n+CFUN: 1\r\n\r\n+CPIN: READY\r\n\r\nSMS Ready\r\n"
            assert host.cmd("AT") == b"AT\r\r\nOK\r\n"          # raw pty: CR stays CR
            assert host.cmd("ATE0") == b"ATE0\r\r\nOK\r\n"
            registered(host)
            assert host.cmd("AT+CNACT=0,1", b"ACTIVE\r\n") == \
                b"\r\nOK\r\n\r\n+APP PDP: 0,ACTIVE\r\n"
            port = server.getsockname()[1]
            assert host.cmd('AT+CAOPEN=0,0,"UDP","127.0.0.1",%d' % port) == \
                b"\r\n+CAOPEN: 0,0\r\n\r\nOK\r\n"
            assert host.cmd("AT+CASEND=0,%d" % len(PAYLOAD), b"> ") == b"\r\n> "
            host.send(PAYLOAD)
            assert host.expect(b"OK\r\n") == b"\r\nOK\r\n"
            data, addr = server.recvfrom(2048)
            assert data == PAYLOAD and addr == sim.udp_address(0)
            server.sendto(PAYLOAD[::-1], addr)
            assert host.expect(b"+CADATAIND: 0\r\n") == b"\r\n+CADATAIND: 0\r\n"
            assert host.cmd("AT+CARECV=0,1460", b"\r\n\r\nOK\r\n") == \
                b"\r\n+CARECV: %d,%s\r\n\r\nOK\r\n" % (len(PAYLOAD), PAYLOAD[::-1])
            c = sim.counters()
            assert (c["ul_datagrams"], c["ul_octets"], c["dl_datagrams"], c["dl_octets"]) == \
                (1, len(PAYLOAD), 1, len(PAYLOAD))
            assert c["uart_rx_octets"] > 0 and c["uart_tx_octets"] > 0
        finally:
            host.close()


def test_bg95_over_pty_and_udp_two_sockets(server):
    with session("bg95", reg_delay=0.05) as (sim, host):
        host.cmd('AT+QICSGP=1,1,"iot.example","",""')
        assert host.cmd("AT+QIACT=1") == b"\r\nOK\r\n"
        port = server.getsockname()[1]
        for cid in (0, 1):
            assert host.cmd('AT+QIOPEN=1,%d,"UDP","127.0.0.1",%d,0,0' % (cid, port),
                            b"+QIOPEN: %d,0\r\n" % cid) == \
                b"\r\nOK\r\n\r\n+QIOPEN: %d,0\r\n" % cid
        seen = set()
        for cid in (0, 1):
            host.cmd("AT+QISEND=%d,%d" % (cid, len(PAYLOAD)), b"> ")
            host.send(PAYLOAD)
            assert host.expect(b"SEND OK\r\n") == b"\r\nSEND OK\r\n"
            data, addr = server.recvfrom(2048)
            assert data == PAYLOAD and addr == sim.udp_address(cid)
            seen.add(addr)
        assert len(seen) == 2                   # one host socket per modem socket
        server.sendto(b"\r\nreply\x1a", sim.udp_address(1))
        assert host.expect(b'+QIURC: "recv",1\r\n') == b'\r\n+QIURC: "recv",1\r\n'
        assert host.cmd("AT+QIRD=1,1500", b"\r\n\r\nOK\r\n") == \
            b"\r\n+QIRD: 8\r\n\r\nreply\x1a\r\n\r\nOK\r\n"
        assert host.cmd("AT+QICLOSE=1") == b"\r\nOK\r\n"
        time.sleep(0.05)
        server.sendto(b"late", sim.udp_address(0))
        assert host.expect(b'+QIURC: "recv",0\r\n')


def control(sim, line):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(5)
    try:
        s.sendto(line.encode(), sim.control_addr)
        return json.loads(s.recv(65535))
    finally:
        s.close()


def test_control_port_knobs():
    with session("sim7080", reg_delay=0.05, rrc_inactivity=0.1) as (sim, host):
        host.cmd("AT+CEREG=1;+CPSMSTATUS=1")
        assert control(sim, "state")["state"]["stat"] == 1
        assert control(sim, "gap 0.3")["ok"]
        assert host.expect(b"+CEREG: 4\r\n") and host.expect(b"+CEREG: 1\r\n")
        control(sim, "between +CEREG: 1")
        assert host.cmd("AT+CSQ") == b"\r\n+CSQ: 19,99\r\n\r\n+CEREG: 1\r\n\r\nOK\r\n"
        # PSM: requested with Active-Time 2 s; the control port's "psm" skips the wait
        host.cmd('AT+CPSMS=1,,,"00100001","00000001"')
        control(sim, "psm")
        assert host.expect(b'"ENTER PSM"\r\n')
        host.send(b"AT\r")
        assert host.quiet(0.3) == b""               # silent until PWRKEY
        control(sim, "pwrkey press")                # the driver's pin callback: line low
        control(sim, "pwrkey release")
        assert host.expect(b'+CPSMSTATUS: "EXIT PSM"\r\n')
        assert host.cmd("AT") == b"\r\nOK\r\n"
        # the real T3324 path: 0.1 s RRC inactivity, then 2 s Active-Time
        assert host.expect(b'"ENTER PSM"\r\n', timeout=5)
        sim.pwrkey()
        host.expect(b"EXIT PSM")
        assert control(sim, "set reg_delay=0.1 roaming=true")["ok"]
        assert control(sim, "reset")["ok"]
        assert host.expect(b"SMS Ready\r\n").endswith(
            b"\r\nRDY\r\n\r\n+CFUN: 1\r\n\r\n+CPIN: READY\r\n\r\nSMS Ready\r\n")
        assert host.cmd("AT") == b"AT\r\r\nOK\r\n"      # echo on again
        c = control(sim, "counters")["counters"]
        assert c["resets"] == 1 and c["psm_entries"] == 2 and c["psm_wakes"] == 2
        assert c["uart_ignored"] == 3
        assert control(sim, "sim missing")["state"]["sim"] == "missing"
        assert not control(sim, "bogus")["ok"]
        assert not control(sim, "set nope=1")["ok"]


def test_pdp_loss_and_reset_close_host_sockets(server):
    with session("sim7080", reg_delay=0.02) as (sim, host):
        open_cmd = 'AT+CAOPEN=0,0,"UDP","127.0.0.1",%d' % server.getsockname()[1]
        host.cmd("AT+CNACT=0,1", b"ACTIVE\r\n")
        host.cmd(open_cmd)
        sim.pdp_loss()
        assert host.expect(b"+CASTATE: 0,0\r\n") == \
            b"\r\n+APP PDP: 0,DEACTIVE\r\n\r\n+CASTATE: 0,0\r\n"
        with pytest.raises(KeyError):
            sim.udp_address(0)
        host.cmd("AT+CNACT=0,1", b"ACTIVE\r\n")
        assert host.cmd(open_cmd) == b"\r\n+CAOPEN: 0,0\r\n\r\nOK\r\n"
        old = sim.udp_address(0)
        sim.reset()
        host.expect(b"SMS Ready\r\n")
        with pytest.raises(KeyError):
            sim.udp_address(0)
        server.sendto(b"to nobody", old)       # the host socket is gone: nothing arrives
        assert host.quiet(0.2) == b""


def test_cli_prints_pty_and_counters(tmp_path):
    link = str(tmp_path / "modem.tty")
    p = subprocess.Popen([LAUNCHER, "--model", "bg95", "--reg-delay", "0.05", "--link", link,
                          "--at", "30:reset"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = p.stdout.readline().split()
        second = p.stdout.readline().split()
        assert first[0] == "pty" and first[1].startswith("/dev/pts/")
        assert second[0] == "control" and second[1].startswith("127.0.0.1:")
        assert os.path.realpath(link) == first[1]
        host = Host(link)
        try:
            host.expect(b"APP RDY\r\n")
            assert host.cmd("AT") == b"AT\r\r\nOK\r\n"
        finally:
            host.close()
        p.send_signal(signal.SIGUSR1)
        line = p.stdout.readline()
        assert line.startswith("COUNTERS ")
        assert json.loads(line[9:])["uart_rx_octets"] == 3
        p.send_signal(signal.SIGUSR2)           # a PWRKEY press: an awake modem stays on
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=10)
        assert p.returncode == 0, err
        assert out.startswith("COUNTERS ") and json.loads(out[9:])["resets"] == 0
        assert not os.path.lexists(link)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


MP_SCRIPT = r"""
import sys, select, time
path, port = sys.argv[1], int(sys.argv[2])
f = open(path, "r+b", buffering=0)
p = select.poll()
p.register(f, select.POLLIN)
buf = b""

def expect(pat, ms=5000):
    global buf
    t0 = time.ticks_ms()
    while pat not in buf:
        if time.ticks_diff(time.ticks_ms(), t0) > ms:
            raise OSError("timeout waiting for %r, got %r" % (pat, buf))
        if p.poll(50):
            buf += f.read(1)        # read(n) waits for n octets: one at a time (TOOLCHAIN.md)
    i = buf.index(pat) + len(pat)
    out = buf[:i]
    buf = buf[i:]
    return out

def cmd(c, until=b"OK\r\n"):
    f.write(c + b"\r")
    return expect(until)

print("AT:", repr(cmd(b"AT")))
cmd(b"ATE0")
for _ in range(100):
    if b"+CGATT: 1" in cmd(b"AT+CGATT?"):
        break
    time.sleep_ms(20)
cmd(b"AT+CNACT=0,1", b"ACTIVE\r\n")
cmd(b'AT+CAOPEN=0,0,"UDP","127.0.0.1",%d' % port)
data = b"\x00\r\n\x1aAT\r"
cmd(b"AT+CASEND=0,%d" % len(data), b"> ")
f.write(data)
expect(b"OK\r\n")
expect(b"+CADATAIND: 0\r\n")
out = cmd(b"AT+CARECV=0,1460", b"\r\n\r\nOK\r\n")
print("RECV:", out == b"\r\n+CARECV: %d,%s\r\n\r\nOK\r\n" % (len(data), bytes(reversed(data))))
"""


def test_micropython_unix_port_over_the_pty(tmp_path, server):
    script = tmp_path / "at_client.py"
    script.write_text(MP_SCRIPT)
    with ModemSim("sim7080", reg_delay=0.05) as sim:
        time.sleep(0.05)
        sim.discard_unread()        # the banner went out before anyone listened
        port = server.getsockname()[1]
        p = subprocess.Popen([mp.micropython_exe(), str(script), sim.path, str(port)],
                             env=mp.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, cwd=str(tmp_path))
        try:
            data, addr = server.recvfrom(2048)
            assert data == b"\x00\r\n\x1aAT\r" and addr == sim.udp_address(0)
            server.sendto(data[::-1], addr)
            out, err = p.communicate(timeout=30)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        assert p.returncode == 0, out + err
        assert "AT: b'AT\\r\\r\\nOK\\r\\n'" in out
        assert "RECV: True" in out
