"""python -m m5server: run the reference MSGin5G Server until Ctrl-C / SIGTERM."""
import argparse
import asyncio
import signal
import sys

from .server import M5Server


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="m5server", description="Reference MSGin5G Server (CoAP)")
    p.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=5683, help="UDP port (default 5683, PC-08)")
    p.add_argument("--groups", help="JSON file {group id: [UE Service IDs]}")
    p.add_argument("--devices", help="JSON file {devices: {ueId: {ueServiceId, segmentSize}}, "
                                     "forbidden: [...]} for the configuration resource")
    p.add_argument("--forbidden", action="append", default=[], metavar="ID",
                   help="UE ID / UE Service ID refused by configuration and REG (repeatable)")
    p.add_argument("--advertise", help="server address put in configuration documents "
                                       "(default coap://HOST:PORT)")
    p.add_argument("--store-ttl", type=float, default=86400.0,
                   help="store-and-forward expiry when the message has no exprTime (s)")
    p.add_argument("--store-retry", type=float, default=30.0,
                   help="try stored messages again this often while their UE is registered, "
                        "besides at its next uplink (s; 0: only then)")
    p.add_argument("--reasm-timeout", type=float, default=60.0, help="T_REASM (s, PC-32)")
    p.add_argument("--seg-size", type=int, default=512,
                   help="segment size for UEs that do not send maxSegSize (PC-30)")
    p.add_argument("--max-seg-size", type=int, default=512,
                   help="upper bound of any downlink segment payload (PC-11/PC-30)")
    p.add_argument("--ack-timeout", type=float, help="downlink CoAP ACK_TIMEOUT (s)")
    p.add_argument("--max-retransmit", type=int, help="downlink CoAP MAX_RETRANSMIT")
    p.add_argument("--admin-any", action="store_true",
                   help="accept admin requests from any address (default: loopback only)")
    p.add_argument("--quiet", action="store_true", help="no per-exchange log lines")
    return p.parse_args(argv)


async def amain(a):
    try:
        server = await M5Server.start(
            a.host, a.port, groups=a.groups, devices=a.devices, forbidden=a.forbidden,
            quiet=a.quiet, store_ttl=a.store_ttl, store_retry=a.store_retry or None,
            reasm_timeout=a.reasm_timeout,
            default_seg_size=a.seg_size, max_seg_size=a.max_seg_size,
            ack_timeout=a.ack_timeout, max_retransmit=a.max_retransmit,
            admin_any=a.admin_any, advertise=a.advertise)
    except (OSError, ValueError) as e:
        print("m5server: cannot start: %s" % e, file=sys.stderr)
        return 1
    if a.quiet:
        print("M5Server listening on %s:%d" % (a.host, a.port), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):
            pass
    await stop.wait()
    await server.stop()
    return 0


def main(argv=None):
    return asyncio.run(amain(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
