# attnhw: `make` runs the built-in example on the RTL, `make test` runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SIM ?= verilator
ARGS ?=
# A configuration that fits an iCE40 UP5K (8 DSPs): 16-bit exp weights and scale port.
ICE40_PARAMS ?= --head-dim 16 --lanes 2 --exp-bits 15 --scale-width 16 --scale-frac 22 --max-seq-len 256
# The engine: the benchmark's default configuration on ECP5; the iCE40 core above with
# K/V for 64 keys (two banks) on the UP5K.
ENGINE_PARAMS ?= --max-seq-len 1024 --block 4
ICE40_ENGINE_PARAMS ?= --head-dim 16 --lanes 2 --exp-bits 15 --scale-width 16 --scale-frac 22 --max-seq-len 64 --block 1

.PHONY: all example verilog test lint synth synth-engine formal soak accuracy bench clean distclean

all: example

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $(STAMP)

verilog: $(STAMP)
	$(BIN)/attnhw verilog $(ARGS) -o build/attention.v

example: verilog
	$(BIN)/attnhw sim $(ARGS) --seq-len 64 --queries 64 --simulator $(SIM)

test: $(STAMP)
	SIM=$(SIM) $(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/attnhw verilog $(ARGS) -o build/attention.v --lint

synth: $(STAMP)
	$(BIN)/attnhw synth $(ARGS) --target ecp5 --json build/synth-ecp5.json
	$(BIN)/attnhw synth $(ICE40_PARAMS) --target ice40 --json build/synth-ice40.json

# The engine on ECP5 and iCE40 (~30 min), then the README's engine synthesis table
# (GMAC/s from docs/bench/bench.json).
ENGINE_ECP5 = synth --top engine $(ENGINE_PARAMS) --target ecp5
ENGINE_ICE40 = synth --top engine $(ICE40_ENGINE_PARAMS) --target ice40
synth-engine: $(STAMP)
	$(BIN)/attnhw $(ENGINE_ECP5) --json build/synth-engine-ecp5.json
	$(BIN)/attnhw $(ENGINE_ICE40) --json build/synth-engine-ice40.json
	$(BIN)/attnhw synth-table --bench docs/bench/bench.json --update-readme README.md \
	    --report build/synth-engine-ecp5.json --command "attnhw $(ENGINE_ECP5)" \
	    --report build/synth-engine-ice40.json --command "attnhw $(ENGINE_ICE40)"

# Formal properties (yowasp-sby + Yices) and the exhaustive exp check; report in build/formal.
formal: $(STAMP)
	$(BIN)/attnhw formal

# >= 10^6 output words over random parameter sets; SEED replays a run.
SEED ?= 1
soak: $(STAMP)
	$(BIN)/attnhw soak --words 1000000 --configs 4 --seed $(SEED) --simulator $(SIM) --json build/soak.json

# Every numerics variant and the peers: error, ECP5 cost, plots. The report is committed
# in docs/accuracy (the README shows it); synthesis results are cached in build/.
accuracy: $(STAMP)
	$(BIN)/attnhw accuracy $(ARGS) --out-dir docs/accuracy --update-readme README.md

# Engine cycles vs the multiplier floor on Verilator (N = 16 ... 1024, three configs):
# docs/bench/bench.{md,json,png} and the README's benchmark table (~10 min).
bench: $(STAMP)
	$(BIN)/attnhw bench $(ARGS) --out-dir docs/bench --json build/bench.json --update-readme README.md

clean:
	rm -rf build

distclean: clean
	rm -rf $(VENV) *.egg-info
