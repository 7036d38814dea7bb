# amaranth: UnusedElaboratable=no
"""ELTWISE MAC ``init_row`` (every row starts from one ACC row) inside the whole NPU on
Amaranth's simulator, against the command model: INT8 and FP16 (specials in the starting row),
single and pair MACs, walks, an INT8 ``reduce``; a LOAD into ACC of the starting row just
before the MAC (RAW) and just after it (WAR) on a slow memory; with and without
``npu_load_follow``; and every error of the new field (the refused command writes nothing).
The model's contract itself (a broadcast of the row then ``accumulate``) is checked in
``tests/sim/test_npu_model_eltwise.py``."""

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
)
from dure.rtl.npu.descriptor import encode
from dure.sim.verif.npu_sim import run_against_model

from dure.config import SoCConfig

CFG = SoCConfig(npu_rows=4, npu_cols=4, npu_spad_rows=128, npu_acc_rows=64, npu_queue_depth=4)
BASE = 0x4000_0000
SIZE = 0x1000
X, ACC_SRC, ACC_SRC2, OUT = BASE, BASE + 0xC00, BASE + 0xE00, BASE + 0x400


def run_both(descriptors, image, config=CFG, gnt=0.9):
    """RTL NPU and command model on the same image (equal memory, ERROR, DONE, PERF_MACS):
    ``(the model's code per descriptor, memory)``."""
    _, mem, ref = run_against_model(config, descriptors, image, base=BASE, gnt=gnt)
    return ref.codes, mem


def _image(rng, fp16):
    image = bytearray(rng.integers(0, 256, SIZE, dtype=np.uint8).tobytes())
    if fp16:
        spad = rng.standard_normal(96 * 4).astype(np.float16)
        spad[rng.choice(spad.size, 30, replace=False)] = rng.choice(
            np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 6e-8, 65504], np.float16), 30)
        image[0:spad.nbytes] = spad.tobytes()
        for src in (ACC_SRC, ACC_SRC2):
            acc = rng.standard_normal(8 * 4).astype(np.float32) * 100
            acc[rng.choice(acc.size, 8, replace=False)] = rng.choice(
                np.array([np.nan, np.inf, -np.inf, -0.0, 1e-40, 3e38], np.float32), 8)
            image[src - BASE:src - BASE + acc.nbytes] = acc.tobytes()
    return image


def _loads(elem):
    return [encode(Opcode.LOAD, target=LoadTarget.SPAD, elem=elem, dram_addr=X,
                   dram_stride=8, rows=96, cols=4, local_addr=0),
            encode(Opcode.LOAD, target=LoadTarget.ACC, elem=ElemType.WORD32, dram_addr=ACC_SRC,
                   dram_stride=16, rows=8, cols=4, local_addr=56)]


def _store_all():
    return encode(Opcode.STORE, out=OutType.INT32, acc_type=Precision.INT8, dram_addr=OUT,
                  dram_stride=16, rows=64, cols=4, acc_addr=0)


def _mac(prec, **fields):
    return encode(Opcode.ELTWISE, precision=prec, mac=1, init_row=1, **fields)


@pytest.mark.parametrize(("prec", "follow"),
                         [(Precision.INT8, False), (Precision.FP16, True)],
                         ids=["int8", "fp16-follow"])
def test_init_row_macs_equal_the_model(prec, follow):
    """MACs from ACC rows 56..63 (single, pair, walked, n < C), each followed by more taps
    with ``accumulate`` as a depthwise layer does; a LOAD rewriting a starting row right
    after a MAC that reads it and a MAC right after a LOAD of its row (slow memory). INT8
    with the dispatcher holding a MAC until the LOADs it reads are done (conflict_le), FP16
    with ``npu_load_follow`` (only the ACC rows conflict: conflict_le_acc)."""
    config = dataclasses.replace(CFG, npu_load_follow=follow)
    rng = np.random.default_rng(30 + prec.value * 2 + follow)
    fp16 = prec == Precision.FP16
    words = _loads(ElemType.FP16 if fp16 else ElemType.INT8)
    walk = dict(a_cols=3, a_rows=4, a_col_step=1, a_row_step=7)
    words += [
        _mac(prec, a_addr=2, b_addr=90, acc_addr=0, m=12, n=4, init_addr=56, **walk),
        encode(Opcode.ELTWISE, precision=prec, mac=1, accumulate=1, pair=1, tap_step=1,
               a_addr=3, b_addr=91, acc_addr=0, m=12, n=4, **walk),
        _mac(prec, pair=1, tap_step=5, a_addr=20, b_addr=80, acc_addr=12, m=9, n=3,
             init_addr=63),
        # the starting row 57 is rewritten just after the MAC reading it (WAR) ...
        _mac(prec, a_addr=40, b_addr=70, acc_addr=21, m=10, n=4, init_addr=57),
        encode(Opcode.LOAD, target=LoadTarget.ACC, elem=ElemType.WORD32, dram_addr=ACC_SRC2,
               dram_stride=16, rows=2, cols=4, local_addr=57),
        # ... and read at once by the next one (RAW)
        _mac(prec, pair=1, tap_step=2, a_addr=50, b_addr=71, acc_addr=31, m=11, n=2,
             init_addr=57),
        _mac(prec, a_addr=60, b_addr=72, acc_addr=42, m=6, n=4, init_addr=58),
    ]
    if not fp16:                                  # INT8 reduce from a starting row
        words.append(_mac(prec, reduce=1, pair=1, tap_step=1, a_addr=5, b_addr=60,
                          acc_addr=50, m=20, n=4, init_addr=59))
    words.append(_store_all())
    codes, _ = run_both(words, _image(rng, fp16), config, gnt=0.3)
    assert all(code == ErrorCode.NONE for code in codes)


#: Each error of the new field (and two legal neighbours): fields over a legal init_row MAC.
ERROR_CASES = [
    (dict(mac=0, b_addr=0), ErrorCode.RESERVED),                       # MAX with init_row
    (dict(init_row=0, init_addr=5), ErrorCode.RESERVED),               # w7 without init_row
    (dict(mult_b=(1 << 16) | 5), ErrorCode.RESERVED),                  # w7 [31:16]
    (dict(accumulate=1), ErrorCode.BAD_COMBINATION),
    (dict(init_addr=12), ErrorCode.BAD_COMBINATION),                   # among its rows
    (dict(init_addr=10, acc_addr=10), ErrorCode.BAD_COMBINATION),      # its first row
    (dict(reduce=1, init_addr=10, acc_addr=10), ErrorCode.BAD_COMBINATION),
    (dict(init_addr=64), ErrorCode.LOCAL_RANGE),
    (dict(init_addr=0xFFFF), ErrorCode.LOCAL_RANGE),
    (dict(reduce=1, init_addr=11, acc_addr=10), ErrorCode.NONE),       # past a reduce's row
    (dict(init_addr=9, acc_addr=10), ErrorCode.NONE),                  # just before its rows
]


def test_init_row_errors():
    """Each error of the new field, one run: the model gives the documented code, the RTL's
    ERROR (the first refusal) and memory equal the model's, so a refused MAC writes nothing
    (the STORE after them reads the rows the LOAD filled, but where the legal ones wrote)."""
    rng = np.random.default_rng(40)
    words = [*_loads(ElemType.INT8),
             encode(Opcode.LOAD, target=LoadTarget.ACC, elem=ElemType.WORD32,
                    dram_addr=ACC_SRC2, dram_stride=16, rows=16, cols=4, local_addr=4)]
    for fields, _ in ERROR_CASES:
        base = dict(precision=Precision.INT8, mac=1, init_row=1, a_addr=0, b_addr=90,
                    acc_addr=8, m=6, n=4, init_addr=60)
        base.update(fields)
        if fields.get("acc_addr") == 10:          # the legal ones write rows 20 ..
            base["acc_addr"] = base["acc_addr"] + 12
            base["init_addr"] = base["init_addr"] + 12
        words.append(encode(Opcode.ELTWISE, **base))
    words.append(_store_all())
    codes, mem = run_both(words, _image(rng, False))
    assert codes[3:3 + len(ERROR_CASES)] == [code for _, code in ERROR_CASES]
    rows = np.frombuffer(bytes(mem[OUT - BASE:OUT - BASE + 64 * 16]), np.uint32).reshape(64, 4)
    loaded = np.frombuffer(bytes(mem[ACC_SRC2 - BASE:ACC_SRC2 - BASE + 16 * 16]),
                           np.uint32).reshape(16, 4)
    assert np.array_equal(rows[4:20], loaded)     # no refused MAC wrote rows 8 .. 13
    assert not np.array_equal(rows[22:28], np.zeros((6, 4), np.uint32))
