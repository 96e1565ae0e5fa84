# Running things on the desktop: the reference server, one device, the simulation.
#   make ue CONFIG=device.json [HEAP=48k] [BOARD=unix32]   one device
#   make sim [LOSS=20] [BOARD=unix32] [SIMARGS=...]         the fleet
# BOARD=unix32 runs the devices on the board-true build (32-bit, library frozen in; built by
# make firmware BOARD=unix32 on first use); the default is the 64-bit unix port.
HEAP ?=
SIMARGS ?=

.PHONY: ue sim
ue: setup
	@test -n "$(CONFIG)" || { echo "usage: make ue CONFIG=path/to/device.json [HEAP=48k] [BOARD=unix32]"; exit 2; }
	$(PY) tools/ue $(CONFIG) $(if $(HEAP),--heap $(HEAP)) $(if $(BOARD),--board $(BOARD))

sim: setup
	$(PY) tools/sim.py $(if $(LOSS),--loss $(LOSS)) $(if $(BOARD),--board $(BOARD)) $(if $(HEAP),--heap $(HEAP)) $(SIMARGS)
