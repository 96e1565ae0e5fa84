# Boards: compile, deploy, flash (see docs/boards.md). Owned by the board layer.
#   make mpy [BOARD=esp32|esp32s3|esp32c3|esp32c6|rp2040|rp2350|unix] [NOLINES=1]   .mpy tree in build/<board>/ (no BOARD: all)
#   make deploy BOARD=.. PORT=.. [CONFIG=f] [SECRETS=f] [ROMFS=1] [NOLINES=1] [RESUME=1] [RESET=1] [DRY_RUN=1]
#   make romfs BOARD=.. [NOLINES=1]                 ROMFS image of lib/ in build/<board>.romfs
#   NOLINES=1: bytecode without source line numbers (~7 % smaller; tracebacks name no line)
#   make flash BOARD=esp32|esp32s3|esp32c3|esp32c6 PORT=.. FIRMWARE=fw.bin [BAUD=460800] [DRY_RUN=1]
#   make flash BOARD=rp2040|rp2350 [PORT=..] FIRMWARE=fw.uf2 UF2_DRIVE=/media/$$USER/RPI-RP2 (RP2350)
#   make repl PORT=.. [RESUME=1]
#   make package-json                               regenerate package.json (mip)
.PHONY: mpy deploy romfs flash repl package-json

_need = $(if $($(1)),,$(error $(1)= is required, e.g. make $@ $(1)=$(2)))
_opt = $(if $($(1)),$(2) $($(1)))
_flag = $(if $(filter 1 yes true,$($(1))),$(2))

mpy: setup
	$(PY) tools/build_mpy.py $(if $(BOARD),--board $(BOARD),--all) $(call _flag,NOLINES,--no-lines)

deploy: setup
	$(call _need,BOARD,esp32)$(call _need,PORT,/dev/ttyUSB0)
	$(PY) tools/build_mpy.py --board $(BOARD) $(call _flag,NOLINES,--no-lines)
	$(PY) tools/deploy.py deploy --board $(BOARD) --port $(PORT) $(call _opt,CONFIG,--config) \
	  $(call _opt,SECRETS,--secrets) $(call _flag,RESUME,--resume) $(call _flag,RESET,--reset) \
	  $(call _flag,ROMFS,--romfs) $(call _flag,DRY_RUN,--dry-run)

romfs: setup
	$(call _need,BOARD,esp32)
	$(PY) tools/build_mpy.py --board $(BOARD) $(call _flag,NOLINES,--no-lines)
	$(PY) tools/deploy.py romfs --board $(BOARD)

flash: setup
	$(call _need,BOARD,esp32)
	$(PY) tools/deploy.py flash --board $(BOARD) $(call _opt,PORT,--port) \
	  $(call _opt,FIRMWARE,--firmware) $(call _opt,BAUD,--baud) $(call _opt,UF2_DRIVE,--uf2-drive) \
	  $(call _flag,DRY_RUN,--dry-run)

repl: setup
	$(call _need,PORT,/dev/ttyUSB0)
	$(PY) tools/deploy.py repl --port $(PORT) $(call _flag,RESUME,--resume)

package-json: setup
	$(PY) tools/build_mpy.py --package-json
