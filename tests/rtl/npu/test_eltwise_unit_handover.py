# amaranth: UnusedElaboratable=no
"""The element-wise unit's command hand-over (``EltwiseUnit`` on its own SPAD and ACC,
Amaranth's simulator, against the command model): two ELTWISEs offered back to back run with
one cycle between their rows on every path (plain, pipelined ADD, FP16 MAC) while a lone
command keeps its latency; a row of the younger command that reads an ACC row the older one
has still to write (``accumulate``, ``init_row``, a ``reduce`` MAC's first row) waits exactly
until that row is written; random short commands on overlapping rows with the ACC write port
contended stay bit-exact, and so does a stall of the unit's pipeline in any cycle around a
hand-over (the session 17 regression); and in the whole NPU, chains of short accumulating
MACs followed by STOREs equal the model. The latencies, the stalls around a hand-over, the
read-after-write waits and the random commands also with ``npu_eltwise_operand_regs`` (the
operand register stage: one cycle more per command, the weights travelling with the row)."""

import dataclasses

import numpy as np
import pytest
from dure.rtl.npu.commands import ElemType, EltwiseOp, LoadTarget, Opcode, OutType, Precision
from dure.rtl.npu.descriptor import decode, encode
from dure.sim.npu_model import NpuModel
from dure.sim.verif.bus import simulate
from dure.sim.verif.npu_sim import run_against_model
from dure.sim.verif.npu_unit_bench import (
    EltwiseBench,
    PulseLog,
    issue,
    preload,
    read_acc_row,
    write_acc_row,
)

from dure.config import SoCConfig

CFG = SoCConfig(npu_rows=4, npu_cols=4, npu_spad_rows=64, npu_acc_rows=32, npu_queue_depth=4,
                npu_eltwise_handover=True)
CFG_PIPE = dataclasses.replace(CFG, npu_eltwise_pipeline=True)
CFG_OPREGS = dataclasses.replace(CFG, npu_eltwise_operand_regs=True)
CFG_OPREGS_PIPE = dataclasses.replace(CFG_PIPE, npu_eltwise_operand_regs=True)
ROWS = 32                       # SPAD and ACC rows preloaded (ACC 28..31 kept for the LOAD)
SCRATCH = (28, 29, 30, 31)


def eltwise(**f):
    """The decoded fields of an ELTWISE (``encode`` then ``decode``: the overlapping fields
    ``mult_a`` / ``tap_step`` and ``mult_b`` / ``init_addr`` as the dispatcher unpacks them),
    as plain ints."""
    return {k: int(getattr(v, "value", v)) for k, v in decode(encode(Opcode.ELTWISE, **f))[1]
            .items()}


def random_state(seed):
    """SPAD rows of fp16 patterns (normals, zeros, subnormals, Inf, NaN; their low bytes are
    the INT8 lanes) and ACC rows of fp32 patterns."""
    rng = np.random.default_rng(seed)
    spad = rng.normal(0, 2, (ROWS, 4)).astype(np.float16).view(np.uint16)
    special = rng.choice(np.array([0x0000, 0x8000, 0x0001, 0x83FF, 0x7C00, 0xFC00, 0x7E00,
                                   0x0080, 0x007F], np.uint16), spad.shape)
    spad = np.where(rng.random(spad.shape) < 0.1, special, spad)
    acc = rng.normal(0, 8, (ROWS, 4)).astype(np.float32).view(np.uint32)
    return spad, acc


def run_unit(config, cmds, *, seed=0, contend=0.0, stall_at=()):
    """Offers ``cmds`` (decoded fields) back to back to an :class:`EltwiseBench`; ``contend``:
    the probability that a LOAD row write to a ``SCRATCH`` row competes for the ACC write port
    in a cycle; ``stall_at``: cycles (from the first offer) in which one does. Checks every
    ACC row against the command model running the commands in order; returns ``(accepted,
    done, reads, writes)``: the cycles each command was accepted and its ``done`` pulsed, and
    ``(cycle, row)`` of every ACC row read and written by the unit."""
    dut = EltwiseBench(config)
    unit = dut.unit
    spad, acc = random_state(seed)
    model = NpuModel(config)
    model.spad[:ROWS] = spad
    model.acc[:ROWS] = acc
    for c in cmds:
        model.apply(Opcode.ELTWISE, c)
    monitor = PulseLog(unit.done, unit.cmd.valid, unit.cmd.ready, unit.acc_r.en,
                       unit.acc_r.addr, unit.acc_w.valid, unit.acc_w.ready,
                       unit.acc_w.payload.addr)
    side, flags = {}, {"go": False, "stop": False}

    async def bench(ctx):
        await preload(ctx, dut, spad, acc, ROWS)
        flags["start"] = monitor.cycle
        flags["go"] = True
        for c in cmds:
            await issue(ctx, unit, c)
        while len(monitor.pulses) < len(cmds):
            await ctx.tick()
        flags["stop"] = True
        await ctx.tick().repeat(2)
        for r in range(ROWS):
            got = await read_acc_row(ctx, dut.acc, r, 4)
            want = side.get(r, [int(v) for v in model.acc[r]])
            assert got == want, f"ACC row {r}: {[hex(v) for v in got]} != {want}"

    async def loader(ctx):
        lrng = np.random.default_rng(seed + 1)
        while not flags["go"]:
            await ctx.tick()
        while not flags["stop"]:
            if lrng.random() < contend or monitor.cycle - flags["start"] in stall_at:
                row = int(lrng.choice(SCRATCH))
                data = [int(v) for v in lrng.integers(0, 2**32, 4, dtype=np.uint64)]
                await write_acc_row(ctx, dut, row, data)
                side[row] = data
            else:
                await ctx.tick()

    simulate(dut, [bench, loader], [monitor.run])
    start = flags["start"]
    done = [c - start for c in monitor.pulses]
    accepted, reads, writes = [], [], []
    for cycle, (valid, ready, en, raddr, wvalid, wready, waddr) in enumerate(
            monitor.samples[start:]):
        if valid and ready:
            accepted.append(cycle)
        if en:
            reads.append((cycle, raddr))
        if wvalid and wready:
            writes.append((cycle, waddr))
    return accepted, done, reads, writes


# (name, config, fields, the documented cycles of one command: acceptance to ``done``, both
# counted).
M = 6
KINDS = [
    ("max_int8", CFG, dict(op=EltwiseOp.MAX, precision=Precision.INT8, accumulate=1), M + 3),
    ("max_fp16", CFG, dict(op=EltwiseOp.MAX, precision=Precision.FP16, accumulate=1), M + 3),
    ("add", CFG, dict(op=EltwiseOp.ADD, precision=Precision.INT8, b_addr=16, zp_a=-3,
                      zp_b=5, mult_a=1 << 30, mult_b=-(1 << 30) & 0xFFFF_FFFF, rshift_a=2,
                      rshift_b=5), M + 3),
    ("add_pipelined", CFG_PIPE, dict(op=EltwiseOp.ADD, precision=Precision.INT8, b_addr=16,
                                     zp_a=7, mult_a=1_500_000_000, mult_b=1 << 30,
                                     rshift_a=0, rshift_b=31), M + 6),
    ("mac_int8_pair", CFG, dict(op=EltwiseOp.MAX, mac=1, precision=Precision.INT8, b_addr=20,
                                accumulate=1, pair=1, tap_step=3), M + 4),
    ("mac_fp16_pair", CFG, dict(op=EltwiseOp.MAX, mac=1, precision=Precision.FP16, b_addr=20,
                                init_row=1, init_addr=27, pair=1, tap_step=1), M + 20),
]
# with the operand registers: every path one cycle longer
KINDS += [(f"{name}_operand_regs", CFG_OPREGS_PIPE if config is CFG_PIPE else CFG_OPREGS,
           fields, alone + 1) for name, config, fields, alone in KINDS]


@pytest.mark.parametrize(("config", "kind", "alone"), [k[1:] for k in KINDS],
                         ids=[k[0] for k in KINDS])
def test_back_to_back_commands_take_one_cycle_between_them(config, kind, alone):
    """Contract (timing): a lone ELTWISE of m rows is done its documented latency after its
    acceptance, and a second one of m rows offered at once (the same path, no ACC row in
    common) is done m + 1 cycles after the first: one cycle between the two commands' rows
    (the MAC's weight read in that cycle). The second one's rows may differ in every field
    (here: rows, the ADD's shifts and zero points). Bit-exact with the model."""
    second = dict(kind)
    if kind["op"] == EltwiseOp.ADD:
        second.update(rshift_a=kind["rshift_b"], rshift_b=kind["rshift_a"], zp_b=-128)
    cmds = [eltwise(**kind, a_addr=0, acc_addr=0, m=M, n=4),
            eltwise(**second, a_addr=7, acc_addr=10, m=M, n=3)]
    accepted, done, _, _ = run_unit(config, cmds, seed=1)
    assert done[0] - accepted[0] + 1 == alone        # both cycles counted, as documented
    assert done[1] - done[0] == M + 1, (accepted, done)


@pytest.mark.parametrize(("config", "older", "younger"), [
    (CFG, KINDS[4][2], KINDS[4][2]),                          # INT8 pair MAC -> MAC
    (CFG, KINDS[0][2], KINDS[4][2]),                          # MAX -> INT8 MAC
    (CFG, KINDS[5][2], KINDS[5][2]),                          # FP16 MAC -> FP16 MAC
    (CFG_PIPE, KINDS[3][2], KINDS[3][2]),                     # pipelined ADD -> ADD
    (CFG_OPREGS, KINDS[4][2], KINDS[4][2]),
    (CFG_OPREGS, KINDS[0][2], KINDS[4][2]),
    (CFG_OPREGS, KINDS[5][2], KINDS[5][2]),
    (CFG_OPREGS_PIPE, KINDS[3][2], KINDS[3][2]),
], ids=["mac_int8", "max_then_mac", "mac_fp16", "add_pipelined", "mac_int8_operand_regs",
        "max_then_mac_operand_regs", "mac_fp16_operand_regs", "add_pipelined_operand_regs"])
def test_a_stall_in_any_cycle_of_the_hand_over_stays_exact(config, older, younger):
    """A LOAD row write takes the ACC write port (the unit's pipeline stalls a cycle) in each
    cycle in turn, around two commands handed over: the older one's last rows, still in the
    compute stage while the younger one is accepted (and a MAC reads its weight rows), are
    computed from their own operands. Regression: the MAC's weight read in its acceptance
    cycle replaced the SPAD data of the older command's last row when that row stalled in
    the compute stage (session 17: the DS-CNN-like model's depthwise layer on npu-small)."""
    fp16 = older.get("precision") == Precision.FP16     # rows in its lanes: 16 cycles more
    m = 20 if fp16 else 4
    cmds = [eltwise(**older, a_addr=0, acc_addr=0, m=m, n=4),
            eltwise(**younger, a_addr=9, acc_addr=0 if fp16 else m + 2, m=m, n=4)]
    accepted, *_ = run_unit(config, cmds, seed=11)
    for cycle in range(accepted[1] - 4, accepted[1] + 5):
        run_unit(config, cmds, seed=11, stall_at=(cycle,))


def exact_reads(cmds, accepted, done, reads, writes):
    """Checks that the second command's ACC reads happen exactly when they may: each at the
    cycle after the previous one (the first as soon as the command can read: the cycle after
    its acceptance, two for a MAC accepted while the unit was idle: its weight read) or, if
    later, at the cycle after the first command's write of its row; never before that write.
    Returns those reads ``(cycle, row)``."""
    first = {row: cycle for cycle, row in writes if cycle <= done[0]}
    late = [(c, r) for c, r in reads if c > accepted[1]]
    earliest = accepted[1] + 1 + (cmds[1]["mac"] and accepted[1] > done[0])
    for cycle, row in late:
        want = max(earliest, first.get(row, -1) + 1)
        assert cycle == want, (cycle, row, want, late, writes)
        earliest = cycle + 1
    return late


RAW = [
    # (name, config, older fields, younger fields)
    ("mac_int8_accumulate", CFG,
     dict(op=EltwiseOp.MAX, mac=1, precision=Precision.INT8, b_addr=20, a_addr=0),
     dict(op=EltwiseOp.MAX, mac=1, precision=Precision.INT8, b_addr=22, a_addr=5,
          accumulate=1, pair=1, tap_step=2)),
    ("mac_fp16_accumulate", CFG,
     dict(op=EltwiseOp.MAX, mac=1, precision=Precision.FP16, b_addr=20, a_addr=0, pair=1,
          tap_step=1),
     dict(op=EltwiseOp.MAX, mac=1, precision=Precision.FP16, b_addr=22, a_addr=5,
          accumulate=1)),
    ("max_fp16_accumulate", CFG,
     dict(op=EltwiseOp.MAX, precision=Precision.FP16, a_addr=0),
     dict(op=EltwiseOp.MAX, precision=Precision.FP16, a_addr=9, accumulate=1)),
    ("max_int8_after_pipelined_add", CFG_PIPE,      # another path: after the ADD's done
     dict(op=EltwiseOp.ADD, precision=Precision.INT8, a_addr=0, b_addr=10, mult_a=1 << 30,
          mult_b=1 << 30, rshift_a=3),
     dict(op=EltwiseOp.MAX, precision=Precision.INT8, a_addr=3, accumulate=1)),
]
# the INT8 and FP16 MACs' cases with the operand registers
RAW += [(f"{name}_operand_regs", CFG_OPREGS, older, younger)
        for name, config, older, younger in RAW if name.startswith("mac_")]


@pytest.mark.parametrize("m", [1, 2, 3, 5])
@pytest.mark.parametrize(("config", "older", "younger"), [k[1:] for k in RAW],
                         ids=[k[0] for k in RAW])
def test_read_after_write_between_two_commands_waits_exactly(config, older, younger, m):
    """The younger command accumulates onto the rows the older one writes (the depthwise
    walk's taps), offered back to back: its reads of those rows come after the older one's
    writes of them, and no later than the cycle after (no needless wait); the ACC equals
    the model's. Short commands (m = 1..3) on the FP16 MAC's 16-stage lanes make every
    read wait."""
    cmds = [eltwise(**older, acc_addr=4, m=m, n=4), eltwise(**younger, acc_addr=4, m=m, n=4)]
    accepted, done, reads, writes = run_unit(config, cmds, seed=2 + m)
    late = exact_reads(cmds, accepted, done, reads, writes)
    assert len(late) == m


@pytest.mark.parametrize("precision", [Precision.INT8, Precision.FP16])
def test_init_row_and_reduce_read_the_older_commands_row_exactly(precision):
    """A MAC whose ``init_row`` is a row the older command writes, and an INT8 ``reduce`` MAC
    accumulating onto one: each waits exactly for that row."""
    older = eltwise(op=EltwiseOp.MAX, mac=1, precision=precision, b_addr=20, a_addr=0,
                    acc_addr=2, m=3, n=4)
    younger = eltwise(op=EltwiseOp.MAX, mac=1, precision=precision, b_addr=21, a_addr=4,
                      acc_addr=8, m=4, n=4, init_row=1, init_addr=4)
    accepted, done, reads, writes = run_unit(CFG, [older, younger], seed=7)
    exact_reads([older, younger], accepted, done, reads, writes)
    if precision == Precision.INT8:
        younger = eltwise(op=EltwiseOp.MAX, mac=1, precision=precision, b_addr=21, a_addr=4,
                          acc_addr=3, m=5, n=4, reduce=1, accumulate=1)
        accepted, done, reads, writes = run_unit(CFG, [older, younger], seed=8)
        exact_reads([older, younger], accepted, done, reads, writes)


def random_commands(rng, count):
    """Short ELTWISEs of every kind (MAX / ADD / MAC, INT8 / FP16, pair, reduce, init_row,
    walks) on ACC rows 0..27, mostly overlapping their predecessor's rows."""
    cmds, acc = [], 0
    for _ in range(count):
        kind = rng.random()
        prec = Precision(int(rng.integers(0, 2)))
        m = int(rng.integers(1, 6))
        if rng.random() < 0.3:
            acc = int(rng.integers(0, 28 - 6))
        f = dict(precision=prec, a_addr=int(rng.integers(0, 16)), acc_addr=acc, m=m,
                 n=int(rng.integers(1, 5)))
        if rng.random() < 0.3:
            cols = int(rng.integers(1, 3))
            rows = int(rng.integers(1, 3))
            f.update(a_cols=cols, a_rows=rows, a_col_step=int(rng.integers(0, 3)),
                     a_row_step=int(rng.integers(0, 5)), m=cols * rows)
        if kind < 0.2 and prec == Precision.INT8:
            f.update(op=EltwiseOp.ADD, b_addr=int(rng.integers(0, 16)),
                     zp_a=int(rng.integers(-128, 128)), zp_b=int(rng.integers(-128, 128)),
                     mult_a=int(rng.integers(0, 1 << 32)), mult_b=int(rng.integers(0, 1 << 32)),
                     rshift_a=int(rng.integers(0, 32)), rshift_b=int(rng.integers(0, 32)))
        elif kind < 0.75:
            f.update(op=EltwiseOp.MAX, mac=1, b_addr=int(rng.integers(16, 30)))
            if rng.random() < 0.5:
                f.update(pair=1, tap_step=int(rng.integers(0, 4)))
            start = rng.random()
            if start < 0.5:
                f["accumulate"] = 1
            elif start < 0.7:
                f.update(init_row=1, init_addr=int(rng.choice(
                    [r for r in range(28) if not acc <= r < acc + f["m"] + 1])))
            if prec == Precision.INT8 and rng.random() < 0.2:
                f["reduce"] = 1
        else:
            f.update(op=EltwiseOp.MAX, accumulate=int(rng.random() < 0.7))
        cmds.append(eltwise(**f))
        acc = acc + int(rng.integers(-2, 3)) if 0 < acc < 20 else acc
    return cmds


@pytest.mark.parametrize(("seed", "config", "contend"),
                         [(0, CFG, 0.0), (1, CFG, 0.3), (2, CFG_PIPE, 0.3),
                          (3, CFG_OPREGS, 0.3), (4, CFG_OPREGS_PIPE, 0.3)],
                         ids=["free", "contended", "pipelined-contended",
                              "operand_regs-contended", "operand_regs-pipelined-contended"])
def test_random_short_commands_back_to_back_bit_exact(seed, config, contend):
    """Random short commands offered back to back (paths changing, rows overlapping, the
    ACC write port taken by LOAD rows at random): every ACC row equals the model's."""
    rng = np.random.default_rng(40 + seed)
    cmds = random_commands(rng, 30)
    accepted, done, _, _ = run_unit(config, cmds, seed=seed, contend=contend)
    assert len(done) == len(cmds)
    assert all(a < d for a, d in zip(accepted, done, strict=True))


BASE = 0x4000_0000
SIZE = 0x1000


@pytest.mark.parametrize(("precision", "config"),
                         [(Precision.INT8, CFG), (Precision.FP16, CFG),
                          (Precision.INT8, dataclasses.replace(CFG, npu_hazard_regs=True,
                                                               npu_load_follow=True))],
                         ids=["int8", "fp16", "int8-hazard_regs-follow"])
def test_npu_chains_of_short_accumulating_macs(precision, config):
    """The whole NPU (the dispatcher issues the second ELTWISE at once): chains of 1- to
    3-row MACs accumulating onto each other's ACC rows, each chain's rows STOREd right after
    it (the store unit follows both held commands' rows), then a COMPUTE (the structural
    hazard); memory, ERROR and DONE equal the model's; also with the registered hazard
    scoreboard and the MACs following their LOAD row by row."""
    rng = np.random.default_rng(60 + precision.value)
    image = bytearray(rng.integers(0, 256, SIZE, dtype=np.uint8).tobytes())
    spad = rng.standard_normal(64 * 4).astype(np.float16)
    image[0:spad.nbytes] = spad.tobytes()
    words = [encode(Opcode.LOAD, target=LoadTarget.SPAD, elem=ElemType.FP16,
                    dram_addr=BASE, dram_stride=8, rows=64, cols=4, local_addr=0)]
    out = BASE + 0x800
    for chain in range(6):
        m = int(rng.integers(1, 4))
        acc = int(rng.integers(0, 28))
        for tap in range(4):
            words.append(encode(Opcode.ELTWISE, op=EltwiseOp.MAX, mac=1, precision=precision,
                                a_addr=int(rng.integers(0, 60)), b_addr=int(rng.integers(0, 62)),
                                acc_addr=min(acc, 32 - m), m=m, n=4, accumulate=int(tap > 0),
                                pair=int(tap % 2), tap_step=int(tap % 2)))
        raw = OutType.FP32 if precision == Precision.FP16 else OutType.INT32
        words.append(encode(Opcode.STORE, out=raw, acc_type=precision, dram_addr=out,
                            dram_stride=16, rows=m, cols=4, acc_addr=min(acc, 32 - m)))
        out += 16 * m
        if chain == 3:
            words.append(encode(Opcode.COMPUTE, precision=Precision.INT8, a_addr=3, w_addr=40,
                                acc_addr=int(rng.integers(0, 28)), m=4, k=4, n=4))
    _, _, ref = run_against_model(config, words, image, base=BASE, gnt=0.9)
    assert ref.error is None
