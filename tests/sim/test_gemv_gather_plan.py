"""The gather GEMV plan (2:4 weights, zero MACs skipped) on the command model: bit for bit the
golden dense GEMV of the expanded weights, int8 and int4 values, with bias, per-channel
requantization, a partial last k tile, several blocks and both COMPUTE splits."""

import dataclasses

import numpy as np
import pytest
from dure.rtl.npu.commands import Opcode
from dure.rtl.npu.descriptor import decode
from dure.sim import golden
from dure.sim.gemv_gather_plan import gather_fits, gather_gemv_program
from dure.sim.layer_program import run_on_model
from dure.sim.npu_model import NpuModel, perf_macs
from dure.sim.verif.sparse_records import sparse_weights

from dure.config import MAIN_BASE, preset

CFG = preset("sim")                      # built with the gather path
PLAIN = dataclasses.replace(CFG, npu_gather=False)
SIZE = 1 << 20
ADDR = dict(a_addr=MAIN_BASE + 0x100, out_addr=MAIN_BASE + 0x8000,
            param_addr=MAIN_BASE + 0x10000)


def run(program, a):
    model = NpuModel(CFG, memory={MAIN_BASE: bytes(SIZE)})
    model.set_window(MAIN_BASE, SIZE)
    got = run_on_model(model, program, [(ADDR["a_addr"], a)])
    assert model.macs == program.array_macs == perf_macs(program.descriptors)
    return got


@pytest.mark.parametrize("fmt, codes", [("int8-sparse24", "nibble"),
                                        ("int4-sparse24", "nibble"),
                                        ("int4-sparse24", "base6")])
@pytest.mark.parametrize("k, n, nb, split", [(64, 40, None, None), (100, 19, 7, True),
                                             (36, 70, 16, False), (52, 3, None, None)])
def test_raw_and_bias(fmt, codes, k, n, nb, split):
    rng = np.random.default_rng(k + n)
    lo, hi = (-8, 7) if fmt == "int4-sparse24" else (-128, 127)
    b = sparse_weights(rng, k, n, lo, hi)
    a = rng.integers(-128, 128, (1, k)).astype(np.int8)
    a[0, :4] = [-128, 127, -128, 127]
    bias = rng.integers(-2**31, 2**31, n).astype(np.int32)
    if codes == "base6" and nb is not None:
        nb += -nb % 3                    # base-6 blocks hold whole triples of channels
    for use_bias in (None, bias):
        program = gather_gemv_program(CFG, b, fmt=fmt, bias=use_bias, nb=nb, split=split,
                                      codes=codes, **ADDR)
        got = run(program, a)
        assert np.array_equal(got, golden.gemm_int8(a, b, use_bias))


def test_requantized_output_and_padded_records():
    rng = np.random.default_rng(3)
    k, n = 48, 21
    b = sparse_weights(rng, k, n, -8, 7)
    a = rng.integers(-128, 128, (1, k)).astype(np.int8)
    scale = (rng.random(n) * 4e-3).astype(np.float32)
    for pad in (False, True):
        for codes, nb in (("nibble", 8), ("base6", 9)):
            program = gather_gemv_program(CFG, b, fmt="int4-sparse24", scale=scale,
                                          zero_point=-4, lo=-90, hi=100, nb=nb,
                                          pad_records=pad, codes=codes, **ADDR)
            got = run(program, a)
            want = golden.requantize(golden.gemm_int8(a, b), scale, -4, -90, 100)
            assert np.array_equal(got, want)
            stores = [d for d in program.descriptors if decode(d)[0] == Opcode.STORE]
            assert len(stores) == 3 and all(decode(d)[1]["lane_sum"] for d in stores)


def test_refusals():
    b = np.zeros((16, 4), np.int8)
    assert gather_fits(CFG, 16, 4) and not gather_fits(PLAIN, 16, 4)
    assert not gather_fits(CFG, 18, 4) and not gather_fits(CFG, 4096, 4)
    with pytest.raises(ValueError, match="npu_gather"):
        gather_gemv_program(PLAIN, b, fmt="int4-sparse24", **ADDR)
    with pytest.raises(ValueError, match="int8-sparse24 or int4-sparse24"):
        gather_gemv_program(CFG, b, fmt="int4", **ADDR)
    with pytest.raises(ValueError, match=r"\[-8, 7\]"):
        gather_gemv_program(CFG, b + 9, fmt="int4-sparse24", **ADDR)
    with pytest.raises(ValueError, match="'base6' with int4-sparse24"):
        gather_gemv_program(CFG, b, fmt="int8-sparse24", codes="base6", **ADDR)
    with pytest.raises(ValueError, match="multiple of 3"):
        gather_gemv_program(CFG, b, fmt="int4-sparse24", nb=4, **ADDR)
    dense = np.ones((16, 4), np.int8)
    with pytest.raises(ValueError, match="2:4"):
        gather_gemv_program(CFG, dense, fmt="int8-sparse24", **ADDR)


def test_base6_codes_read_a_third_of_a_byte_per_weight():
    """The shared base-6 layout: one 16-byte source row per 3 channels and 16 dense k (8x8),
    so the weights cost 1/3 byte per dense weight against 0.375 with 4-bit codes."""
    rng = np.random.default_rng(5)
    k, n = 96, 48
    b = sparse_weights(rng, k, n, -8, 7)
    a = rng.integers(-128, 128, (1, k)).astype(np.int8)
    reads = {}
    for codes in ("nibble", "base6"):
        program = gather_gemv_program(CFG, b, fmt="int4-sparse24", codes=codes, **ADDR)
        assert len(program.blobs[0][1]) == (k * n // 3 if codes == "base6" else k * n * 3 // 8)
        model = NpuModel(CFG, memory={MAIN_BASE: bytes(SIZE)})
        model.set_window(MAIN_BASE, SIZE)
        got = run_on_model(model, program, [(ADDR["a_addr"], a)])
        assert np.array_equal(got, golden.gemm_int8(a, b))
        loads = [f for op, f in map(decode, program.descriptors)
                 if op == Opcode.LOAD and f["keep"]]
        assert {f["weight_format"] for f in loads} == {4 if codes == "base6" else 6}
        reads[codes] = model.dma_rd
    assert reads["nibble"] - reads["base6"] == k * n * 3 // 8 - k * n // 3


def test_base6_tiles_follow_the_documented_layout():
    """The plan's base-6 source rows equal the ones written from the LOAD's documentation
    (:func:`dure.sim.verif.sparse_records.base6_records`), a partial last tile and N % 3 != 0
    included."""
    from dure.sim.gemv_gather_plan import base6_tiles
    from dure.sim.verif.sparse_records import base6_records

    b = sparse_weights(np.random.default_rng(8), 40, 11, -8, 7)
    mine, doc = base6_tiles(b, 16), base6_records(b, 16)
    assert len(mine) == len(doc) == 3
    for x, y in zip(mine, doc, strict=True):
        assert np.array_equal(x, y)


def test_two_buffers_when_they_make_fewer_blocks():
    """With a small SPAD, three weight buffers would need 2 blocks of channels and two
    buffers need 1: the plan takes two (fewer, longer LOADs), still bit-exact."""
    small = dataclasses.replace(CFG, npu_spad_rows=256)
    rng = np.random.default_rng(12)
    k, n = 64, 100
    b = sparse_weights(rng, k, n, -8, 7)
    a = rng.integers(-128, 128, (1, k)).astype(np.int8)
    program = gather_gemv_program(small, b, fmt="int4-sparse24", **ADDR)
    loads = [f for op, f in map(decode, program.descriptors) if op == Opcode.LOAD and f["keep"]]
    assert {f["local_addr"] for f in loads} == {32, 32 + 102}          # 2 buffers of 102 rows
    assert len(loads) == k // 16                                        # one block
    model = NpuModel(small, memory={MAIN_BASE: bytes(SIZE)})
    model.set_window(MAIN_BASE, SIZE)
    assert np.array_equal(run_on_model(model, program, [(ADDR["a_addr"], a)]),
                          golden.gemm_int8(a, b))
