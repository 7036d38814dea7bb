# amaranth: UnusedElaboratable=no
"""The whole NPU (control + real NpuDatapath) on Amaranth's simulator: tiled GEMMs submitted
through the registers, results bit-exact with the golden model, overlap of the units measured;
a refused command and a DMA bus error in the middle of a program; a STORE in each TFLite
requantization mode, with the shift row (``scale_addr + 1``) tracked as a hazard. The shipped
NPU (the ``sim`` variant's 8x8, what ``make sim`` runs) in every ``make test``: an INT8 and an
FP16 GEMM with partial K and N tiles, one with a refused command in the middle (its Verilator
model takes minutes to build, so its Verilator runs are ``make fuzz``'s, test_npu_verilator)."""

import dataclasses

import numpy as np
import pytest
from dure.rtl.npu.commands import (
    ElemType,
    ErrorCode,
    LoadTarget,
    Opcode,
    OutType,
    Precision,
    RequantMode,
    Status,
)
from dure.rtl.npu.descriptor import decode, encode
from dure.sim import golden
from dure.sim.golden_requant_tflite import requantize_tflite
from dure.sim.verif.compute_overlap import compute_cost, random_program, run_npu
from dure.sim.verif.gemm_program import gemm_expected, gemm_program, read_output
from dure.sim.verif.npu_control import reg_read, reg_write, resident_gemm, submit
from dure.sim.verif.npu_datapath import MemoryTarget
from dure.sim.verif.npu_sim import npu_simulation

from dure.config import SoCConfig, preset

CFG = SoCConfig(npu_rows=4, npu_cols=4, npu_spad_rows=64, npu_acc_rows=32, npu_queue_depth=4)
BASE = 0x4000_0000
OPCODE = {"load": Opcode.LOAD, "exec": Opcode.COMPUTE, "store": Opcode.STORE}


def run_program(descriptors, image, *, err_words=(), latency=3, config=CFG):
    """Runs descriptors through the registers of ``Npu(config)``; returns (registers, unit
    activity, memory)."""
    sim = npu_simulation(config)
    dut, datapath = sim.design.npu, sim.design.datapath
    mem = bytearray(image)
    target = MemoryTarget(dut.dma, mem, base=BASE, latency=latency, jitter=2,
                          gnt_probability=0.9, err_words=set(err_words))
    activity = {unit: [] for unit in ("load", "exec", "store")}     # [accepted, done]
    regs = {}

    async def monitor(ctx):
        cycle = 0
        while True:
            sampled = await ctx.tick().sample(*[getattr(datapath.control, f"{u}_cmd").valid
                                                for u in activity],
                                              *[getattr(datapath.control, f"{u}_cmd").ready
                                                for u in activity],
                                              *[getattr(datapath.control, f"{u}_done")
                                                for u in activity])
            values = sampled[-9:]
            for index, unit in enumerate(activity):
                if values[index] and values[3 + index]:
                    activity[unit].append([cycle, None])
                if values[6 + index]:       # done pulses come in issue order
                    next(run for run in activity[unit] if run[1] is None)[1] = cycle
            cycle += 1

    async def bench(ctx):
        bus = dut.bus
        assert not await reg_write(ctx, bus, "DMA_BASE", BASE)
        assert not await reg_write(ctx, bus, "DMA_SIZE", len(image))
        for words in descriptors:
            await submit(ctx, bus, words)
        for _ in range(100_000):
            if not (await reg_read(ctx, bus, "STATUS"))[0] & Status.BUSY.value:
                break
        else:
            raise AssertionError("the NPU never became idle")
        for name in ("STATUS", "ERROR", "ISSUED", "DONE", "PERF_MACS_LO", "PERF_DMA_RD_LO",
                     "PERF_DMA_WR_LO", "PERF_BUSY_LO", "PERF_STALL_DEP_LO"):
            regs[name] = (await reg_read(ctx, bus, name))[0]
        regs["irq"] = ctx.get(dut.irq)

    sim.run([bench], [target.serve, monitor])
    return regs, activity, mem


def overlap_cycles(activity):
    """Cycles in which at least two units were working."""
    busy = {}
    for runs in activity.values():
        for start, end in runs:
            for cycle in range(start, end + 1):
                busy[cycle] = busy.get(cycle, 0) + 1
    return sum(1 for count in busy.values() if count >= 2)


def gemm_descriptors(commands):
    out = []
    for c in commands:
        fields = dict(c.fields)
        if c.unit == "load" and fields["rows"] == 1 and fields["dram_stride"] == 0:
            # gemm_program loads the scale row with stride 0 and rows 1, which the contract
            # refuses (STRIDE) unless broadcast: the same single row, as a broadcast.
            fields["broadcast"] = 1
        out.append(encode(OPCODE[c.unit], **fields))
    return out


# FP16 under make fuzz: test_shipped_npu_gemm[fp16] runs the same tiled FP16 GEMM submitted
# through the registers (8x8, partial K and N tiles); the [int8] case keeps the overlap check,
# tests/rtl/npu/test_store_unit.py::test_every_store_mode the FP16 output with a clamp.
@pytest.mark.parametrize("kind", ["int8", pytest.param("fp16", marks=pytest.mark.slow)])
def test_tiled_gemm_through_registers(kind):
    rng = np.random.default_rng(3)
    m, k, n = 6, 10, 7
    if kind == "int8":
        a = rng.integers(-128, 128, (m, k), dtype=np.int8)
        b = rng.integers(-128, 128, (k, n), dtype=np.int8)
        params = dict(bias=rng.integers(-5000, 5000, n, dtype=np.int32),
                      scale=rng.uniform(0.001, 0.02, n).astype(np.float32),
                      out=OutType.INT8, zero_point=3, lo=-100, hi=120)
    else:
        a = rng.standard_normal((m, k)).astype(np.float16)
        b = rng.standard_normal((k, n)).astype(np.float16)
        params = dict(bias=rng.standard_normal(n).astype(np.float32), out=OutType.FP16,
                      lo=-2.0, hi=3.0)
    commands, image, layout = gemm_program(CFG, a, b, base=BASE, **params)
    descriptors = gemm_descriptors(commands)
    regs, activity, mem = run_program(descriptors, image)
    assert regs["ERROR"] == 0 and regs["STATUS"] == 0 and not regs["irq"]
    assert regs["ISSUED"] == regs["DONE"] == len(descriptors)
    got = read_output(mem, layout, m, n, params["out"])
    np.testing.assert_array_equal(got, gemm_expected(a, b, **params))
    assert regs["PERF_MACS_LO"] == m * k * n
    assert overlap_cycles(activity) > 0
    print(f"{kind}: {len(descriptors)} commands, busy {regs['PERF_BUSY_LO']} cycles, "
          f"{overlap_cycles(activity)} cycles with two or more units working, stall_dep "
          f"{regs['PERF_STALL_DEP_LO']}")


def test_conv_tap_loop_through_registers():
    """A 3x3 SAME INT8 convolution 4x4x3 -> 4 as the implicit-GEMM contract intends it: fill
    LOADs paint the padding (zero point 2), 2-D placed LOADs put image rows at pitch Wp, 9
    walked COMPUTEs per image tile accumulate the taps, STOREs of int32; four tiles double
    buffered. Bit-exact with an independent numpy convolution; PERF_MACS counts the taps."""
    from dure.sim.verif.walk_programs import conv_reference, conv_tap_program

    rng = np.random.default_rng(12)
    x = rng.integers(-128, 128, (4, 4, 3), dtype=np.int8)
    w = rng.integers(-128, 128, (3, 3, 3, 4), dtype=np.int8)
    prog = conv_tap_program(CFG, x, w, base=BASE, fill_value=2)
    regs, _, mem = run_program(prog.descriptors, prog.image)
    assert regs["ERROR"] == 0 and regs["DONE"] == len(prog.descriptors)
    np.testing.assert_array_equal(prog.output(mem), conv_reference(x, w, fill_value=2))
    assert regs["PERF_MACS_LO"] == prog.macs


def test_refusal_and_bus_error_in_a_program():
    rng = np.random.default_rng(5)
    a = rng.integers(-128, 128, (4, 4), dtype=np.int8)
    b = rng.integers(-128, 128, (4, 4), dtype=np.int8)
    commands, image, layout = gemm_program(CFG, a, b, base=BASE, out=OutType.INT32)
    descriptors = gemm_descriptors(commands)
    # A refused command (COMPUTE k > rows) in the middle changes nothing.
    bad = encode(Opcode.COMPUTE, m=1, k=5, n=1)
    descriptors = descriptors[:2] + [bad] + descriptors[2:]
    regs, _, mem = run_program(descriptors, image)
    assert regs["ERROR"] == (2 << 8) | ErrorCode.DIM_TOO_LARGE.value
    assert regs["STATUS"] == Status.ERROR.value
    assert regs["DONE"] == len(descriptors)
    np.testing.assert_array_equal(read_output(mem, layout, 4, 4, OutType.INT32),
                                  gemm_expected(a, b, out=OutType.INT32))
    # A DMA error on the output: recorded as BUS_ERROR with the STORE's sequence number.
    out_word = (BASE + layout.out) // 4
    regs, _, _ = run_program(gemm_descriptors(commands), image, err_words={out_word})
    assert regs["ERROR"] == ((len(commands) - 1) << 8) | ErrorCode.BUS_ERROR.value
    assert regs["DONE"] == len(commands)


@pytest.mark.parametrize("kind", ["int8", "fp16"])
def test_shipped_npu_gemm(kind):
    """The shipped 8x8 NPU: a 9x10x9 GEMM (two K and two N tiles, both partial) bit-exact with
    golden; in INT8 (requantized int8 out) a refused COMPUTE (k = 9 > 8 rows) is pushed after
    the first LOADs: ERROR holds its code and sequence number and the GEMM is unharmed."""
    shipped = preset("sim")
    assert (shipped.npu_rows, shipped.npu_cols, shipped.npu_fp16) == (8, 8, True)
    rng = np.random.default_rng(21)
    m, k, n = 9, 10, 9
    if kind == "int8":
        a = rng.integers(-128, 128, (m, k), dtype=np.int8)
        b = rng.integers(-128, 128, (k, n), dtype=np.int8)
        params = dict(bias=rng.integers(-5000, 5000, n, dtype=np.int32),
                      scale=rng.uniform(0.001, 0.02, n).astype(np.float32),
                      out=OutType.INT8, zero_point=-2, lo=-120, hi=100)
    else:
        a = rng.standard_normal((m, k)).astype(np.float16)
        b = rng.standard_normal((k, n)).astype(np.float16)
        params = dict(bias=rng.standard_normal(n).astype(np.float32), out=OutType.FP32)
    commands, image, layout = gemm_program(shipped, a, b, base=BASE, **params)
    descriptors = gemm_descriptors(commands)
    bad_at = 2 if kind == "int8" else None
    if bad_at is not None:
        descriptors.insert(bad_at, encode(Opcode.COMPUTE, m=1, k=9, n=1))
    regs, _, mem = run_program(descriptors, image, config=shipped)
    if bad_at is None:
        assert regs["ERROR"] == 0 and regs["STATUS"] == 0
    else:
        assert regs["ERROR"] == (bad_at << 8) | ErrorCode.DIM_TOO_LARGE.value
        assert regs["STATUS"] == Status.ERROR.value
    assert regs["ISSUED"] == regs["DONE"] == len(descriptors)
    assert regs["PERF_MACS_LO"] == m * k * n
    got = read_output(mem, layout, m, n, params["out"])
    want = gemm_expected(a, b, **params)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got.view(np.uint8), want.view(np.uint8))


# --- TFLite requantization: one STORE per mode, the shift row as a hazard -------------------

A_AT, W_AT, P1_AT, P2_AT, OUT1_AT, OUT2_AT, SIZE = 0, 16, 32, 64, 128, 160, 192


def _load(at, rows, cols, stride, local, target=LoadTarget.SPAD, elem=ElemType.INT8):
    return encode(Opcode.LOAD, target=target, elem=elem, dram_addr=BASE + at,
                  dram_stride=stride, rows=rows, cols=cols, local_addr=local)


def _store(mode, at, zp, lo, hi):
    return encode(Opcode.STORE, out=OutType.INT8, acc_type=Precision.INT8, scale=1,
                  requant=mode, zero_point=zp, lo=lo, hi=hi, dram_addr=BASE + at,
                  dram_stride=4, rows=4, cols=4, acc_addr=0, scale_addr=20)


def test_store_in_each_tflite_mode():
    rng = np.random.default_rng(21)
    a = rng.integers(-128, 128, (4, 4), dtype=np.int8)
    b = rng.integers(-128, 128, (4, 4), dtype=np.int8)
    m1 = np.array([1 << 30, 0x7FFF_FFFF, 1_234_567_890, -(1 << 31)], np.int64)
    s1 = np.array([-8, -10, 0, -31], np.int64)
    m2 = np.array([1 << 30, 1_900_000_000, 0x7FFF_FFFF, 1 << 30], np.int64)
    s2 = np.array([-9, -7, -12, 2], np.int64)
    image = bytearray(SIZE)
    image[A_AT:A_AT + 16] = a.tobytes()
    image[W_AT:W_AT + 16] = b.tobytes()
    image[P1_AT:P1_AT + 32] = np.stack([m1, s1]).astype(np.int32).tobytes()
    image[P2_AT:P2_AT + 32] = np.stack([m2, s2]).astype(np.int32).tobytes()
    acc_params = dict(target=LoadTarget.ACC, elem=ElemType.WORD32)
    descriptors = [
        _load(A_AT, 4, 4, 4, 0),
        _load(W_AT, 4, 4, 4, 8),
        encode(Opcode.COMPUTE, precision=Precision.INT8, a_addr=0, w_addr=8, acc_addr=0, m=4,
               k=4, n=4),
        _load(P1_AT, 2, 4, 16, 20, **acc_params),
        _store(RequantMode.TFLITE_DOUBLE_ROUNDING, OUT1_AT, 5, -100, 120),
        _load(P2_AT, 2, 4, 16, 20, **acc_params),      # must wait: the STORE reads row 21
        _store(RequantMode.TFLITE_SINGLE_ROUNDING, OUT2_AT, -3, -128, 127),
    ]
    regs, _, mem = run_program(descriptors, image)
    assert regs["ERROR"] == 0 and regs["DONE"] == len(descriptors)
    acc = golden.gemm_int8(a, b)
    want1 = requantize_tflite(acc, m1, s1, 5, -100, 120)
    want2 = requantize_tflite(acc, m2, s2, -3, single_rounding=True)
    got1 = np.frombuffer(bytes(mem[OUT1_AT:OUT1_AT + 16]), np.int8).reshape(4, 4)
    got2 = np.frombuffer(bytes(mem[OUT2_AT:OUT2_AT + 16]), np.int8).reshape(4, 4)
    np.testing.assert_array_equal(got1, want1)
    np.testing.assert_array_equal(got2, want2)


# --- Throughput: back-to-back COMPUTEs through the dispatcher ----------------------------------

PERF_CFG = SoCConfig(npu_rows=4, npu_cols=4, npu_spad_rows=512, npu_acc_rows=256,
                     npu_queue_depth=8)


def measure(config, kind, m, k, n, *, on_chip, seed=7):
    """Runs an N-innermost :func:`resident_gemm` on the whole Npu (real datapath, main memory
    at the config's latency, one word per cycle); checks the output against golden; returns the
    perf counters of the measured phase (the COMPUTEs when ``on_chip``, else the LOADs and
    COMPUTEs)."""
    rng = np.random.default_rng(seed)
    if kind == "int8":
        a = rng.integers(-128, 128, (m, k), dtype=np.int8)
        b = rng.integers(-128, 128, (k, n), dtype=np.int8)
    else:
        a = rng.standard_normal((m, k)).astype(np.float16)
        b = rng.standard_normal((k, n)).astype(np.float16)
    gemm = resident_gemm(config, a, b, base=BASE)
    image, out_at = gemm.image, gemm.out_at
    fence = encode(Opcode.FENCE)
    phases = [gemm.loads + [fence], gemm.computes, gemm.stores] if on_chip else \
        [gemm.stream, gemm.stores]
    run = run_npu(config, phases, image, base=BASE, measured=1 if on_chip else 0)
    regs, mem = run.regs, run.memory
    assert regs.pop("ERROR") == 0
    got = np.frombuffer(bytes(mem[out_at:out_at + 4 * m * n]), np.uint32).reshape(m, n)
    if kind == "int8":
        expect = golden.gemm_int8(a, b).view(np.uint32)
    else:
        expect = golden.gemm_fp16(a, b).view(np.uint32)
    np.testing.assert_array_equal(got, expect)
    assert regs["MACS"] == m * k * n
    regs["macs_per_cycle"] = regs["MACS"] / regs["BUSY"]
    regs["utilisation"] = regs["macs_per_cycle"] / config.npu_peak_macs_per_cycle
    return regs


# FP16 under make fuzz: the INT8 case runs the same dispatcher path (COMPUTEs kept in flight
# back to back) to the same bound; the FP16 array's issue rate is checked by
# tests/rtl/npu/test_array.py::test_weight_banks_tile_period and FP16 COMPUTEs back to back by
# test_back_to_back_computes_and_stores_match_the_model[fp16-*] below.
@pytest.mark.parametrize("kind", ["int8", pytest.param("fp16", marks=pytest.mark.slow)])
def test_back_to_back_computes_reach_peak(kind):
    """16 COMPUTEs (64 x 4 x 4 each) of a 64x16x16 GEMM with A and W already in SPAD: the
    dispatcher keeps several in flight, so the array takes an activation row nearly every
    cycle; measured with the BUSY and MACS counters over the COMPUTE phase only (the queue
    kept full by the testbench). One at a time (the dispatcher before pipelining) gave 9.7
    MACs/cycle, 61 % of the 4x4 array's peak."""
    regs = measure(PERF_CFG, kind, 64, 16, 16, on_chip=True)
    print(f"{kind} on chip: {regs['MACS']} MACs in {regs['BUSY']} busy cycles = "
          f"{regs['macs_per_cycle']:.2f} MACs/cycle ({regs['utilisation']:.1%} of peak), "
          f"array rows {regs['COMPUTE']}, stall_dep {regs['STALL_DEP']}")
    assert regs["COMPUTE"] == 16 * 64
    assert regs["utilisation"] >= 0.9


def test_streaming_gemm_throughput():
    """The same INT8 GEMM with every LOAD from main memory in the program (A once per K tile,
    each W tile before its COMPUTE): LOADs overlap the COMPUTEs. One COMPUTE at a time gave
    57 % of peak."""
    regs = measure(PERF_CFG, "int8", 64, 16, 16, on_chip=False)
    print(f"int8 streaming: {regs['MACS']} MACs in {regs['BUSY']} busy cycles = "
          f"{regs['macs_per_cycle']:.2f} MACs/cycle ({regs['utilisation']:.1%} of peak), "
          f"DMA read {regs['DMA_RD']} B, stall_dep {regs['STALL_DEP']}")
    assert regs["utilisation"] >= 0.8


# The one-bank INT8 case under make fuzz: fewer banks than the default stay in make test with
# [fp16-4-2], one bank in test_short_computes_overlap_in_the_array (below) and bit-exact under
# backpressure in tests/rtl/npu/test_array.py::test_weight_banks_bit_exact_under_backpressure.
@pytest.mark.parametrize("kind,seed,banks", [("int8", 1, None), ("fp16", 2, None),
                                             pytest.param("int8", 3, 1, marks=pytest.mark.slow),
                                             ("fp16", 4, 2)])
def test_back_to_back_computes_and_stores_match_the_model(kind, seed, banks):
    """Random COMPUTEs back to back (m 1..12, k and n up to the array, random SPAD rows),
    each on the ACC rows of the one before (an accumulate chain), partly overlapping them, or
    elsewhere, accumulating or not, some followed at once by a STORE of their rows, then a
    STORE of every ACC row: the whole memory image equals the command model's, with the
    default weight banks and with fewer."""
    rng = np.random.default_rng(seed)
    words, image, expect = random_program(CFG, kind, rng, base=BASE)
    run = run_npu(CFG, [words], image, base=BASE, weight_banks=banks, latency=3)
    assert run.regs["ERROR"] == 0
    assert len(run.computes) == sum(1 for w in words if decode(w)[0] == Opcode.COMPUTE)
    assert run.memory == expect


@pytest.mark.parametrize("kind,seed", [("int8", 5), ("fp16", 6)])
def test_stores_following_computes_with_the_registered_wait(kind, seed):
    """``npu_store_wait_reg`` (the ULX3S's STORE unit: the per-row wait for the execute unit's
    results taken from a register): the random COMPUTE / STORE program of the test above,
    whose STOREs follow COMPUTEs still in flight, leaves the command model's memory image."""
    config = dataclasses.replace(CFG, npu_store_wait_reg=True)
    rng = np.random.default_rng(seed)
    words, image, expect = random_program(config, kind, rng, base=BASE)
    run = run_npu(config, [words], image, base=BASE, latency=3)
    assert run.regs["ERROR"] == 0
    assert run.memory == expect


def test_short_computes_overlap_in_the_array():
    """Eight one-row COMPUTEs, each its own weight tile and ACC row, fetched by one LIST: with
    the weight banks they reach the execute unit on average at most
    ``max(32 / bytes_per_cycle, rows + 2, ceil((rows + 1 + swap_settle) / banks)) + 2`` cycles
    apart (the LIST entry fetch, the execute unit's weight-row reads and hand-off, a bank's
    load-swap-settle turn shared by the banks; +2 for the hand-offs), each before the one
    before it is done; with one bank each waits for the previous swap to settle
    (``swap_settle + rows`` cycles)."""
    from dure.rtl.npu.array import default_banks
    from dure.rtl.npu.pe import pe_latencies
    rows, cols = CFG.npu_rows, CFG.npu_cols
    gaps = {}
    for banks in (None, 1):
        _, run = compute_cost(CFG, "int8", 1, 8, weight_banks=banks, as_list=True, base=BASE)
        starts = [start for start, _ in run.computes]
        gaps[banks] = (starts[-1] - starts[1]) / (len(starts) - 2)
        if banks is None:
            assert all(start < done for start, (_, done) in zip(starts[1:], run.computes[:-1],
                                                                  strict=True))
    settle = (rows - 1) * pe_latencies(CFG.npu_fp16)[1] + cols - 1
    nb = default_banks(rows, cols, fp16=CFG.npu_fp16)
    bound = max(32 // CFG.main_bytes_per_cycle, rows + 2, -(-(rows + 1 + settle) // nb)) + 2
    print(f"mean issue gap: {gaps[None]:.1f} cycles with {nb} banks (bound {bound}), "
          f"{gaps[1]:.1f} with one")
    assert gaps[None] <= bound
    assert gaps[1] >= settle + rows


def test_overlapped_loads_through_registers():
    """``npu_load_overlap``: the tiled INT8 GEMM's LOADs overlap (a LOAD accepted before the
    previous one's done), the result is bit-exact and DONE counts every command; a bus error in
    one LOAD fails that LOAD only (ERROR names it)."""
    config = dataclasses.replace(CFG, npu_load_overlap=True)
    rng = np.random.default_rng(31)
    m, k, n = 7, 12, 9
    a = rng.integers(-128, 128, (m, k), dtype=np.int8)
    b = rng.integers(-128, 128, (k, n), dtype=np.int8)
    commands, image, layout = gemm_program(config, a, b, base=BASE, out=OutType.INT32)
    descriptors = gemm_descriptors(commands)
    regs, activity, mem = run_program(descriptors, image, config=config)
    assert regs["ERROR"] == 0 and regs["ISSUED"] == regs["DONE"] == len(descriptors)
    np.testing.assert_array_equal(read_output(mem, layout, m, n, OutType.INT32),
                                  gemm_expected(a, b, out=OutType.INT32))
    loads = activity["load"]
    assert any(nxt[0] < prev[1] for prev, nxt in zip(loads, loads[1:], strict=False))
    # An err word in the second LOAD's source: that LOAD fails, the others run.
    second = [i for i, c in enumerate(commands) if c.unit == "load"][1]
    f = commands[second].fields
    err = (f["dram_addr"] + f["dram_stride"]) // 4
    regs, _, _ = run_program(descriptors, image, err_words={err}, config=config)
    assert regs["ERROR"] == (second << 8) | ErrorCode.BUS_ERROR.value
    assert regs["DONE"] == len(descriptors)
