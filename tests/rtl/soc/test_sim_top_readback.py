"""SimTop's read-back port: words written through the loader (or by the program) read back
while the core is held, pipelined, with the bus error of an unmapped address; loader writes and
reads never overlap."""

from dure.rtl.soc.sim_top import SimTop
from dure.sim.verif.bus import simulate

from dure.config import SoCConfig

CONFIG = SoCConfig(ram_size=1024, main_size=1024, main_latency=3, npu_rows=0)
MAIN, RAM = CONFIG.region("main").base, CONFIG.region("ram").base


def _session(loads, reads, *, gap_every=0):
    """Load ``[(addr, word)]``, then immediately (no idle cycle) read ``[addr]`` back;
    returns ``[(rdata, err)]`` in order. ``gap_every`` drops read_valid on some cycles."""
    dut = SimTop(CONFIG)
    answers = []

    async def bench(ctx):
        ctx.set(dut.hold, 1)
        for addr, word in loads:
            ctx.set(dut.load_valid, 1)
            ctx.set(dut.load_addr, addr)
            ctx.set(dut.load_data, word)
            while True:
                *_, ready = await ctx.tick().sample(dut.load_ready)
                if ready:
                    break
        ctx.set(dut.load_valid, 0)
        issued, cycle = 0, 0
        while len(answers) < len(reads):
            cycle += 1
            want = issued < len(reads) and not (gap_every and cycle % gap_every == 0)
            ctx.set(dut.read_valid, want)
            if want:
                ctx.set(dut.read_addr, reads[issued])
            *_, ready, rvalid, rdata, err = await ctx.tick().sample(
                dut.read_ready, dut.read_rvalid, dut.read_rdata, dut.read_err)
            if want and ready:
                issued += 1
            if rvalid:
                answers.append((rdata, err))
            assert cycle < 500, "read-back stalled"

    simulate(dut, [bench])
    return answers


def test_read_back_main_memory_and_ram():
    loads = [(MAIN + 4 * i, 0x1000 + i) for i in range(6)] + [(RAM + 8, 0xDEADBEEF)]
    reads = [MAIN + 4 * i for i in range(6)] + [RAM + 8, MAIN + 2]
    answers = _session(loads, reads)
    assert answers == [(0x1000 + i, 0) for i in range(6)] + [(0xDEADBEEF, 0), (0x1000, 0)]


def test_read_back_with_gaps():
    loads = [(MAIN + 4 * i, i * 0x01010101) for i in range(8)]
    answers = _session(loads, [MAIN + 4 * i for i in reversed(range(8))], gap_every=3)
    assert [a for a, _ in answers] == [i * 0x01010101 for i in reversed(range(8))]


def test_unmapped_read_answers_err():
    answers = _session([(MAIN, 7)], [MAIN, 0x2000_0000, MAIN])
    assert [e for _, e in answers] == [0, 1, 0]
    assert answers[0][0] == answers[2][0] == 7
