# amaranth: UnusedElaboratable=no
"""The dispatcher with row-exact LOAD / walk hazards (``config.npu_row_hazard``, through the
NPU control block against the behavioural datapath): a FILL of a walk's side padding columns
(same pitch, another column window) runs beside it, likewise beside an ELTWISE's one-tap walk
(not a pair MAC's), one writing a row the walk reads still waits (and without the option both
wait), and random streams of 2-D placements and walks (COMPUTEs and ELTWISEs) sharing a pitch
keep the in-order semantics (the schedule check compares exact row sets)."""

import dataclasses
import random

import pytest
from dure.rtl.npu.commands import ElemType, EltwiseOp, LoadTarget, Opcode
from dure.rtl.npu.descriptor import encode
from dure.sim.npu_validate import validate
from dure.sim.verif.npu_control import error_candidates

from . import test_dispatch as td

FOLLOW = dataclasses.replace(td.CFG, npu_load_follow=True)
ROWS = dataclasses.replace(FOLLOW, npu_row_hazard=True)
PITCH = 6           # a 4-pixel image row plus a left and a right padding column


def walk(col, rows=3, acc=0):
    """A walk over ``rows`` image rows of the tile at SPAD 0 (pitch PITCH), window columns
    ``col .. col + 3`` (tap kx = col of a 3-wide kernel)."""
    return encode(Opcode.COMPUTE, a_addr=col, w_addr=40, acc_addr=acc, m=4 * rows, k=4, n=4,
                  a_cols=4, a_rows=rows, a_col_step=1, a_row_step=PITCH)


def mac_walk(col, rows=3, tap_step=None):
    """An ELTWISE MAC over the same walk as :func:`walk` (``tap_step``: a pair MAC, whose
    second tap reads the walk ``tap_step`` rows later: no grid, compared by range)."""
    pair = {} if tap_step is None else dict(pair=1, tap_step=tap_step)
    return encode(Opcode.ELTWISE, op=EltwiseOp.MAX, mac=1, a_addr=col, b_addr=40, acc_addr=0,
                  m=4 * rows, n=4, a_cols=4, a_rows=rows, a_col_step=1, a_row_step=PITCH,
                  **pair)


def side_fill(col, first=0, groups=3):
    """A FILL of column ``col`` of tile rows ``first ..`` (one row per group)."""
    return encode(Opcode.LOAD, target=LoadTarget.SPAD, elem=ElemType.INT8, fill=1,
                  fill_value=0x80, rows=groups, cols=4, local_addr=first * PITCH + col,
                  local_cols=1, local_groups=groups, local_row_step=PITCH)


CASES = {
    # (commands, they run together with npu_row_hazard)
    "fill_after_walk_side": ([walk(1), side_fill(0)], True),       # tap 1 reads columns 1-4
    "fill_after_walk_right": ([walk(1), side_fill(5)], True),      # the right padding column
    "fill_after_walk_read": ([walk(0), side_fill(0)], False),      # tap 0 reads column 0
    "fill_after_walk_last": ([walk(2), side_fill(5)], False),      # tap 2 reads column 5
    "fill_other_pitch": ([walk(1), encode(Opcode.LOAD, target=LoadTarget.SPAD,
                                          elem=ElemType.INT8, fill=1, rows=3, cols=4,
                                          local_addr=0, local_cols=1, local_groups=3,
                                          local_row_step=PITCH + 1)], False),
    "load_1d_inside": ([walk(1), td.load(PITCH, rows=1)], False),  # row 6 = column 0: a range
    # the element-wise unit's one-tap MAC walks likewise (session 21, branch kwsfixed)
    "fill_after_mac_side": ([mac_walk(1), side_fill(0)], True),
    "fill_after_mac_right": ([mac_walk(1), side_fill(5)], True),
    "fill_after_mac_read": ([mac_walk(0), side_fill(0)], False),
    "fill_after_mac_last": ([mac_walk(2), side_fill(5)], False),
    "fill_after_pair_mac": ([mac_walk(1, tap_step=PITCH), side_fill(0)], False),
}


@pytest.mark.parametrize("row_hazard, regs", [(False, False), (True, False), (True, True)],
                         ids=["ranges", "rows", "rows_regs"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_fill_after_a_walk(case, row_hazard, regs):
    """A FILL (or LOAD) younger than a walk: one writing only columns the walk skips runs
    beside it with the option (no WAR); one writing a column the walk reads, or compared by
    range (another pitch, a 1-D LOAD, or without the option), waits for the walk's end (also with
    the scoreboard registered, ``npu_hazard_regs``). (A
    walk younger than a FILL follows it row by row with or without the option: the load
    unit's ``spad_wait``, tests/rtl/npu/test_load_unit_rows.py.)"""
    commands, together = CASES[case]
    config = dataclasses.replace(ROWS if row_hazard else FOLLOW, npu_hazard_regs=regs)
    matched, _, values = td.run(commands, latency=lambda unit, f: 30, config=config,
                                load_follows=True)
    assert td.overlaps(matched[0], matched[1]) == (row_hazard and together)
    assert (values["PERF_STALL_DEP_LO"] >= 20) == (not (row_hazard and together))


def gridded_command(rng):
    """A random LOAD (2-D placement or fill, into SPAD), walk or STORE on tiles sharing a pitch:
    column windows that meet or miss each other, rows that do or do not overlap."""
    pitch = rng.choice([5, 6])
    kind = rng.random()
    if kind < 0.45:
        cols, groups = rng.randint(1, 2), rng.randint(1, 4)
        fill = rng.random() < 0.6
        return encode(Opcode.LOAD, target=LoadTarget.SPAD, elem=ElemType.INT8, fill=fill,
                      dram_addr=0 if fill else td.BASE, dram_stride=0 if fill else 16,
                      fill_value=rng.getrandbits(8), rows=cols * groups, cols=4,
                      local_addr=rng.randrange(0, 18), local_cols=cols, local_groups=groups,
                      local_row_step=pitch)
    if kind < 0.6:
        # an ELTWISE MAC walk (one tap or a pair), MAX or ADD (B compared by range)
        cols, rows = rng.randint(1, 3), rng.randint(1, 3)
        op = rng.choice(["mac", "pair", "max", "add"])
        extra = {"mac": dict(op=EltwiseOp.MAX, mac=1, b_addr=rng.randrange(32, 60)),
                 "pair": dict(op=EltwiseOp.MAX, mac=1, pair=1, tap_step=rng.randint(1, 7),
                              b_addr=rng.randrange(32, 60)),
                 "max": dict(op=EltwiseOp.MAX),
                 "add": dict(op=EltwiseOp.ADD, b_addr=rng.randrange(20, 40))}[op]
        return encode(Opcode.ELTWISE, a_addr=rng.randrange(0, 18),
                      acc_addr=rng.randrange(0, 24), m=cols * rows, n=4,
                      accumulate=0 if op == "add" else rng.randint(0, 1), a_cols=cols,
                      a_rows=rows,
                      a_col_step=rng.randint(1, 2), a_row_step=pitch, **extra)
    if kind < 0.85:
        cols, rows = rng.randint(1, 3), rng.randint(1, 3)
        return encode(Opcode.COMPUTE, a_addr=rng.randrange(0, 18), w_addr=rng.randrange(32, 60),
                      acc_addr=rng.randrange(0, 24), m=cols * rows, k=4, n=4,
                      accumulate=rng.randint(0, 1), a_cols=cols, a_rows=rows,
                      a_col_step=rng.randint(1, 2), a_row_step=pitch)
    return td.random_command(rng, 0.3)


@pytest.mark.parametrize("seed", range(4))
def test_random_gridded_streams_keep_order(seed):
    """Random streams of placements and walks on two pitches (and some other commands), with
    overlapped LOADs and the execute unit following them: every conflict the exact row sets
    show is ordered (``check_schedule``), none is missed."""
    rng = random.Random(300 + seed)
    commands = [gridded_command(rng) for _ in range(40)]
    latency = lambda unit, f: rng.randint(1, 30)            # noqa: E731
    config = dataclasses.replace(ROWS, npu_load_overlap=True)
    matched, datapath, regs = td.run(commands, latency=latency, seed=seed,
                                     prefill=seed % 2 == 0,
                                     bus_error=lambda unit, f: rng.random() < 0.05,
                                     exec_capacity=rng.choice([2, 3, 8]), config=config,
                                     load_follows=True)
    codes = [validate(w, config, td.BASE, 0x1000) for w in commands]
    allowed = error_candidates(codes, matched)
    assert regs["ERROR"] in allowed, (hex(regs["ERROR"]), [hex(v) for v in allowed])
