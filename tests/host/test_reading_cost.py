"""The behaviour behind `make bench`'s cost of one sensor reading (issue 13 item 4), counted by
the same relay (tools/bench_reading.py CountingRelay) between the device and the server or the
gateway: a steady-state reading is exactly one exchange, one datagram each way, without REG;
the first reading after a cold boot takes at most 3 exchanges; likewise for a sleeping
constrained UE through a Gateway UE, over A.3 and A.2. Behaviour, not speed: the time
awake is the bench's to print. Ports 18800-18849."""
import json
import socket
import time

import pytest

import bench_reading as br


def _payloads(dg):
    return [br.coap_parts(x[2])["payload"] for x in dg if br.coap_parts(x[2])]


def test_a_sleeping_ue_reading_is_one_exchange_without_reg(tmp_path):
    cold, wakes, stats = br.ue_wakes(18800, 18801, steady=3, work=str(tmp_path))
    assert cold.ok and cold.reg, cold.out
    assert cold.cost["exchanges"] <= 3, cold.cost
    assert any(b'"msgType":"REG"' in p for p in _payloads(cold.dg)), cold.dg
    for w in wakes:
        assert w.ok and not w.reg, w.out
        assert w.cost["exchanges"] == 1, (w.cost, w.dg)
        assert (w.cost["dg_up"], w.cost["dg_down"]) == (1, 1), w.dg
        (req,) = [br.coap_parts(x[2]) for x in w.dg if x[1] == "up"]
        assert req["type"] == 0 and req["code"] == 2, req          # CON POST
        assert b'"msgType":"MSG"' in req["payload"] and b'"REG"' not in req["payload"]
        (ack,) = [br.coap_parts(x[2]) for x in w.dg if x[1] == "down"]
        assert ack["type"] == 2 and ack["code"] == 0x44, ack       # piggybacked 2.04
    assert stats["registrations"] == 1
    assert [json.loads(e["payload"])["n"] for e in stats["inbox"]] == [1, 2, 3, 4]
    # the breakdown accounts for every octet on air
    bk = br.breakdown(wakes[-1].dg)
    assert sum(n for _, n in bk) == wakes[-1].cost["air"]
    assert dict(bk)["request Uri-Host"] == 2 + len(br.HOST15)     # PC-09, 15 characters


@pytest.mark.parametrize("link,base", [("A.3", 18810), ("A.2", 18820)])
def test_a_sleeping_cue_reading_through_the_gateway_is_one_exchange(link, base, tmp_path):
    cold, wakes, inbox = br.cue_wakes(link, tuple(range(base, base + 5)), steady=3,
                                      work=str(tmp_path))
    assert cold.ok and cold.reg, cold.out
    assert cold.cost["exchanges"] == 2, (cold.cost, cold.dg)   # registration + reading
    for w in wakes:
        assert w.ok and not w.reg, w.out                        # registration kept
        assert w.cost["exchanges"] == 1 and (w.cost["dg_up"], w.cost["dg_down"]) == (1, 1), w.dg
        assert w.uplink["exchanges"] == 1, w.uplink     # the gateway's own MSG to the server
    assert [json.loads(e["payload"])["n"] for e in inbox] == [1, 2, 3, 4]
    if link == "A.2":
        bk = br.a2_breakdown(wakes[-1].dg)
        assert sum(n for _, n in bk) == wakes[-1].cost["air"]


def test_counting_relay_counts_retransmissions_as_datagrams_not_exchanges():
    echo = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    echo.bind(("127.0.0.1", 18830))
    cli = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    cli.settimeout(2)
    con = bytes([0x41, 0x02, 0x12, 0x34, 0xAA, 0xB7]) + b"msgin5g"   # CON POST, MID 0x1234
    ack = bytes([0x61, 0x44, 0x12, 0x34, 0xAA])
    with br.CountingRelay(18831, 18830) as relay:
        for _ in range(2):                      # a request and its retransmission
            cli.sendto(con, ("127.0.0.1", 18831))
            data, addr = echo.recvfrom(100)
            assert data == con
        echo.sendto(ack, addr)
        assert cli.recvfrom(100)[0] == ack
        time.sleep(0.05)
        c = br.cost(relay.since(0))
    echo.close()
    cli.close()
    assert c == {"exchanges": 1, "dg_up": 2, "dg_down": 1, "air_up": 2 * (len(con) + 28),
                 "air_down": len(ack) + 28, "air": 2 * (len(con) + 28) + len(ack) + 28}
