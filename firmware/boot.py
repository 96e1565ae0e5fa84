# boot.py: runs first at every reset. Kept minimal: no network, no config, no application.
# Safe mode: hold the board's button while the board resets (BOOT: GPIO0 on ESP32/S3, GPIO9
# on C3/C6; BOOTSEL on the Pico W / Pico 2 W), or create a file named `safemode` in the root
# (`mpremote fs touch :safemode`; delete it to leave). boot.py then sets `board.SAFE = True`
# (modules stay loaded between boot.py and main.py) and shows the steady 'safe' LED;
# main.py reads board.SAFE and stays at the REPL instead of starting the application.
# Any error here leaves SAFE False and lets the REPL come up.
try:
    import os

    import board

    _b = board.detect()
    try:
        os.stat("safemode")
        board.SAFE = True
    except OSError:
        board.SAFE = _b.button_held()
    if board.SAFE:
        print("boot: safe mode, application not started")
        _b.status("safe")
    del _b
except Exception as e:  # noqa: BLE001  never block the REPL
    print("boot:", e)
