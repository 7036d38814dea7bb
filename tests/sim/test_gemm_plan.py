"""The GEMM planner's geometry and iteration order (dure.sim.gemm_plan); the blocking search is
checked through the streams in test_npu_model.py and against the C planner in
tests/firmware/test_npu_gemm_plan.py."""

import itertools
import re

import pytest
from dure.sim.gemm_plan import COST_MODEL, Span, chunks, plan_gemm, spans, tile_count

from dure.config import SoCConfig, preset
from dure.header import generate_npu_header

SMALL = SoCConfig(npu_rows=4, npu_cols=8, npu_spad_rows=64, npu_acc_rows=32)


@pytest.mark.parametrize("total, step", [(1, 1), (1, 8), (8, 8), (9, 8), (200, 8), (17, 3)])
def test_spans_cover_the_range_once(total, step):
    tiles = spans(total, step)
    assert len(tiles) == tile_count(total, step) == -(-total // step)
    assert [t.index for t in tiles] == list(range(len(tiles)))
    assert tiles[0].start == 0 and sum(t.size for t in tiles) == total
    for a, b in itertools.pairwise(tiles):
        assert a.size == step and b.start == a.start + step
    assert 1 <= tiles[-1].size <= step


def test_spans_of_a_sub_range_are_numbered_from_its_start():
    assert spans(20, 3, 6, 12) == [Span(0, 6, 3), Span(1, 9, 3)]
    assert spans(10, 4, 8, 16) == [Span(0, 8, 2)]


@pytest.mark.parametrize("config", [SMALL, preset("sim")], ids=["4x8", "sim"])
@pytest.mark.parametrize("shape", [(1, 1, 1), (19, 10, 20), (125, 64, 64), (300, 70, 90)])
def test_chunks_visit_every_tile_once_in_loop_order(config, shape):
    m, k, n = shape
    r, c = config.npu_rows, config.npu_cols
    plan = plan_gemm(config, m, k, n, scale=True)
    seen = []
    order = list(chunks(plan, m, k, n, r, c))
    for i, ch in enumerate(order):
        assert ch.a_buf == (i % 2) * plan.q * plan.mblk
        assert ch.w_buf == plan.w_base + (i % 2) * plan.gn * plan.q * r
        assert ch.first == (ch.k0c == 0) and ch.last == (ch.k0c + ch.kc == k)
        assert len(ch.k_tiles) <= plan.q and len(ch.tiles) <= plan.gn
        seen += [(ch.m0, nt.start, kt.start) for nt in ch.tiles for kt in ch.k_tiles]
    want = [(m0, n0, k0) for m0 in range(0, m, plan.mblk) for n0 in range(0, n, c)
            for k0 in range(0, k, r)]
    assert sorted(seen) == want and len(seen) == len(set(seen))
    # M blocks outermost, then N groups, then K: the (block, group) pairs never come back.
    groups = [(ch.m0, ch.tiles[0].start) for ch in order]
    assert groups == sorted(groups)


def test_the_header_defines_the_cost_model():
    text = generate_npu_header(preset("sim"))
    got = dict(re.findall(r"^#define DURE_NPU_GEMM_(\w+) +(\d+)u", text, re.M))
    assert {name: int(v) for name, v in got.items()} == COST_MODEL
