# Running things on the desktop: the reference server, one device, the simulation.
HEAP ?=
SIMARGS ?=

.PHONY: ue sim
ue: setup
	@test -n "$(CONFIG)" || { echo "usage: make ue CONFIG=path/to/device.json [HEAP=48k]"; exit 2; }
	$(PY) tools/ue $(CONFIG) $(if $(HEAP),--heap $(HEAP))

sim: setup
	$(PY) tools/sim.py $(if $(LOSS),--loss $(LOSS)) $(SIMARGS)
