"""AVERAGE_POOL_2D lowered by dure.sim.pool_plan: the division constants proven exact (checked
here exhaustively) and the descriptor lists bit-exact with the golden operators on the command
model."""

from dataclasses import replace

import numpy as np
import pytest
from dure.rtl.npu.commands import LoadTarget, Opcode
from dure.rtl.npu.descriptor import decode
from dure.sim.golden_fixedpoint import multiply_by_quantized_multiplier_single_rounding
from dure.sim.golden_tflite import average_pool_int8, max_pool_int8
from dure.sim.golden_tflite_fp16 import average_pool_fp16, max_pool_fp16
from dure.sim.layer_program import run_on_model
from dure.sim.pool_plan import (
    GLOBAL_SLAB,
    MAX_WINDOW,
    average_pool_fp16_program,
    average_pool_int8_program,
    max_pool_fp16_program,
    max_pool_int8_program,
    pool_multiplier,
)

from dure.config import preset

from .test_conv_plan import CONFIGS, fp16_values, model_and_addresses, same_bits


def tflite_average(acc, n):
    """``(acc + n/2) / n`` if acc > 0 else ``(acc - n/2) / n``, C truncating division."""
    half = n // 2
    return np.where(acc > 0, (acc + half) // n, -((half - acc) // n))


def test_pool_multiplier_divides_exactly_for_every_window_and_sum():
    """Every n in 1..MAX_WINDOW and every |acc| <= 128 n: the STORE's single-rounding multiply
    with pool_multiplier(n) is TFLite's rounded average."""
    for n in range(1, MAX_WINDOW + 1):
        acc = np.arange(-128 * n, 128 * n + 1, dtype=np.int64)
        m, shift = pool_multiplier(n)
        assert 0 < m < 1 << 31 and -31 <= shift <= 30
        got = multiply_by_quantized_multiplier_single_rounding(acc, m, shift)
        assert np.array_equal(got, tflite_average(acc, n)), n


def test_the_exact_reciprocal_alone_fails_on_negative_ties():
    """Why the multiplier is 1/n plus a little: with M / 2**p = 1/2 exactly, -1 / 2 rounds
    toward +infinity (0), TFLite gives -1."""
    assert multiply_by_quantized_multiplier_single_rounding(-1, 1 << 30, 0) == 0
    assert tflite_average(np.array([-1]), 2)[0] == -1


POOL_CASES = [
    # x_shape, filter, stride, padding
    ((1, 7, 6, 5), (3, 3), (1, 1), "SAME"),
    ((2, 8, 9, 11), (2, 3), (2, 2), "SAME"),
    ((1, 8, 8, 13), (8, 8), (1, 1), "VALID"),
    ((1, 9, 5, 3), (3, 2), (2, 1), "VALID"),
    ((3, 5, 7, 19), (5, 7), (1, 1), "VALID"),       # global pooling, three images
    ((2, 9, 5, 40), (9, 5), (1, 1), "VALID"),       # global, units of 2 chunks, 2 images
]


@pytest.mark.parametrize("cfg", list(CONFIGS))
@pytest.mark.parametrize("case", range(len(POOL_CASES)))
def test_average_pool_int8_is_bit_exact(cfg, case):
    config = CONFIGS[cfg]
    x_shape, filt, stride, padding = POOL_CASES[case]
    rng = np.random.default_rng(case)
    x = rng.integers(-128, 128, x_shape, dtype=np.int8)
    x.reshape(-1)[:7] = -128
    kw = dict(stride=stride, padding=padding, lo=-120 if case == 1 else -128, hi=127)
    model, (xa, oa, pa, _) = model_and_addresses(config)
    prog = average_pool_int8_program(config, x.shape, filt, x_addr=xa, out_addr=oa,
                                     param_addr=pa, **kw)
    assert same_bits(run_on_model(model, prog, [(xa, x)]), average_pool_int8(x, filt, **kw))
    if filt == x_shape[1:3]:
        assert any("global" in note for note in prog.notes)
        assert any(d[0] & 0xF == 6 for d in prog.descriptors) == config.npu_eltwise  # MAC


@pytest.mark.parametrize("cfg", list(CONFIGS))
@pytest.mark.parametrize("case", range(len(POOL_CASES)))
def test_average_pool_fp16_is_bit_exact(cfg, case):
    config = CONFIGS[cfg]
    x_shape, filt, stride, padding = POOL_CASES[case]
    rng = np.random.default_rng(10 + case)
    x = fp16_values(rng, x_shape, specials=case % 2 == 0)
    kw = dict(stride=stride, padding=padding, lo=0.0 if case == 3 else None)
    model, (xa, oa, pa, _) = model_and_addresses(config)
    prog = average_pool_fp16_program(config, x.shape, filt, x_addr=xa, out_addr=oa,
                                     param_addr=pa, **kw)
    assert same_bits(run_on_model(model, prog, [(xa, x)]), average_pool_fp16(x, filt, **kw))


def test_unsupported_pools_are_named():
    config = CONFIGS["sim"]
    addrs = dict(x_addr=0, out_addr=0, param_addr=0)
    with pytest.raises(ValueError, match="filter_size"):
        average_pool_int8_program(config, (1, 40, 40, 4), (17, 17), **addrs)
    with pytest.raises(ValueError, match="lo/hi"):
        average_pool_int8_program(config, (1, 4, 4, 4), 2, lo=5, hi=1, **addrs)


MAX_CASES = POOL_CASES[:5] + [((1, 6, 6, 9), (3, 3), (2, 2), "SAME"),     # MobileNet-like 3x3/2
                          ((2, 5, 4, 16), (2, 2), (2, 2), "VALID")]


@pytest.mark.parametrize("cfg", list(CONFIGS))
@pytest.mark.parametrize("case", range(len(MAX_CASES)))
def test_max_pool_int8_is_bit_exact(cfg, case):
    """ELTWISE MAX per tap; SAME padding FILLed with -128 (TFLite skips padded taps)."""
    config = CONFIGS[cfg]
    x_shape, filt, stride, padding = MAX_CASES[case]
    rng = np.random.default_rng(20 + case)
    x = rng.integers(-128, 128, x_shape, dtype=np.int8)
    if case == 0:
        x[:] = -128                     # all -128: padding must not win with anything else
    x.reshape(-1)[:5] = -128
    kw = dict(stride=stride, padding=padding, lo=[-128, -100, 0][case % 3],
              hi=[127, 50, 127][case % 3])
    model, (xa, oa, pa, _) = model_and_addresses(config)
    prog = max_pool_int8_program(config, x.shape, filt, x_addr=xa, out_addr=oa,
                                 param_addr=pa, **kw)
    assert any(w[0] & 0xF == 6 for w in prog.descriptors)
    assert same_bits(run_on_model(model, prog, [(xa, x)]), max_pool_int8(x, filt, **kw))


@pytest.mark.parametrize("cfg", list(CONFIGS))
@pytest.mark.parametrize("case", range(len(MAX_CASES)))
def test_max_pool_fp16_is_bit_exact(cfg, case):
    """NaN / +-Inf / subnormal / +-0.0 taps; SAME padding FILLed with -Inf."""
    config = CONFIGS[cfg]
    x_shape, filt, stride, padding = MAX_CASES[case]
    rng = np.random.default_rng(40 + case)
    x = fp16_values(rng, x_shape, specials=case % 2 == 0)
    if case == 1:                       # windows of signed zeros and of -Inf only
        x[0, :4, :4, :] = rng.choice(np.array([0.0, -0.0], np.float16), (4, 4, x_shape[3]))
        x[1, :, :, :3] = -np.inf
    kw = dict(stride=stride, padding=padding, lo=-1.0 if case == 3 else None,
              hi=2.5 if case == 4 else None)
    model, (xa, oa, pa, _) = model_and_addresses(config)
    prog = max_pool_fp16_program(config, x.shape, filt, x_addr=xa, out_addr=oa,
                                 param_addr=pa, **kw)
    assert same_bits(run_on_model(model, prog, [(xa, x)]), max_pool_fp16(x, filt, **kw))


@pytest.mark.parametrize("precision", ["int8", "fp16"])
def test_global_pool_of_a_batch_in_one_spad_buffer(precision):
    """Global pooling on the array (INT8 on an NPU without the element-wise unit, in units of
    GLOBAL_PAIR chunks; FP16 one unit per image) when only one image fits the SPAD: the next
    image's LOADs overwrite the rows this unit reads, so they go after its COMPUTEs (spread
    between them they changed the first image's sums)."""
    config = replace(preset("npu-small"), npu_eltwise=False, npu_eltwise_handover=False)
    x_shape = (3, 12, 12, 8)                   # 2 chunks of 144 pixels: 289 of 512 rows
    rng = np.random.default_rng(21)
    if precision == "int8":
        x = rng.integers(-128, 128, x_shape, dtype=np.int8)
        fn, gold = average_pool_int8_program, average_pool_int8
    else:
        x = fp16_values(rng, x_shape, specials=False)
        fn, gold = average_pool_fp16_program, average_pool_fp16
    model, (xa, oa, pa, _) = model_and_addresses(config)
    prog = fn(config, x_shape, x_shape[1:3], x_addr=xa, out_addr=oa, param_addr=pa)
    assert any("global" in note for note in prog.notes)
    assert same_bits(run_on_model(model, prog, [(xa, x)]), gold(x, x_shape[1:3]))


def test_global_pool_first_unit_loads_in_slabs():
    """FP16 global pooling of DS-CNN's 25x5x64: the first unit's chunks come in slabs of
    GLOBAL_SLAB * R pixels, so the first COMPUTE follows one slab's LOADs (8 chunks of 32
    pixels), not the whole image; every pixel LOADed once; bit-exact."""
    config = preset("sim")
    x_shape = (1, 25, 5, 64)
    x = fp16_values(np.random.default_rng(22), x_shape, specials=False)
    model, (xa, oa, pa, _) = model_and_addresses(config)
    prog = average_pool_fp16_program(config, x_shape, x_shape[1:3], x_addr=xa, out_addr=oa,
                                     param_addr=pa)
    assert same_bits(run_on_model(model, prog, [(xa, x)]), average_pool_fp16(x, x_shape[1:3]))
    ops = [decode(d) for d in prog.descriptors]
    first = next(i for i, (op, _) in enumerate(ops) if op == Opcode.COMPUTE)
    slab = GLOBAL_SLAB * config.npu_rows
    tiles = [f for op, f in ops if op == Opcode.LOAD and f["target"] == LoadTarget.SPAD.value
             and f["rows"] > 1]
    assert [f["rows"] for op, f in ops[:first] if op == Opcode.LOAD and f["rows"] > 1] == \
        [slab] * 8
    assert sum(f["rows"] for f in tiles) == 125 * 8
    assert len(tiles) == 8 * -(-125 // slab)
