# Firmware images with the library frozen in, from the project's manifest.py
# (tools/build_firmware.py; docs/boards.md).
#   make firmware BOARD=unix32 [MICROPY_SRC=dir|tar.gz]     build/unix32/micropython: the
#        board-true build (MicroPython 1.28 unix port, 32-bit), cached by the frozen sources
#   make firmware BOARD=rp2040|rp2350|esp32|esp32s3|esp32c3|esp32c6 MICROPY_SRC=checkout
#        a board image with the port's SDK (ESP-IDF / pico-sdk); cannot run on this machine
# The source: MICROPY_SRC, else ../shared/vendor/micropython-1.28.0.tar.gz when present,
# else a shallow clone of v1.28.0.
.PHONY: firmware
firmware: setup
	$(if $(BOARD),,$(error BOARD= is required, e.g. make firmware BOARD=unix32))
	$(PY) tools/build_firmware.py --board $(BOARD) $(if $(MICROPY_SRC),--src $(MICROPY_SRC))
