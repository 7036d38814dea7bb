"""DmaReader with ``overlap``: back-to-back commands keep the bus busy, rows and done / error
pulses stay per command and in order, an err answer stops only the command that asked for the
word."""

import random

import pytest
from dure.rtl.npu.dma_reader import DmaReader
from dure.sim.verif.bus import simulate
from dure.sim.verif.npu_datapath import MemoryTarget, send_stream

MAXR = 12
MEM = 512


def covered(cmd, r):
    """Word addresses row ``r`` of ``cmd`` covers."""
    start = cmd["addr"] + r * cmd["stride"]
    return range(start // 4, (start + cmd["row_bytes"] - 1) // 4 + 1)


def expected(mem, cmd, err_words):
    """(rows, error) of ``cmd`` alone: the rows before the first one touching an err word."""
    rows = []
    for r in range(cmd["rows"]):
        if any(w in err_words for w in covered(cmd, r)):
            return rows, 1
        start = cmd["addr"] + r * cmd["stride"]
        rows.append(bytes(mem[start:start + cmd["row_bytes"]]))
    return rows, 0


def random_cmd(rng):
    row_bytes = rng.randint(1, MAXR)
    rows = rng.randint(1, 6)
    stride = rng.choice([row_bytes, row_bytes + rng.randint(0, 9)]) if rows > 1 else 0
    addr = rng.randint(0, MEM - (rows - 1) * stride - row_bytes)
    return {"addr": addr, "stride": stride, "rows": rows, "row_bytes": row_bytes}


def run(cmds, mem, *, overlap=True, err_words=(), latency=6, jitter=0, gnt=1.0, ready=1.0,
        seed=0):
    """Stream ``cmds`` into a reader (no gap between them), collect each command's rows and
    error; returns (results, bus log, response log, cycles)."""
    dut = DmaReader(MAXR, depth=8, overlap=overlap)
    target = MemoryTarget(dut.bus, mem, latency=latency, jitter=jitter, gnt_probability=gnt,
                          seed=seed, err_words=set(err_words))
    rng = random.Random(seed)
    out, state = [], {"cycles": 0}

    async def feed(ctx):
        await send_stream(ctx, dut.cmd, cmds)

    async def collect(ctx):
        rows = []
        while len(out) < len(cmds):
            rdy = int(rng.random() < ready)
            ctx.set(dut.rows.ready, rdy)
            _, _, valid, payload, done, error = await ctx.tick().sample(
                dut.rows.valid, dut.rows.payload, dut.done, dut.error)
            state["cycles"] += 1
            assert state["cycles"] < 20_000, "timeout"
            if valid and rdy:
                rows.append(payload)
            if done:
                n = cmds[len(out)]["row_bytes"]
                out.append(([r.to_bytes(MAXR, "little")[:n] for r in rows], error))
                rows = []

    simulate(dut, [collect], [target.serve, feed])
    return out, target.log, target.responses, state["cycles"]


def test_overlap_keeps_the_bus_busy():
    """Three 4-row commands of 8 bytes: with overlap every command's first request follows the
    previous one's last without a gap, before its responses are in; the same rows as without."""
    mem = bytearray(random.Random(1).randbytes(MEM))
    cmds = [{"addr": 8 + 64 * i, "stride": 12, "rows": 4, "row_bytes": 8} for i in range(3)]
    got, log, resps, cycles = run(cmds, mem, latency=4)
    ref, _, _, cycles_ref = run(cmds, mem, overlap=False, latency=4)
    assert got == ref == [expected(mem, c, ()) for c in cmds]
    grants = [c for c, *_ in log]
    assert len(grants) == 24 and grants == list(range(grants[0], grants[0] + 24))
    # Command 1's first word is granted before command 0's last response arrives.
    assert grants[8] < resps[7][0]
    assert cycles <= cycles_ref - 2 * 4


@pytest.mark.parametrize("latency,jitter,gnt,ready", [
    (6, 0, 1.0, 1.0), (3, 4, 0.6, 0.5), (10, 2, 0.8, 0.3), (1, 0, 1.0, 0.8),
])
def test_random_commands_with_errors(latency, jitter, gnt, ready):
    """Random back-to-back commands, some words answering err: each command's rows and error
    are exactly those it would have alone."""
    rng = random.Random(latency * 31 + jitter)
    mem = bytearray(rng.randbytes(MEM))
    cmds = [random_cmd(rng) for _ in range(30)]
    err_words = set(rng.sample(range(MEM // 4), 3))
    got, *_ = run(cmds, mem, err_words=err_words, latency=latency, jitter=jitter, gnt=gnt,
                  ready=ready, seed=latency)
    assert got == [expected(mem, c, err_words) for c in cmds]
    assert any(err for _, err in got) and not all(err for _, err in got)


def test_error_in_the_first_command_spares_the_second():
    """An err answer to the first command arrives after the second one's requests started: the
    first fails from the failing row on, the second delivers all of its rows."""
    mem = bytearray(random.Random(3).randbytes(MEM))
    first = {"addr": 0, "stride": 12, "rows": 4, "row_bytes": 12}
    second = {"addr": 256, "stride": 8, "rows": 6, "row_bytes": 8}
    err_words = {(3 * 12) // 4 + 2}                   # first's last word
    got, log, resps, _ = run([first, second], mem, err_words=err_words, latency=8)
    assert got == [expected(mem, first, err_words), expected(mem, second, err_words)]
    assert got[0][1] == 1 and len(got[0][0]) == 3 and got[1] == (got[1][0], 0)
    err_cycle = next(c for c, e in resps if e)
    assert min(c for c, a, *_ in log if a >= 64) < err_cycle
