"""tools/modemsim --model sim7080|bg95 [options]: a simulated modem on a pseudo-terminal.

Prints `pty PATH` and `control HOST:PORT` on its first two lines, then runs until Ctrl-C or
SIGTERM, printing `COUNTERS {...}` on exit and on SIGUSR1. SIGUSR2 is a PWRKEY press (wakes
the modem from PSM). The control port takes one text command per UDP datagram and answers
with JSON, e.g. `echo pwrkey | nc -u -w1 127.0.0.1 PORT` (commands: see ModemSim.control).
"""
import argparse
import json
import signal
import sys

from . import KNOBS, MODELS
from .bridge import ModemSim


def parse(argv):
    p = argparse.ArgumentParser(prog="modemsim", description=__doc__.splitlines()[0])
    p.add_argument("--model", default="sim7080", choices=sorted(MODELS))
    p.add_argument("--link", help="also make this path a symlink to the pty (e.g. build/modem.tty)")
    p.add_argument("--host", default="127.0.0.1", help="address of the bridged UDP sockets")
    p.add_argument("--control-port", type=int, default=0, help="control UDP port (0: any)")
    p.add_argument("--reg-delay", type=float, default=KNOBS["reg_delay"],
                   help="seconds from searching to registered")
    p.add_argument("--roaming", action="store_true", help="register as roaming (+CEREG: 5)")
    p.add_argument("--deny", action="store_true", help="registration denied (+CEREG: 3)")
    p.add_argument("--sim", choices=("ready", "missing", "pin"), default="ready")
    p.add_argument("--interleave", metavar="URC",
                   help="put this URC between every info line and its OK")
    p.add_argument("--rrc-inactivity", type=float, default=KNOBS["rrc_inactivity"],
                   help="seconds without traffic before the RRC connection is released")
    p.add_argument("--rsrp", type=int, default=KNOBS["rsrp"], help="signal, dBm")
    p.add_argument("--no-psm-grant", action="store_true", help="the network refuses PSM")
    p.add_argument("--no-edrx-grant", action="store_true", help="the network refuses eDRX")
    p.add_argument("--at", action="append", default=[], metavar="SECONDS:COMMAND",
                   help="run a control command later, e.g. --at '30:gap 10' --at 60:reset")
    return p.parse_args(argv)


def main(argv=None):
    a = parse(sys.argv[1:] if argv is None else argv)
    knobs = dict(reg_delay=a.reg_delay, roaming=a.roaming, deny=a.deny, sim=a.sim,
                 interleave=a.interleave, rrc_inactivity=a.rrc_inactivity, rsrp=a.rsrp)
    if a.no_psm_grant:
        knobs["grant_psm"] = False
    if a.no_edrx_grant:
        knobs["grant_edrx"] = False
    sim = ModemSim(a.model, link=a.link, host=a.host, control_port=a.control_port, **knobs)
    for spec in a.at:
        when, _, cmd = spec.partition(":")
        sim.at(float(when), cmd)

    def dump(counters):
        print("COUNTERS " + json.dumps(counters, sort_keys=True), flush=True)

    def stop(sig, frame):
        sim._stop = True
        sim._wake()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGUSR1, lambda s, f: sim.request_dump())
    signal.signal(signal.SIGUSR2, lambda s, f: sim.at(0, "pwrkey"))
    print("pty " + sim.path, flush=True)
    print("control %s:%d" % sim.control_addr, flush=True)
    print("modemsim: %s on %s%s; control port %d (pwrkey, reset, gap S, pdp-loss, counters)"
          % (sim.modem.MODEL, sim.path, " (%s)" % a.link if a.link else "",
             sim.control_addr[1]), file=sys.stderr, flush=True)
    try:
        sim.run(on_dump=dump)
    finally:
        dump(sim.counters())
        sim._close_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
