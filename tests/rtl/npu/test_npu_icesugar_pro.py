"""The iCESugar-Pro's NPU (``preset("icesugar-pro")``: 4x1 INT8 only, TFLite requantization
only, no element-wise unit, and the board's command-path trims: queue of 1, two COMPUTEs in
flight, narrow hazard footprints, one LIST entry buffered) whole on Verilator, programmed
through its registers: a tiled INT8 GEMM whose COMPUTEs and STOREs run as a LIST in main
memory, then ELTWISE commands (pushed, and as a LIST entry), which this build refuses; every
byte of main memory and the ERROR / ERROR_INDEX / DONE registers equal the golden command
model's (:class:`dure.sim.npu_model.NpuModel`)."""

import numpy as np
import pytest
from dure.rtl.npu.commands import DESCRIPTOR_WORDS, EltwiseOp, ErrorCode, Opcode
from dure.rtl.npu.descriptor import encode
from dure.sim.npu_model import NpuModel
from dure.sim.verif import npu_verilator as nv
from dure.sim.verif.npu_control import resident_gemm

from dure.config import MAIN_BASE, preset

CFG = preset("icesugar-pro")


@pytest.fixture(scope="module")
def model():
    assert not CFG.npu_eltwise and CFG.npu_queue_depth == 1 and CFG.npu_exec_depth == 2
    assert CFG.npu_narrow_footprints and CFG.npu_list_entries == 1
    return nv.build(CFG)


def _list_image(entries):
    return b"".join(int(w).to_bytes(4, "little") for words in entries for w in words)


def program(rng, m=9, k=7, n=3):
    """``(descriptors, image)``: the GEMM's LOADs pushed, then a LIST of its COMPUTEs and
    STOREs followed by an ELTWISE entry (refused: the first error, with its index in
    ERROR_INDEX), then a pushed ELTWISE MAX (refused too)."""
    a = rng.integers(-128, 128, (m, k), dtype=np.int8)
    b = rng.integers(-128, 128, (k, n), dtype=np.int8)
    gemm = resident_gemm(CFG, a, b, base=MAIN_BASE)
    image = bytearray(gemm.image)
    image += bytes(-len(image) % 32)
    eltwise = encode(Opcode.ELTWISE, op=EltwiseOp.MAX, a_addr=0, acc_addr=0, m=2, n=1)
    entries = gemm.computes + gemm.stores + [eltwise]
    list_at = len(image)
    image += _list_image(entries)
    listed = encode(Opcode.LIST, list_addr=MAIN_BASE + list_at, count=len(entries))
    descriptors = gemm.loads + [listed, eltwise]
    return descriptors, bytes(image)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1])
def test_icesugar_pro_npu_matches_model(model, seed):
    rng = np.random.default_rng(seed)
    descriptors, image = program(rng)
    golden = NpuModel(CFG, memory={MAIN_BASE: image})
    golden.set_window(MAIN_BASE, len(image))
    codes = golden.run(descriptors)
    assert codes[-1] == ErrorCode.BAD_COMBINATION                  # the pushed ELTWISE
    assert all(len(d) == DESCRIPTOR_WORDS for d in descriptors)
    script = [nv.write("DMA_BASE", MAIN_BASE), nv.write("DMA_SIZE", len(image))]
    script += [op for words in descriptors for op in nv.submit(words)]
    script += [nv.wait_idle(), nv.read("ERROR"), nv.read("ERROR_INDEX"), nv.read("DONE")]
    run = model.run(script, image, base=MAIN_BASE)
    code, seq = golden.error
    index = 0xFFFF_FFFF if golden.error_index is None else golden.error_index
    assert run.values[0] == code.value | seq << 8
    assert run.values[1:] == [index, golden.done]
    expect = golden.read(MAIN_BASE, len(image))
    assert bytes(run.memory) == expect
    assert bytes(run.memory) != image                 # the GEMM's STOREs wrote
