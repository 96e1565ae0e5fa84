"""CoAP stack micro-benchmarks, run by both interpreters (tools/bench.py drives it):

  micropython tools/bench_coap.py codec
  micropython tools/bench_coap.py rtt PORT N      (coap-server-notls must listen on PORT)

Prints `key value` lines.
"""
import socket
import sys
import time

from coap.codec import Message, decode, encode_into

PAYLOAD = (b'{"msgType":"MSG","oriAddr":{"addrType":"UE","addr":"ue-0001@msgin5g.example.net"},'
           b'"destAddr":{"addrType":"AS","addr":"as-42"},"msgId":"5f0c6c1e-8d0b-4c53-9d53-3c1f0b2a9e11",'
           b'"appId":"7","payload":"eyJ0ZW1wIjoyMS41LCJodW1pZGl0eSI6NDAsInNlcSI6MTIzNDV9",'
           b'"delivStReqInd":true,"stoAndFwInd":false,"priority":"LOW"}')


def typical():
    m = Message(0, 2, 0x1A2B, b"\x01\x02\x03\x04")
    m.add(3, "msgin5g.example.net").set_path("msgin5g").add(12, 50)
    m.payload = PAYLOAD
    return m


def codec(n=20000):
    m = typical()
    buf = bytearray(1152)
    k = encode_into(m, buf)
    mv = memoryview(buf)[:k]
    t0 = time.ticks_us()
    for _ in range(n):
        encode_into(m, buf)
        decode(mv)
    dt = time.ticks_diff(time.ticks_us(), t0)
    print("message_bytes", k)
    print("encode_decode_us", dt / n)


def rtt(port, n, rounds=30):
    """Round trips/s of ep.call() and of a bare socket loop against the same server. The two
    alternate in `rounds` blocks of n/rounds round trips each; each stack block is compared
    with the bare block right after it (the machine's speed drifts, two neighbouring blocks
    share it), and the median of those ratios is printed with the median block rates."""
    from coap.udp import UdpEndpoint, resolve
    addr = resolve("127.0.0.1", port)
    ep = UdpEndpoint("127.0.0.1", 0)
    host = [(3, "msgin5g.example.net")]
    # Bare loop: the same datagram prebuilt, a raw socket, a blocking wait for any reply.
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect(addr)
    buf = bytearray(1152)
    k = encode_into(typical(), buf)
    mv = memoryview(buf)[:k]
    per = max(n // rounds, 1)
    rs, rb, q = [], [], []
    ok = 0
    j = 0
    for _ in range(rounds):
        t0 = time.ticks_us()
        for _ in range(per):
            r = ep.call(addr, 2, "bench", PAYLOAD, cf=50, options=host)
            ok += r.error is None
        a = per * 1000000 / time.ticks_diff(time.ticks_us(), t0)
        t0 = time.ticks_us()
        for _ in range(per):
            j += 1
            buf[2] = j >> 8 & 0xFF   # new Message ID each time, or the server deduplicates
            buf[3] = j & 0xFF
            s.send(mv)
            s.recv(1280)
        b = per * 1000000 / time.ticks_diff(time.ticks_us(), t0)
        rs.append(a)
        rb.append(b)
        q.append(a / b)
    for v in (rs, rb, q):
        v.sort()
    m = rounds // 2
    print("stack_rtt_per_s", rs[m])
    print("stack_ok", ok)
    print("bare_rtt_per_s", rb[m])
    print("ratio", q[m])
    ep.close()
    s.close()


if __name__ == "__main__":
    if sys.argv[1] == "codec":
        codec()
    else:
        rtt(int(sys.argv[2]), int(sys.argv[3]))
