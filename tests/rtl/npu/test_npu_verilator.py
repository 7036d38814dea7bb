"""The whole 8x8 NPU on Verilator, programmed through its registers: MACs per cycle of a
128x64x32 GEMM from the perf counters, with its operands already in SPAD (COMPUTEs back to back
through the dispatcher) and streamed from main memory, in both tiling orders; outputs bit-exact
with golden. Slow (the model takes minutes to build): ``make fuzz``."""

import numpy as np
import pytest
from dure.rtl.npu.commands import Control, ErrorCode, Opcode, Status
from dure.rtl.npu.descriptor import encode
from dure.sim import golden
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


# --- Implicit GEMM: walked COMPUTEs, fills, 2-D placement (RTL against the command model) ----

def run_both(model, descriptors, image, *, window=None, per_command_errors=False):
    """Runs ``descriptors`` on the Verilator NPU and on :class:`NpuModel`; asserts equal final
    memory (every byte of the image, inside and outside the window) and equal error codes.
    Returns the Verilator run and the command model."""
    from dure.sim.npu_model import NpuModel

    base, size = window if window is not None else (MAIN_BASE, len(image))
    script = [nv.write("DMA_BASE", base), nv.write("DMA_SIZE", size),
              nv.write("CONTROL", Control.PERF_CLEAR.value)]
    for words in descriptors:
        script += nv.submit(words)
        if per_command_errors:       # the code of every command: read ERROR, clear it
            script += [nv.wait_idle(), nv.read("STATUS"), nv.read("ERROR"),
                       nv.write("STATUS", Status.ERROR.value)]
    script += [nv.wait_idle(), nv.read("ERROR"), nv.read("PERF_MACS_LO"),
               nv.read("PERF_BUSY_LO"), nv.read("PERF_DMA_RD_LO")]
    run = model.run(script, image, base=MAIN_BASE)
    ref = NpuModel(CFG, memory={MAIN_BASE: bytes(image)})
    ref.set_window(base, size)
    codes = []
    for words in descriptors:
        codes.append(ref.execute(words))
        if per_command_errors:
            ref.clear_error()
    if per_command_errors:         # ERROR keeps its value once cleared: STATUS.error tells
        pairs = zip(run.values[0:2 * len(descriptors):2], run.values[1:2 * len(descriptors):2],
                    strict=True)
        got = [error & 0xFF_FFFF_FF if status & Status.ERROR.value else 0
               for status, error in pairs]
        assert got == [0 if code == ErrorCode.NONE else code.value | seq << 8
                       for seq, code in enumerate(codes)]
    else:
        want = 0 if ref.error is None else ref.error[0].value | ref.error[1] << 8
        assert run.values[-4] == want
    assert run.values[-3] == ref.macs & 0xFFFF_FFFF
    assert bytes(run.memory) == ref.read(MAIN_BASE, len(image))
    return run, ref


@pytest.mark.parametrize("kind", ["int8", "fp16"])
def test_conv_tap_loop(model, kind):
    """A 3x3 SAME convolution 12x10x11 -> 13 (channel chunks and N tiles with remainders,
    three image tiles double buffered): fill LOADs for the padding, 2-D LOADs of the image
    rows, 9 x 2 x 2 walked COMPUTEs per tile with accumulate, STOREs; bit-exact with the
    command model and with an independent numpy convolution."""
    from dure.sim.verif.walk_programs import conv_reference, conv_tap_program

    rng = np.random.default_rng(5)
    if kind == "int8":
        x = rng.integers(-128, 128, (12, 10, 11), dtype=np.int8)
        w = rng.integers(-128, 128, (3, 3, 11, 13), dtype=np.int8)
    else:
        x = rng.normal(0, 1, (12, 10, 11)).astype(np.float16)
        w = rng.normal(0, 1, (3, 3, 11, 13)).astype(np.float16)
        x[3, 4, 2] = np.inf                           # Inf and -0.0 through the taps
        x[7, 0, 5] = -0.0
    prog = conv_tap_program(CFG, x, w, tile_rows=5)
    run, _ = run_both(model, prog.descriptors, prog.image)
    np.testing.assert_array_equal(prog.output(run.memory), conv_reference(x, w))
    assert run.values[-3] == prog.macs


def test_conv_stride2_and_zero_point(model):
    """Stride 2, pad 1, an INT8 padding value (zero point -3) painted by fill LOADs."""
    from dure.sim.verif.walk_programs import conv_reference, conv_tap_program

    rng = np.random.default_rng(6)
    x = rng.integers(-128, 128, (9, 11, 5), dtype=np.int8)
    w = rng.integers(-128, 128, (3, 3, 5, 6), dtype=np.int8)
    prog = conv_tap_program(CFG, x, w, stride=2, pad=1, fill_value=0xFD)
    run, _ = run_both(model, prog.descriptors, prog.image)
    np.testing.assert_array_equal(prog.output(run.memory),
                                  conv_reference(x, w, stride=2, pad=1, fill_value=0xFD))


@pytest.mark.parametrize("seed", range(3))
def test_random_walks(model, seed):
    """Random walked / diagonal / linear COMPUTEs (INT8 and FP16 with Inf, NaN, -0.0 in every
    lane), fills and placed LOADs, then every ACC row stored: RTL equals the model."""
    from dure.sim.verif.walk_programs import random_walk_program

    rng = np.random.default_rng(100 + seed)
    descriptors, image, _, _ = random_walk_program(CFG, rng, commands=40,
                                                   fp16=CFG.npu_fp16)
    run_both(model, descriptors, image)


def test_malformed_walk_fill_placement(model):
    """Command fuzzer: random (mostly malformed) descriptors with walk, fill and placement
    fields, one at a time: no hang, every error code equals the model's, and no byte of main
    memory changes but what the model writes (nothing outside the window)."""
    import random

    from dure.sim.npu_descriptors import random_descriptor

    rng = random.Random(9)
    image = bytearray(np.random.default_rng(9).integers(0, 256, 0x3000, np.uint8).tobytes())
    window = (MAIN_BASE + 0x1000, 0x1000)
    descriptors = []
    while len(descriptors) < 300:
        words = random_descriptor(rng, CFG)
        opcode = words[0] & 0xF
        if opcode in (Opcode.LOAD.value, Opcode.STORE.value):
            # keep DMA addresses near the window, inside the image
            words[1] = MAIN_BASE + 0x1000 + rng.choice([-4, -1, 0, 2, 0x400, 0xFF0, 0x1000,
                                                        0xFFC]) if words[1] else 0
            words[2] = rng.choice([0, 1, 8, 16, 64]) if words[2] else 0
            words[3] = (words[3] & 0xFFFF_0000) | min(words[3] & 0xFFFF, 40)
        descriptors.append(words)
    run_both(model, descriptors, image, window=window, per_command_errors=True)


@pytest.mark.parametrize("kind", ["int8", "fp16"])
def test_conv_tap_loop_throughput(model, kind):
    """32x32x16 -> 16, 3x3 SAME, stride 1: 4 image tiles of 8 output rows (double buffered),
    36 walked COMPUTEs of 256 rows per tile (36864 array cycles in all); BUSY covers every
    LOAD (weights, fills, image rows), COMPUTE and STORE (raw int32 / fp32 output: 64 KiB,
    16384 cycles of the 4 B/cycle port, overlapped with the next tile's COMPUTEs but not the
    last tile's 4096). Measured: INT8 43819 cycles = 53.8 MACs/cycle (84.1 % of 64), FP16
    46699 = 50.5 (78.9 %); the rest is the first weights and image tile (not overlapped) and
    the last tile's STORE."""
    from dure.sim.verif.walk_programs import conv_reference, conv_tap_program

    rng = np.random.default_rng(8)
    if kind == "int8":
        x = rng.integers(-128, 128, (32, 32, 16), dtype=np.int8)
        w = rng.integers(-128, 128, (3, 3, 16, 16), dtype=np.int8)
    else:
        x = rng.normal(0, 1, (32, 32, 16)).astype(np.float16)
        w = rng.normal(0, 1, (3, 3, 16, 16)).astype(np.float16)
    prog = conv_tap_program(CFG, x, w)
    run, _ = run_both(model, prog.descriptors, prog.image)
    np.testing.assert_array_equal(prog.output(run.memory), conv_reference(x, w))
    macs, busy = run.values[-3], run.values[-2]
    assert macs == prog.macs == 32 * 32 * 9 * 16 * 16
    rate = macs / busy
    print(f"\n{kind} conv 32x32x16->16 3x3 SAME: {len(prog.descriptors)} descriptors "
          f"({prog.computes} COMPUTEs), {macs} MACs in {busy} busy cycles = {rate:.1f} "
          f"MACs/cycle ({rate / CFG.npu_peak_macs_per_cycle:.1%} of peak)")
    assert rate / CFG.npu_peak_macs_per_cycle >= 0.75


def test_diagonal_fp16_specials_and_fills(model):
    """FP16 diagonal COMPUTEs whose off-diagonal W lanes are all Inf and whose A lanes beyond K
    hold NaN / Inf: nothing leaks into another column (a full product would give NaN
    everywhere); -0.0 starts and products keep their signs; a walked diagonal COMPUTE equals
    the linear one. Then a program of fills, a COMPUTE and a STORE: PERF_DMA_RD stays 0."""
    from dure.rtl.npu.commands import ElemType, LoadTarget, OutType, Precision

    w = np.full((8, 8), np.inf, np.float16)
    w[range(8), range(8)] = [0.5, -2.0, 1.0, 0.0, 3.0, -0.0, 1.0, 2.0]
    a = np.array([[2, 2, 2, 2, 2, 2, np.nan, np.inf], [-0.0] * 8], np.float16)
    image = bytearray(512)
    image[0:128] = w.tobytes()
    image[128:160] = a.tobytes()
    spad = dict(target=LoadTarget.SPAD, elem=ElemType.FP16)
    fp16 = dict(precision=Precision.FP16, diagonal=1, w_addr=100, n=8)
    d = [encode(Opcode.LOAD, **spad, dram_addr=MAIN_BASE, dram_stride=16, rows=8, cols=8,
                local_addr=100),
         encode(Opcode.LOAD, **spad, dram_addr=MAIN_BASE + 128, dram_stride=16, rows=2, cols=8,
                local_addr=10),
         encode(Opcode.LOAD, target=LoadTarget.ACC, elem=ElemType.WORD32, fill=1,
                fill_value=0x8000_0000, rows=8, cols=8, local_addr=0),
         encode(Opcode.COMPUTE, **fp16, accumulate=1, a_addr=10, acc_addr=0, m=2, k=6),
         encode(Opcode.COMPUTE, **fp16, a_addr=10, acc_addr=4, m=1, k=8),
         encode(Opcode.COMPUTE, **fp16, accumulate=1, a_addr=10, acc_addr=6, m=2, k=6,
                a_cols=1, a_rows=2, a_row_step=1),
         encode(Opcode.STORE, out=OutType.INT32, dram_addr=MAIN_BASE + 256, dram_stride=32,
                rows=8, cols=8, acc_addr=0)]
    run, _ = run_both(model, d, image)
    out = np.frombuffer(bytes(run.memory[256:512]), np.uint32).reshape(8, 8)
    f = lambda v: int(np.float32(v).view(np.uint32))             # noqa: E731
    neg0 = 0x8000_0000
    assert list(out[0]) == [f(1.0), f(-4.0), f(2.0), 0, f(6.0), neg0, neg0, neg0]
    assert list(out[1]) == [neg0, 0, neg0, neg0, neg0, 0, neg0, neg0]
    assert list(out[4]) == [f(1.0), f(-4.0), f(2.0), 0, f(6.0), 0, 0x7FC0_0000, 0x7F80_0000]
    assert (out[6:8] == out[0:2]).all()

    fills = [encode(Opcode.LOAD, **spad, fill=1, fill_value=0x3C00, rows=9, cols=8,
                    local_addr=0),
             encode(Opcode.LOAD, target=LoadTarget.ACC, elem=ElemType.WORD32, fill=1,
                    fill_value=f(0.5), rows=4, cols=8, local_addr=0),
             encode(Opcode.COMPUTE, precision=Precision.FP16, accumulate=1, a_addr=8,
                    w_addr=0, acc_addr=0, m=1, k=8, n=8),
             encode(Opcode.STORE, out=OutType.FP32, acc_type=Precision.FP16,
                    dram_addr=MAIN_BASE, dram_stride=32, rows=1, cols=8, acc_addr=0)]
    run, _ = run_both(model, fills, bytearray(64))
    assert run.values[-1] == 0                                   # PERF_DMA_RD
    assert list(np.frombuffer(bytes(run.memory[:32]), np.float32)) == [8.5] * 8
