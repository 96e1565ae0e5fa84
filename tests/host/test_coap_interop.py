"""Interop of our CoAP stack, running on the MicroPython unix port, with independent peers:
libcoap's coap-server-notls / coap-client-notls and aiocoap, both directions, over loopback."""
import asyncio
import os
import shutil
import subprocess
import time

import pytest

import mp

MPCOAP = os.path.join(mp.ROOT, "tools", "mpcoap")
pytestmark = pytest.mark.skipif(shutil.which("coap-server-notls") is None,
                                reason="libcoap3-bin missing (make setup installs it)")


def mpcoap(*args, timeout=60):
    r = subprocess.run([MPCOAP] + list(args), capture_output=True, text=True, timeout=timeout)
    return r.returncode, r.stdout.strip(), r.stderr


def wait_udp_ready(cmd_check, tries=50):
    for _ in range(tries):
        if cmd_check():
            return True
        time.sleep(0.1)
    return False


@pytest.fixture
def libcoap_server():
    procs = []

    def start(port, *extra):
        p = subprocess.Popen(["coap-server-notls", "-p", str(port)] + list(extra),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(p)
        time.sleep(0.3)
        return "coap://127.0.0.1:%d" % port

    yield start
    for p in procs:
        p.terminate()
        p.wait(5)


def test_our_client_against_libcoap_server(libcoap_server):
    base = libcoap_server(17101, "-d", "10")
    rc, out, _ = mpcoap("get", base + "/")
    assert rc == 0 and out.startswith("2.05 This is a test server made with libcoap")
    rc, out, _ = mpcoap("get", base + "/time")
    assert rc == 0 and out.startswith("2.05 ") and len(out) > 8
    rc, out, _ = mpcoap("get", base + "/async?1")        # separate response after 1 s
    assert (rc, out) == (0, "2.05 done")
    rc, out, _ = mpcoap("post", base + "/data17101", "--payload", '{"v":17}', "--format", "50")
    assert (rc, out) == (0, "2.01")                       # dynamic resource created
    rc, out, _ = mpcoap("get", base + "/data17101")
    assert (rc, out) == (0, '2.05 {"v":17}')
    rc, out, _ = mpcoap("get", base + "/missing")
    assert (rc, out) == (1, "4.04 Not Found")
    rc, out, _ = mpcoap("ping", base)
    assert (rc, out) == (0, "pong")


def test_our_client_retransmits_through_libcoap_loss(libcoap_server):
    # libcoap's deterministic loss list: the server fails to send its 1st, 3rd and 5th datagram.
    # Each lost response costs exactly one retransmission of our CON request.
    base = libcoap_server(17102, "-l", "1,3,5")
    total_retx = 0
    for _ in range(5):
        rc, out, err = mpcoap("get", base + "/time", "--verbose", timeout=120)
        assert rc == 0 and out.startswith("2.05"), (out, err)
        total_retx += int(err.split("retransmits=")[1].split()[0])
    assert total_retx == 3


def test_timeout_exit_code_when_nobody_listens():
    rc, out, _ = mpcoap("get", "coap://127.0.0.1:17109/x", "--retransmit", "1", "--timeout", "10")
    assert rc == 2 and out == "timeout"


@pytest.fixture
def our_server():
    p = mp.popen([os.path.join(mp.ROOT, "tools", "mpcoap.py"), "serve", "--port", "17103",
                  "--host", "127.0.0.1"], extra_path=("tools",),
                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert "serving" in p.stdout.readline()
    yield "coap://127.0.0.1:17103"
    p.terminate()
    p.wait(5)


def coap_client(*args):
    r = subprocess.run(["coap-client-notls", "-B", "5"] + list(args),
                       capture_output=True, text=True, timeout=30)
    return r.returncode, r.stdout.strip(), r.stderr


def test_libcoap_client_against_our_server(our_server):
    assert coap_client(our_server + "/hello")[1] == "hello"
    rc, out, _ = coap_client("-m", "post", "-t", "50", "-e", '{"k":1}', our_server + "/echo")
    assert out == '{"k":1}'
    assert coap_client(our_server + "/slow")[1] == "slow hello"   # empty ACK + separate CON
    rc, out, err = coap_client("-v", "6", our_server + "/nothing")
    assert "4.04" in out + err
    rc, out, err = coap_client("-v", "6", "-O", "65001,x", our_server + "/hello")
    assert "4.02" in out + err
    rc, out, err = coap_client("-v", "6", "-m", "put", our_server + "/hello")
    assert "4.05" in out + err


def test_libcoap_block_wise_upload_gets_bad_option(our_server, tmp_path):
    # Given a 3000-octet file, coap-client sends it block-wise (RFC 7959): a first 1024-octet
    # Block1 block. The stack does no block-wise transfer, so the block must get 4.02 Bad
    # Option (RFC 7252 5.4.1); a 2.04 echoing that block alone made libcoap take the upload as
    # complete, with 1976 octets silently lost.
    f = tmp_path / "body"
    f.write_bytes(bytes(48 + i % 64 for i in range(3000)))
    rc, out, err = coap_client("-v", "6", "-m", "post", "-f", str(f), our_server + "/echo")
    assert "Block1:0/M/1024" in out + err          # the case at hand: a first block was sent
    assert "4.02" in out + err and "2.04" not in out + err, out + err


def test_aiocoap_client_against_our_server(our_server):
    import aiocoap

    async def go():
        ctx = await aiocoap.Context.create_client_context()
        try:
            r = await ctx.request(aiocoap.Message(code=aiocoap.GET, uri=our_server + "/hello")).response
            assert (str(r.code), r.payload) == ("2.05 Content", b"hello")
            m = aiocoap.Message(code=aiocoap.POST, uri=our_server + "/echo", payload=b'{"a":[1,2]}')
            m.opt.content_format = 50
            r = await ctx.request(m).response
            assert r.code == aiocoap.CHANGED and r.payload == b'{"a":[1,2]}'
            assert r.opt.content_format == 50
            r = await ctx.request(aiocoap.Message(code=aiocoap.GET, uri=our_server + "/slow")).response
            assert r.payload == b"slow hello"
            r = await ctx.request(aiocoap.Message(code=aiocoap.GET, uri=our_server + "/nope")).response
            assert r.code == aiocoap.NOT_FOUND
        finally:
            await ctx.shutdown()

    asyncio.run(go())


def test_our_client_against_aiocoap_server():
    import threading
    import aiocoap
    import aiocoap.resource as resource

    class Echo(resource.Resource):
        async def render_post(self, request):
            return aiocoap.Message(code=aiocoap.CHANGED, payload=request.payload[::-1],
                                   content_format=request.opt.content_format)

    class Hello(resource.Resource):
        async def render_get(self, request):
            return aiocoap.Message(payload=b"aiocoap says hi")

    loop = asyncio.new_event_loop()
    started = threading.Event()
    holder = {}

    def run():
        asyncio.set_event_loop(loop)
        site = resource.Site()
        site.add_resource(["echo"], Echo())
        site.add_resource(["hello"], Hello())
        holder["ctx"] = loop.run_until_complete(
            aiocoap.Context.create_server_context(site, bind=("127.0.0.1", 17104)))
        started.set()
        loop.run_forever()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    assert started.wait(10)
    try:
        rc, out, _ = mpcoap("get", "coap://127.0.0.1:17104/hello")
        assert (rc, out) == (0, "2.05 aiocoap says hi")
        rc, out, _ = mpcoap("post", "coap://127.0.0.1:17104/echo", "--payload", "abc", "--format", "0")
        assert (rc, out) == (0, "2.04 cba")
        rc, out, _ = mpcoap("post", "coap://127.0.0.1:17104/echo", "--payload", "xyz", "--non")
        assert (rc, out) == (0, "2.04 zyx")
        rc, out, _ = mpcoap("get", "coap://127.0.0.1:17104/none")
        assert rc == 1 and out.startswith("4.04")
    finally:
        asyncio.run_coroutine_threadsafe(holder["ctx"].shutdown(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        t.join(5)


# ---- a datagram longer than the receive buffer (PC-26; RFC 7252 5.9.2.9 and 5.10.9) ----

@pytest.fixture
def cpython_server():
    """Our UdpEndpoint on CPython, in a thread, with mpcoap serve's /hello and /echo."""
    import threading
    from coap import const as C
    from coap.udp import UdpEndpoint
    ep = UdpEndpoint("127.0.0.1", 17105)
    ep.resource("hello", lambda req: (C.CONTENT, b"hello", C.CF_TEXT))
    ep.resource("echo", lambda req: (C.CHANGED, req.payload, req.uint(12)))
    stop = threading.Event()

    def loop():
        while not stop.is_set():
            ep.poll(50)

    t = threading.Thread(target=loop, daemon=True)
    t.start()
    yield "coap://127.0.0.1:17105"
    stop.set()
    t.join(5)
    ep.close()


def _aiocoap_oversize(base):
    """aiocoap sends 3000 octets in one datagram (handle_blockwise=False; libcoap's client
    always splits a body that large with Block1), as CON and as NON; then ordinary requests."""
    import aiocoap

    async def go():
        ctx = await aiocoap.Context.create_client_context()
        try:
            out = []
            for tuning in (aiocoap.Reliable, aiocoap.Unreliable):     # CON, NON
                m = aiocoap.Message(code=aiocoap.POST, transport_tuning=tuning,
                                    uri=base + "/echo", payload=b"y" * 3000)
                r = await asyncio.wait_for(ctx.request(m, handle_blockwise=False).response, 20)
                out.append((str(r.code), r.mtype, r.opt.size1, r.payload))
            r = await ctx.request(aiocoap.Message(code=aiocoap.GET, uri=base + "/hello")).response
            out.append((str(r.code), r.payload))
            m = aiocoap.Message(code=aiocoap.POST, uri=base + "/echo", payload=b"e" * 1200)
            r = await ctx.request(m, handle_blockwise=False).response
            out.append((str(r.code), len(r.payload)))
            return out
        finally:
            await ctx.shutdown()

    return asyncio.run(go())


@pytest.mark.parametrize("which", ["micropython", "cpython"])
def test_oversize_request_from_aiocoap_gets_413_with_size1(which, request):
    import aiocoap
    base = request.getfixturevalue("our_server" if which == "micropython" else "cpython_server")
    big_con, big_non, hello, echo = _aiocoap_oversize(base)
    assert big_con == ("4.13 Request Entity Too Large", aiocoap.ACK, 1280, b"")
    assert big_non == ("4.13 Request Entity Too Large", aiocoap.NON, 1280, b"")
    assert hello == ("2.05 Content", b"hello")              # still serving
    assert echo == ("2.04 Changed", 1200)                   # a large one that fits

