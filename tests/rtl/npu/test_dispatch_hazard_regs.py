# amaranth: UnusedElaboratable=no
"""The dispatcher with its hazard scoreboard registered (``config.npu_hazard_regs``, the
``hazard_regs`` of :class:`~dure.rtl.npu.dispatch.Dispatcher`): the same commands run
together and the same ones wait as without it (test_dispatch.py's cases, through the NPU
control block against the behavioural datapath), a command reaches its unit exactly two cycles
later, and the relaxed checks (a STORE following a COMPUTE, a COMPUTE following a LOAD) still
let a command follow an in-flight one."""

import dataclasses
import random

import pytest
from dure.rtl.npu.commands import LoadTarget, Opcode, Status
from dure.sim.npu_validate import validate
from dure.sim.verif.npu_control import (
    error_candidates,
)

from . import test_dispatch as td

CFG = td.CFG
REGS = dataclasses.replace(CFG, npu_hazard_regs=True)
BASE = td.BASE


@pytest.mark.parametrize("case", ["raw_spad", "war_spad", "waw_acc", "raw_acc", "scale_row",
                                  "shift_row", "eltwise_b", "eltwise_store", "eltwise_compute",
                                  "mac_weight", "pair_weight", "pair_tap",
                                  "lane_scales_group", "init_row"])
def test_dependent_commands_still_serialise(case):
    commands, independent = td.dependent_pair(case)
    matched, _, regs = td.run(commands, latency=lambda unit, f: 30, config=REGS)
    assert not td.overlaps(matched[0], matched[1])
    assert regs["PERF_STALL_DEP_LO"] >= 20
    matched, _, regs = td.run(independent, latency=lambda unit, f: 30, config=REGS)
    assert td.overlaps(matched[0], matched[1])
    assert regs["PERF_STALL_DEP_LO"] == 0


def test_double_buffered_tiling_still_overlaps():
    """LOAD(next) || COMPUTE(this) || STORE(previous), all three at once, as without it."""
    commands = [td.load(0), td.load(4), td.compute(0, 4, 0), td.load(8), td.load(12),
                td.store(0), td.compute(8, 12, 4), td.load(16), td.load(20), td.store(4),
                td.compute(16, 20, 0), td.store(0)]
    latency = {"load": 20, "exec": 40, "store": 40}
    matched, _, regs = td.run(commands, latency=lambda unit, f: latency[unit], config=REGS)
    assert td.overlaps(matched[2], matched[3])
    assert max(matched[s].accepted for s in (5, 6, 7)) < min(matched[s].done for s in (5, 6, 7))
    assert matched[10].accepted > matched[5].done
    assert regs["ERROR"] == 0 and not regs["STATUS"] & Status.ERROR.value


@pytest.mark.parametrize("words", [td.load(0), td.compute(0, 8, 0), td.store(0)],
                         ids=["load", "compute", "store"])
def test_a_command_reaches_its_unit_two_cycles_later(words):
    accepted = {}
    for name, config in (("off", CFG), ("on", REGS)):
        matched, _, _ = td.run([words], prefill=False, config=config)
        accepted[name] = matched[0].accepted
    assert accepted["on"] == accepted["off"] + 2, accepted


def test_independent_computes_still_issued_back_to_back():
    """Eight COMPUTEs on disjoint ACC rows: each waits two cycles in the pending slot, so a
    new one enters it every 3-4 cycles and they still follow each other at most 4 apart."""
    commands = [td.compute(0, 8, 4 * i, m=4) for i in range(8)]
    matched, datapath, regs = td.run(commands, latency=lambda unit, f: 40, exec_capacity=8,
                                     exec_depth=4, config=REGS)
    assert datapath.max_in_flight["exec"] == 4
    accepted = [matched[i].accepted for i in range(4)]
    assert all(b - a <= 4 for a, b in zip(accepted, accepted[1:], strict=False)), accepted
    assert regs["PERF_STALL_DEP_LO"] == 0


def random_stream(rng, computes, count=40):
    """``count`` of test_dispatch's random commands, without mutated ones that became a LIST
    (its entries would count in ISSUED / DONE)."""
    commands = []
    while len(commands) < count:
        words = td.random_command(rng, computes)
        if words[0] & 0xF != Opcode.LIST.value:
            commands.append(words)
    return commands


@pytest.mark.parametrize("seed", range(4))
def test_random_streams_keep_order(seed):
    """Random command streams (refusals, bus errors, several COMPUTEs in flight) obey the
    in-order semantics with the registered scoreboard; ERROR names the first failure."""
    rng = random.Random(1000 + seed)
    commands = random_stream(rng, 0.3 if seed % 2 == 0 else 0.7)
    latency = lambda unit, f: rng.randint(1, 30)            # noqa: E731
    config = dataclasses.replace(REGS, npu_load_overlap=seed >= 2)
    matched, datapath, regs = td.run(commands, latency=latency, seed=seed,
                                     prefill=seed % 2 == 0,
                                     bus_error=lambda unit, f: rng.random() < 0.05,
                                     exec_capacity=rng.choice([2, 3, 8]),
                                     exec_depth=rng.choice([2, 4]), config=config)
    codes = [validate(w, CFG, BASE, 0x1000) for w in commands]
    allowed = error_candidates(codes, matched)
    assert regs["ERROR"] in allowed, (hex(regs["ERROR"]), [hex(v) for v in allowed])
    assert bool(regs["STATUS"] & Status.ERROR.value) == (allowed != {0})


@pytest.mark.parametrize("seed", range(3))
def test_random_streams_with_relaxed_checks(seed):
    """The same with the execute unit following LOADs row by row (``load_follows``): a
    pending COMPUTE's registered bits against an in-flight LOAD use the relaxed check."""
    rng = random.Random(2000 + seed)
    commands = random_stream(rng, 0.5)
    latency = lambda unit, f: rng.randint(1, 30)            # noqa: E731
    matched, _, regs = td.run(commands, latency=latency, seed=seed, config=REGS,
                              exec_capacity=3, load_follows=True,
                              bus_error=lambda unit, f: rng.random() < 0.05)
    codes = [validate(w, CFG, BASE, 0x1000) for w in commands]
    assert regs["ERROR"] in error_candidates(codes, matched)


def test_store_still_follows_an_issued_compute():
    """With ``store_orders_acc`` a STORE of an in-flight COMPUTE's result rows is issued while
    that COMPUTE runs (its registered conflict bit is the relaxed one once the COMPUTE is in
    flight); a STORE whose scale row the COMPUTE writes still waits for its ``done``."""
    matched = td.store_follow_schedule(REGS, True)
    assert matched[1].accepted < matched[0].done
    assert matched[3].accepted > matched[2].done


def test_compute_still_follows_an_issued_load():
    commands = [td.load(0), td.load(4), td.compute(0, 4, 0), td.load(16, target=LoadTarget.ACC),
                td.compute(8, 12, 16, accumulate=1)]
    matched, _, _ = td.run(commands, latency=lambda unit, f: 40, config=REGS,
                           load_follows=True)
    assert matched[1].accepted < matched[2].accepted < matched[1].done
    assert matched[4].accepted > matched[3].done
