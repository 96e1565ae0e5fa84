"""The main job end to end: `tools/sim.py` runs the reference server and four devices on the
unix port and checks every flow (A2P, P2A, P2P, GROUP, BC, TOPIC, 5 KB segmented, reports,
a duty-cycled sensor and a message sent while it sleeps, cellular UEs behind modem
simulators)."""
import os
import re
import subprocess
import sys

import mp


def run_sim(*args):
    return subprocess.run([sys.executable, os.path.join(mp.ROOT, "tools", "sim.py")] + list(args),
                          capture_output=True, text=True, timeout=180, cwd=mp.ROOT)


def check_every_flow(r):
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-3000:]
    assert "PASS: every expected delivery happened" in out
    for flow in ("A2P+P2A", "GROUP", "BC", "TOPIC", "SEGMENTED", "GW A.3", "GW A.2", "RELAY",
                 "P2P", "SLEEPY", "CELL 7080", "CELL BG95", "CELL PSM"):
        assert re.search(r"^%s\s+\d+\s+[1-9]" % re.escape(flow), out, re.M), flow
    # every device de-registered on SIGINT and reported its final status
    assert out.count("DEREGISTERED") == 12, out[-2000:]
    # the cellular UEs (issue 11): octets on air from each modem simulator; PSM woken, RAI
    for name in ("cell-7080", "cell-bg95", "cell-psm"):
        assert re.search(r"^  %s +\w+ +air UL [1-9]\d* dgrams [1-9]\d* octets" % name, out, re.M), name
    assert re.search(r"cell-psm .* PSM [1-9]\d*/[1-9]\d* woken; RAI marks [1-9]", out), out[-2000:]
    # the duty-cycled sensor: registered once, a message sent while it slept taken at a wake
    assert re.search(r"SLEEPY +ok +STORED .* taken at wake \d+; \d+ wakes, \d+ readings at the "
                     r"AS, 1 registration\(s\)", out), out[-2000:]


def test_simulation_passes_every_flow():
    # Also a generous heap ceiling that catches regressions: each device is limited to a 256 KB
    # MicroPython heap (64-bit unix port, the library's bytecode in the heap).
    check_every_flow(run_sim("--port", "19783", "--heap", "256k"))


def test_simulation_on_the_board_true_build(unix32):
    # make sim BOARD=unix32: the whole fleet on the 32-bit build with the library frozen in
    # (gateway and relay included), each device under a 96 KB heap.
    check_every_flow(run_sim("--port", "19803", "--board", "unix32", "--heap", "96k"))
