"""Shared fixtures of the floating-point unit tests.

``fpv``
    Biased random IEEE bit patterns, special-class lists, NaN canonicalisation, and
    ``check_binary`` (a two-operand unit's outputs against a reference, naming wrong pairs).
``vector_model``
    ``vector_model(component_class)`` -> cached Verilator :class:`VectorModel` of the unit
    (:func:`dure.sim.verif.vector_harness.model`: no Verilog generated for a model built before).
``check_contract``
    Pipeline contract on Amaranth's simulator: fixed latency counted in enabled cycles, valid
    travelling with the data, everything held while ``en`` is low.
"""

import random
import types

import numpy as np
import pytest
from amaranth.sim import Simulator
from dure.sim.verif import vector_harness

FP32_QNAN = 0x7FC00000
FP16_QNAN = 0x7E00

# +/-0, +/-min subnormal, +/-max subnormal, +/-min normal, +/-1, +/-max, +/-Inf, quiet and
# signalling NaNs with and without payloads, of both signs.
FP32_CLASSES = [
    0x00000000, 0x80000000, 0x00000001, 0x80000001, 0x007FFFFF, 0x807FFFFF,
    0x00800000, 0x80800000, 0x3F800000, 0xBF800000, 0x7F7FFFFF, 0xFF7FFFFF,
    0x7F800000, 0xFF800000, 0x7FC00000, 0xFFC00000, 0x7FC00123, 0x7F800001, 0xFFBFFFFF,
]
FP16_CLASSES = [
    0x0000, 0x8000, 0x0001, 0x8001, 0x03FF, 0x83FF,
    0x0400, 0x8400, 0x3C00, 0xBC00, 0x7BFF, 0xFBFF,
    0x7C00, 0xFC00, 0x7E00, 0xFE00, 0x7E55, 0x7C01, 0xFDFF,
]


def canon32(values):
    """float32 array -> uint32 bit patterns with every NaN as the canonical quiet NaN."""
    values = np.asarray(values, dtype=np.float32)
    bits = values.view(np.uint32).copy()
    bits[np.isnan(values)] = FP32_QNAN
    return bits


def canon16(values):
    """float16 array -> uint16 bit patterns with every NaN as the canonical quiet NaN."""
    values = np.asarray(values, dtype=np.float16)
    bits = values.view(np.uint16).copy()
    bits[np.isnan(values)] = FP16_QNAN
    return bits


def class_pairs(classes):
    """Every ordered pair of a class list, as two uint64 arrays."""
    a, b = np.meshgrid(np.array(classes, np.uint64), np.array(classes, np.uint64))
    return a.ravel(), b.ravel()


def _pick(rng, n, options):
    """Per element, one of several equally long candidate arrays, chosen by weight."""
    weights = np.array([w for w, _ in options], dtype=float)
    which = rng.choice(len(options), size=n, p=weights / weights.sum())
    out = np.zeros(n, np.int64)
    for k, (_, candidates) in enumerate(options):
        out[which == k] = np.asarray(candidates, np.int64)[which == k]
    return out


def exponents(rng, n, exp_bits):
    """Biased exponent fields: uniform, zero/smallest, largest/Inf-NaN, and around the bias."""
    emax = (1 << exp_bits) - 1
    bias = emax >> 1
    return _pick(rng, n, [
        (35, rng.integers(0, emax + 1, n)),
        (20, rng.integers(0, 3, n)),
        (10, rng.integers(emax - 2, emax + 1, n)),
        (35, np.clip(bias + rng.integers(-8, 9, n), 0, emax)),
    ])


def fractions(rng, n, frac_bits):
    """Fraction fields: uniform, zero, all ones, sparse, low bits cleared (ties), small."""
    top = 1 << frac_bits
    uniform = rng.integers(0, top, n)
    shift = rng.integers(0, frac_bits + 1, n)
    return _pick(rng, n, [
        (45, uniform),
        (8, np.zeros(n, np.int64)),
        (8, np.full(n, top - 1)),
        (13, uniform & rng.integers(0, top, n) & rng.integers(0, top, n)),
        (13, (uniform >> shift) << shift),
        (13, uniform >> shift),
    ])


def pack(sign, exp, frac, exp_bits, frac_bits):
    """Assemble bit patterns (uint64) from fields."""
    sign = np.asarray(sign, np.int64)
    exp = np.clip(np.asarray(exp, np.int64), 0, (1 << exp_bits) - 1)
    frac = np.asarray(frac, np.int64) & ((1 << frac_bits) - 1)
    return ((sign << (exp_bits + frac_bits)) | (exp << frac_bits) | frac).astype(np.uint64)


def floats(rng, n, exp_bits, frac_bits, exp=None):
    """Random bit patterns with biased exponents (or the given ones) and fractions."""
    if exp is None:
        exp = exponents(rng, n, exp_bits)
    return pack(rng.integers(0, 2, n), exp, fractions(rng, n, frac_bits), exp_bits, frac_bits)


def add_pairs(rng, n, exp_bits, frac_bits):
    """Operand pairs for addition: near-equal exponents (cancellation), sticky boundaries,
    near-negations, and independent operands."""
    a = floats(rng, n, exp_bits, frac_bits)
    ea = (a.astype(np.int64) >> frac_bits) & ((1 << exp_bits) - 1)
    far = rng.integers(frac_bits - 3, frac_bits + 6, n) * rng.choice([-1, 1], n)
    eb = _pick(rng, n, [
        (30, exponents(rng, n, exp_bits)),
        (45, ea + rng.integers(-2, 3, n)),
        (25, ea + far),
    ])
    b = floats(rng, n, exp_bits, frac_bits, exp=eb)
    # A fifth: b is -a with a few low bits changed (massive cancellation).
    near = rng.random(n) < 0.2
    flip = (np.uint64(1) << np.uint64(exp_bits + frac_bits)) | (
        rng.integers(0, 16, n).astype(np.uint64) & rng.integers(0, 16, n).astype(np.uint64))
    b[near] = a[near] ^ flip[near]
    return a, b


def mul_pairs(rng, n, exp_bits, frac_bits):
    """Operand pairs for multiplication: exponent sums near overflow and in the subnormal range,
    and independent operands."""
    emax = (1 << exp_bits) - 1
    bias = emax >> 1
    a = floats(rng, n, exp_bits, frac_bits)
    ea = (a.astype(np.int64) >> frac_bits) & emax
    target = _pick(rng, n, [
        (30, rng.integers(3 * bias - 3, 3 * bias + 3, n)),
        (40, rng.integers(bias - frac_bits - 4, bias + 3, n)),
        (30, ea + exponents(rng, n, exp_bits)),
    ])
    return a, floats(rng, n, exp_bits, frac_bits, exp=target - ea)


def check_binary(model, latency, a, b, want, symbol, digits=8, **kwargs):
    """Run ``model`` on operand bit patterns ``a``, ``b`` and assert every ``o_z`` equals
    ``want`` (uint32 patterns) and comes ``latency`` enabled cycles later; a failure names up
    to eight wrong pairs (``digits`` hex digits per operand, ``symbol`` between them)."""
    out = model.run(i_a=a, i_b=b, **kwargs)
    got = out["o_z"].astype(np.uint32)
    bad = np.flatnonzero(got != want)
    width = digits + 2
    detail = ", ".join(f"{int(a[k]):#0{width}x} {symbol} {int(b[k]):#0{width}x} = "
                       f"{int(got[k]):#010x} (numpy {int(want[k]):#010x})" for k in bad[:8])
    assert not len(bad), f"{len(bad)} of {len(a)} wrong: {detail}"
    assert np.all(out["latency"] == latency)


@pytest.fixture(scope="session")
def fpv():
    return types.SimpleNamespace(
        FP32_CLASSES=FP32_CLASSES, FP16_CLASSES=FP16_CLASSES, FP32_QNAN=FP32_QNAN,
        FP16_QNAN=FP16_QNAN, canon32=canon32, canon16=canon16, class_pairs=class_pairs,
        exponents=exponents, fractions=fractions, pack=pack, floats=floats,
        add_pairs=add_pairs, mul_pairs=mul_pairs, check_binary=check_binary)


_MODELS = {}


@pytest.fixture(scope="session")
def vector_model():
    def get(cls):
        if cls not in _MODELS:
            _MODELS[cls] = vector_harness.model(cls)
        return _MODELS[cls]
    return get


def _run_contract(dut, vectors, expected, latency, seed):
    inputs = [name for name in vectors[0]]
    outputs = [name for name in expected[0]]
    rng = random.Random(seed)
    errors = []

    async def bench(ctx):
        slots = [None] * latency           # vector index per stage, None when invalid
        sent = 0
        held = None
        for cycle in range(12 * (len(vectors) + latency)):
            en = rng.random() < 0.7
            valid = sent < len(vectors) and rng.random() < 0.6
            ctx.set(dut.en, en)
            ctx.set(dut.i_valid, valid)
            for name in inputs:
                port = getattr(dut, name)
                value = vectors[sent][name] if valid else rng.getrandbits(len(port))
                if not valid and port.shape().signed and value >> (len(port) - 1):
                    value -= 1 << len(port)
                ctx.set(port, value)
            out_valid = ctx.get(dut.o_valid)
            out = {name: ctx.get(getattr(dut, name)) for name in outputs}
            if out_valid != (slots[-1] is not None):
                errors.append(f"cycle {cycle}: o_valid {out_valid}, expected {int(not out_valid)}")
            elif out_valid and out != expected[slots[-1]]:
                errors.append(f"cycle {cycle}: vector {slots[-1]} gave {out}, "
                              f"expected {expected[slots[-1]]}")
            if held is not None and held != (out_valid, out):
                errors.append(f"cycle {cycle}: outputs changed while en was low")
            held = None if en else (out_valid, out)
            await ctx.tick()
            if en:
                slots = [sent if valid else None] + slots[:-1]
                sent += valid
            if sent == len(vectors) and all(s is None for s in slots):
                break
        if sent != len(vectors) or any(s is not None for s in slots):
            errors.append("not every vector came out")

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return errors


@pytest.fixture(scope="session")
def check_contract():
    """check_contract(dut, vectors, expected, latency): vectors and expected are lists of
    {port name: value}; fails on the first few mismatches of valid, data or stall hold."""
    def check(dut, vectors, expected, latency, seed=0):
        errors = _run_contract(dut, vectors, expected, latency, seed)
        assert not errors, "\n".join(errors[:10])
    return check
