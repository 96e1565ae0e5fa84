# MSGin5G client firmware for constrained IoT devices.
#   make sim    the desktop simulation (main job)
#   make test   the whole test suite (installs what it needs first)
#   make bench  benchmark figures
SHELL := /bin/bash
VENV  := .venv
PY    := $(VENV)/bin/python
MPY   := $(VENV)/bin/micropython
STAMP := $(VENV)/.installed-$(shell sha1sum requirements.txt | cut -c1-12)
DEBS  := build/.debs
export MICROPYPATH := .frozen:$(CURDIR)/lib:$(CURDIR)/boards:$(CURDIR)/firmware

.PHONY: setup test test-fast bench sim clean
setup: $(STAMP) $(DEBS)

$(STAMP): requirements.txt
	@test -x $(PY) || python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -r requirements.txt
	@rm -f $(VENV)/.installed-*; touch $@

$(DEBS): tools/ensure-debs.sh
	@mkdir -p build
	./tools/ensure-debs.sh
	@touch $@

test: setup
	$(VENV)/bin/pytest -q -p no:cacheprovider tests

bench: setup
	$(PY) tools/bench.py

clean:
	rm -rf build

-include mk/*.mk
