"""The iCEBreaker's NPU (INT8 only, no fp32 post-processing, ``preset("icebreaker-npu")``) whole on
Verilator, programmed through its registers: a tiled INT8 GEMM with raw INT32 output and both
TFLite requantization modes, plus the STOREs this build refuses; every byte of main memory and
the ERROR register equal the golden command model's (:class:`dure.sim.npu_model.NpuModel`)."""

import numpy as np
import pytest
from dure.rtl.npu.commands import ElemType, ErrorCode, LoadTarget, Opcode, OutType, RequantMode
from dure.rtl.npu.descriptor import encode
from dure.sim.npu_model import NpuModel
from dure.sim.verif import npu_verilator as nv
from dure.sim.verif.npu_control import resident_gemm

from dure.config import MAIN_BASE, preset

CFG = preset("icebreaker-npu")


@pytest.fixture(scope="module")
def model():
    assert CFG.npu_rows and not CFG.npu_fp16 and not CFG.npu_float_post
    return nv.build(CFG)


def program(rng, m=7, k=5, n=3):
    """Descriptors and memory image: the GEMM's LOADs and COMPUTEs, its raw INT32 STOREs, per
    N tile the TFLite parameters into ACC and an INT8 STORE in each mode, then two refused
    STOREs (FLOAT_SCALE and INT8 -> FP16). Returns ``(descriptors, image, first_refused)``."""
    cols = CFG.npu_cols
    a = rng.integers(-128, 128, (m, k), dtype=np.int8)
    b = rng.integers(-128, 128, (k, n), dtype=np.int8)
    gemm = resident_gemm(CFG, a, b, base=MAIN_BASE)
    nt = -(-n // cols)
    image = gemm.image
    params_at = len(image)
    params = np.zeros((nt, 2, cols), np.int32)
    params[:, 0] = rng.integers(1 << 30, (1 << 31) - 1, (nt, cols))    # multipliers
    params[:, 1] = rng.integers(-12, 3, (nt, cols))                       # shifts
    image += params.tobytes()
    out8_at = len(image)
    image += bytes(2 * m * n + 64)
    param_row = CFG.npu_acc_rows - 2 * nt
    descriptors = gemm.loads + gemm.computes + gemm.stores
    for u in range(nt):
        nn = min(cols, n - u * cols)
        descriptors.append(encode(Opcode.LOAD, target=LoadTarget.ACC, elem=ElemType.WORD32,
                                  dram_addr=MAIN_BASE + params_at + 8 * cols * u,
                                  dram_stride=4 * cols, rows=2, cols=nn,
                                  local_addr=param_row + 2 * u))
        for mode_index, mode in enumerate((RequantMode.TFLITE_DOUBLE_ROUNDING,
                                           RequantMode.TFLITE_SINGLE_ROUNDING)):
            descriptors.append(encode(
                Opcode.STORE, out=OutType.INT8, acc_type=0, scale=1, requant=mode,
                zero_point=int(rng.integers(-20, 20)), lo=-128 + 5 * mode_index, hi=120,
                dram_addr=MAIN_BASE + out8_at + mode_index * m * n + u * cols,
                dram_stride=n, rows=m, cols=nn, acc_addr=u * m, scale_addr=param_row + 2 * u))
    first_refused = len(descriptors)
    descriptors.append(encode(Opcode.STORE, out=OutType.INT8, acc_type=0, scale=1,
                              lo=-128, hi=127, dram_addr=MAIN_BASE + out8_at, dram_stride=n,
                              rows=m, cols=1, acc_addr=0, scale_addr=param_row))
    descriptors.append(encode(Opcode.STORE, out=OutType.FP16, acc_type=0, scale=1,
                              dram_addr=MAIN_BASE + out8_at, dram_stride=2 * n, rows=m,
                              cols=1, acc_addr=0, scale_addr=param_row))
    return descriptors, image, first_refused


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_icebreaker_npu_matches_model(model, seed):
    rng = np.random.default_rng(seed)
    descriptors, image, first_refused = program(rng)
    golden = NpuModel(CFG, memory={MAIN_BASE: bytes(image)})
    golden.set_window(MAIN_BASE, len(image))
    codes = golden.run(descriptors)
    assert codes[:first_refused] == [ErrorCode.NONE] * first_refused
    assert codes[first_refused:] == [ErrorCode.BAD_COMBINATION] * 2
    script = [nv.write("DMA_BASE", MAIN_BASE), nv.write("DMA_SIZE", len(image))]
    script += [op for words in descriptors for op in nv.submit(words)]
    script += [nv.wait_idle(), nv.read("ERROR"), nv.read("DONE")]
    run = model.run(script, image, base=MAIN_BASE)
    code, seq = golden.error
    assert run.values == [code.value | seq << 8, len(descriptors)]
    expect = golden.read(MAIN_BASE, len(image))
    assert bytes(run.memory) == expect
    assert bytes(run.memory) != bytes(image)          # the GEMM and the STOREs wrote
