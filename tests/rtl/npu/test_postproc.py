# amaranth: UnusedElaboratable=no
"""PostProcess against the golden model (via postproc_ref) on Verilator, and its stream
contract on Amaranth's simulator.

Rows come in blocks that share their STORE parameters (as one STORE command's rows do); block
sizes are often 1, so the mode changes from one row to the next as well. Values are biased
towards the corners: ties at .5 after scaling, saturation, zero point extremes, narrow and
signed-zero clamp ranges, NaN / Inf / subnormal accumulators and scales.
"""

import random

import numpy as np
import pytest
from amaranth.hdl import Module, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from amaranth.sim import Simulator
from dure.rtl.npu.commands import OutType, RequantMode
from dure.rtl.npu.isa import Precision
from dure.rtl.npu.postproc import PostProcess
from dure.sim.postproc_ref import postprocess
from dure.sim.verif import vector_harness

LATENCY = 18

# fp32 corners: zeros, subnormals, normal limits, one, max, Inf, NaNs with payloads.
F32_SPECIAL = np.array([
    0x00000000, 0x80000000, 0x00000001, 0x80000001, 0x007FFFFF, 0x807FFFFF, 0x00800000,
    0x80800000, 0x3F800000, 0xBF800000, 0x7F7FFFFF, 0xFF7FFFFF, 0x7F800000, 0xFF800000,
    0x7FC00000, 0xFFC00000, 0x7FC00123, 0x7F800001, 0xFFBFFFFF,
    # fp16 boundaries: max 65504, 65519.996 (stays), 65520 (Inf), min subnormal 2**-24,
    # 2**-25 (tie to zero), 1.5 * 2**-25 (rounds up), min normal 2**-14.
    0x477FE000, 0x477FEFFF, 0x477FF000, 0x33800000, 0x33000000, 0x33400000, 0x38800000,
    0xC77FF000, 0xB3000000,
], dtype=np.uint64)

COMBOS = [  # (acc_type, out, scale_en choices)
    (Precision.INT8, OutType.INT8, (1,)),
    (Precision.INT8, OutType.INT32, (0,)),
    (Precision.INT8, OutType.FP16, (1,)),
    (Precision.FP16, OutType.FP16, (0, 1)),
    (Precision.FP16, OutType.FP32, (0, 1)),
]


def f32_bits(values):
    return np.asarray(values, dtype=np.float32).view(np.uint32).astype(np.uint64)


def rand_f32(rng, n, exp_lo=0, exp_hi=255):
    """Random fp32 bit patterns: exponent in [exp_lo, exp_hi], fractions often with few bits."""
    exp = rng.integers(exp_lo, exp_hi + 1, n).astype(np.uint64)
    frac = rng.integers(0, 1 << 23, n).astype(np.uint64)
    shift = rng.integers(0, 24, n).astype(np.uint64)
    frac = np.where(rng.random(n) < 0.4, (frac >> shift) << shift, frac)
    sign = rng.integers(0, 2, n).astype(np.uint64)
    return (sign << np.uint64(31)) | (exp << np.uint64(23)) | frac


def pick(rng, n, options):
    """Per element, one of several candidate arrays, chosen by weight."""
    weights = np.array([w for w, _ in options], dtype=float)
    which = rng.choice(len(options), size=n, p=weights / weights.sum())
    out = np.zeros(n, np.uint64)
    for k, (_, make) in enumerate(options):
        sel = which == k
        if sel.any():
            out[sel] = np.asarray(make(int(sel.sum())), dtype=np.int64).astype(np.uint64) \
                & np.uint64(0xFFFF_FFFF)
    return out


def int_acc(rng, n, tie_k):
    """int32 accumulators; with ``tie_k`` > 0 many are odd multiples of 2**(tie_k - 1), which
    times a scale of +/-2**-tie_k gives an exact .5 tie."""
    options = [
        (20, lambda k: rng.integers(-2**31, 2**31, k)),
        (25, lambda k: rng.integers(-3000, 3000, k)),
        (10, lambda k: rng.choice([0, 1, -1, 2**31 - 1, -2**31, 2**24, 2**24 + 1,
                                   -(2**24) - 1, 2**24 + 3, 2**25 + 2], k)),
        (10, lambda k: (rng.integers(1, 2**7, k) << rng.integers(17, 24, k))
         + rng.integers(-3, 4, k)),
    ]
    if tie_k:
        options.append((35, lambda k: (2 * rng.integers(-400, 400, k) + 1) << (tie_k - 1)))
    return pick(rng, n, options)


def fp_acc(rng, n):
    """fp32 accumulators: around 1, fp16 range edges, subnormals, anything, specials."""
    return pick(rng, n, [
        (30, lambda k: rand_f32(rng, k, 112, 142)),
        (15, lambda k: rand_f32(rng, k, 95, 114)),      # fp16 subnormal range and below
        (10, lambda k: rand_f32(rng, k, 0, 2)),          # fp32 subnormals
        (20, lambda k: rand_f32(rng, k)),
        (15, lambda k: rng.choice(F32_SPECIAL, k)),
        (10, lambda k: f32_bits(rng.normal(0, 30, k))),
    ])


def scales(rng, cols, kind):
    """A block's per-column scales."""
    if kind == "tie":
        k = int(rng.integers(1, 12))
        return f32_bits(rng.choice([1.0, -1.0], cols) * 2.0 ** -k), k
    if kind == "nonfinite":
        return rng.choice(F32_SPECIAL, cols), 0
    choice = pick(rng, cols, [
        (50, lambda k: rand_f32(rng, k, 100, 131)),      # 2**-27 .. 2**4
        (15, lambda k: rand_f32(rng, k)),
        (10, lambda k: rand_f32(rng, k, 0, 1)),          # subnormal
        (10, lambda k: rng.choice([0x00000000, 0x80000000, 0x3F800000, 0xBF800000,
                                   0x7F7FFFFF, 0x3F000000, 0x5F000000], k)),
        (15, lambda k: rand_f32(rng, k, 140, 200)),     # products that overflow
    ])
    choice = np.where(np.isfinite(choice.astype(np.uint32).view(np.float32)), choice,
                      np.uint64(0x3F800000))
    return choice, 0


TFLITE_MODES = (RequantMode.TFLITE_DOUBLE_ROUNDING, RequantMode.TFLITE_SINGLE_ROUNDING)


def tflite_params(rng, cols):
    """A block's per-column int32 multipliers and shift lanes (bit patterns): the values
    quantize_multiplier gives (2**30 .. INT32_MAX), the corners, anything; shifts mostly in
    [-31, 30], some typical right shifts, some outside (they saturate)."""
    mult = pick(rng, cols, [
        (40, lambda k: rng.integers(2**30, 2**31, k)),
        (20, lambda k: rng.choice([2**30, 2**31 - 1, -2**31, 0, 1, -1, 2**30 + 1], k)),
        (20, lambda k: rng.integers(-2**31, 2**31, k)),
        (20, lambda k: rng.integers(1, 2**8, k) << rng.integers(22, 23, k)),   # ties
    ])
    shift = pick(rng, cols, [
        (40, lambda k: rng.integers(-31, 31, k)),
        (35, lambda k: -rng.integers(0, 16, k)),
        (10, lambda k: rng.choice([-31, 30, 0, -1, 1], k)),
        (15, lambda k: rng.choice([31, -32, 1000, -1000, 2**31 - 1, -2**31], k)),
    ])
    return mult, shift


def int8_params(rng):
    zp = int(rng.choice([-128, 127, 0, int(rng.integers(-128, 128))]))
    kind = rng.integers(0, 4)
    if kind == 0:
        lo, hi = -128, 127
    elif kind == 1:
        lo, hi = zp, 127                                 # ReLU
    elif kind == 2:
        lo = int(rng.integers(-128, 128))
        hi = int(min(127, lo + rng.integers(0, 3)))       # narrow, lo == hi included
    else:
        lo, hi = sorted(int(v) for v in rng.integers(-128, 128, 2))
    return zp, lo & 0xFFFF_FFFF, hi & 0xFFFF_FFFF


def fp_bounds(rng):
    """Legal fp32 clamp bounds (lo <= hi in IEEE order, neither NaN) as bit patterns."""
    kind = rng.integers(0, 6)
    if kind == 0:
        pair = (float(rng.choice([0.0, -0.0])), float("inf"))            # ReLU
    elif kind == 1:
        pair = (0.0, 6.0)                                                # ReLU6
    elif kind == 2:
        pair = tuple(float(v) for v in rng.choice([0.0, -0.0], 2))      # signed zeros
    elif kind == 3:
        v = float(np.float32(rng.normal(0, 4)))
        pair = (v, v)
    elif kind == 4:
        pair = tuple(sorted(float(v) for v in rng.normal(0, 100, 2)))
    else:
        b = rng.choice(F32_SPECIAL[:14], 2).astype(np.uint32).view(np.float32)
        pair = (float(min(b)), float(max(b)))
    return int(f32_bits(pair[0])), int(f32_bits(pair[1]))


def make_rows(rng, cols, count, nonfinite_share=0.05, tflite_share=0.2):
    """``count`` rows in blocks; returns (acc, scale, shift, inputs dict of per-row arrays,
    expected (count, cols)). INT8 -> INT8 blocks use a TFLite mode with ``tflite_share``."""
    acc = np.zeros((count, cols), np.uint64)
    scale = np.zeros((count, cols), np.uint64)
    shift = np.zeros((count, cols), np.uint64)
    fields = {name: np.zeros(count, np.int64) for name in
              ("acc_type", "out", "scale_en", "clamp_en", "requant", "zp", "lo", "hi", "last")}
    expected = np.zeros((count, cols), np.uint64)
    row = 0
    while row < count:
        size = int(min(count - row, rng.choice([1, 1, 1, 2, 3, 8, 40, 200])))
        requant = RequantMode.FLOAT_SCALE
        if rng.random() < tflite_share:
            acc_type, out, scale_choices = COMBOS[0]
            requant = TFLITE_MODES[rng.integers(2)]
        else:
            acc_type, out, scale_choices = COMBOS[rng.integers(len(COMBOS))]
        scale_en = int(rng.choice(scale_choices))
        clamp_en = int(rng.random() < 0.5)
        kind = "nonfinite" if rng.random() < nonfinite_share else \
            ("tie" if acc_type == Precision.INT8 and rng.random() < 0.3 else "plain")
        sc, tie_k = scales(rng, cols, kind)
        if acc_type == Precision.INT8:
            block = int_acc(rng, size * cols, tie_k)
        else:
            block = fp_acc(rng, size * cols)
        block = block.reshape(size, cols)
        if out == OutType.INT8:
            zp, lo, hi = int8_params(rng)
        else:
            zp = int(rng.integers(-128, 128))     # ignored by fp outputs
            lo, hi = fp_bounds(rng)
        sh = rng.integers(-2**31, 2**31, cols).astype(np.uint64) & np.uint64(0xFFFF_FFFF)
        if requant != RequantMode.FLOAT_SCALE:
            sc, sh = tflite_params(rng, cols)
        sl = slice(row, row + size)
        acc[sl], scale[sl], shift[sl] = block, sc, sh
        values = {"acc_type": acc_type.value, "out": out.value, "scale_en": scale_en,
                  "clamp_en": clamp_en, "requant": requant.value, "zp": zp, "lo": lo, "hi": hi}
        for name, value in values.items():
            fields[name][sl] = value
        fields["last"][row + size - 1] = 1
        expected[sl] = postprocess(block, sc, acc_type=acc_type, out=out, scale_en=scale_en,
                                   clamp_en=clamp_en, zero_point=zp, lo=lo, hi=hi,
                                   requant=requant, shift=sh)
        row += size
    return acc, scale, shift, fields, expected


class FlatPostProcess(wiring.Component):
    """PostProcess with flat ports for the vector harness: ``en`` is ``o.ready`` and gates
    ``i.valid``, so a row is taken exactly on the harness's enabled cycles that offer one."""

    def __init__(self, cols):
        self.cols = cols
        members = {"en": In(1, init=1), "i_valid": In(1)}
        members.update({f"acc{c}": In(32) for c in range(cols)})
        members.update({f"scale{c}": In(32) for c in range(cols)})
        members.update({f"shift{c}": In(32) for c in range(cols)})
        members.update({"acc_type": In(1), "out": In(2), "scale_en": In(1), "clamp_en": In(1),
                        "requant": In(2),
                        "zp": In(signed(8)), "lo": In(32), "hi": In(32), "last": In(1),
                        "o_valid": Out(1), "o_last": Out(1)})
        members.update({f"data{c}": Out(32) for c in range(cols)})
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        m.submodules.pp = pp = PostProcess(self.cols)
        row = pp.i.payload
        m.d.comb += [
            pp.i.valid.eq(self.i_valid & self.en),
            pp.o.ready.eq(self.en),
            self.o_valid.eq(pp.o.valid),
            self.o_last.eq(pp.o.payload.last),
            row.acc_type.eq(self.acc_type), row.out.eq(self.out),
            row.scale_en.eq(self.scale_en), row.clamp_en.eq(self.clamp_en),
            row.requant.eq(self.requant),
            row.zero_point.eq(self.zp), row.lo.eq(self.lo), row.hi.eq(self.hi),
            row.last.eq(self.last),
        ]
        for c in range(self.cols):
            m.d.comb += [
                row.acc[c].eq(getattr(self, f"acc{c}")),
                row.scale[c].eq(getattr(self, f"scale{c}")),
                row.shift[c].eq(getattr(self, f"shift{c}")),
                getattr(self, f"data{c}").eq(pp.o.payload.data[c]),
            ]
        return m


_MODELS = {}


def model(cols):
    if cols not in _MODELS:
        _MODELS[cols] = vector_harness.model(FlatPostProcess, cols, name=f"postproc{cols}")
    return _MODELS[cols]


def describe(acc, scale, shift, fields, k, c, got, want):
    f = {name: int(v[k]) for name, v in fields.items()}
    return (f"row {k} col {c}: {Precision(f['acc_type']).name}->{OutType(f['out']).name} "
            f"{RequantMode(f['requant']).name} "
            f"scale_en={f['scale_en']} clamp_en={f['clamp_en']} acc={int(acc[k, c]):#010x} "
            f"scale={int(scale[k, c]):#010x} shift={int(shift[k, c]):#010x} zp={f['zp']} "
            f"lo={f['lo']:#010x} hi={f['hi']:#010x}"
            f" -> {int(got):#010x}, golden {int(want):#010x}")


def run_and_check(cols, count, seed, stall, gap, nonfinite_share=0.05, tflite_share=0.2):
    rng = np.random.default_rng(seed)
    acc, scale, shift, fields, expected = make_rows(rng, cols, count, nonfinite_share,
                                                    tflite_share)
    vectors = {f"acc{c}": acc[:, c] for c in range(cols)}
    vectors.update({f"scale{c}": scale[:, c] for c in range(cols)})
    vectors.update({f"shift{c}": shift[:, c] for c in range(cols)})
    vectors.update(fields)
    got = model(cols).run(stall_per_mille=stall, gap_per_mille=gap, seed=seed, **vectors)
    data = np.stack([got[f"data{c}"] for c in range(cols)], axis=1)
    bad = np.argwhere(data != expected)
    detail = "\n".join(describe(acc, scale, shift, fields, k, c, data[k, c], expected[k, c])
                       for k, c in bad[:8])
    assert not len(bad), f"{len(bad)} of {data.size} outputs differ from golden:\n{detail}"
    assert np.array_equal(got["o_last"], fields["last"].astype(np.uint64)), "last mismatch"
    if stall == 0:
        assert np.all(got["latency"] == LATENCY), np.unique(got["latency"])
    else:  # an empty output slot lets the pipeline advance while the harness's en is low
        assert np.all(got["latency"] <= LATENCY)
    return fields


# The 2-column model is built only under make fuzz (its cases below and test_golden_sweep);
# make test runs the 8-column one (each Verilator model is a separate build of the same RTL at
# another width) and the 2-column PostProcess on Amaranth's simulator (test_stream_contract).
ONLY_FUZZ = pytest.mark.slow


@pytest.mark.parametrize("cols, count, seed", [pytest.param(2, 70_000, 1, marks=ONLY_FUZZ),
                                               (8, 30_000, 2)])
def test_golden_full_speed(cols, count, seed):
    fields = run_and_check(cols, count, seed, stall=0, gap=50)
    # Every combination and flag setting took part.
    flags = ("acc_type", "out", "scale_en", "clamp_en")
    seen = set(zip(*(fields[name] for name in flags), strict=True))
    assert len(seen) == 14, seen
    assert set(fields["requant"]) == {mode.value for mode in RequantMode}


def test_golden_tflite_modes():
    """Only TFLite-mode INT8 -> INT8 rows, both roundings, all zp / clamp edges."""
    fields = run_and_check(8, 20_000, 6, stall=0, gap=50, tflite_share=1.0)
    assert set(fields["requant"]) == {mode.value for mode in TFLITE_MODES}


@pytest.mark.parametrize("cols, count, seed", [pytest.param(2, 20_000, 3, marks=ONLY_FUZZ),
                                               (8, 10_000, 4)])
def test_golden_backpressure(cols, count, seed):
    run_and_check(cols, count, seed, stall=300, gap=200)


@pytest.mark.parametrize("cols", [pytest.param(2, marks=ONLY_FUZZ), 8])
def test_golden_nonfinite_scales(cols):
    run_and_check(cols, 10_000, 5, stall=0, gap=0, nonfinite_share=1.0)


@pytest.mark.slow
@pytest.mark.parametrize("cols", [2, 8])
def test_golden_sweep(cols):
    for seed in range(10, 20):
        run_and_check(cols, 200_000 // cols, seed, stall=100 * (seed % 3), gap=100)


def test_constructor_rejects_bad_cols():
    for bad in (0, -1, 2.0, True, "4"):
        with pytest.raises(ValueError, match="cols must be a positive integer"):
            PostProcess(bad)


@pytest.mark.parametrize("float_post", [True, False])
def test_stream_contract_amaranth(float_post):
    """Random valid and ready: latency, order, no loss or duplication, held output beats.
    Without the fp32 path (``float_post=False``) every row is a TFLite requantization."""
    cols, count = 2, 120
    rng = np.random.default_rng(7)
    acc, scale, shift, fields, expected = make_rows(rng, cols, count,
                                                    tflite_share=0.3 if float_post else 1.0)
    dut = PostProcess(cols, float_post=float_post)
    lat = dut.latency
    pyrng = random.Random(7)
    log = {"out": [], "errors": [], "in_cycle": {}, "out_cycle": []}

    async def bench(ctx):
        sent, cycle, held = 0, 0, None
        ready_phase = True
        while len(log["out"]) < count and cycle < 20 * count + 200:
            # Phases: first full speed (exact latency), then random valid and ready.
            if cycle == 3 * lat + 40:
                ready_phase = False
            valid = sent < count and (ready_phase or pyrng.random() < 0.7)
            ready = ready_phase or pyrng.random() < 0.6
            ctx.set(dut.i.valid, valid)
            if sent < count:
                row = {"acc": [int(v) for v in acc[sent]], "scale": [int(v) for v in scale[sent]],
                       "shift": [int(v) for v in shift[sent]],
                       "requant": RequantMode(int(fields["requant"][sent])),
                       "acc_type": Precision(int(fields["acc_type"][sent])),
                       "out": OutType(int(fields["out"][sent])),
                       "scale_en": int(fields["scale_en"][sent]),
                       "clamp_en": int(fields["clamp_en"][sent]),
                       "zero_point": int(fields["zp"][sent]), "lo": int(fields["lo"][sent]),
                       "hi": int(fields["hi"][sent]), "last": int(fields["last"][sent])}
                ctx.set(dut.i.payload, row)
            ctx.set(dut.o.ready, ready)
            o_valid = ctx.get(dut.o.valid)
            beat = (ctx.get(dut.o.payload.last), [ctx.get(dut.o.payload.data[c])
                                                   for c in range(cols)])
            if held is not None and (not o_valid or beat != held):
                log["errors"].append(f"cycle {cycle}: output beat changed while not taken")
            held = beat if o_valid and not ready else None
            if o_valid and ready:
                log["out"].append(beat)
                log["out_cycle"].append(cycle)
            if valid and ctx.get(dut.i.ready):
                log["in_cycle"][sent] = cycle
                sent += 1
            await ctx.tick()
            cycle += 1
        # Nothing more comes out after the last row.
        ctx.set(dut.i.valid, 0)
        ctx.set(dut.o.ready, 1)
        for _ in range(lat + 5):
            if ctx.get(dut.o.valid):
                log["errors"].append("an extra output beat appeared")
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert not log["errors"], "\n".join(log["errors"][:5])
    assert len(log["out"]) == count
    for k, (last, data) in enumerate(log["out"]):
        assert last == fields["last"][k], f"row {k}: last"
        assert data == [int(v) for v in expected[k]], f"row {k}: {data} vs {expected[k]}"
    # Full-speed phase: fixed latency and one row per cycle.
    early = [k for k in range(count) if log["in_cycle"][k] < 40]
    assert len(early) == 40
    for k in early:
        assert log["out_cycle"][k] - log["in_cycle"][k] == lat
    assert log["out_cycle"][early[-1]] - log["out_cycle"][early[0]] == len(early) - 1
    assert lat == (LATENCY if float_post else 9)
