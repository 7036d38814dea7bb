"""The 2:4 MAC-skipping path (LOAD ``keep``, COMPUTE ``gather``, STORE ``lane_sum``) on the
Verilator model of a whole 4x4 NPU built with ``npu_gather``: GEMVs through the three commands
(int8 and int4 values, edge values, INT32 and requantized INT8 outputs) equal the command model
and the golden dense GEMV bit for bit, PERF_MACS included; random descriptor streams with the
flags (near-valid, refused ones among them) leave memory and the first error as the command
model does. Needs a 4x4 NPU model (minutes to build once), hence slow."""

import dataclasses
import random

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
)
from dure.rtl.npu.commands import WeightFormat as WF
from dure.rtl.npu.descriptor import decode, encode
from dure.sim import golden
from dure.sim.npu_model import NpuModel
from dure.sim.verif import npu_verilator as nv
from dure.sim.verif.sparse_records import base6_records, lane_records, sparse_weights

from dure.config import MAIN_BASE, preset

CFG = dataclasses.replace(preset("npu-small"), npu_gather=True, npu_load_overlap=True)
SIZE = 1 << 16

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def model():
    return nv.build(CFG)


def gemv_stream(rng, int4, out, base6=False):
    """(descriptors, memory image, expected dense output) of a 1 x K x N 2:4 GEMV; ``base6``:
    int4 weights as source rows of 3 channels with shared base-6 codes."""
    r = CFG.npu_rows
    tile = 2 * r
    k, n = 5 * tile, 11
    lo, hi = (-8, 7) if int4 else (-128, 127)
    b = sparse_weights(rng, k, n, lo, hi)
    x = rng.integers(-128, 128, k).astype(np.int8)
    x[rng.random(k) < 0.15] = rng.choice([-128, 127])
    image = bytearray(SIZE)
    x_at, w_at, scale_at, out_at = 0x100, 0x400, 0x3000, 0x4000
    image[x_at:x_at + k] = x.tobytes()
    records = base6_records(b, tile) if base6 else lane_records(b, tile, int4)
    per = records[0].shape[1]
    for t, rec in enumerate(records):
        at = w_at + t * rec.shape[0] * per
        image[at:at + rec.size] = rec.tobytes()
    base, groups = 64, k // 4
    cmds = [encode(Opcode.LOAD, target=LoadTarget.SPAD, elem=ElemType.INT8,
                   dram_addr=MAIN_BASE + x_at, dram_stride=4, rows=groups, cols=4,
                   local_addr=base + s, local_cols=1, local_groups=groups, local_row_step=2)
            for s in (0, 1)]
    fmt = WF.SPARSE24 if not int4 else WF.SPARSE24_INT4 if base6 else WF.SPARSE24_INT4_LANES
    fmt = WF.SPARSE24_LANES if fmt == WF.SPARSE24 else fmt
    src = records[0].shape[0]
    for t in range(len(records)):
        rows_at = 16 * (t % 2)          # two weight buffers: the next LOAD overlaps
        cmds.append(encode(Opcode.LOAD, target=LoadTarget.SPAD, elem=ElemType.INT8,
                           weight_format=fmt, keep=1,
                           dram_addr=MAIN_BASE + w_at + t * src * per, dram_stride=per,
                           rows=3 * src if base6 else n, cols=r, local_addr=rows_at))
        cmds.append(encode(Opcode.COMPUTE, precision=Precision.INT8, a_addr=rows_at,
                           w_addr=base + t * r, acc_addr=8, m=n, k=r, n=4,
                           accumulate=t > 0, gather=1))
    dense = golden.gemm_int8(x[None, :], b)[0]
    if out == OutType.INT32:
        cmds.append(encode(Opcode.STORE, out=OutType.INT32, acc_type=Precision.INT8,
                           lane_sum=1, dram_addr=MAIN_BASE + out_at, dram_stride=4, rows=n,
                           cols=1, acc_addr=8))
        want = dense.view(np.uint8)
    else:
        c = CFG.npu_cols
        scales = (rng.random(n) * 3e-3).astype(np.float32)
        image[scale_at:scale_at + 4 * n] = scales.tobytes()
        cmds.append(encode(Opcode.LOAD, target=LoadTarget.ACC, elem=ElemType.WORD32,
                           dram_addr=MAIN_BASE + scale_at, dram_stride=4 * c,
                           rows=(n + c - 1) // c, cols=c, local_addr=200))
        cmds.append(encode(Opcode.STORE, out=OutType.INT8, acc_type=Precision.INT8,
                           lane_sum=1, scale=1, lane_scales=1, zero_point=5, lo=-128, hi=90,
                           dram_addr=MAIN_BASE + out_at, dram_stride=1, rows=n, cols=1,
                           acc_addr=8, scale_addr=200))
        want = golden.requantize(dense[None, :], scales, 5, -128, 90)[0].view(np.uint8)
    return cmds, image, (out_at, want), len(records) * n * r


@pytest.mark.parametrize("out", [OutType.INT32, OutType.INT8])
@pytest.mark.parametrize("int4, base6", [(False, False), (True, False), (True, True)],
                         ids=["int8", "int4", "int4-base6"])
def test_gather_gemv(model, int4, base6, out):
    rng = np.random.default_rng(7 + 2 * int4 + (out == OutType.INT8) + 4 * base6)
    cmds, image, (out_at, want), macs = gemv_stream(rng, int4, out, base6)
    script = [nv.write("DMA_BASE", MAIN_BASE), nv.write("DMA_SIZE", SIZE),
              nv.write("CONTROL", Control.PERF_CLEAR.value)]
    for words in cmds:
        script += nv.submit(words)
    script += [nv.wait_idle(), nv.read("STATUS"), nv.read("PERF_MACS_LO")]
    run = model.run(script, bytes(image), base=MAIN_BASE)
    ref = NpuModel(CFG, memory={MAIN_BASE: bytes(image)})
    ref.set_window(MAIN_BASE, SIZE)
    assert [ref.execute(words) for words in cmds] == [ErrorCode.NONE] * len(cmds)
    assert run.values[0] & 0x4 == 0                                   # no error
    assert run.values[1] == ref.macs == macs
    got = bytes(run.memory[out_at:out_at + len(want)])
    assert got == want.tobytes()
    assert bytes(run.memory) == ref.read(MAIN_BASE, SIZE)


def test_random_streams_with_the_flags(model):
    """Random near-valid descriptors, the keep / gather / lane_sum ones forced in often."""
    from dure.sim.npu_descriptors import random_descriptor

    rng = random.Random(24)
    image = bytearray(np.random.default_rng(24).integers(0, 256, 0x3000, np.uint8).tobytes())
    image += bytes(SIZE - len(image))
    base, size = MAIN_BASE + 0x1000, 0x1000
    descriptors = []
    flags = {Opcode.LOAD: 13, Opcode.COMPUTE: 8, Opcode.STORE: 12}
    while len(descriptors) < 600:
        words = random_descriptor(rng, CFG)
        opcode = words[0] & 0xF
        if opcode not in (Opcode.LOAD.value, Opcode.COMPUTE.value, Opcode.STORE.value):
            continue
        op = Opcode(opcode)
        if rng.random() < 0.5:
            words[0] |= 1 << flags[op]
        if op == Opcode.LOAD and words[0] >> 13 & 1 and rng.random() < 0.7:
            fmt = rng.choice([4, 5, 6])                       # 4: shared base-6 codes
            words[0] = (words[0] & ~(7 << 10)) | fmt << 10
            if fmt == 4 and rng.random() < 0.8:
                words[3] = (words[3] & 0xFFFF_0000) | 3 * rng.randint(1, 8)
            words[0] &= ~((3 << 4) | (3 << 6) | (3 << 8))    # SPAD, INT8, no broadcast/fill
            words[5] = 0
            words[3] = (words[3] & 0xFFFF) | (rng.choice([2, 4]) << 16)
        if op == Opcode.COMPUTE and words[0] >> 8 & 1 and rng.random() < 0.7:
            words[0] &= ~((1 << 4) | (1 << 5) | (1 << 7))     # INT8, WS, no diagonal
        if op in (Opcode.LOAD, Opcode.STORE):
            words[1] = base + rng.choice([-4, 0, 1, 2, 0x400, 0xFF0, 0xFFC]) if words[1] else 0
            words[2] = rng.choice([0, 3, 5, 6, 8, 12, 20, 64]) if words[2] else 0
            words[3] = (words[3] & 0xFFFF_0000) | min(words[3] & 0xFFFF, 24)
        descriptors.append(words)
    script = [nv.write("DMA_BASE", base), nv.write("DMA_SIZE", size)]
    for words in descriptors:
        script += nv.submit(words)
    script += [nv.wait_idle(), nv.read("ERROR")]
    run = model.run(script, bytes(image), base=MAIN_BASE)
    ref = NpuModel(CFG, memory={MAIN_BASE: bytes(image)})
    ref.set_window(base, size)
    codes = [ref.execute(words) for words in descriptors]
    flagged = [c for w, c in zip(descriptors, codes, strict=True)
               if decode(w)[1].get({1: "keep", 2: "gather", 3: "lane_sum"}[w[0] & 0xF])]
    assert flagged.count(ErrorCode.NONE) >= 8 and len(set(flagged)) >= 4
    want = 0 if ref.error is None else ref.error[0].value | ref.error[1] << 8
    assert run.values[-1] == want
    assert bytes(run.memory) == ref.read(MAIN_BASE, len(image))
