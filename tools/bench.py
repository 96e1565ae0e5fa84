#!/usr/bin/env python3
"""make bench: prints benchmark figures (never asserts).

Memory figures come first from unix32 (make firmware BOARD=unix32: MicroPython 1.28's unix port
built 32-bit with the library frozen in, as a board runs it), then from the 64-bit unix port
with the library's bytecode loaded from files ("unix32 / unix"). Timing is for ratios within a
run only: this machine's speed drifts."""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(ROOT, "tools", "host"), os.path.join(ROOT, "tools", "server")]
import mp  # noqa: E402
import compile_mpy  # noqa: E402
sys.path.insert(0, os.path.join(ROOT, "tools"))
import build_mpy  # noqa: E402
import session  # noqa: E402


def line(k, v):
    print("%-60s %s" % (k, v), flush=True)


def mprun(code, heap="64k", board="unix"):
    """Run MicroPython code on `board` ('unix': 64-bit, library bytecode from files; 'unix32':
    the board-true build, library frozen); return its output."""
    cmd, env = mp.device_cmd(heap, board)
    r = subprocess.run(cmd + ["-c", code], env=env, capture_output=True, text=True, timeout=120,
                       cwd=ROOT)
    return r.stdout.strip() or r.stderr.strip()


def mpscript(args, heap="64k", board="unix"):
    cmd, env = mp.device_cmd(heap, board)
    r = subprocess.run(cmd + args, env=env, capture_output=True, text=True, timeout=300, cwd=ROOT)
    return kv(r.stdout)


# System modules (C on boards and on both unix builds) are imported before the first measure:
# the figure is what the project's own modules hold.
SYSTEM = ", os, time, json, hashlib, binascii, socket, select, asyncio"
RUNTIME = ["coap.udp", "msgin5g.client", "msgin5g.device", "apps.echo"]   # a device's modules


def heap_code(mods, pre=SYSTEM):
    """MicroPython lines printing the heap held after importing mods."""
    return ("import gc%s\ngc.collect()\na=gc.mem_alloc()\n" % pre +
            "".join("import %s\n" % m for m in mods) + "gc.collect()\nprint(gc.mem_alloc()-a)\n")


def heap_after(mods, board="unix", heap="256k"):
    return mprun(heap_code(mods), heap, board)


def both(fn, *a):
    """'unix32 / unix' figures of fn(*a, board=...)."""
    return "%s / %s" % (fn(*a, board="unix32"), fn(*a, board="unix"))


def mpy_size(files, march=None):
    out = tempfile.mkdtemp()
    total = 0
    for f in files:
        dst = os.path.join(out, os.path.basename(f) + ".mpy")
        # -s: the source name stored in the .mpy is the path on the board, as `make mpy` does
        rel = f.split("/", 1)[1] if f.startswith(("lib/", "boards/", "firmware/")) else f
        cmd = [compile_mpy.mpy_cross(), "-s", rel, "-o", dst, os.path.join(ROOT, f)]
        if march:
            cmd.insert(1, "-march=" + march)
        subprocess.run(cmd, check=True)
        total += os.path.getsize(dst)
    shutil.rmtree(out)
    return total


COAP = ["lib/coap/%s.py" % m for m in ("__init__", "codec", "message", "endpoint", "udp")]
CLIENT = ["lib/msgin5g/%s.py" % m for m in ("__init__", "ids", "wire", "segment", "registration", "ring",
                                            "client")]


def kv(out):
    return dict(l.split(None, 1) for l in out.splitlines() if " " in l)


def coap_figures():
    print("== CoAP stack (figures: unix32 = 32-bit, library frozen, as a board / unix = 64-bit, "
          "bytecode from files)")
    k32, k64 = (mpscript(["tools/bench_coap.py", "codec"], board=b) for b in ("unix32", "unix"))
    line("encode+decode, %s-octet request (us)" % k64.get("message_bytes"),
         "%.2f / %.2f" % (float(k32["encode_decode_us"]), float(k64["encode_decode_us"])))
    code = ("import sys; sys.path[:0]=['lib','tools/host','tools']; import cpython_shim; "
            "cpython_shim.install(); import bench_coap; bench_coap.codec(20000)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    line("encode+decode, same request, CPython (us)", "%.2f" % float(kv(r.stdout)["encode_decode_us"]))
    if shutil.which("coap-server-notls"):
        srv = subprocess.Popen(["coap-server-notls", "-p", "17399", "-d", "4"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.3)
        try:
            for board in ("unix32", "unix"):
                runs = []
                for _ in range(3):      # three runs: the VM's speed drifts between them
                    k = mpscript(["tools/bench_coap.py", "rtt", "17399", "3000"], board=board)
                    runs.append((float(k["ratio"]), float(k["stack_rtt_per_s"]),
                                 float(k["bare_rtt_per_s"])))
                runs.sort()
                q, s, b = runs[1]
                line("%s: CON POST round trips/s vs coap-server-notls, stack / bare" % board,
                     "%.0f / %.0f" % (s, b))
                line("%s: ratio stack / bare (30 paired blocks; median run of 3)" % board,
                     "%.2f  (runs %s; target >= 0.5)" % (q, " ".join("%.2f" % x[0] for x in runs)))
        finally:
            srv.terminate()
    line("heap held after importing the stack, coap.udp (bytes)", both(heap_after, ["coap.udp"]))
    line(".mpy of the stack (bytes, reported)", "%d" % mpy_size(COAP))


def device_figures():
    print("== Device (unix32 / unix; heaps in bytes after a collection)")
    line("heap held after importing stack + client", both(heap_after,
                                                          ["coap.udp", "msgin5g.client"]))
    line("heap held after importing the device runtime",
         both(heap_after, RUNTIME) + "  (target unix32 <= 12288)")
    # A board with a ROMFS partition runs the bytecode from flash (make deploy ROMFS=1).
    import deploy
    work = tempfile.mkdtemp()
    img = os.path.join(work, "unix.romfs")
    build = os.path.join(work, "build-unix")
    build_mpy.build("unix", out=build)
    subprocess.run(deploy.romfs_command(build, img), check=True, capture_output=True)
    line("unix: device runtime imported from ROMFS (image excluded)",
         mprun(mp.romfs_prelude(img) + heap_code(RUNTIME), "512k"))
    shutil.rmtree(work)
    boot_and_registered()
    session_figures()


def boot_and_registered():
    from m5server.thread import ServerThread
    work = tempfile.mkdtemp()
    cfg = session.write_config(work, 17599, 17598)
    with ServerThread(port=17599):
        k = {b: mpscript(["tools/bench_device.py", cfg], heap="256k", board=b)
             for b in ("unix32", "unix")}
    shutil.rmtree(work)
    f = lambda key: "%s / %s" % (k["unix32"].get(key, "-"), k["unix"].get(key, "-"))  # noqa
    line("heap used at boot (config loaded, Device built)", f("boot_used"))
    line("heap used once registered", f("registered_used"))
    line("largest free block once registered (256k heap)", f("registered_largest"))


def session_figures():
    print("   session: register, 100 messages each way (every 10th with a report), 5 KB "
          "segmented each way, de-register")
    for board, heaps, target in (
            ("unix32", ("32k", "36k", "40k", "44k", "48k", "56k", "64k", "80k", "96k"),
             "target 48k, goal 40k"),
            ("unix", ("64k", "96k", "128k", "144k", "160k", "176k", "192k", "224k", "256k"),
             "bytecode in the heap")):
        h, tried = session.floor(heaps, board)
        line("%s: smallest heap passing the session twice in a row" % board,
             "%s  (%s; below: %s)" % (h or "over " + heaps[-1], target,
                                      "; ".join(tried[-2:]) or "-"))
        at = "48k" if board == "unix32" else "256k"
        r = session.run(at, board)
        if r.ok:
            hp = r.status["heap"]
            line("%s: heap after the session at %s: used / free / largest block" % (board, at),
                 "%d / %d / %d" % (hp["used"], hp["free"], hp["largestBlock"]))
            line("%s: boot to registered (ms); messages/s; 5 KB round trip (ms)" % board,
                 "%.0f; %.0f; %.0f" % (r.figures["boot_to_registered_ms"],
                                       r.figures["messages_per_s"],
                                       r.figures["segmented_round_trip_ms"]))
        else:
            line("%s: session at %s" % (board, at), "failed at %s" % r.stage)


SENSOR = (["lib/coap/%s.py" % m for m in ("__init__", "codec", "message", "endpoint", "udp", "aio")] +
          ["lib/msgin5g/%s.py" % m for m in ("__init__", "ids", "wire", "segment", "registration", "ring",
                                             "client", "device", "log", "devconfig", "uri",
                                             "repl", "aiorepl")] +
          ["boards/board.py", "boards/wifi.py", "firmware/apps/__init__.py",
           "firmware/apps/sensor.py"])


def constrained_figures():
    print("== Constrained UEs (unix32 / unix)")
    cue = ["coap.udp", "msgin5g.constrained.appclient"]

    def alone(board):
        return int(heap_after(cue, board)) - int(heap_after(["coap.udp"], board))

    line("heap held after importing the cue Application Client (with the stack)",
         both(heap_after, cue))
    line("heap held by the Application Client alone", both(alone))
    line(".mpy of the Application Client alone (bytes, reported)",
         "%d" % mpy_size(["lib/msgin5g/constrained/appclient.py"]))
    k = {b: mpscript(["tools/bench_gateway.py"], heap="256k", board=b) for b in ("unix32", "unix")}
    line("gateway heap per registered constrained UE (bytes)",
         "%s / %s  (%s registered over A.2)" % (k["unix32"].get("gateway_heap_per_cue"),
                                               k["unix"].get("gateway_heap_per_cue"),
                                               k["unix"].get("gateway_registered")))


def flood_figures():
    print("== Flood")
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider",
                        "tests/host/test_flood.py"], capture_output=True, text=True, cwd=ROOT)
    for l in r.stdout.splitlines():
        if l.startswith("FLOOD") and "status after" not in l:
            print("   " + l)


def board_figures():
    print("== Firmware .mpy per board (reported)")
    for board, arch, f in (("rp2040", "armv6m", "boards/board_rp2040.py"),
                           ("esp32", "xtensawin", "boards/board_esp32.py")):
        line("sensor device firmware .mpy, %s (%s)" % (board, arch),
             "%d" % mpy_size(SENSOR + [f], arch))
    print("   whole tree (every role), per board:")
    r = subprocess.run([sys.executable, "tools/build_mpy.py", "--all", "--sizes"], cwd=ROOT,
                       capture_output=True, text=True)
    for l in r.stdout.splitlines():
        if re.search(r"total|bytes", l, re.I):
            print("   " + l)


def reading_figures():
    print("== The cost of one sensor reading (issue 13): exchanges, datagrams, octets on air, "
          "time awake (tools/bench_reading.py)")
    import bench_reading
    bench_reading.report()


def modem_run(model, board, n=20, size=100):
    """tools/bench_modem.py over a tools/modemsim pty against the reference server: its
    key/value lines, and the simulator's counters over the n messages alone."""
    from m5server.thread import ServerThread
    from modemsim import ModemSim
    out, marks = {}, []
    with ServerThread(port=17699, quiet=True), ModemSim(model, reg_delay=0.1) as sim:
        cmd, env = mp.device_cmd("256k" if board == "unix" else "96k", board)
        p = subprocess.Popen(cmd + ["tools/bench_modem.py", sim.path, model, "127.0.0.1",
                                    "17699", str(n), str(size)], env=env, cwd=ROOT, text=True,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, bufsize=1)
        try:
            for ln in p.stdout:
                k = ln.split(None, 1)
                if len(k) == 2:
                    out[k[0]] = k[1].strip()
                if k and k[0] in ("registered", "messages", "done"):
                    marks.append(sim.counters())
                    p.stdin.write("\n")
                    p.stdin.flush()
            p.wait(60)
        finally:
            if p.poll() is None:
                p.kill()
    if len(marks) >= 2:
        out["per"] = {k: (marks[1][k] - marks[0][k]) / n for k in marks[0]}
    if len(marks) >= 3:
        out["large"] = {k: marks[2][k] - marks[1][k] for k in marks[0]}
    return out


def modem_figures():
    print("== Cellular modem (issue 11): the MSGin5G Client over tools/modemsim (pty), "
          "20 messages of 100 octets to an AS")
    for model in ("sim7080", "bg95"):
        k = {b: modem_run(model, b) for b in ("unix32", "unix")}
        r = k["unix"].get("per")
        if not r:
            line("%s: run" % model, "failed: %s" % (k["unix"],))
            continue
        # both directions carry the same datagrams; AT overhead = UART octets besides payload
        line("%s: datagrams on air per message, up / down" % model,
             "%.1f / %.1f" % (r["ul_datagrams"], r["dl_datagrams"]))
        line("%s: octets on air per message, up / down" % model,
             "%.0f / %.0f" % (r["ul_octets"], r["dl_octets"]))
        for d, (tot, pay, dg) in (("up", ("uart_rx_octets", "uart_rx_payload", "ul_datagrams")),
                                  ("down", ("uart_tx_octets", "uart_tx_payload",
                                            "dl_datagrams"))):
            line("%s: AT octets on the UART per datagram besides the payload, %s" % (model, d),
                 "%.1f  (target <= 60)" % ((r[tot] - r[pay]) / max(r[dg], 1e-9)))
        g = k["unix"].get("large") or {}
        if g:
            line("%s: one 1400-octet datagram: AT overhead up / down" % model,
                 "%d / %d" % (g["uart_rx_octets"] - g["uart_rx_payload"],
                              g["uart_tx_octets"] - g["uart_tx_payload"]))
        f = lambda key: "%s / %s" % (k["unix32"].get(key, "-"), k["unix"].get(key, "-"))  # noqa
        line("%s: send() to its 2.04, p50 / max (ms; unix32 / unix)" % model,
             "%s  /  %s" % (f("send_to_204_ms_p50"), f("send_to_204_ms_max")))
        line("%s: largest event-loop stall, messages / 1400-octet datagram (ms)" % model,
             "%s  /  %s  (target <= 50; pty: no baud rate, see below)" % (
                 f("msg_stall_ms"), f("large_stall_ms")))
        h = k["unix32"]
        if "modem_link_heap" in h:
            line("%s: modem layer heap on unix32: imports + Link (bytes)" % model,
                 "%s + %s = %d  (target <= 6144)" % (
                     h["modem_import_heap"], h["modem_link_heap"],
                     int(h["modem_import_heap"]) + int(h["modem_link_heap"])))
            line("%s: + bringup and codes while a procedure runs (bytes)" % model,
                 "%s  (forgotten once up: %s of them loaded then)" % (
                     h.get("modem_procedure_heap", "-"),
                     h.get("modem_rare_loaded_when_up", "-")))
    line("UART time of one 256-octet write chunk at 115200 baud (ms, computed)",
         "%.1f  (a 1460-octet datagram goes out in 6 chunks, one per loop turn)" % (256 * 10 / 115.2))


def main():
    mp.unix32_exe()     # build the board-true firmware first (cached)
    coap_figures()
    device_figures()
    constrained_figures()
    reading_figures()
    board_figures()
    flood_figures()
    modem_figures()
    extra = os.path.join(ROOT, "tools", "bench_loss.py")
    if os.path.exists(extra):
        print("== Loss")
        subprocess.run([sys.executable, extra], cwd=ROOT)


if __name__ == "__main__":
    main()
