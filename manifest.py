# Freezes the firmware library into a custom MicroPython image (bytecode in flash: no RAM
# spent on compiling or holding it, and nothing to copy with mpremote). From a MicroPython
# checkout:
#   ports/esp32: make BOARD=ESP32_GENERIC        FROZEN_MANIFEST=/path/to/repo/manifest.py
#                make BOARD=ESP32_GENERIC_S3     FROZEN_MANIFEST=/path/to/repo/manifest.py
#   ports/rp2:   make BOARD=RPI_PICO_W           FROZEN_MANIFEST=/path/to/repo/manifest.py
# then flash the image (make flash ...) and copy only boot.py, main.py and the config:
#   mpremote cp build/<board>/boot.py build/<board>/main.py :  (see docs/boards.md).
# The manifest runs with this directory as cwd, so the paths below are repo-relative;
# every package and module of lib/ and boards/ is frozen, new ones included automatically.
import os

# Keep what the port freezes by default (asyncio, neopixel, the Pico W's network helpers):
# the board's own manifest where it has one, else the port's. The unix port has neither (its
# variants/manifest.py wants micropython-lib's mip and ssl): there, asyncio alone, which is
# what the firmware needs (make firmware BOARD=unix32, the board-true build).
for _m in ("$(BOARD_DIR)/manifest.py", "$(PORT_DIR)/boards/manifest.py", "$(MPY_DIR)/extmod/asyncio"):
    try:
        include(_m)
        break
    except Exception:
        pass
else:
    raise Exception("manifest.py: no board or port manifest to include")

for _name in sorted(os.listdir("lib")):
    if os.path.isdir(os.path.join("lib", _name)) and not _name.startswith(("_", ".")):
        package(_name, base_path="lib")       # lib/msgin5g/** -> msgin5g/**
    elif _name.endswith(".py"):
        module(_name, base_path="lib")

for _name in sorted(os.listdir("boards")):
    if _name.endswith(".py"):
        module(_name, base_path="boards")     # boards/board.py -> board

for _name in sorted(os.listdir("firmware")):   # apps/ etc.; boot.py, main.py stay files
    if os.path.isdir(os.path.join("firmware", _name)) and not _name.startswith(("_", ".")):
        package(_name, base_path="firmware")
    elif _name.endswith(".py") and _name not in ("boot.py", "main.py"):
        module(_name, base_path="firmware")
