"""The whole 8x8 NPU on Verilator, programmed through its registers: MACs per cycle of a
128x64x32 GEMM from the perf counters, with its operands already in SPAD (COMPUTEs back to back
through the dispatcher) and streamed from main memory, in both tiling orders; outputs bit-exact
with golden. LIST: GEMM streams as command lists (bit-exact), malformed entries and a failed
list fetch (ERROR, ERROR_INDEX, ISSUED, DONE and the whole memory image equal the golden
model's), and the fixed cost of a layer issued as a LIST vs pushed. Slow (the model takes
minutes to build): ``make fuzz``."""

import numpy as np
import pytest
from dure.rtl.npu.commands import (
    Control,
    ElemType,
    ErrorCode,
    LoadTarget,
    Opcode,
    OutType,
    Precision,
    Register,
)
from dure.rtl.npu.descriptor import encode, list_bytes
from dure.sim import golden
from dure.sim.gemm_descriptors import gemm_descriptors
from dure.sim.npu_model import NpuModel as GoldenNpu
from dure.sim.npu_model_regs import NpuRegisters as GoldenRegisters
from dure.sim.verif import npu_verilator as nv
from dure.sim.verif.npu_control import resident_gemm

from dure.config import MAIN_BASE, SoCConfig

CFG = SoCConfig()     # 8x8, FP16, SPAD 2048 rows, ACC 1024 rows, queue 8, main latency 10
PERF = ("BUSY", "MACS", "COMPUTE", "STALL_DEP", "DMA_RD")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def model():
    return nv.build(CFG)


def measure(model, kind, m, k, n, *, on_chip, k_inner=False, seed=3):
    """Runs a :func:`resident_gemm`; returns the perf counters of the COMPUTE phase (on chip)
    or of the LOAD + COMPUTE stream, with MACs/cycle and utilisation."""
    rng = np.random.default_rng(seed)
    if kind == "int8":
        a = rng.integers(-128, 128, (m, k), dtype=np.int8)
        b = rng.integers(-128, 128, (k, n), dtype=np.int8)
        expect = golden.gemm_int8(a, b).view(np.uint32)
    else:
        a = rng.standard_normal((m, k)).astype(np.float16)
        b = rng.standard_normal((k, n)).astype(np.float16)
        expect = golden.gemm_fp16(a, b).view(np.uint32)
    gemm = resident_gemm(CFG, a, b, base=MAIN_BASE, k_inner=k_inner)
    phases = [gemm.loads + [encode(Opcode.FENCE)], gemm.computes] if on_chip else [gemm.stream]
    script = [nv.write("DMA_BASE", MAIN_BASE), nv.write("DMA_SIZE", len(gemm.image))]
    for index, phase in enumerate(phases):
        if index == len(phases) - 1:
            script.append(nv.write("CONTROL", Control.PERF_CLEAR.value))
        script += [op for words in phase for op in nv.submit(words)] + [nv.wait_idle()]
    script += [nv.read(f"PERF_{name}_LO") for name in PERF]
    script += [op for words in gemm.stores for op in nv.submit(words)]
    script += [nv.wait_idle(), nv.read("ERROR")]
    run = model.run(script, gemm.image, base=MAIN_BASE)
    assert run.values[-1] == 0
    got = np.frombuffer(bytes(run.memory[gemm.out_at:gemm.out_at + 4 * m * n]), np.uint32)
    np.testing.assert_array_equal(got.reshape(m, n), expect)
    regs = dict(zip(PERF, run.values, strict=False))
    assert regs["MACS"] == m * k * n
    regs["macs_per_cycle"] = regs["MACS"] / regs["BUSY"]
    regs["utilisation"] = regs["macs_per_cycle"] / CFG.npu_peak_macs_per_cycle
    order = "K inner" if k_inner else "N inner"
    print(f"\n{kind} {m}x{k}x{n} {'on chip' if on_chip else 'streaming'}, {order}: "
          f"{regs['MACS']} MACs in {regs['BUSY']} busy cycles = {regs['macs_per_cycle']:.1f} "
          f"MACs/cycle ({regs['utilisation']:.1%} of peak); array rows {regs['COMPUTE']}, "
          f"stall_dep {regs['STALL_DEP']}, DMA read {regs['DMA_RD']} B")
    return regs


@pytest.mark.parametrize("kind", ["int8", "fp16"])
def test_on_chip_gemm_reaches_peak(model, kind):
    """N tiles innermost: 32 COMPUTEs of 128 rows stream back to back."""
    assert measure(model, kind, 128, 64, 32, on_chip=True)["utilisation"] >= 0.9


def test_k_inner_order_serialises(model):
    """K tiles innermost (the firmware's first GEMM plan, since replaced): each COMPUTE
    accumulates onto the previous one's ACC rows, so it waits for that one's last result row
    (RAW): about 128 / (128 + array latency + a few) of peak, and the result is still exact."""
    regs = measure(model, "int8", 128, 64, 32, on_chip=True, k_inner=True)
    assert regs["utilisation"] < 0.75 and regs["STALL_DEP"] > 0


@pytest.mark.parametrize("kind", ["int8", "fp16"])
def test_streaming_gemm(model, kind):
    """Every LOAD in the program (A once per K tile, each W tile just before its COMPUTE). INT8
    is compute-bound here (2560 cycles of DMA for 4096 array rows) and stays near peak; FP16
    moves twice the bytes (5120 cycles at 4 B/cycle: at most 80 % of peak) and is bound by
    main memory plus the serial first A tile."""
    regs = measure(model, kind, 128, 64, 32, on_chip=False)
    bound = min(1.0, regs["COMPUTE"] / (regs["DMA_RD"] / CFG.main_bytes_per_cycle))
    print(f"bandwidth bound {bound:.1%} of peak, reached {regs['utilisation'] / bound:.1%} of it")
    if kind == "int8":
        assert regs["utilisation"] >= 0.85


# --- LIST: command lists fetched by the NPU ------------------------------------------------

REGS = ("ERROR", "ERROR_INDEX", "ISSUED", "DONE")


def _gemm(kind, m, k, n, seed):
    rng = np.random.default_rng(seed)
    if kind == "int8":
        a = rng.integers(-128, 128, (m, k), dtype=np.int8)
        b = rng.integers(-128, 128, (k, n), dtype=np.int8)
        return a, b, golden.gemm_int8(a, b).view(np.uint32)
    a = rng.standard_normal((m, k)).astype(np.float16)
    b = rng.standard_normal((k, n)).astype(np.float16)
    return a, b, golden.gemm_fp16(a, b).view(np.uint32)


def _with_lists(image, lists):
    """``image`` with each list of entries appended (32-byte aligned); their byte offsets."""
    image = bytearray(image)
    offsets = []
    for entries in lists:
        image += bytes(-len(image) % 32)
        offsets.append(len(image))
        image += list_bytes(entries)
    return image, offsets


def _run_lists(model, image, pushed, *, error=None, hole=None):
    """Pushes ``pushed`` (descriptors; LISTs among them), waits, reads :data:`REGS`; the same
    on the golden model. Returns (NpuRun, register values, model)."""
    script = [nv.write("DMA_BASE", MAIN_BASE), nv.write("DMA_SIZE", len(image))]
    script += [op for words in pushed for op in nv.submit(words)]
    script += [nv.wait_idle()] + [nv.read(name) for name in REGS]
    run = model.run(script, image, base=MAIN_BASE, error=error)
    regions = {MAIN_BASE: bytes(image)} if hole is None else {
        MAIN_BASE: bytes(image[:hole[0] - MAIN_BASE]),
        hole[1]: bytes(image[hole[1] - MAIN_BASE:])}
    golden_model = GoldenNpu(CFG, memory=regions)
    golden_model.set_window(MAIN_BASE, len(image))
    for words in pushed:
        golden_model.execute(words)
    return run, dict(zip(REGS, run.values[-len(REGS):], strict=True)), golden_model


def _expected_regs(golden_model):
    regs = GoldenRegisters(golden_model)
    return {name: regs.read(Register[name].value) for name in REGS}


@pytest.mark.parametrize("kind", ["int8", "fp16"])
def test_gemm_stream_as_lists(model, kind):
    """A 64x32x24 GEMM's LOAD / COMPUTE stream split over three LISTs pushed back to back (7,
    then 9 entries, then the rest), then its STOREs as a fourth: the output is bit-exact and
    ISSUED / DONE count every entry."""
    m, k, n = 64, 32, 24
    a, b, expect = _gemm(kind, m, k, n, seed=5)
    gemm = resident_gemm(CFG, a, b, base=MAIN_BASE)
    parts = [gemm.stream[:7], gemm.stream[7:16], gemm.stream[16:], gemm.stores]
    image, offsets = _with_lists(gemm.image, parts)
    pushed = [encode(Opcode.LIST, list_addr=MAIN_BASE + at, count=len(p))
              for at, p in zip(offsets, parts, strict=True)]
    run, regs, golden_model = _run_lists(model, image, pushed)
    got = np.frombuffer(bytes(run.memory[gemm.out_at:gemm.out_at + 4 * m * n]), np.uint32)
    np.testing.assert_array_equal(got.reshape(m, n), expect)
    assert regs == _expected_regs(golden_model)
    assert regs["ISSUED"] == regs["DONE"] == sum(len(p) + 1 for p in parts)
    assert run.memory == bytearray(golden_model.read(MAIN_BASE, len(image)))


def _malformed(gemm, rng):
    """The GEMM's stream and STOREs with malformed entries mixed in: reserved bits, bad dims,
    a STORE and a LOAD outside the window (writing there would stop the testbench), a nested
    LIST, a bad opcode."""
    store_out = encode(Opcode.STORE, out=OutType.INT32, acc_type=0, dram_addr=MAIN_BASE + 64,
                       dram_stride=1 << 20, rows=2, cols=8, acc_addr=0)
    load_out = encode(Opcode.LOAD, target=LoadTarget.SPAD, elem=ElemType.INT8,
                      dram_addr=MAIN_BASE - 8, dram_stride=8, rows=1, cols=8, local_addr=0)
    reserved = list(gemm.stream[0])
    reserved[6] = 1 << 31
    bad_k = encode(Opcode.COMPUTE, a_addr=0, w_addr=0, acc_addr=0, m=1, k=9, n=8)
    zero = encode(Opcode.STORE, out=OutType.INT32, acc_type=0, dram_addr=MAIN_BASE,
                  dram_stride=32, rows=0, cols=8)
    nested = encode(Opcode.LIST, list_addr=MAIN_BASE, count=1)
    bad = [reserved, bad_k, store_out, load_out, zero, nested, [9] + [0] * 7]
    entries = list(gemm.stream) + list(gemm.stores)
    for words in bad:
        entries.insert(int(rng.integers(0, len(entries) + 1)), words)
    return entries


def test_malformed_entries_match_the_model(model):
    """Refused entries record the first one's code, sequence number and list index like the
    model, touch no memory (the whole image equals the model's), and the valid entries still
    produce the exact GEMM."""
    m, k, n = 32, 16, 16
    a, b, expect = _gemm("int8", m, k, n, seed=6)
    gemm = resident_gemm(CFG, a, b, base=MAIN_BASE)
    entries = _malformed(gemm, np.random.default_rng(7))
    image, (at,) = _with_lists(gemm.image, [entries])
    pushed = [encode(Opcode.FENCE), encode(Opcode.LIST, list_addr=MAIN_BASE + at,
                                           count=len(entries)), encode(Opcode.FENCE)]
    run, regs, golden_model = _run_lists(model, image, pushed)
    assert regs == _expected_regs(golden_model)
    assert regs["ERROR_INDEX"] != 0xFFFF_FFFF
    assert run.memory == bytearray(golden_model.read(MAIN_BASE, len(image)))
    got = np.frombuffer(bytes(run.memory[gemm.out_at:gemm.out_at + 4 * m * n]), np.uint32)
    np.testing.assert_array_equal(got.reshape(m, n), expect)


def test_refused_list_and_fetch_bus_error(model):
    """A misaligned LIST retires with its count; a list whose entry 5 lies in memory answering
    err runs entries 0-4, records BUS_ERROR with entry 5's number and index, drops the rest;
    a LIST pushed after it runs normally."""
    m, k, n = 16, 8, 8
    a, b, expect = _gemm("int8", m, k, n, seed=8)
    gemm = resident_gemm(CFG, a, b, base=MAIN_BASE)
    entries = list(gemm.stream) + list(gemm.stores)
    image, (first, second) = _with_lists(gemm.image, [entries + [encode(Opcode.FENCE)] * 8,
                                                      entries])
    hole = (MAIN_BASE + first + 5 * 32, MAIN_BASE + first + 6 * 32)
    pushed = [encode(Opcode.LIST, list_addr=MAIN_BASE + first + 2, count=3),
              encode(Opcode.LIST, list_addr=MAIN_BASE + first, count=len(entries) + 8),
              encode(Opcode.LIST, list_addr=MAIN_BASE + second, count=len(entries))]
    run, regs, golden_model = _run_lists(model, image, pushed, error=hole, hole=hole)
    # The first failure is the misaligned LIST (seq 0); compare the rest by a second run.
    assert regs["ERROR"] & 0xF == ErrorCode.MISALIGNED.value
    assert regs == _expected_regs(golden_model)
    run, regs, golden_model = _run_lists(model, image, pushed[1:], error=hole, hole=hole)
    assert regs == _expected_regs(golden_model)
    assert regs["ERROR"] == ErrorCode.BUS_ERROR.value | (1 + 5) << 8
    assert regs["ERROR_INDEX"] == 5
    assert regs["ISSUED"] == regs["DONE"] == len(entries) + 9 + len(entries) + 1
    got = np.frombuffer(bytes(run.memory[gemm.out_at:gemm.out_at + 4 * m * n]), np.uint32)
    np.testing.assert_array_equal(got.reshape(m, n), expect)
    below, above = hole[0] - MAIN_BASE, hole[1] - MAIN_BASE
    assert run.memory[:below] == bytearray(golden_model.read(MAIN_BASE, below))
    assert run.memory[above:] == bytearray(golden_model.read(hole[1], len(image) - above))


def _planned_layer(m, k, n, seed):
    """An INT8 GEMM layer (raw int32 output) as the firmware plans it
    (:func:`~dure.sim.gemm_descriptors.gemm_descriptors`): descriptors, image, output offset,
    expected output."""
    a, b, expect = _gemm("int8", m, k, n, seed)
    b_at = -(-m * k // 32) * 32
    out_at = b_at + -(-k * n // 32) * 32
    image = bytearray(out_at + 4 * m * n)
    image[:m * k] = a.tobytes()
    image[b_at:b_at + k * n] = b.tobytes()
    descs = gemm_descriptors(CFG, m, k, n, precision=Precision.INT8, a_addr=MAIN_BASE,
                             a_stride=k, b_addr=MAIN_BASE + b_at, b_stride=n,
                             out_addr=MAIN_BASE + out_at, out_stride=4 * n, out=OutType.INT32)
    return descs, image, out_at, expect


def _layer_cycles(model, shape, as_list):
    """Cycles from the layer's first register write to STATUS.busy seen clear, and the
    layer's work: max(array rows, DMA bytes / bytes per cycle)."""
    descs, image, out_at, expect = _planned_layer(*shape, seed=9)
    image, (at,) = _with_lists(image, [descs])
    script = [nv.write("DMA_BASE", MAIN_BASE), nv.write("DMA_SIZE", len(image)),
              nv.write("CONTROL", Control.PERF_CLEAR.value)]
    start = len(script)
    if as_list:
        script += nv.submit(encode(Opcode.LIST, list_addr=MAIN_BASE + at, count=len(descs)))
    else:
        script += [op for words in descs for op in nv.submit(words)]
    end = len(script)
    script += [nv.wait_idle()] + [nv.read(f"PERF_{name}_LO")
                                  for name in ("COMPUTE", "DMA_RD", "DMA_WR")]
    script += [nv.read("ERROR")]
    run = model.run(script, image, base=MAIN_BASE)
    assert run.values[-1] == 0
    m, _, n = shape
    got = np.frombuffer(bytes(run.memory[out_at:out_at + 4 * m * n]), np.uint32)
    np.testing.assert_array_equal(got.reshape(m, n), expect)
    compute, rd, wr = run.values[:3]
    elapsed = int(run.stamps[end] - run.stamps[start - 1])
    work = max(compute, -(-(rd + wr) // CFG.main_bytes_per_cycle))
    return elapsed, work, len(descs)


@pytest.mark.parametrize("shape", [(8, 8, 8), (32, 32, 32), (64, 64, 64)])
def test_layer_fixed_cost(model, shape):
    """Fixed cost of a small INT8 layer (the firmware's plan of the GEMM) issued as one LIST
    vs pushed descriptor by descriptor through the registers (two cycles per register write
    here; the core needs more): elapsed cycles minus the layer's work (array rows or DMA
    cycles at 4 B/cycle, whichever is larger). Outputs bit-exact both ways. Beyond the
    smallest layer both paths lose the same cycles to the layer's own dependencies (LOAD ->
    COMPUTE -> STORE of few tiles); the LIST adds its start (about 30 cycles to fetch and
    validate entry 0) and the bus time of its entries (8 cycles each at 4 B/cycle, shared
    round-robin with the layer's DMA)."""
    pushed, work, count = _layer_cycles(model, shape, as_list=False)
    listed, work2, _ = _layer_cycles(model, shape, as_list=True)
    assert work == work2
    print(f"\nlayer {shape[0]}x{shape[1]}x{shape[2]} ({count} descriptors, work {work}): "
          f"pushed {pushed} cycles (fixed {pushed - work}), LIST {listed} cycles "
          f"(fixed {listed - work})")
    assert listed - pushed <= 40 + 8 * count
    if count <= 4:
        assert listed - work < 300


def test_list_start_latency(model):
    """Cycles from the DOORBELL write to STATUS.busy seen clear for one FENCE pushed and for
    a LIST of one FENCE: the list's own cost (validate the LIST, fetch and validate entry 0)."""
    image, (at,) = _with_lists(bytes(64), [[encode(Opcode.FENCE)]])
    cycles = {}
    for name, words in (("pushed", encode(Opcode.FENCE)),
                        ("list", encode(Opcode.LIST, list_addr=MAIN_BASE + at, count=1))):
        script = [nv.write("DMA_BASE", MAIN_BASE), nv.write("DMA_SIZE", len(image))]
        script += nv.submit(words) + [nv.wait_idle(), nv.read("DONE")]
        run = model.run(script, image, base=MAIN_BASE)
        assert run.values == [2 if name == "list" else 1]
        cycles[name] = int(run.stamps[-2] - run.stamps[-3])
    print(f"\nFENCE pushed: {cycles['pushed']} cycles, LIST of one FENCE: {cycles['list']}")
    assert cycles["list"] - cycles["pushed"] <= 40
