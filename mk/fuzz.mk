# Fuzzing with atheris (libFuzzer), targets in tools/fuzz.py; CI runs the same targets quickly
# through hypothesis in tests/host/test_fuzz.py.
#   make fuzz [FUZZ_SECONDS=60] [FUZZ_TARGETS="coap endpoint wire a2 a3 client"]
# Corpus: build/fuzz/corpus/<target> (kept between runs); crashes: build/fuzz/crash/<target>/,
# replay one with `$(PY) tools/fuzz.py --replay <target> <file>` and make it a regression test.
# atheris gets its own venv (pinned here, not in requirements.txt).
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= coap endpoint wire a2 a3 client
FUZZ_FLAGS ?= -timeout=10 -max_len=4096 -rss_limit_mb=2048
ATHERIS_PIN := atheris==3.0.0
FUZZ_VENV := build/fuzz-venv
FUZZ_STAMP := $(FUZZ_VENV)/.installed-atheris-3.0.0

.PHONY: fuzz
$(FUZZ_STAMP):
	$(PY) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' || \
	  { echo "atheris 3.0.0 ships a cp311 wheel: need Python 3.11"; exit 1; }
	test -x $(FUZZ_VENV)/bin/python || $(PY) -m venv $(FUZZ_VENV)
	$(FUZZ_VENV)/bin/pip install -q --disable-pip-version-check $(ATHERIS_PIN)
	@touch $@

fuzz: setup $(FUZZ_STAMP)
	@status=0; for t in $(FUZZ_TARGETS); do \
	  mkdir -p build/fuzz/corpus/$$t build/fuzz/crash/$$t; \
	  $(FUZZ_VENV)/bin/python tools/fuzz.py --seed $$t build/fuzz/corpus/$$t; \
	  echo "== fuzz $$t for $(FUZZ_SECONDS) s"; \
	  $(FUZZ_VENV)/bin/python tools/fuzz.py $$t -max_total_time=$(FUZZ_SECONDS) $(FUZZ_FLAGS) \
	    -artifact_prefix=build/fuzz/crash/$$t/ -print_final_stats=1 build/fuzz/corpus/$$t \
	    || { status=1; echo "!! $$t: crash saved in build/fuzz/crash/$$t/"; }; \
	done; exit $$status
