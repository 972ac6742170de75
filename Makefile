# attnhw: `make` runs the built-in example on the RTL, `make test` runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The maintainer's commands: tables and plots written into the docs (attnhw/tools/cli.py).
TOOLS := $(BIN)/python -m attnhw.tools
STAMP := $(VENV)/.installed
SIM ?= verilator
ARGS ?=
# Named parameter sets (attnhw.golden.presets): the core on an iCE40 UP5K; the engine
# on ECP5 (d 64, lanes 16, K/V for 1024 keys, four cores = 128 multipliers), one ECP5
# core with K/V for 256 keys, and the iCE40 core with K/V for 64 keys.
ICE40_PARAMS ?= --preset ice40
ENGINE_PARAMS ?= --preset ecp5-engine
ENGINE_SMALL_PARAMS ?= --preset ecp5-engine-small
ICE40_ENGINE_PARAMS ?= --preset ice40-engine

.PHONY: all example verilog test lint synth synth-engine synth-engine-proxy synth-families fmax-budget formal soak accuracy bench model-check proj-accuracy clean distclean

all: example

# torch for attnhw.sdpa's tests: the CPU build (2.13.0 is the one this machine keeps on
# disk; a bare `torch` may fetch a CUDA build of several GB). TORCH=torch for any.
TORCH ?= torch==2.13.0
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet "$(TORCH)"
	$(BIN)/pip install --quiet -e ".[all]"
	touch $(STAMP)

verilog: $(STAMP)
	$(BIN)/attnhw verilog $(ARGS) -o build/attention.v

example: verilog
	$(BIN)/attnhw sim $(ARGS) --seq-len 64 --queries 64 --simulator $(SIM)

# The tests in TEST_WORKERS processes (pytest-xdist): most of them are single-threaded
# simulations; a Verilator build is made once per configuration, under a lock
# (sim/runner.py), whichever worker asks first.
TEST_WORKERS ?= 2
test: $(STAMP)
	SIM=$(SIM) $(BIN)/python -m pytest -q -n $(TEST_WORKERS)

lint: $(STAMP)
	$(BIN)/attnhw verilog $(ARGS) -o build/attention.v --lint

# Place and route of the core on ECP5 and iCE40, then post-synthesis simulation: the
# ECP5 netlist of a small core (DSP and RAM primitives) against golden (~25 min).
POSTSYNTH_PARAMS ?= --head-dim 16 --lanes 4 --max-seq-len 64
synth: $(STAMP)
	$(BIN)/attnhw synth $(ARGS) --target ecp5 --json build/synth-ecp5.json
	$(BIN)/attnhw synth $(ICE40_PARAMS) --target ice40 --json build/synth-ice40.json
	$(TOOLS) postsynth $(POSTSYNTH_PARAMS) --json build/postsynth.json

# The engine on ECP5 (two store sizes) and iCE40, a benchmark of each ECP5 configuration,
# then the engine synthesis table in docs/engine.md (GMAC/s from the benchmarks). The
# four-core engine is placed and routed at seeds SEEDS, one after another, each stopped
# after PNR_TIMEOUT minutes (a diverging router2 never stops by itself); logs and the
# per-seed report under build/synth/engine-ecp5/ (~1.5 h in all).
SEEDS ?= 1,2,3
PNR_TIMEOUT ?= 30
# nextpnr's electrostatic placer: on the four-core engine's netlist of 17393e3 at seed 1,
# 107.15 MHz and 27 router iterations against HeAP's 100.28 MHz and 45 (docs/limits.md).
ENGINE_PLACER ?= static
# Each core's MAC multipliers pinned to a third of a DSP row (attnhw/floorplan.py): on
# d7f23fa's engine, seeds 1/2/3 at 108.11/108.46/108.11 MHz against 88.83/102.34/99.09
# without (docs/limits.md).
ENGINE_FLOORPLAN ?= core-columns
ENGINE_ECP5 = synth --top engine $(ENGINE_PARAMS) --target ecp5 --seeds $(SEEDS) --pnr-timeout $(PNR_TIMEOUT) --placer $(ENGINE_PLACER) --floorplan $(ENGINE_FLOORPLAN)
ENGINE_ECP5_SMALL = synth --top engine $(ENGINE_SMALL_PARAMS) --target ecp5
ENGINE_ICE40 = synth --top engine $(ICE40_ENGINE_PARAMS) --target ice40
synth-engine: $(STAMP)
	$(BIN)/attnhw $(ENGINE_ECP5) --work-dir build/synth/engine-ecp5 --json build/synth-engine-ecp5.json
	$(BIN)/attnhw $(ENGINE_ECP5_SMALL) --json build/synth-engine-ecp5-small.json
	$(BIN)/attnhw $(ENGINE_ICE40) --json build/synth-engine-ice40.json
	$(BIN)/attnhw bench $(ENGINE_PARAMS) --configs 64:16:4 --seq-lens 256,1024 \
	    --out-dir build/bench-engine --json build/bench-engine.json
	$(BIN)/attnhw bench $(ENGINE_SMALL_PARAMS) --configs 64:16:1 --seq-lens 256 \
	    --out-dir build/bench-engine-small --json build/bench-engine-small.json
	$(TOOLS) synth-table --update-readme docs/engine.md \
	    --bench build/bench-engine.json --bench build/bench-engine-small.json \
	    --report build/synth-engine-ecp5.json --command "attnhw $(ENGINE_ECP5)" \
	    --report build/synth-engine-ecp5-small.json --command "attnhw $(ENGINE_ECP5_SMALL)" \
	    --report build/synth-engine-ice40.json --command "attnhw $(ENGINE_ICE40)"

# The fast proxy of the four-core engine: the same cores, two of them (ecp5-engine-proxy),
# at seeds SEEDS (~20 min): for iterating on the engine's timing before a full run.
synth-engine-proxy: $(STAMP)
	$(BIN)/attnhw synth --top engine --preset ecp5-engine-proxy --target ecp5 --seeds $(SEEDS) \
	    --pnr-timeout $(PNR_TIMEOUT) --work-dir build/synth/engine-proxy \
	    --json build/synth-engine-proxy.json

# The default core and a one-core engine (K/V for 256 keys) on AMD/Xilinx 7-series and
# UltraScale+, Intel Cyclone V (Yosys cell counts), Gowin GW2A-18 and Lattice Nexus
# (cell counts, place and route): the table in docs/measured.md (~40 min).
FAMILIES ?= xc7 xcup cyclonev nexus gowin
FAMILY_ENGINE = --top engine --preset ecp5-engine-small
synth-families: $(STAMP)
	mkdir -p build/families
	set -e; args=""; for f in $(FAMILIES); do \
	    $(BIN)/attnhw synth --target $$f --json build/families/$$f-core.json; \
	    $(BIN)/attnhw synth $(FAMILY_ENGINE) --target $$f --json build/families/$$f-engine.json; \
	    args="$$args --report build/families/$$f-core.json --command 'attnhw synth --target $$f'"; \
	    args="$$args --report build/families/$$f-engine.json --command 'attnhw synth $(FAMILY_ENGINE) --target $$f'"; \
	done; eval $(TOOLS) family-table --update-readme docs/measured.md $$args

# ECP5 Fmax of each core unit alone and of the core (~15 min): docs/synth and
# docs/measured.md.
fmax-budget: $(STAMP)
	$(TOOLS) fmax-budget $(ARGS) --out-dir docs/synth --update-readme docs/measured.md

# Formal properties (yowasp-sby + Yices) and the exhaustive exp check; report in build/formal.
formal: $(STAMP)
	$(BIN)/attnhw formal

# >= 10^6 output words of the core and >= 10^6 of the engine over random parameter
# sets; SEED replays a run. Then the tests marked slow (pytest -m slow).
SEED ?= 1
soak: $(STAMP)
	$(BIN)/attnhw soak --words 1000000 --configs 4 --engine-words 1000000 --engine-configs 4 \
	    --seed $(SEED) --simulator $(SIM) --json build/soak.json
	SIM=$(SIM) $(BIN)/python -m pytest -q -m slow

# Every numerics variant and the peers: error, ECP5 cost, plots. The report is committed
# in docs/accuracy (docs/numerics.md shows it); synthesis results are cached in build/.
accuracy: $(STAMP)
	$(TOOLS) accuracy $(ARGS) --out-dir docs/accuracy --update-readme docs/numerics.md

# Engine cycles vs the multiplier floor on Verilator (N = 16 ... 1024, three configs):
# docs/bench/bench.{md,json,png} and the benchmark table in docs/engine.md (~10 min).
bench: $(STAMP)
	$(TOOLS) bench $(ARGS) --out-dir docs/bench --json build/bench.json --update-readme docs/engine.md

# all-MiniLM-L6-v2 with every attention layer in attnhw's arithmetic (~2 min):
# docs/model-check/model_check.{md,json,png} and the table in docs/python.md.
model-check: $(STAMP)
	$(TOOLS) model-check --out-dir docs/model-check --update-readme docs/python.md

# Attention + output projection against float64 beside the ideal int8 pipeline, on random
# data and all-MiniLM-L6-v2's layers, and one real layer on the engine's RTL:
# docs/accuracy/proj_accuracy.{md,json,png} and the table in docs/numerics.md.
proj-accuracy: $(STAMP)
	$(TOOLS) proj-accuracy --out-dir docs/accuracy --update-readme docs/numerics.md

clean:
	rm -rf build

distclean: clean
	rm -rf $(VENV) *.egg-info
