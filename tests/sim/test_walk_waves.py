"""The walk engine's first and last units in waves (dure.sim.walk_waves.unit_waves): the waves
cover the unit, the first unit's grow and the last unit's shrink, and in the stream the first
COMPUTE waits only for the first wave's tile rows and only the last wave's STOREs follow the
final COMPUTE; layers that take waves stay bit-exact on the command model."""

import numpy as np
import pytest
from dure.rtl.npu.commands import LoadTarget, Opcode, Precision
from dure.rtl.npu.descriptor import decode
from dure.sim.conv_plan import conv2d_fp16_program, conv2d_int8_program
from dure.sim.golden_tflite import conv2d_int8
from dure.sim.golden_tflite_fp16 import conv2d_fp16
from dure.sim.golden_tflite_params import conv_multipliers
from dure.sim.layer_program import run_on_model
from dure.sim.npu_model import NpuModel
from dure.sim.walk_layer import geometry
from dure.sim.walk_waves import WAVES_MAX, chunk_waves, tail_min_rows, tail_waves, unit_waves

from dure.config import preset
from dure.gemm_cost import WALK_DW_TAIL_PIXELS, WALK_FP16_EVEN_WAVE_CHUNKS

CONFIG = preset("sim")


class _Layer:
    """What unit_waves reads of a WalkLayer."""

    def __init__(self, ow, kernel, eltwise=False, mac=None, precision=Precision.FP16,
                 kin_chunks=1, diagonal=False):
        self.geo = geometry((1, 64, ow, 8 * kin_chunks), kernel, (1, 1), "SAME")
        self.eltwise_mac = eltwise if mac is None else mac
        self.eltwise_max = eltwise and not self.eltwise_mac
        self.eltwise_pair = self.eltwise_mac
        self.precision = precision
        self.kin_chunks = kin_chunks
        self.diagonal = diagonal


def test_element_wise_layers_take_one_wave():
    """Max pooling always; the element-wise MAC (FP16 here) but in a last unit that is not
    also the first (eltwise_tail)."""
    for first in (False, True):
        for last in (False, True):
            assert unit_waves(CONFIG, _Layer(5, (3, 3), True, False), 25, 1, first, last) \
                == [(0, 25)]
            if first or not last:
                assert unit_waves(CONFIG, _Layer(5, (3, 3), True), 25, 1, first, last) == \
                    [(0, 25)]


@pytest.mark.parametrize("ow", [3, 5, 6, 8, 48])
def test_the_narrow_int8_depthwise_first_unit_starts_with_a_wave(ow):
    """INT8 depthwise on the element-wise MAC whose first unit (not also the last) starts
    from its centre tap (narrow maps: the side padding's FILL rows a third of the pixels or
    more, LATENCY pixels or more; dw_lead_tap): its first 9 / 20 of the rows as a wave of
    their own (DS-CNN's 25x5: 11 and 14 rows); wider maps, FP16, the last unit and units of
    fewer than LATENCY pixels one wave."""
    layer = _Layer(ow, (3, 3), True, precision=Precision.INT8)
    for rows in range(1, 40):
        narrow = 3 * (rows + 2) * 2 >= rows * ow and rows * ow >= 64
        h = 9 * rows // 20
        expect = [(0, h), (h, rows - h)] if narrow and h else [(0, rows)]
        assert unit_waves(CONFIG, layer, rows, 1, True, False) == expect, rows
        assert unit_waves(CONFIG, _Layer(ow, (3, 3), True), rows, 1, True, False) == \
            [(0, rows)]
    if ow == 5:
        assert unit_waves(CONFIG, layer, 25, 1, True, False) == [(0, 11), (11, 14)]
    assert unit_waves(CONFIG, layer, 25, 2, True, False) == [(0, 25)]


@pytest.mark.parametrize("ow", [1, 5, 7, 30, 31, 48])
def test_the_element_wise_last_unit_ends_with_a_short_wave(ow):
    """The last WALK_DW_TAIL_PIXELS pixels in whole rows (DS-CNN's 25x5: 6 rows), when the rest
    keeps at least as many rows; with several chunks (chunk_waves' case) one wave."""
    layer = _Layer(ow, (3, 3), True)
    tail = -(-WALK_DW_TAIL_PIXELS // ow)
    for rows in range(1, 40):
        waves = unit_waves(CONFIG, layer, rows, 1, False, True)
        assert waves == ([(0, rows - tail), (rows - tail, tail)] if rows >= 2 * tail
                         else [(0, rows)])
        assert unit_waves(CONFIG, layer, rows, 2, False, True) == [(0, rows)]
    assert unit_waves(CONFIG, _Layer(5, (3, 3), True), 25, 1, False, True) == [(0, 19), (19, 6)]


@pytest.mark.parametrize("ow", [1, 5, 8, 32])
@pytest.mark.parametrize("kernel", [(1, 1), (3, 3)])
@pytest.mark.parametrize("gcount", [1, 2, 4])
@pytest.mark.parametrize("first,last", [(False, False), (True, False), (False, True),
                                        (True, True)])
def test_waves_cover_the_unit_in_order(ow, kernel, gcount, first, last):
    layer = _Layer(ow, kernel)
    least = tail_min_rows(CONFIG, layer, gcount)
    for rows in range(1, 40):
        waves = unit_waves(CONFIG, layer, rows, gcount, first, last)
        assert [w0 for w0, _ in waves] == [sum(wr for _, wr in waves[:i])
                                          for i in range(len(waves))]
        assert sum(wr for _, wr in waves) == rows and all(wr > 0 for _, wr in waves)
        if len(waves) > 1:
            assert min(wr for _, wr in waves) >= least
        if not (first or last) or kernel == (1, 1):
            assert waves == [(0, rows)]
        sizes = [wr for _, wr in waves]
        head = first
        if head and not last:
            assert sizes == sorted(sizes)                   # the first unit's grow
        if last and not head:
            assert sizes == sorted(sizes, reverse=True)     # the last unit's shrink
        if last and kernel != (1, 1) and gcount == 1 and \
                rows >= 2 * least + (rows if head else 0):
            assert len(waves) > 1
        if last and gcount > 1 and not head:
            assert waves == [(0, rows)]              # its chunks go in waves instead


@pytest.mark.parametrize("ow", [1, 5, 16, 32])
@pytest.mark.parametrize("gcount", [1, 2])
def test_an_fp16_first_unit_of_many_input_chunks_takes_even_waves(ow, gcount):
    """FP16 with WALK_FP16_EVEN_WAVE_CHUNKS input chunks or more: the first unit's waves are
    tail_min_rows each (the last takes the rest); with fewer chunks, INT8 or a diagonal layer
    they grow as before (ResNet-8 stage 2 FP16: 4, 4, 4, 4 rows instead of 4, 4, 8)."""
    even = _Layer(ow, (3, 3), kin_chunks=WALK_FP16_EVEN_WAVE_CHUNKS)
    least = tail_min_rows(CONFIG, even, gcount)
    for rows in range(1, 60):
        waves = unit_waves(CONFIG, even, rows, gcount, True, False)
        sizes = [wr for _, wr in waves]
        n = max(1, min(rows // least, WAVES_MAX))
        assert sizes == [least] * (n - 1) + [rows - least * (n - 1)]
        assert [w0 for w0, _ in waves] == [sum(sizes[:i]) for i in range(len(sizes))]
        for other in (_Layer(ow, (3, 3), kin_chunks=WALK_FP16_EVEN_WAVE_CHUNKS - 1),
                      _Layer(ow, (3, 3), kin_chunks=WALK_FP16_EVEN_WAVE_CHUNKS,
                             precision=Precision.INT8),
                      _Layer(ow, (3, 3), kin_chunks=WALK_FP16_EVEN_WAVE_CHUNKS,
                             diagonal=True)):
            grown = [wr for _, wr in unit_waves(CONFIG, other, rows, gcount, True, False)]
            assert grown == sorted(grown)
            assert grown == [wr for _, wr in tail_waves(CONFIG, other, rows, gcount)][::-1]
    # ResNet-8 stage 2's first unit (16 output rows of 16 pixels, one output chunk)
    stage2 = _Layer(16, (3, 3), kin_chunks=4)
    assert unit_waves(CONFIG, stage2, 16, 1, True, False) == [(0, 4), (4, 4), (8, 4), (12, 4)]
    assert unit_waves(CONFIG, _Layer(16, (3, 3), kin_chunks=2), 16, 1, True, False) == \
        [(0, 4), (4, 4), (8, 8)]


@pytest.mark.parametrize("ow", [1, 5, 8])
@pytest.mark.parametrize("last", [False, True])
def test_chunk_waves_cover_the_group_in_shrinking_ranges(ow, last):
    from dure.gemm_cost import LATENCY
    layer = _Layer(ow, (1, 1))
    for rows in (1, 3, 25):
        for gcount in range(1, 20):
            waves = chunk_waves(CONFIG, layer, rows, gcount, last)
            assert [c0 for c0, _ in waves] == [sum(cn for _, cn in waves[:i])
                                              for i in range(len(waves))]
            assert sum(cn for _, cn in waves) == gcount and all(cn > 0 for _, cn in waves)
            sizes = [cn for _, cn in waves]
            assert sizes == sorted(sizes, reverse=True)
            if len(waves) > 1:
                assert last and min(sizes) * rows * ow >= LATENCY
            elif last and gcount > 1:
                assert 2 * rows * ow < LATENCY or gcount * rows * ow < 2 * LATENCY


def test_a_wave_keeps_accumulation_chains_latency_apart():
    """A wave holds at least LATENCY pixels over the group (so the next tap's COMPUTE onto
    the same ACC rows does not wait) and RELOAD * R pixels per COMPUTE."""
    from dure.gemm_cost import LATENCY, RELOAD
    for ow in (1, 3, 8, 33):
        for gcount in (1, 3, 8):
            rows = tail_min_rows(CONFIG, _Layer(ow, (3, 3)), gcount)
            assert rows * ow * gcount >= LATENCY
            assert rows * ow >= RELOAD * CONFIG.npu_rows
            assert (rows - 1) * ow < max(-(-LATENCY // gcount), RELOAD * CONFIG.npu_rows)


def _int8_program(x_shape, cout, kernel, seed=0, wmodes=None):
    rng = np.random.default_rng(seed)
    x = rng.integers(-128, 128, x_shape, dtype=np.int8)
    w = rng.integers(-128, 128, (cout, *kernel, x_shape[3]), dtype=np.int8)
    bias = rng.integers(-20000, 20000, cout, dtype=np.int32)
    fan = kernel[0] * kernel[1] * x_shape[3]
    mult, shift = conv_multipliers(0.05, rng.uniform(0.5, 2.0, cout) * 0.02 / np.sqrt(fan),
                                   0.4, cout)
    main = CONFIG.region("main")
    kw = dict(input_zero_point=-3, output_zero_point=2, multiplier=mult, shift=shift,
              stride=(1, 1), padding="SAME")
    addrs = main.base, main.base + main.size // 4, main.base + main.size // 2
    prog = conv2d_int8_program(CONFIG, x_shape, w, bias, x_addr=addrs[0], out_addr=addrs[1],
                               param_addr=addrs[2], wmodes=wmodes, **kw)
    return prog, x, conv2d_int8(x, w, bias, **kw), addrs


def _run(prog, x, addrs):
    main = CONFIG.region("main")
    model = NpuModel(CONFIG)
    model.set_window(main.base, main.size)
    return run_on_model(model, prog, [(addrs[0], x)])


def _decoded(prog):
    """``(opcode, fields)`` of every descriptor."""
    return [decode(w) for w in prog.descriptors]


def _is_exec(d):
    return d[0] in (Opcode.COMPUTE, Opcode.ELTWISE)


@pytest.mark.parametrize("x_shape,cout", [((1, 32, 32, 16), 16), ((1, 16, 16, 32), 32)])
def test_only_the_last_wave_is_stored_after_the_final_compute(x_shape, cout):
    """ResNet-8 stage 1 / 2: the STOREs after the last COMPUTE hold the last wave's pixels
    of the last unit's chunks, not the whole unit's."""
    prog, _, _, _ = _int8_program(x_shape, cout, (3, 3))
    plan = prog.plan
    ds = _decoded(prog)
    last = max(i for i, d in enumerate(ds) if _is_exec(d))
    tail = ds[last + 1:]
    assert tail and all(op == Opcode.STORE for op, _ in tail)
    ow = x_shape[2]
    nt = -(-cout // CONFIG.npu_cols)
    rows = x_shape[1] - (x_shape[1] - 1) // plan.bh * plan.bh       # the last block's
    gcount = nt - (nt - 1) // plan.gn * plan.gn
    waves = unit_waves(CONFIG, _Layer(ow, (3, 3)), rows, gcount, False, True)
    assert len(waves) > 1
    assert sum(f["rows"] for _, f in tail) == waves[-1][1] * ow * gcount
    assert waves[-1][1] < rows


def test_the_pointwise_tail_stores_only_the_last_chunk_range():
    """DS-CNN's pointwise layer (25x5x64 -> 64, INT8; the last unit a group of 4 chunks):
    after the final COMPUTE only the last chunk range's STOREs remain (one chunk of 4), and of
    it only its second wave's (``WalkCmds.last_halves``: rows 13-24, 60 of 125 pixels)."""
    prog, _, _, _ = _int8_program((1, 25, 5, 64), 64, (1, 1))
    plan = prog.plan
    assert plan.gn == 4 and plan.bh == 25
    ds = _decoded(prog)
    last = max(i for i, d in enumerate(ds) if _is_exec(d))
    tail = ds[last + 1:]
    waves = chunk_waves(CONFIG, _Layer(5, (1, 1)), 25, 4, True)
    assert waves == [(0, 2), (2, 1), (3, 1)]
    assert tail and all(op == Opcode.STORE for op, _ in tail)
    assert [f["rows"] for _, f in tail] == [60]


def test_the_pointwise_first_unit_reads_a_quarter_of_chunk_0_first():
    """DS-CNN's pointwise layer (INT8, input chunks outermost in the first unit): input chunk
    0's COMPUTEs go in three parts of rows, a quarter, a third and the rest
    (``WalkComputes.first_halves``; 7, 8 and 10 of its 25 rows: the quarter rounded up with
    the first pair copy, ``first_pair_applies``), each part over the group's 4 chunks, and
    only the first part's image rows are LOADed before the first COMPUTE, the others' one
    LOAD each; the output stays exact on the command model."""
    prog, x, want, addrs = _int8_program((1, 25, 5, 64), 64, (1, 1))
    ds = _decoded(prog)
    execs = [f for op, f in ds if op == Opcode.COMPUTE]
    assert [f["m"] for f in execs[:13]] == [35] * 4 + [40] * 4 + [50] * 4 + [125]
    first = min(i for i, d in enumerate(ds) if _is_exec(d))
    image = [f["rows"] for op, f in ds[:first] if op == Opcode.LOAD and not f["fill"] and
             f["target"] == LoadTarget.SPAD.value and f["local_addr"] >= prog.plan.w_rows]
    assert image == [35]
    chunk0 = [f["rows"] for op, f in ds if op == Opcode.LOAD and not f["fill"] and
              f["target"] == LoadTarget.SPAD.value and f["local_addr"] in range(
                  prog.plan.w_rows, prog.plan.w_rows + 125)]
    assert chunk0 == [35, 40, 50]
    got = _run(prog, x, addrs)
    assert np.array_equal(got, want)


def test_the_first_compute_waits_for_the_first_wave_only():
    """Before the first COMPUTE the stream LOADs only the tile rows of the first wave's first
    tap row (ky = 0, of the first input chunk), not the whole wave's nor the block's."""
    x_shape = (1, 32, 32, 16)
    prog, _, _, _ = _int8_program(x_shape, 16, (3, 3))
    plan = prog.plan
    ds = _decoded(prog)
    first = min(i for i, d in enumerate(ds) if _is_exec(d))
    loaded = sum(f["rows"] for op, f in ds[:first] if op == Opcode.LOAD and
                 f["target"] == LoadTarget.SPAD.value and not f["fill"] and
                 f["local_addr"] >= plan.w_rows)
    waves = unit_waves(CONFIG, _Layer(32, (3, 3)), plan.bh, 1, True, False)
    assert len(waves) > 1
    # the first wave's wr output rows read wr padded rows with ky = 0: wr - 1 image rows at
    # the top (the whole wave: wr + 1)
    assert loaded == (waves[0][1] - 1) * x_shape[2] > 0
    assert loaded < min(plan.bh + 1, x_shape[1]) * x_shape[2]


@pytest.mark.parametrize("x_shape,cout,kernel", [
    ((1, 20, 6, 16), 16, (3, 3)),       # one unit: first and last waves together
    ((1, 16, 16, 32), 16, (3, 3)),      # FP16: 4 input chunks, the first unit's even waves
    ((1, 25, 5, 64), 64, (1, 1)),       # DS-CNN pointwise: no waves
    ((2, 12, 9, 8), 24, (3, 3)),        # batch 2, several groups
])
def test_layers_in_waves_stay_bit_exact(x_shape, cout, kernel):
    prog, x, want, addrs = _int8_program(x_shape, cout, kernel, seed=3)
    got = _run(prog, x, addrs)
    assert np.array_equal(got.reshape(want.shape), want)

    rng = np.random.default_rng(4)
    xf = rng.standard_normal(x_shape).astype(np.float16)
    wf = (rng.standard_normal((cout, *kernel, x_shape[3])) / 8).astype(np.float16)
    bf = rng.standard_normal(cout).astype(np.float32)
    progf = conv2d_fp16_program(CONFIG, x_shape, wf, bf, stride=(1, 1), padding="SAME",
                                x_addr=addrs[0], out_addr=addrs[1], param_addr=addrs[2])
    wantf = conv2d_fp16(xf, wf, bf, stride=(1, 1), padding="SAME")
    gotf = _run(progf, xf, addrs)
    assert np.array_equal(gotf.reshape(wantf.shape).view(np.uint16), wantf.view(np.uint16))


@pytest.mark.parametrize("wmode", ["resident", "double", "single", "taps"])
def test_every_weight_mode_stays_exact_with_waves(wmode):
    """ResNet-8 stage 2's shape in each weight buffering: the taps mode refills its two tap
    buffers in the unit's tap order, so it takes no waves (with them it gave wrong outputs:
    a later wave read a buffer already refilled); the others place their LOADs by the rows
    the COMPUTEs read."""
    prog, x, want, addrs = _int8_program((1, 16, 16, 32), 32, (3, 3), seed=1,
                                         wmodes=(wmode,))
    assert prog.plan.wmode == wmode
    got = _run(prog, x, addrs)
    assert np.array_equal(got.reshape(want.shape), want)
