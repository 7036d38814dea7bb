# amaranth: UnusedElaboratable=no
"""The element-wise unit's command hand-over in the whole NPU (``npu-small`` with
``npu_eltwise_handover``: 4x4 array, ACC 256 rows; Amaranth's simulator, against the command
model, bit-exact, cycle-free): the smallest stream that failed on the SoC (session 17: two MACs
on the same ACC rows with a LOAD into ACC between them, whose row writes stall the unit while
the second MAC is handed over), and random streams of back-to-back ELTWISEs of every kind
(ADD, MAX, MAC, ``pair``, ``reduce``, ``init_row``, walks; INT8 and FP16; with and without
``npu_eltwise_pipeline``, with it ``npu_eltwise_operand_regs``, and with both
``npu_store_wait_reg``, the ULX3S's combination) on rows
up to ACC row 255, with LOADs into ACC taking the write port and STOREs following the results,
all run as one LIST so that the commands reach the unit as fast as the NPU takes them."""

import dataclasses
import struct

import numpy as np
import pytest
from dure.rtl.npu.commands import ElemType, EltwiseOp, LoadTarget, Opcode, OutType, Precision
from dure.rtl.npu.descriptor import encode
from dure.sim.verif.npu_sim import run_against_model

from dure.config import MAIN_BASE, preset

CFG = dataclasses.replace(preset("npu-small"), npu_eltwise_handover=True)
CFG_PIPE = dataclasses.replace(CFG, npu_eltwise_pipeline=True)
CFG_OPREGS_PIPE = dataclasses.replace(CFG_PIPE, npu_eltwise_operand_regs=True)
# and the STORE unit's registered per-row wait: the ULX3S's combination
CFG_ULX3S = dataclasses.replace(CFG_OPREGS_PIPE, npu_store_wait_reg=True)
SIZE = 0x2000
LIST_AT = MAIN_BASE + 0x1000      # the command list
OUT_AT = MAIN_BASE + 0x1800       # what the STOREs write
ACC_TOP = 256 - 32                # the ACC rows the streams use: 224..255 (up to the last row)


def as_list(commands):
    """``(LIST descriptor, list bytes)``: ``commands`` as one LIST at :data:`LIST_AT`."""
    blob = b"".join(struct.pack("<8I", *words) for words in commands)
    return encode(Opcode.LIST, list_addr=LIST_AT, count=len(commands)), blob


def run_list(config, commands, image, *, gnt=0.9):
    """Run ``commands`` as one LIST on the RTL NPU of ``config`` and on the command model
    (:func:`run_against_model`: equal memory, ERROR, DONE and PERF_MACS)."""
    pushed, blob = as_list(commands)
    image = bytearray(image)
    image[LIST_AT - MAIN_BASE:LIST_AT - MAIN_BASE + len(blob)] = blob
    _, _, ref = run_against_model(config, [pushed], image, base=MAIN_BASE, gnt=gnt)
    assert ref.error is None
    return ref


def random_image(rng):
    """Main memory: fp16 patterns (normals, signed zeros, subnormals, Inf, NaN; their low
    bytes are the INT8 lanes) in the first 1 KiB, random words after them."""
    image = bytearray(rng.integers(0, 256, SIZE, dtype=np.uint8).tobytes())
    spad = rng.normal(0, 2, 512).astype(np.float16).view(np.uint16)
    special = rng.choice(np.array([0x0000, 0x8000, 0x0001, 0x83FF, 0x7C00, 0xFC00, 0x7E00,
                                   0x0080, 0x007F], np.uint16), spad.shape)
    spad = np.where(rng.random(spad.shape) < 0.1, special, spad)
    image[:spad.nbytes] = spad.tobytes()
    return image


def load_spad(rows, at=0, src=0):
    """LOAD of ``rows`` SPAD rows (4 fp16 lanes each) from ``MAIN_BASE + src``."""
    return encode(Opcode.LOAD, target=LoadTarget.SPAD, elem=ElemType.FP16,
                  dram_addr=MAIN_BASE + src, dram_stride=8, rows=rows, cols=4, local_addr=at)


def load_acc(rows, at, src):
    """LOAD of ``rows`` ACC rows (4 words each) from ``MAIN_BASE + src``."""
    return encode(Opcode.LOAD, target=LoadTarget.ACC, elem=ElemType.WORD32,
                  dram_addr=MAIN_BASE + src, dram_stride=16, rows=rows, cols=4, local_addr=at)


def store_raw(rows, acc_addr, out, precision):
    """STORE of ACC rows ``acc_addr ..`` as raw int32 / fp32 words to ``OUT_AT + out``."""
    raw = OutType.FP32 if precision == Precision.FP16 else OutType.INT32
    return encode(Opcode.STORE, out=raw, acc_type=precision, dram_addr=OUT_AT + out,
                  dram_stride=16, rows=rows, cols=4, acc_addr=acc_addr)


def two_macs(m, precision):
    """The smallest stream that failed: SPAD and the start row loaded, a FENCE, then a
    ``pair`` MAC of ``m`` rows from ``init_row`` 255 onto ACC rows 16.., a LOAD of ACC rows
    250..253 (independent of both MACs: issued at once, its row writes take the ACC write
    port while the first MAC drains), a MAC accumulating onto the same rows, and their STORE
    (the depthwise layer's channel chunk of the model in tests/dure/commands/test_infer.py)."""
    return [load_spad(2 * m + 8), load_acc(1, 255, 0x400), encode(Opcode.FENCE),
            encode(Opcode.ELTWISE, op=EltwiseOp.MAX, mac=1, precision=precision, pair=1,
                   tap_step=1, init_row=1, init_addr=255, a_addr=4, b_addr=0, acc_addr=16,
                   m=m, n=4),
            load_acc(4, 250, 0x440),
            encode(Opcode.ELTWISE, op=EltwiseOp.MAX, mac=1, precision=precision, pair=1,
                   tap_step=1, accumulate=1, a_addr=m + 6, b_addr=2, acc_addr=16, m=m, n=4),
            store_raw(m, 16, 0, precision)]


@pytest.mark.parametrize("precision", [Precision.INT8, Precision.FP16])
def test_a_mac_handed_over_while_a_load_takes_the_acc_write_port(precision):
    """Regression (session 17): the second MAC, handed over in the cycle after the first one
    read its last row, read its weight rows at once, even when that row was held in the
    compute stage because a LOAD's row write had the ACC write port: the row then computed
    from the weights (ACC row 16 + m - 1 wrong: the last output pixel of the model's
    depthwise channel chunk). The first MAC's length moves its hand-over across the LOAD's
    row writes, so one of them meets it; every stream is exact."""
    rng = np.random.default_rng(70 + precision.value)
    image = random_image(rng)
    for m in range(4, 30):
        run_list(CFG, two_macs(m, precision), image, gnt=1.0)


def random_eltwise(rng, precision, acc):
    """One ELTWISE (encoded) of ``precision`` on ACC rows from ``acc`` (inside 224..255):
    ADD (INT8), MAX, or a MAC (``pair``, ``accumulate`` / ``init_row`` / from zero, INT8
    ``reduce``), sometimes a 2-D walk; SPAD rows 0..63 (weights at 64..79)."""
    m = int(rng.integers(1, 9))
    f = dict(precision=precision, a_addr=int(rng.integers(0, 48)), n=int(rng.integers(1, 5)))
    if rng.random() < 0.3:
        cols, rows = int(rng.integers(1, 4)), int(rng.integers(1, 4))
        f.update(a_cols=cols, a_rows=rows, a_col_step=int(rng.integers(0, 3)),
                 a_row_step=int(rng.integers(0, 5)))
        m = cols * rows
    acc = min(acc, 256 - m)
    f.update(acc_addr=acc, m=m)
    kind = rng.random()
    if kind < 0.25 and precision == Precision.INT8:
        f.update(op=EltwiseOp.ADD, b_addr=int(rng.integers(0, 48)),
                 zp_a=int(rng.integers(-128, 128)), zp_b=int(rng.integers(-128, 128)),
                 mult_a=int(rng.integers(0, 1 << 31)), mult_b=int(rng.integers(0, 1 << 31)),
                 rshift_a=int(rng.integers(0, 32)), rshift_b=int(rng.integers(0, 32)))
    elif kind < 0.75:
        f.update(op=EltwiseOp.MAX, mac=1, b_addr=int(rng.integers(64, 79)))
        if rng.random() < 0.5:
            f.update(pair=1, tap_step=int(rng.integers(0, 4)))
        start = rng.random()
        if start < 0.5:
            f["accumulate"] = 1
        elif start < 0.7:
            outside = [r for r in range(ACC_TOP, 256) if not acc <= r < acc + m]
            f.update(init_row=1, init_addr=int(rng.choice(outside)))
        if precision == Precision.INT8 and rng.random() < 0.2:
            f["reduce"] = 1
    else:
        f.update(op=EltwiseOp.MAX, accumulate=int(rng.random() < 0.7))
    return encode(Opcode.ELTWISE, **f)


def random_stream(rng, count):
    """SPAD rows 0..79 and ACC rows 224..255 loaded, a FENCE, then ``count`` ELTWISEs (each
    INT8 or FP16 at random) mostly on their predecessor's rows (the depthwise walk's taps),
    with LOADs into ACC rows (taking the write port; sometimes rows the ELTWISEs use) and
    raw STOREs of their rows between them; finally the whole ACC area STOREd per precision
    of its last writer (both, to compare every bit)."""
    cmds = [load_spad(80), load_acc(32, ACC_TOP, 0x400), encode(Opcode.FENCE)]
    acc, out = ACC_TOP + 8, 0
    for _ in range(count):
        precision = Precision(int(rng.integers(0, 2)))
        if rng.random() < 0.3:
            acc = int(rng.integers(ACC_TOP, 256))
        cmds.append(random_eltwise(rng, precision, acc))
        side = rng.random()
        if side < 0.15:
            rows = int(rng.integers(1, 5))
            at = int(rng.integers(ACC_TOP, 256 - rows + 1))
            cmds.append(load_acc(rows, at, 0x400 + 16 * int(rng.integers(0, 28))))
        elif side < 0.3 and out < 0x600:
            rows = int(rng.integers(1, 5))
            at = int(rng.integers(ACC_TOP, 256 - rows + 1))
            cmds.append(store_raw(rows, at, out, precision))
            out += 16 * rows
        acc = int(np.clip(acc + rng.integers(-2, 3), ACC_TOP, 255))
    cmds.append(store_raw(32, ACC_TOP, 0x600, Precision.INT8))
    return cmds


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("config", [CFG, CFG_PIPE, CFG_OPREGS_PIPE, CFG_ULX3S],
                         ids=["plain", "eltwise_pipeline", "eltwise_pipeline_operand_regs",
                              "with_store_wait_reg"])
def test_random_back_to_back_eltwise_streams_bit_exact(config, seed):
    """Random streams of back-to-back ELTWISEs of every kind and both precisions on ACC rows
    up to 255, with LOADs into ACC and STOREs among them, as one LIST: memory (every STORE),
    ERROR, DONE and PERF_MACS equal the command model's."""
    rng = np.random.default_rng(80 + seed + 10 * config.npu_eltwise_pipeline
                                + 20 * config.npu_eltwise_operand_regs
                                + 40 * config.npu_store_wait_reg)
    image = random_image(rng)
    run_list(config, random_stream(rng, 40), image, gnt=float(rng.choice([0.6, 1.0])))
