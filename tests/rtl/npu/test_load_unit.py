"""LoadUnit with its DMA reader: lane conversion, zero lanes, broadcast, ACC target with a
stalling write port, bus error (no row written after the failing one), fill (no DMA access)
and 2-D placement; with ``npu_load_overlap`` back-to-back LOADs overlap on the bus and write
exactly what they write one at a time. The tests that drive the unit run with and without
``npu_load_pipeline`` (its two row stages)."""

import dataclasses
import random

import pytest
from dure.rtl.npu.commands import ElemType, LoadTarget
from dure.sim.npu_validate import local_rows_written
from dure.sim.verif.bus import simulate
from dure.sim.verif.npu_datapath import Command, MemoryTarget, reference, send_stream
from dure.sim.verif.npu_unit_bench import LoadBench, load_cycle

from dure.config import SoCConfig

CFG = SoCConfig(npu_rows=3, npu_cols=2, npu_spad_rows=16, npu_acc_rows=16)
_PIPE = {"on": False}       # npu_load_pipeline of every Bench, set by the `pipe` fixture


@pytest.fixture(params=[False, True], ids=["unpiped", "piped"])
def pipe(request):
    """Runs the test with the load unit's row pipeline off, then on."""
    _PIPE["on"] = request.param
    yield request.param
    _PIPE["on"] = False


piped = pytest.mark.usefixtures("pipe")


def _fields(cmd):
    """The load unit's ``cmd`` payload of ``cmd``."""
    return {k: getattr(v, "value", v) for k, v in cmd.fields.items()}


def _bench(config):
    """The load bench with the `pipe` fixture's ``npu_load_pipeline``."""
    return LoadBench(dataclasses.replace(config, npu_load_pipeline=_PIPE["on"]))


def run(cmds, mem, err_words=(), acc_ready=0.5, seed=0, bus_log=None, config=CFG):
    dut = _bench(config)
    lanes = config.npu_lanes
    rng = random.Random(seed)
    target = MemoryTarget(dut.dma.bus, mem, latency=3, jitter=2, gnt_probability=0.7,
                          seed=seed, err_words=set(err_words),
                          log=[] if bus_log is None else bus_log)
    writes, results = [], []
    load = dut.load

    async def bench(ctx):
        for cmd in cmds:
            await send_stream(ctx, load.cmd, [_fields(cmd)])
            while True:
                ready = int(rng.random() < acc_ready)
                done, err = await load_cycle(ctx, load, writes, acc_ready=ready,
                                             spad_lanes=lanes, acc_lanes=2, acc_mask=0b11)
                if done:
                    results.append(err)
                    break

    simulate(dut, [bench], [target.serve])
    return writes, results


def check_writes(writes, cmds, mem):
    """The row writes go to the reference's destination rows in order, and replaying them
    command by command leaves each written row as the reference model does."""
    at = 0
    for cmd in cmds:
        _, spad, acc = reference(CFG, [cmd], mem)
        tgt, arr = ("acc", acc) if cmd.get("target") else ("spad", spad)
        rows = local_rows_written(cmd.all_fields())
        mine = writes[at:at + len(rows)]
        at += len(rows)
        assert [(t, row) for t, row, _ in mine] == [(tgt, row) for row in rows]
        final = {row: lanes for _, row, lanes in mine}
        assert final == {row: [int(v) for v in arr[row]] for row in rows}
    assert at == len(writes)


def expected_writes(cmds, mem, config=CFG):
    """(memory, row, lanes) of every row write the reference makes, in order (for commands
    whose destination rows are distinct)."""
    out = []
    for cmd in cmds:
        _, spad, acc = reference(config, [cmd], mem)
        tgt, arr = ("acc", acc) if cmd.get("target") else ("spad", spad)
        for row in local_rows_written(cmd.all_fields()):
            out.append((tgt, row, [int(v) for v in arr[row]]))
    return out


@piped
def test_loads():
    rng = random.Random(2)
    mem = bytearray(rng.randbytes(256))
    cmds = [
        Command("load", dict(target=LoadTarget.SPAD, elem=ElemType.INT8, dram_addr=3,
                             dram_stride=7, rows=4, cols=3, local_addr=2)),
        Command("load", dict(target=LoadTarget.SPAD, elem=ElemType.INT8, dram_addr=41,
                             dram_stride=5, rows=3, cols=1, local_addr=9)),
        Command("load", dict(target=LoadTarget.SPAD, elem=ElemType.FP16, dram_addr=66,
                             dram_stride=10, rows=3, cols=2, local_addr=0)),
        Command("load", dict(target=LoadTarget.SPAD, elem=ElemType.FP16, dram_addr=102,
                             dram_stride=0, rows=5, cols=3, local_addr=11, broadcast=1)),
        Command("load", dict(target=LoadTarget.ACC, elem=ElemType.WORD32, dram_addr=120,
                             dram_stride=12, rows=3, cols=2, local_addr=4)),
        Command("load", dict(target=LoadTarget.ACC, elem=ElemType.WORD32, dram_addr=200,
                             dram_stride=0, rows=4, cols=1, local_addr=12, broadcast=1)),
    ]
    writes, errors = run(cmds, mem)
    assert errors == [0] * len(cmds)
    assert writes == expected_writes(cmds, mem)


@piped
def test_bus_error_stops_writes():
    mem = bytearray(random.Random(3).randbytes(256))
    bad = Command("load", dict(target=LoadTarget.SPAD, elem=ElemType.FP16, dram_addr=2,
                               dram_stride=20, rows=6, cols=3, local_addr=0))
    good = Command("load", dict(target=LoadTarget.ACC, elem=ElemType.WORD32, dram_addr=160,
                                dram_stride=8, rows=2, cols=2, local_addr=3))
    writes, errors = run([bad, good], mem, err_words={(2 + 3 * 20) // 4})
    assert errors == [1, 0]
    assert writes == expected_writes([bad], mem)[:3] + expected_writes([good], mem)


@piped
def test_fill_and_placement():
    rng = random.Random(4)
    mem = bytearray(rng.randbytes(256))
    spad, acc = dict(target=LoadTarget.SPAD), dict(target=LoadTarget.ACC, elem=ElemType.WORD32)
    fill = dict(fill=1, dram_addr=0, dram_stride=0)
    cmds = [
        Command("load", dict(**spad, elem=ElemType.INT8, **fill, fill_value=0xABCD_EF80,
                             rows=3, cols=2, local_addr=1)),
        Command("load", dict(**spad, elem=ElemType.FP16, **fill, fill_value=0x1234_FC00,
                             rows=4, cols=3, local_addr=5, local_cols=1, local_groups=4,
                             local_row_step=3)),                     # rows 5, 8, 11, 14
        Command("load", dict(**acc, **fill, fill_value=0x8000_0001, rows=6, cols=1,
                             local_addr=2, local_cols=2, local_groups=3, local_row_step=5)),
        Command("load", dict(**spad, elem=ElemType.INT8, dram_addr=9, dram_stride=6, rows=6,
                             cols=3, local_addr=0, local_cols=3, local_groups=2,
                             local_row_step=1)),                     # overlapping groups
        Command("load", dict(**acc, dram_addr=40, dram_stride=0, broadcast=1, rows=4, cols=2,
                             local_addr=9, local_cols=2, local_groups=2, local_row_step=4)),
        Command("load", dict(**spad, elem=ElemType.FP16, **fill, fill_value=0x7E00, rows=2,
                             cols=3, local_addr=15, local_cols=1, local_groups=2,
                             local_row_step=0)),                    # step 0: one row twice
    ]
    dut_writes, errors = run(cmds, mem)
    assert errors == [0] * len(cmds)
    check_writes(dut_writes, cmds, mem)
    fills = [cmd for cmd in cmds if cmd.get("fill")]
    bus_log = []
    dut_writes, errors = run(fills, mem, acc_ready=1.0, bus_log=bus_log)
    assert errors == [0] * len(fills)
    check_writes(dut_writes, fills, mem)
    assert bus_log == []                          # a fill makes no main-memory access


@piped
def test_packed_weight_formats():
    """INT4, INT4_FP16 (scale row first), 2:4 int8 / int4 (random codes, so also p0 >= p1),
    with odd cols, placement and unaligned rows, against the command model."""
    from dure.rtl.npu.commands import WeightFormat

    rng = random.Random(5)
    mem = bytearray(rng.randbytes(256))
    mem[100:106] = bytes([0x00, 0x3C, 0x55, 0xB5, 0xFF, 0x7B])      # scales 1.0, -0.333, 65504
    spad8 = dict(target=LoadTarget.SPAD, elem=ElemType.INT8)
    cmds = [
        Command("load", dict(spad8, weight_format=WeightFormat.INT4, dram_addr=3,
                             dram_stride=3, rows=4, cols=3, local_addr=0)),
        Command("load", dict(target=LoadTarget.SPAD, elem=ElemType.FP16,
                             weight_format=WeightFormat.INT4_FP16, dram_addr=21, dram_stride=2,
                             rows=3, cols=3, local_addr=4, scale_addr=100)),
        Command("load", dict(spad8, weight_format=WeightFormat.SPARSE24, dram_addr=33,
                             dram_stride=9, rows=8, cols=3, local_addr=7)),
        Command("load", dict(spad8, weight_format=WeightFormat.SPARSE24_INT4, dram_addr=71,
                             dram_stride=6, rows=4, cols=2, local_addr=1, local_cols=2,
                             local_groups=2, local_row_step=12)),
    ]
    writes, errors = run(cmds, mem)
    assert errors == [0] * len(cmds)
    assert writes == expected_writes(cmds, mem)


@piped
def test_packed_bus_errors():
    """A bus error on the scale row writes nothing; one in a 2:4 source row stops before its
    group's 4 rows."""
    from dure.rtl.npu.commands import WeightFormat

    mem = bytearray(random.Random(6).randbytes(256))
    scaled = Command("load", dict(target=LoadTarget.SPAD, elem=ElemType.FP16,
                                  weight_format=WeightFormat.INT4_FP16, dram_addr=20,
                                  dram_stride=2, rows=3, cols=3, local_addr=0, scale_addr=120))
    sparse = Command("load", dict(target=LoadTarget.SPAD, elem=ElemType.INT8,
                                  weight_format=WeightFormat.SPARSE24, dram_addr=40,
                                  dram_stride=12, rows=12, cols=3, local_addr=0))
    good = Command("load", dict(target=LoadTarget.SPAD, elem=ElemType.INT8,
                                weight_format=WeightFormat.INT4, dram_addr=8, dram_stride=2,
                                rows=2, cols=3, local_addr=5))
    writes, errors = run([scaled, sparse, good], mem, err_words={30, (40 + 2 * 12) // 4})
    assert errors == [1, 1, 0]
    assert writes == expected_writes([sparse], mem)[:8] + expected_writes([good], mem)


@piped
def test_lane_grouped_sparse_and_row_scaled_formats():
    """SPARSE24_LANES / SPARSE24_INT4_LANES (one source row per destination row, random codes
    so also p0 >= p1, cols 4 and 8, unaligned rows, placement) and INT4_FP16_ROWS (a scale and
    4 int4 rows per source row) against the command model, on an array with 8 lanes; a bus
    error in a source row stops before that row."""
    from dure.rtl.npu.commands import WeightFormat

    config = SoCConfig(npu_rows=8, npu_cols=4, npu_spad_rows=32, npu_acc_rows=16)
    rng = random.Random(7)
    mem = bytearray(rng.randbytes(256))
    spad8 = dict(target=LoadTarget.SPAD, elem=ElemType.INT8)
    cmds = [
        Command("load", dict(spad8, weight_format=WeightFormat.SPARSE24_LANES, dram_addr=3,
                             dram_stride=5, rows=5, cols=8, local_addr=0)),
        Command("load", dict(spad8, weight_format=WeightFormat.SPARSE24_INT4_LANES,
                             dram_addr=41, dram_stride=3, rows=4, cols=8, local_addr=6,
                             local_cols=2, local_groups=2, local_row_step=9)),
        Command("load", dict(spad8, weight_format=WeightFormat.SPARSE24_LANES, dram_addr=77,
                             dram_stride=4, rows=3, cols=4, local_addr=17)),
        Command("load", dict(spad8, weight_format=WeightFormat.SPARSE24_INT4_LANES,
                             dram_addr=101, dram_stride=2, rows=6, cols=4, local_addr=26)),
        # INT4_FP16_ROWS: scales 1.0, 65504 (products overflow to Inf), then a random one.
        Command("load", dict(target=LoadTarget.SPAD, elem=ElemType.FP16,
                             weight_format=WeightFormat.INT4_FP16_ROWS, dram_addr=150,
                             dram_stride=18, rows=8, cols=8, local_addr=8, local_cols=4,
                             local_groups=2, local_row_step=12)),
        Command("load", dict(target=LoadTarget.SPAD, elem=ElemType.FP16,
                             weight_format=WeightFormat.INT4_FP16_ROWS, dram_addr=190,
                             dram_stride=14, rows=4, cols=5, local_addr=12)),
    ]
    mem[150:152], mem[168:170] = b"\x00\x3c", b"\xff\x7b"
    writes, errors = run(cmds, mem, config=config)
    assert errors == [0] * len(cmds)
    assert writes == expected_writes(cmds, mem, config)
    # word 5 (bytes 20..23) lies in source row 3 (bytes 18..22) only
    writes, errors = run(cmds[:1], mem, err_words={5}, config=config)
    assert errors == [1]
    assert writes == expected_writes(cmds[:1], mem, config)[:3]


def test_npu_dma_read_bytes_match_the_command_model():
    """PERF_DMA_RD of the whole NPU (Amaranth simulator) equals the command model's dma_rd on
    LOADs of rows shorter than a bus word (an activation column of 1-byte rows, 2-byte int4
    rows, 3-byte rows, a 5-byte 2:4 row): both count the covered words once, 4 bytes each,
    and that is fewer than one word per row."""
    from dure.rtl.npu.commands import Opcode, WeightFormat
    from dure.rtl.npu.descriptor import encode
    from dure.sim.npu_model import NpuModel
    from dure.sim.verif.compute_overlap import run_npu

    from dure.config import preset

    config = preset("npu-small")
    base = 0x4000_0000
    image = bytes(random.Random(3).randbytes(512))
    loads = [dict(elem=ElemType.INT8, dram_addr=base + 1, dram_stride=1, rows=37, cols=1,
                  local_addr=0),
             dict(elem=ElemType.INT8, weight_format=WeightFormat.INT4, dram_addr=base + 66,
                  dram_stride=2, rows=9, cols=4, local_addr=40),
             dict(elem=ElemType.INT8, dram_addr=base + 200, dram_stride=3, rows=5, cols=3,
                  local_addr=60),
             dict(elem=ElemType.INT8, weight_format=WeightFormat.SPARSE24, dram_addr=base + 301,
                  dram_stride=5, rows=8, cols=2, local_addr=70)]
    words = [encode(Opcode.LOAD, target=LoadTarget.SPAD, **f) for f in loads]
    model = NpuModel(config, memory={base: image})
    model.set_window(base, len(image))
    for d in words:
        model.execute(d)
    run = run_npu(config, [words], image, base=base)
    # Covered words: 1..37 -> 0..9 (10); 66..83 -> 16..20 (5); 200..214 -> 50..53 (4);
    # 301..310 -> 75..77 (3).
    assert run.regs["ERROR"] == 0
    assert model.dma_rd == run.regs["DMA_RD"] == 4 * (10 + 5 + 4 + 3)


@piped
def test_keep_writes_tagged_lanes():
    """A ``keep`` LOAD of both lane-grouped 2:4 formats (random codes, so also p0 >= p1; int4
    -8..7 sign-extended to 8 bits; cols 2, 6 and 8 of 8 lanes; unaligned rows; placement)
    writes each kept value with its 2-bit position in bits 9:8, as the command model."""
    from dure.rtl.npu.commands import WeightFormat

    config = SoCConfig(npu_rows=8, npu_cols=4, npu_spad_rows=32, npu_acc_rows=16,
                       npu_gather=True)
    rng = random.Random(13)
    mem = bytearray(rng.randbytes(256))
    spad8 = dict(target=LoadTarget.SPAD, elem=ElemType.INT8, keep=1)
    cmds = [
        Command("load", dict(spad8, weight_format=WeightFormat.SPARSE24_LANES, dram_addr=3,
                             dram_stride=10, rows=5, cols=8, local_addr=0)),
        Command("load", dict(spad8, weight_format=WeightFormat.SPARSE24_INT4_LANES,
                             dram_addr=61, dram_stride=6, rows=4, cols=8, local_addr=6,
                             local_cols=2, local_groups=2, local_row_step=9)),
        Command("load", dict(spad8, weight_format=WeightFormat.SPARSE24_LANES, dram_addr=97,
                             dram_stride=8, rows=3, cols=6, local_addr=17)),
        Command("load", dict(spad8, weight_format=WeightFormat.SPARSE24_INT4_LANES,
                             dram_addr=131, dram_stride=2, rows=6, cols=2, local_addr=24)),
    ]
    writes, errors = run(cmds, mem, config=config)
    assert errors == [0] * len(cmds)
    want = expected_writes(cmds, mem, config)
    assert writes == want
    lanes = [lane for _, _, row in want for lane in row]
    assert {lane >> 8 for lane in lanes} == {0, 1, 2, 3}       # every tag, nothing above


@piped
def test_keep_base6_writes_three_tagged_rows_per_source_row():
    """A ``keep`` LOAD of ``SPARSE24_INT4`` (shared base-6 codes: 3 records per source row)
    writes each record's int4 values with the positions of its digit of the group's code byte
    (random bytes, so illegal codes 216..255 too, which give zero lanes), cols 8, 6 and 2,
    unaligned rows, placement, as the command model."""
    from dure.rtl.npu.commands import WeightFormat

    config = SoCConfig(npu_rows=8, npu_cols=4, npu_spad_rows=32, npu_acc_rows=16,
                       npu_gather=True)
    rng = random.Random(14)
    mem = bytearray(rng.randbytes(256))
    spad8 = dict(target=LoadTarget.SPAD, elem=ElemType.INT8, keep=1,
                 weight_format=WeightFormat.SPARSE24_INT4)
    cmds = [
        Command("load", dict(spad8, dram_addr=0, dram_stride=16, rows=6, cols=8, local_addr=0)),
        Command("load", dict(spad8, dram_addr=101, dram_stride=13, rows=3, cols=6,
                             local_addr=6, local_cols=1, local_groups=3, local_row_step=2)),
        Command("load", dict(spad8, dram_addr=150, dram_stride=4, rows=9, cols=2,
                             local_addr=13)),
    ]
    writes, errors = run(cmds, mem, config=config)
    assert errors == [0] * len(cmds)
    want = expected_writes(cmds, mem, config)
    assert writes == want
    lanes = [lane for _, _, row in want for lane in row]
    assert {lane >> 8 for lane in lanes} == {0, 1, 2, 3}
    # (dram_addr, stride, groups, source rows): the code bytes are the last g of each row.
    rows = ((0, 16, 4, 2), (101, 13, 3, 1), (150, 4, 1, 3))
    codes = [mem[a + i * st + 3 * g + j] for a, st, g, n in rows for i in range(n)
             for j in range(g)]
    assert any(c >= 216 for c in codes) and any(c < 216 for c in codes)


def run_stream(cmds, mem, *, config, err_words=(), acc_ready=0.5, seed=0):
    """Like :func:`run`, but the commands are offered back to back (the next one while the
    previous one runs); returns (writes, errors, cycles, bus log, responses)."""
    dut = _bench(config)
    lanes, cols = config.npu_lanes, config.npu_cols
    rng = random.Random(seed)
    target = MemoryTarget(dut.dma.bus, mem, latency=3, jitter=2, gnt_probability=0.7,
                          seed=seed, err_words=set(err_words))
    writes, results, state = [], [], {"cycles": 0}
    load = dut.load

    async def feed(ctx):
        await send_stream(ctx, load.cmd, [_fields(cmd) for cmd in cmds])

    async def collect(ctx):
        while len(results) < len(cmds):
            ready = int(rng.random() < acc_ready)
            done, err = await load_cycle(ctx, load, writes, acc_ready=ready,
                                         spad_lanes=lanes, acc_lanes=cols)
            state["cycles"] += 1
            assert state["cycles"] < 20_000, "timeout"
            if done:
                results.append(err)

    simulate(dut, [collect], [target.serve, feed])
    return writes, results, state["cycles"], target.log, target.responses


OVERLAP = dataclasses.replace(CFG, npu_load_overlap=True)


@piped
def test_overlapped_loads():
    """Two LOADs offered back to back: the second one's first word is requested before the
    first one's last response arrives, and each writes its own rows with its own data (the
    same writes as the reference); without overlap the second waits and the pair is slower."""
    mem = bytearray(random.Random(21).randbytes(256))
    first = Command("load", dict(target=LoadTarget.SPAD, elem=ElemType.FP16, dram_addr=4,
                                 dram_stride=4, rows=8, cols=2, local_addr=0))
    second = Command("load", dict(target=LoadTarget.SPAD, elem=ElemType.INT8, dram_addr=130,
                                  dram_stride=3, rows=6, cols=3, local_addr=8))
    writes, errors, cycles, log, resps = run_stream([first, second], mem, config=OVERLAP)
    assert errors == [0, 0]
    assert writes == expected_writes([first, second], mem)
    assert [row for _, row, _ in writes] == list(range(14))
    first_words = len({a for _, a, *_ in log if a < 32})
    assert first_words == 8
    second_grant = min(c for c, a, *_ in log if a >= 32)
    assert second_grant < resps[first_words - 1][0]
    seq_writes, seq_errors, seq_cycles, *_ = run_stream([first, second], mem, config=CFG)
    assert (seq_writes, seq_errors) == (writes, errors)
    assert cycles < seq_cycles


@piped
def test_overlapped_loads_match_one_at_a_time():
    """Every kind of LOAD (int8 / fp16 / word rows, broadcast, ACC with a stalling port, fill
    and 2-D placement, int4, INT4_FP16 with its scale row, 2:4) and bus errors (in a scale row,
    in a 2:4 source row, in a dense row), offered back to back with overlap: the same row
    writes in the same order and the same errors as the unit without overlap, one command at a
    time."""
    from dure.rtl.npu.commands import WeightFormat

    rng = random.Random(22)
    mem = bytearray(rng.randbytes(256))
    spad8 = dict(target=LoadTarget.SPAD, elem=ElemType.INT8)
    acc = dict(target=LoadTarget.ACC, elem=ElemType.WORD32)
    cmds = [
        Command("load", dict(spad8, dram_addr=3, dram_stride=7, rows=4, cols=3, local_addr=2)),
        Command("load", dict(target=LoadTarget.SPAD, elem=ElemType.FP16,
                             weight_format=WeightFormat.INT4_FP16, dram_addr=21, dram_stride=2,
                             rows=3, cols=3, local_addr=4, scale_addr=100)),
        Command("load", dict(acc, dram_addr=160, dram_stride=12, rows=3, cols=2,
                             local_addr=4)),
        Command("load", dict(spad8, fill=1, fill_value=0x80, rows=3, cols=2, local_addr=1)),
        Command("load", dict(spad8, weight_format=WeightFormat.SPARSE24, dram_addr=40,
                             dram_stride=12, rows=12, cols=3, local_addr=0)),   # err: row 2
        Command("load", dict(spad8, weight_format=WeightFormat.INT4, dram_addr=8,
                             dram_stride=2, rows=2, cols=3, local_addr=5)),
        Command("load", dict(target=LoadTarget.SPAD, elem=ElemType.FP16,
                             weight_format=WeightFormat.INT4_FP16, dram_addr=20, dram_stride=2,
                             rows=3, cols=3, local_addr=0, scale_addr=120)),  # err: scale
        Command("load", dict(acc, dram_addr=200, dram_stride=0, rows=4, cols=1,
                             local_addr=12, broadcast=1)),
        Command("load", dict(spad8, dram_addr=9, dram_stride=6, rows=6, cols=3, local_addr=0,
                             local_cols=3, local_groups=2, local_row_step=1)),
        Command("load", dict(target=LoadTarget.SPAD, elem=ElemType.FP16, dram_addr=140,
                             dram_stride=10, rows=6, cols=2, local_addr=3)),  # err: row 4
        Command("load", dict(spad8, weight_format=WeightFormat.SPARSE24_INT4, dram_addr=71,
                             dram_stride=6, rows=4, cols=2, local_addr=1, local_cols=2,
                             local_groups=2, local_row_step=12)),
    ]
    mem[100:106] = bytes([0x00, 0x3C, 0x55, 0xB5, 0xFF, 0x7B])
    err = {30, (40 + 2 * 12) // 4, (140 + 4 * 10) // 4}
    for seed in range(3):
        got = run_stream(cmds, mem, config=OVERLAP, err_words=err, seed=seed)
        ref = run_stream(cmds, mem, config=CFG, err_words=err, seed=seed)
        assert got[1] == ref[1] == [0, 0, 0, 0, 1, 0, 1, 0, 0, 1, 0]
        assert got[0] == ref[0]
        assert got[2] < ref[2]
    clean = [c for i, c in enumerate(cmds) if i not in (4, 6, 9)]
    writes, errors, *_ = run_stream(clean, mem, config=OVERLAP)
    assert errors == [0] * len(clean)
    check_writes(writes, clean, mem)
