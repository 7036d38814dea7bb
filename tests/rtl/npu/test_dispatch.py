# amaranth: UnusedElaboratable=no
"""Dispatcher (through the NPU control block) against a behavioural datapath: overlap of
independent commands, back-to-back COMPUTEs in flight together (in-order done matching),
serialisation of dependent ones, FENCE, refusals and bus errors, and random command streams
checked against the in-order semantics."""

import dataclasses
import random

import pytest
from dure.rtl.npu.commands import (
    ElemType,
    EltwiseOp,
    ErrorCode,
    LoadTarget,
    Opcode,
    OutType,
    RequantMode,
    Status,
)
from dure.rtl.npu.control import NpuControl
from dure.rtl.npu.descriptor import decode, encode
from dure.sim.npu_validate import validate
from dure.sim.verif.bus import BusTarget, simulate
from dure.sim.verif.coverage import cover
from dure.sim.verif.npu_control import (
    StandInDatapath,
    check_schedule,
    cover_errors,
    error_candidates,
    refusal_examples,
    reg_read,
    reg_write,
    set_dma_window,
    submit,
    submit_all,
    wait_idle,
)

from dure.config import SoCConfig

CFG = SoCConfig(npu_rows=4, npu_cols=4, npu_spad_rows=64, npu_acc_rows=32, npu_queue_depth=4)
BASE = 0x4000_0000


def load(local, rows=4, target=LoadTarget.SPAD, addr=BASE):
    elem = ElemType.INT8 if target == LoadTarget.SPAD else ElemType.WORD32
    return encode(Opcode.LOAD, target=target, elem=elem, dram_addr=addr, dram_stride=16,
                  rows=rows, cols=4, local_addr=local)


def compute(a, w, acc, m=4, accumulate=0):
    return encode(Opcode.COMPUTE, a_addr=a, w_addr=w, acc_addr=acc, m=m, k=4, n=4,
                  accumulate=accumulate)


def store(acc, rows=4, addr=BASE + 0x800, scale=None):
    extra = dict(scale=1, scale_addr=scale) if scale is not None else {}
    return encode(Opcode.STORE, out=OutType.INT32, dram_addr=addr, dram_stride=16, rows=rows,
                  cols=4, acc_addr=acc, **extra)


def fence(irq=0):
    return encode(Opcode.FENCE, irq=irq)


def mac(a, acc, w, m=4, tap_step=None):
    """ELTWISE MAC (INT8) with the weight row ``w`` (a pair MAC with ``tap_step``: also rows
    ``a + tap_step ..`` and weight row ``w + 1``)."""
    pair = {} if tap_step is None else dict(pair=1, tap_step=tap_step)
    return encode(Opcode.ELTWISE, op=EltwiseOp.MAX, mac=1, a_addr=a, b_addr=w, acc_addr=acc,
                  m=m, n=4, **pair)


def eltwise(a, acc, m=4, accumulate=0, b=None):
    """ELTWISE MAX (or ADD reading B at ``b``)."""
    if b is None:
        return encode(Opcode.ELTWISE, op=EltwiseOp.MAX, a_addr=a, acc_addr=acc, m=m, n=4,
                      accumulate=accumulate)
    return encode(Opcode.ELTWISE, op=EltwiseOp.ADD, a_addr=a, b_addr=b, acc_addr=acc, m=m, n=4,
                  mult_a=1 << 30, mult_b=1 << 30)


def run(commands, *, latency=None, bus_error=None, seed=0, prefill=True, after=None,
        exec_capacity=1, exec_depth=4, config=CFG, load_follows=False, eltwise_handover=False):
    """Submits ``commands`` (all units held until the queue is full when ``prefill``), waits
    until the NPU is idle, checks the schedule; returns (runs by seq, datapath, registers).
    With ``config.npu_load_overlap`` the stand-in load unit holds two LOADs, with
    ``eltwise_handover`` its element-wise unit two ELTWISEs."""
    dut = NpuControl(config, exec_depth=exec_depth, load_follows=load_follows,
                     eltwise_handover=eltwise_handover)
    datapath = StandInDatapath(dut.datapath, latency=latency, bus_error=bus_error, seed=seed,
                               exec_capacity=exec_capacity,
                               load_capacity=1 + config.npu_load_overlap,
                               eltwise_capacity=1 + eltwise_handover)
    if prefill:
        datapath.hold = {"load", "exec", "store", "eltwise"}
    regs = {}

    async def bench(ctx):
        await set_dma_window(ctx, dut.bus, BASE, 0x1000)
        await submit_all(ctx, dut.bus, commands, datapath, config.npu_queue_depth)
        await wait_idle(ctx, dut.bus, 20_000)
        for name in ("STATUS", "ERROR", "ISSUED", "DONE", "PERF_STALL_DEP_LO"):
            regs[name] = (await reg_read(ctx, dut.bus, name))[0]
        if after:
            await after(ctx, dut)

    simulate(dut, [bench], [datapath.run])
    codes = [validate(w, config, BASE, 0x1000) for w in commands]
    matched = check_schedule([decode(w) for w in commands], codes, datapath.runs,
                             load_follows=load_follows)
    assert regs["ISSUED"] == regs["DONE"] == len(commands)
    return matched, datapath, regs


def overlaps(a, b):
    return a.accepted <= b.done and b.accepted <= a.done


def test_independent_load_overlaps_compute_and_store():
    # Double-buffered tiling: LOAD(next) || COMPUTE(this) || STORE(previous).
    commands = [load(0), load(4), compute(0, 4, 0), load(8), load(12), store(0),
                compute(8, 12, 4), load(16), load(20), store(4), compute(16, 20, 0), store(0)]
    latency = {"load": 20, "exec": 40, "store": 40}
    matched, _, regs = run(commands, latency=lambda unit, f: latency[unit])
    assert overlaps(matched[2], matched[3])                 # compute(0) || load(8)
    # store(0) || compute(8) || load(16), all three at once.
    assert max(matched[s].accepted for s in (5, 6, 7)) < min(matched[s].done for s in (5, 6, 7))
    # compute(16 -> acc 0) waits for store(0) (WAR on ACC rows 0..3).
    assert matched[10].accepted > matched[5].done
    assert regs["ERROR"] == 0 and not regs["STATUS"] & Status.ERROR.value


def dependent_pair(case):
    """``(dependent, independent)``: two commands that conflict in the way ``case`` names,
    and a pair like them that does not."""
    commands = {
        "raw_spad": [load(0), compute(0, 8, 0)],            # compute reads what load writes
        "war_spad": [compute(0, 8, 0), load(10, rows=1)],   # load overwrites W rows
        "waw_acc": [compute(0, 8, 0), load(3, rows=1, target=LoadTarget.ACC)],
        "raw_acc": [compute(0, 8, 4), store(7, rows=1)],
        "scale_row": [load(20, rows=1, target=LoadTarget.ACC), store(0, scale=20)],
        "shift_row": [load(21, rows=1, target=LoadTarget.ACC), None],
        "eltwise_b": [load(30, rows=1), eltwise(0, 0, b=27)],        # ADD reads B row 30
        "eltwise_store": [eltwise(0, 4), store(7, rows=1)],
        # A COMPUTE and an ELTWISE never run together (shared memory ports), independent
        # rows or not; the independent pair below is an ELTWISE and a LOAD.
        "eltwise_compute": [compute(0, 8, 0), eltwise(20, 12)],
        "mac_weight": [load(30, rows=1), mac(0, 0, w=30)],          # MAC reads weight row 30
        "pair_weight": [load(31, rows=1), mac(0, 0, w=30, tap_step=10)],   # and row 31
        "pair_tap": [load(13, rows=1), mac(0, 0, w=30, tap_step=10)],      # A rows 10..13
        "lane_scales_group": [load(23, rows=1, target=LoadTarget.ACC), None],
        # a COMPUTE starting from ACC row 13 (init_row) reads what the LOAD writes there
        "init_row": [load(13, rows=1, target=LoadTarget.ACC), None],
        # an ELTWISE MAC starting from ACC row 13 (init_row): after a LOAD writing it, and
        # before a LOAD overwriting it
        "mac_init_row": [load(13, rows=1, target=LoadTarget.ACC), None],
        "mac_init_war": [None, load(13, rows=1, target=LoadTarget.ACC)],
    }[case]
    independent = {
        "raw_spad": [load(4), compute(0, 8, 0)],
        "war_spad": [compute(0, 8, 0), load(12, rows=1)],
        "waw_acc": [compute(0, 8, 0), load(4, rows=1, target=LoadTarget.ACC)],
        "raw_acc": [compute(0, 8, 4), store(8, rows=1)],
        "scale_row": [load(20, rows=1, target=LoadTarget.ACC), store(0, scale=21)],
        "shift_row": [load(21, rows=1, target=LoadTarget.ACC), None],
        "eltwise_b": [load(31, rows=1), eltwise(0, 0, b=27)],
        "eltwise_store": [eltwise(0, 4), store(8, rows=1)],
        "eltwise_compute": [load(0), eltwise(20, 12)],
        "mac_weight": [load(31, rows=1), mac(0, 0, w=30)],
        "pair_weight": [load(32, rows=1), mac(0, 0, w=30, tap_step=10)],
        "pair_tap": [load(14, rows=1), mac(0, 0, w=30, tap_step=10)],
        "lane_scales_group": [load(24, rows=1, target=LoadTarget.ACC), None],
        "init_row": [load(14, rows=1, target=LoadTarget.ACC), None],
        "mac_init_row": [load(14, rows=1, target=LoadTarget.ACC), None],
        "mac_init_war": [None, load(14, rows=1, target=LoadTarget.ACC)],
    }[case]
    if case in ("mac_init_row", "mac_init_war"):
        k = 1 if case == "mac_init_row" else 0
        commands[k] = independent[k] = encode(Opcode.ELTWISE, mac=1, init_row=1, init_addr=13,
                                              a_addr=0, b_addr=30, acc_addr=0, m=4, n=4)
    if case == "init_row":
        commands[1] = independent[1] = encode(Opcode.COMPUTE, a_addr=0, w_addr=8, acc_addr=0,
                                              m=4, k=4, n=4, init_row=1, init_addr=13)
    if case == "scale_row":
        commands[1] = encode(Opcode.STORE, out=OutType.INT8, scale=1, scale_addr=20, lo=-128,
                             hi=127, dram_addr=BASE, dram_stride=4, rows=4, cols=4)
        independent[1] = encode(Opcode.STORE, out=OutType.INT8, scale=1, scale_addr=21,
                                lo=-128, hi=127, dram_addr=BASE, dram_stride=4, rows=4, cols=4)
    if case == "shift_row":     # a TFLite-mode STORE also reads row scale_addr + 1 (shifts)
        commands[1], independent[1] = (
            encode(Opcode.STORE, out=OutType.INT8, scale=1, scale_addr=addr, lo=-128, hi=127,
                   requant=RequantMode.TFLITE_DOUBLE_ROUNDING, dram_addr=BASE, dram_stride=4,
                   rows=4, cols=4) for addr in (20, 22))
    if case == "lane_scales_group":
        # per-row parameters of 8 rows on 4 lanes: two groups, multiplier / shift rows 20..23
        commands[1] = independent[1] = encode(
            Opcode.STORE, out=OutType.INT8, scale=1, scale_addr=20, lane_scales=1, lo=-128,
            hi=127, requant=RequantMode.TFLITE_DOUBLE_ROUNDING, dram_addr=BASE, dram_stride=4,
            rows=8, cols=1)
    return commands, independent


@pytest.mark.parametrize("case", ["raw_spad", "war_spad", "waw_acc", "raw_acc", "scale_row",
                                  "shift_row", "eltwise_b", "eltwise_store", "eltwise_compute",
                                  "mac_weight", "pair_weight", "pair_tap",
                                  "lane_scales_group", "init_row", "mac_init_row",
                                  "mac_init_war"])
def test_dependent_commands_serialise(case):
    commands, independent = dependent_pair(case)
    matched, _, regs = run(commands, latency=lambda unit, f: 30)
    assert not overlaps(matched[0], matched[1])
    assert regs["PERF_STALL_DEP_LO"] >= 20
    matched, _, regs = run(independent, latency=lambda unit, f: 30)
    assert overlaps(matched[0], matched[1])
    assert regs["PERF_STALL_DEP_LO"] == 0


@pytest.mark.parametrize("capacity, depth", [(8, 4), (2, 4), (8, 3), (8, 1)])
def test_independent_computes_in_flight_together(capacity, depth):
    # Eight COMPUTEs on disjoint ACC rows (SPAD shared: reads only). The dispatcher keeps
    # min(exec unit capacity, exec_depth) of them in flight; while there is room, each is issued
    # 2-4 cycles after the one before it (pending slot refill from the validator; 2-3 before the
    # validator's products got their own stage: 76, 78, 81, 83 then, 76, 78, 82, 84 now).
    commands = [compute(0, 8, 4 * (i % 8), m=4) for i in range(8)]
    matched, datapath, regs = run(commands, latency=lambda unit, f: 40,
                                  exec_capacity=capacity, exec_depth=depth)
    limit = min(capacity, depth)
    assert datapath.max_in_flight["exec"] == limit
    accepted = [matched[i].accepted for i in range(8)]
    assert all(b - a <= 4 for a, b in zip(accepted[:limit], accepted[1:limit], strict=False))
    assert regs["PERF_STALL_DEP_LO"] == 0


def test_in_order_done_matching():
    # Three COMPUTEs in flight; the second one's own work ends first, yet its done pulse comes
    # after the first one's. STORE(acc 8) depends on the second COMPUTE only, STORE(acc 16) on
    # the third, LOAD(SPAD 36) overwrites the first one's W rows (WAR).
    lat = {0: 50, 8: 5, 16: 80}
    commands = [compute(32, 36, 0), compute(32, 44, 8), compute(32, 52, 16),
                store(8), load(36, rows=1), store(16)]
    matched, _, _ = run(commands, exec_capacity=4,
                        latency=lambda unit, f: lat.get(f.get("acc_addr"), 3) if unit == "exec"
                        else 10)
    done = [matched[i].done for i in range(3)]
    assert matched[2].accepted < done[0] < done[1] < done[2]
    assert done[1] > matched[1].accepted + 30
    assert done[0] < matched[4].accepted                   # WAR on the first one's W
    assert done[1] < matched[3].accepted < done[2]         # STORE(8): after the second only
    assert matched[5].accepted > done[2]


@pytest.mark.parametrize("accumulate, serialised", [(1, True), (0, False)])
def test_compute_accumulating_onto_an_earlier_one_waits(accumulate, serialised):
    # RAW through ACC between two COMPUTEs: the younger one reads (accumulate) rows 2..5 that
    # the older one writes. Without accumulate it only writes them (WAW), which the execute
    # unit's in-order writes make safe.
    commands = [compute(0, 8, 0), compute(12, 16, 2, accumulate=accumulate)]
    matched, _, regs = run(commands, latency=lambda unit, f: 30, exec_capacity=4)
    assert overlaps(matched[0], matched[1]) != serialised
    assert (regs["PERF_STALL_DEP_LO"] >= 20) == serialised


def test_fence_waits_and_interrupts():
    commands = [load(0), store(0), fence(irq=1), load(8, rows=1)]
    seen = {}

    async def after(ctx, dut):
        seen["irq_off"] = ctx.get(dut.irq)
        assert not await reg_write(ctx, dut.bus, "CONTROL", 0b10)
        await ctx.tick()
        seen["irq_on"] = ctx.get(dut.irq)
        assert not await reg_write(ctx, dut.bus, "STATUS", Status.FENCE_IRQ.value)
        await ctx.tick()
        seen["irq_cleared"] = ctx.get(dut.irq)
        seen["status"] = (await reg_read(ctx, dut.bus, "STATUS"))[0]

    matched, _, regs = run(commands, latency=lambda unit, f: 25, after=after)
    assert matched[3].accepted > max(matched[0].done, matched[1].done)
    assert regs["STATUS"] & Status.FENCE_IRQ.value
    assert seen == {"irq_off": 0, "irq_on": 1, "irq_cleared": 0, "status": 0}


def test_refusals_and_bus_errors_recorded_first_only():
    commands = [load(0), [0] * 8, load(60, rows=8), compute(0, 8, 0), [9] + [0] * 7]
    _, _, regs = run(commands)
    assert regs["ERROR"] == (1 << 8) | ErrorCode.BAD_OPCODE.value
    assert regs["STATUS"] & Status.ERROR.value

    def bus_error(unit, fields):
        return unit == "store"
    commands = [load(0), compute(0, 8, 0), store(0), store(4), load(8, rows=1)]
    matched, _, regs = run(commands, bus_error=bus_error)
    assert regs["ERROR"] == (2 << 8) | ErrorCode.BUS_ERROR.value
    assert all(seq in matched for seq in (0, 1, 2, 3, 4))
    cover("npu.error", "BUS_ERROR/store")          # the ERROR value checked names the STORE


@pytest.mark.parametrize("case", ["walk_gap", "walk_end", "placed_gap", "placed_end"])
def test_walk_and_placement_ranges(case):
    # A walked COMPUTE reads SPAD [a_addr, largest row + 1) as far as hazards go (rows in the
    # walk's gaps included, which is safe); a placed LOAD writes [local_addr, largest + 1).
    walk = encode(Opcode.COMPUTE, a_addr=0, w_addr=40, acc_addr=0, m=4, k=4, n=4, a_cols=2,
                  a_rows=2, a_col_step=1, a_row_step=10)             # rows 0, 1, 10, 11
    placed = encode(Opcode.LOAD, target=LoadTarget.SPAD, elem=ElemType.INT8, dram_addr=BASE,
                    dram_stride=16, rows=4, cols=4, local_addr=20, local_cols=2,
                    local_groups=2, local_row_step=10)               # rows 20, 21, 30, 31
    commands, serialised = {
        "walk_gap": ([walk, load(5, rows=1)], True),                 # inside the range
        "walk_end": ([walk, load(12, rows=1)], False),
        "placed_gap": ([placed, compute(25, 40, 8, m=1)], True),
        "placed_end": ([placed, compute(32, 40, 8, m=1)], False),
    }[case]
    matched, _, regs = run(commands, latency=lambda unit, f: 30)
    assert overlaps(matched[0], matched[1]) != serialised
    assert (regs["PERF_STALL_DEP_LO"] >= 20) == serialised


def random_command(rng, computes=0.3):
    """A random command: ``computes`` of them COMPUTEs, the rest mostly LOADs and STOREs."""
    kind = rng.random()
    other = (1 - computes) / 0.7
    local = lambda: rng.randrange(0, 24)            # noqa: E731 -- small ranges: many hazards
    if kind < 0.3 * other:
        target = rng.choice([LoadTarget.SPAD, LoadTarget.ACC])
        if rng.random() < 0.3:                              # 2-D placement, maybe a fill
            cols, groups = rng.randint(1, 3), rng.randint(1, 3)
            elem = ElemType.INT8 if target == LoadTarget.SPAD else ElemType.WORD32
            fill = rng.random() < 0.5
            return encode(Opcode.LOAD, target=target, elem=elem, fill=fill,
                          dram_addr=0 if fill else BASE, dram_stride=0 if fill else 16,
                          fill_value=rng.getrandbits(32) if fill else 0, rows=cols * groups,
                          cols=4, local_addr=local(), local_cols=cols, local_groups=groups,
                          local_row_step=rng.randint(0, 6))
        return load(local(), rows=rng.randint(1, 8), target=target)
    if kind < 0.3 * other + computes:
        if rng.random() < 0.3:                              # walked A rows
            cols, rows = rng.randint(1, 3), rng.randint(1, 3)
            return encode(Opcode.COMPUTE, a_addr=local(), w_addr=local(), acc_addr=local(),
                          m=cols * rows, k=4, n=4, accumulate=rng.randint(0, 1), a_cols=cols,
                          a_rows=rows, a_col_step=rng.randint(0, 3),
                          a_row_step=rng.randint(0, 9))
        return compute(local(), local(), local(), m=rng.randint(1, 8),
                       accumulate=rng.randint(0, 1))
    if kind < 0.3 * other + computes + 0.1 * other:
        walk = {}
        if rng.random() < 0.3:
            cols, rows = rng.randint(1, 3), rng.randint(1, 3)
            walk = dict(a_cols=cols, a_rows=rows, a_col_step=rng.randint(0, 3),
                        a_row_step=rng.randint(0, 9), m=cols * rows)
        words = eltwise(local(), local(), m=rng.randint(1, 8), accumulate=rng.randint(0, 1),
                        b=local() if rng.random() < 0.4 else None)
        fields = decode(words)[1]
        fields.update(walk)
        if fields["op"]:
            fields["accumulate"] = 0
        return encode(Opcode.ELTWISE, **fields)
    if kind < 1 - 0.15 * other:
        scale = rng.choice([None, local()])
        return store(local(), rows=rng.randint(1, 8), scale=scale)
    if kind < 1 - 0.08 * other:
        return fence(rng.randint(0, 1))
    words = load(0)
    words[rng.randrange(8)] ^= 1 << rng.randrange(32)      # mostly refused
    return words


@pytest.mark.parametrize("seed", range(3))
def test_random_streams_keep_order(seed):
    # Odd seeds: mostly COMPUTEs (several in flight at once); even: a mix of all commands.
    rng = random.Random(seed)
    commands = [random_command(rng, 0.3 if seed % 2 == 0 else 0.7) for _ in range(40)]
    latency = lambda unit, f: rng.randint(1, 30)            # noqa: E731
    matched, datapath, regs = run(commands, latency=latency, seed=seed,
                                  prefill=seed % 2 == 0,
                                  bus_error=lambda unit, f: rng.random() < 0.05,
                                  exec_capacity=rng.choice([2, 3, 8]),
                                  exec_depth=rng.choice([2, 4]))
    if seed % 2:
        assert datapath.max_in_flight["exec"] >= 2         # COMPUTEs did overlap
    # The ERROR register and STATUS.error tell the first refusal or bus error.
    codes = [validate(w, CFG, BASE, 0x1000) for w in commands]
    allowed = error_candidates(codes, matched)
    assert regs["ERROR"] in allowed, (hex(regs["ERROR"]), [hex(v) for v in allowed])
    assert bool(regs["STATUS"] & Status.ERROR.value) == (allowed != {0})
    cover_errors([decode(w) for w in commands], codes, matched)


@pytest.mark.parametrize("seed", range(2))
def test_overlapped_loads_keep_order(seed):
    """With ``npu_load_overlap`` two LOADs are in flight at once (the unit holds two) and every
    hazard with the other units is still ordered; DONE counts every command."""
    rng = random.Random(100 + seed)
    commands = [load(rng.randrange(0, 60, 4)) for _ in range(6)]
    commands += [random_command(rng, 0.3) for _ in range(34)]
    rng.shuffle(commands)
    latency = lambda unit, f: rng.randint(1, 30)            # noqa: E731
    matched, datapath, regs = run(commands, latency=latency, seed=seed, prefill=True,
                                  bus_error=lambda unit, f: rng.random() < 0.05,
                                  config=dataclasses.replace(CFG, npu_load_overlap=True))
    assert datapath.max_in_flight["load"] == 2
    codes = [validate(w, CFG, BASE, 0x1000) for w in commands]
    allowed = error_candidates(codes, matched)
    assert regs["ERROR"] in allowed, (hex(regs["ERROR"]), [hex(v) for v in allowed])


@pytest.mark.parametrize("seed", range(2))
def test_eltwise_handover_keeps_order(seed):
    """With ``eltwise_handover`` two ELTWISEs are in flight at once (the unit holds two and
    orders their ACC rows itself: no check between them), every hazard of another unit with
    either is still ordered, and a COMPUTE waits for both (the shared ports)."""
    rng = random.Random(200 + seed)
    commands = [load(0, rows=8), mac(0, 0, 8), mac(1, 0, 9, tap_step=2), eltwise(2, 4),
                eltwise(3, 4, accumulate=1), store(0, rows=8), compute(0, 8, 8),
                eltwise(4, 12, b=40), load(0), mac(5, 8, 10)]
    commands += [random_command(rng, 0.3) for _ in range(30)]
    latency = lambda unit, f: 20 if unit == "eltwise" else rng.randint(1, 30)   # noqa: E731
    matched, datapath, regs = run(commands, latency=latency, seed=seed, prefill=True,
                                  bus_error=lambda unit, f: rng.random() < 0.05,
                                  eltwise_handover=True)
    assert datapath.max_in_flight["eltwise"] == 2
    assert matched[1].done > matched[2].accepted           # the second MAC handed over
    assert matched[6].accepted > max(matched[3].done, matched[4].done)
    codes = [validate(w, CFG, BASE, 0x1000) for w in commands]
    allowed = error_candidates(codes, matched)
    assert regs["ERROR"] in allowed, (hex(regs["ERROR"]), [hex(v) for v in allowed])


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(3, 30))
def test_random_streams_keep_order_long(seed):
    test_random_streams_keep_order(seed)


BASES = {Opcode.LOAD: load(0), Opcode.COMPUTE: compute(0, 8, 0), Opcode.STORE: store(0),
         Opcode.FENCE: fence(), Opcode.LIST: encode(Opcode.LIST, list_addr=BASE, count=2),
         Opcode.ELTWISE: eltwise(0, 0, b=8)}

#: The (code, opcode) refusals the contract makes reachable from the doorbell (a LIST is
#: BAD_COMBINATION only as a list entry; FENCE has only reserved bits to get wrong).
_E = ErrorCode
REACHABLE = (
    {(code, op) for op in (Opcode.LOAD, Opcode.STORE)
     for code in (_E.RESERVED, _E.ZERO_DIM, _E.DIM_TOO_LARGE, _E.BAD_COMBINATION,
                  _E.MISALIGNED, _E.STRIDE, _E.LOCAL_RANGE, _E.DMA_WINDOW)}
    | {(code, op) for op in (Opcode.COMPUTE, Opcode.ELTWISE)
       for code in (_E.RESERVED, _E.ZERO_DIM, _E.DIM_TOO_LARGE, _E.BAD_COMBINATION,
                    _E.LOCAL_RANGE)}
    | {(code, Opcode.LIST) for code in (_E.RESERVED, _E.ZERO_DIM, _E.MISALIGNED,
                                        _E.DMA_WINDOW)}
    | {(_E.RESERVED, Opcode.FENCE), (_E.BAD_OPCODE, None)}
)


def test_every_refusal_code_of_every_opcode():
    """One malformed descriptor per reachable (error code, opcode) pair (found by mutation,
    classified by the command model): each is refused with exactly that code and its sequence
    number in ERROR, STATUS.error clears on W1C, and a valid LOAD after it runs."""
    examples = refusal_examples(BASES, CFG, BASE, 0x1000, seed=0, tries=4000)
    assert set(examples) == REACHABLE, set(examples) ^ REACHABLE
    dut = NpuControl(CFG)
    datapath = StandInDatapath(dut.datapath)
    seen = []

    async def bench(ctx):
        await set_dma_window(ctx, dut.bus, BASE, 0x1000)
        seq = 0
        for key, words in examples.items():
            await submit(ctx, dut.bus, words)
            status = await wait_idle(ctx, dut.bus)
            error, _ = await reg_read(ctx, dut.bus, "ERROR")
            seen.append((key, status, error, seq))
            assert not await reg_write(ctx, dut.bus, "STATUS", Status.ERROR.value)
            status, _ = await reg_read(ctx, dut.bus, "STATUS")
            assert not status & Status.ERROR.value
            await submit(ctx, dut.bus, load(4, rows=1))
            await wait_idle(ctx, dut.bus)
            # A LIST takes 1 + count sequence numbers, refused or not (commands.py, LIST).
            opcode, fields = decode(words)
            seq += 2 + (fields["count"] if opcode == Opcode.LIST else 0)

    # a LIST refused for reserved bits may already have its entry 0 requested (the speculative
    # fetch): the request stays until granted, its answer dropped, so the fetch port needs a
    # memory behind it
    memory = BusTarget(dut.fetch, latency=3)
    simulate(dut, [bench], [datapath.run, memory.serve])
    assert all(we == 0 for _, _, we, _, _ in memory.log)
    for (code, opcode), status, error, seq in seen:
        assert status & Status.ERROR.value, (code, opcode)
        assert error == (seq << 8) | code.value, (code, opcode, hex(error))
    assert len(datapath.runs) == len(examples)                # only the valid LOADs ran
    assert all(run.unit == "load" and run.fields["local_addr"] == 4 for run in datapath.runs)
    cover_errors([decode(w) for w in examples.values()],
                 [code for code, _ in examples], {})


@pytest.mark.parametrize("follows", [False, True], ids=["held", "follows"])
def test_compute_follows_an_issued_load(follows):
    """With ``load_follows`` (the execute unit waits per SPAD row) a COMPUTE reading the rows
    of an in-flight LOAD into SPAD is issued while that LOAD runs, but never before the LOAD
    is issued; a COMPUTE whose ACC rows a LOAD writes still waits for its ``done``; without
    the option both wait."""
    commands = [load(0), load(4), compute(0, 4, 0), load(16, target=LoadTarget.ACC),
                compute(8, 12, 16, accumulate=1)]
    dut = NpuControl(CFG, load_follows=follows)
    datapath = StandInDatapath(dut.datapath, latency=lambda unit, f: 40, seed=0)
    datapath.hold = {"load", "exec", "store", "eltwise"}

    async def bench(ctx):
        assert not await reg_write(ctx, dut.bus, "DMA_BASE", BASE)
        assert not await reg_write(ctx, dut.bus, "DMA_SIZE", 0x1000)
        for index, words in enumerate(commands):
            if index == CFG.npu_queue_depth:
                datapath.hold.clear()
            await submit(ctx, dut.bus, words)
        datapath.hold.clear()
        for _ in range(2_000):
            status, _ = await reg_read(ctx, dut.bus, "STATUS")
            if not status & Status.BUSY.value:
                break
        else:
            raise AssertionError("the NPU never became idle")

    simulate(dut, [bench], [datapath.run])
    codes = [validate(w, CFG, BASE, 0x1000) for w in commands]
    matched = check_schedule([decode(w) for w in commands], codes, datapath.runs,
                             load_follows=follows)
    assert (matched[2].accepted < matched[1].done) == follows
    assert matched[2].accepted > matched[1].accepted
    assert matched[4].accepted > matched[3].done


@pytest.mark.parametrize("follows", [False, True], ids=["held", "follows"])
def test_eltwise_follows_an_issued_load(follows):
    """Likewise an ELTWISE (ADD) reading the rows of an in-flight LOAD into SPAD."""
    commands = [load(0), load(4), eltwise(0, 8, b=4), store(8)]
    matched, _, _ = run(commands, latency=lambda unit, f: 40, config=CFG,
                        load_follows=follows)
    assert (matched[2].accepted < matched[1].done) == follows
    assert matched[2].accepted > matched[1].accepted


def store_follow_schedule(config, orders):
    """The schedule of COMPUTE, its STORE, a second COMPUTE and a STORE whose scale row that
    COMPUTE writes, on an ``NpuControl(config, store_orders_acc=orders)`` with every unit
    held 40 cycles: the four commands' matched runs (``check_schedule``)."""
    scaled = encode(Opcode.STORE, out=OutType.INT8, dram_addr=BASE + 0x800, dram_stride=16,
                    rows=4, cols=4, acc_addr=16, scale=1, scale_addr=8)
    commands = [compute(0, 4, 0), store(0), compute(8, 12, 8), scaled]
    dut = NpuControl(config, store_orders_acc=orders)
    datapath = StandInDatapath(dut.datapath, latency=lambda unit, f: 40, seed=0)
    datapath.hold = {"load", "exec", "store", "eltwise"}

    async def bench(ctx):
        await set_dma_window(ctx, dut.bus, BASE, 0x1000)
        await submit_all(ctx, dut.bus, commands, datapath, config.npu_queue_depth)
        await wait_idle(ctx, dut.bus)

    simulate(dut, [bench], [datapath.run])
    codes = [validate(w, config, BASE, 0x1000) for w in commands]
    return check_schedule([decode(w) for w in commands], codes, datapath.runs,
                          store_orders_acc=orders)


@pytest.mark.parametrize("orders", [False, True], ids=["held", "follows"])
def test_store_follows_an_issued_compute(orders):
    """With ``store_orders_acc`` (the store unit waits per ACC row) a STORE of an in-flight
    COMPUTE's result rows is issued while that COMPUTE runs; a STORE whose scale row the
    COMPUTE writes still waits for its ``done``; without the option both wait."""
    matched = store_follow_schedule(CFG, orders)
    assert (matched[1].accepted < matched[0].done) == orders
    assert matched[3].accepted > matched[2].done


#: A board's trimmed command path (the iCESugar-Pro's options on the small test NPU): no
#: element-wise unit, one COMPUTE in flight, a queue of one, one LIST entry buffered, hazard
#: footprints of 6-bit rows (SPAD 64, ACC 32).
TRIM = dataclasses.replace(CFG, npu_eltwise=False, npu_exec_depth=1, npu_queue_depth=1,
                           npu_list_entries=1, npu_narrow_footprints=True)


@pytest.mark.parametrize("seed", range(2))
def test_trimmed_command_path_keeps_order(seed):
    """The trimmed dispatcher (no ELTWISE slot, ``npu_exec_depth`` 1 or 2, queue 1, narrow
    footprints) runs random
    streams in the in-order semantics; every ELTWISE is refused (BAD_COMBINATION or an
    earlier code, as the command model says) and none reaches the datapath."""
    rng = random.Random(200 + seed)
    config = dataclasses.replace(TRIM, npu_exec_depth=1 + seed % 2)
    commands = [random_command(rng, 0.5) for _ in range(22)]
    commands += [eltwise(0, 0), mac(0, 4, 8)]
    rng.shuffle(commands)
    matched, datapath, regs = run(commands, latency=lambda unit, f: rng.randint(1, 12),
                                  seed=seed, prefill=seed % 2 == 0, config=config,
                                  exec_capacity=3, exec_depth=None)
    assert 1 <= datapath.max_in_flight["exec"] <= config.npu_exec_depth    # (the execute
    # unit could hold 3; test_independent_computes_in_flight_together covers reaching it)
    assert not any(run.unit == "eltwise" for run in datapath.runs)
    codes = [validate(w, config, BASE, 0x1000) for w in commands]
    for words, code in zip(commands, codes, strict=True):
        if words[0] & 0xF == Opcode.ELTWISE.value:
            assert code != ErrorCode.NONE
    allowed = error_candidates(codes, matched)
    assert regs["ERROR"] in allowed, (hex(regs["ERROR"]), [hex(v) for v in allowed])


def test_trimmed_command_path_refusals():
    """Every reachable refusal of the trimmed configuration (ELTWISE: only the checks before
    BAD_COMBINATION, then BAD_COMBINATION) is refused with its code, touching no unit."""
    bases = dict(BASES)
    examples = refusal_examples(bases, TRIM, BASE, 0x1000, seed=1, tries=3000)
    assert {code for code, op in examples if op == Opcode.ELTWISE} == {
        _E.RESERVED, _E.ZERO_DIM, _E.DIM_TOO_LARGE, _E.BAD_COMBINATION}
    examples[_E.BAD_COMBINATION, Opcode.ELTWISE] = BASES[Opcode.ELTWISE]   # a valid one
    dut = NpuControl(TRIM)
    datapath = StandInDatapath(dut.datapath)
    seen = []

    async def bench(ctx):
        await set_dma_window(ctx, dut.bus, BASE, 0x1000)
        for words in examples.values():
            await submit(ctx, dut.bus, words)
            await wait_idle(ctx, dut.bus)
            error, _ = await reg_read(ctx, dut.bus, "ERROR")
            seen.append(error & 0xFF)
            assert not await reg_write(ctx, dut.bus, "STATUS", Status.ERROR.value)

    memory = BusTarget(dut.fetch, latency=3)      # a refused LIST's speculative fetch
    simulate(dut, [bench], [datapath.run, memory.serve])
    assert seen == [code.value for code, _ in examples]
    assert datapath.runs == []
