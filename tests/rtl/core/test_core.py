"""Core-level tests: short programs on the simulated core, checked through the retirement port.

The programs whose results do not depend on timing run on every core variant (the ``variant``
fixture of conftest.py: the five-stage core as ``full`` and ``small``, and the multi-cycle
``tiny`` core); the IPC tests and the elaboration checks are the five-stage core's own. The
branch predictor's tests are in test_core_predictor.py, traps and interrupts in
test_core_traps.py.
"""

import gc
import warnings

import pytest
from amaranth.back import verilog
from dure.rtl.core.core import Core
from dure.rtl.core.isa import CSR, MISA_VALUE
from dure.rtl.core.options import CoreOptions, core_options
from dure.sim.verif.asm import Program
from dure.sim.verif.core_bench import RAM_BASE, SLOW_BUS, run
from dure.sim.verif.core_loops import loop_cycles
from dure.sim.verif.core_random import compare

TIMINGS = [pytest.param({}, id="fast"), pytest.param(SLOW_BUS, id="slow")]

def test_elaborates_to_verilog():
    text = verilog.convert(Core(), emit_src=False, name="dure_core")
    assert "module dure_core" in text


def test_bad_parameters():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # the half-built Core is never elaborated
        with pytest.raises(ValueError, match="reset_vector must be a 4-byte aligned") as info:
            Core(reset_vector=2)
        del info
        gc.collect()


def test_bad_predictor_options():
    for kw, msg in ((dict(bht_entries=3), "bht_entries must be 0 or a power of two"),
                    (dict(btb_entries=-1), "btb_entries must be 0 or a power of two"),
                    (dict(ras_depth=33), "ras_depth must be an integer in 0..32"),
                    (dict(predictor=False), "need predictor=True"),
                    (dict(forwarding=False, load_store_forwarding=True),
                     "load_store_forwarding need forwarding=True")):
        with pytest.raises(ValueError, match=msg):
            CoreOptions(**kw)


@pytest.mark.parametrize("timing", TIMINGS)
def test_arithmetic_and_forwarding(timing, variant):
    p = Program()
    p.addi(1, 0, 5)
    p.addi(2, 1, 7)           # forwarded from M
    p.add(3, 1, 2)            # from W and M
    p.sub(4, 1, 3)
    p.li(5, RAM_BASE + 0x100)
    p.sw(3, 5, 0)
    p.lw(6, 5, 0)
    p.addi(7, 6, 1)           # load-use
    p.mul(8, 7, 7)
    p.add(9, 8, 1)            # mul-use
    p.div(11, 8, 2)           # div of a mul result
    p.rem(12, 8, 2)
    p.csrrw(13, CSR.MSCRATCH, 9)
    p.csrr(14, CSR.MSCRATCH)
    p.add(15, 14, 14)         # CSR-read-use
    p.halt()
    words = p.assemble()
    result = run(words, **timing)
    compare(words, result)
    regs = result.regs()
    assert regs[1:10] == [5, 12, 17, (5 - 17) & 0xFFFF_FFFF, RAM_BASE + 0x100, 17, 18, 324, 329]
    assert regs[11:16] == [324 // 12, 0, 0, 329, 658]


def test_ipc_straight_line():
    """Straight-line code (ALU, loads, stores, MUL; no dependent load) on one-cycle memory."""
    p = Program()
    p.li(10, RAM_BASE + 0x4000)
    for i in range(100):
        rd = 1 + i % 8
        if i % 10 == 3:
            p.sw(rd, 10, 4 * (i % 16))
        elif i % 10 == 6:
            p.lw(9, 10, 4 * (i % 16))
        elif i % 10 == 8:
            p.mul(rd, rd, 2)
        else:
            p.addi(rd, rd, i)
    p.halt()
    result = run(p)
    assert result.halted
    ipc = result.ipc()
    print(f"IPC straight-line = {ipc:.3f}")
    assert ipc >= 0.8


def test_ipc_loop():
    """A counted loop: the backward branch is predicted taken in D (one bubble)."""
    p = Program()
    p.li(1, 20)
    p.label("loop")
    for _ in range(6):
        p.addi(2, 2, 1)
    p.addi(1, 1, -1)
    p.bne(1, 0, "loop")
    p.halt()
    result = run(p)
    assert result.regs()[2] == 120
    assert result.ipc() >= 0.8


def _load_users(p, n):
    """A loop whose loaded values feed a store's data and a branch's comparison at once."""
    p.li(6, RAM_BASE + 0x400)
    p.li(7, 5)
    p.sw(7, 6, 0)
    p.li(8, n)
    p.label("loop")
    p.lw(10, 6, 0)
    p.sw(10, 6, 4)              # store data straight from the load
    p.lw(11, 6, 4)
    p.bne(11, 7, "fail")        # compares the loaded value (forward: not taken)
    p.lw(12, 6, 4)
    p.beq(7, 12, "next")        # ... as rs2, taken (the history table learns it)
    p.label("fail")
    p.li(13, 1)
    p.label("next")
    p.addi(8, 8, -1)
    p.bne(8, 0, "loop")
    p.halt()


@pytest.mark.parametrize("timing", TIMINGS)
def test_load_forwarding(timing):
    """A branch comparing a value loaded by the instruction just before it, and a store of
    such a value, take it from the load's answer in M: no bubble (one each without
    ``load_branch_forwarding`` / ``load_store_forwarding``, both off in the full core: the
    bus answer on X's paths cost too much clock). Results, and the operand values reported
    on the retirement port, match the reference with both on (slow buses too: M waits for
    the answer meanwhile)."""
    both = CoreOptions(load_branch_forwarding=True, load_store_forwarding=True)
    p = Program()
    _load_users(p, 12)
    words = p.assemble()
    result = run(words, max_cycles=4000, options=both, **timing)
    compare(words, result)
    assert result.regs()[13] == 0
    checked = 0
    for r in result.trace:
        opcode, rs1, rs2 = r["insn"] & 0x7F, (r["insn"] >> 15) & 31, (r["insn"] >> 20) & 31
        if opcode == 0x23 and rs2 == 10 or opcode == 0x63 and rs2 == 12:
            assert r["rs2_rdata"] == 5, r
            checked += 1
        if opcode == 0x63 and rs1 == 11:
            assert r["rs1_rdata"] == 5, r
            checked += 1
    assert checked == 3 * 12
    if timing:
        return
    fast = loop_cycles(_load_users, both)
    store = loop_cycles(_load_users, CoreOptions(load_store_forwarding=True))
    full = loop_cycles(_load_users, core_options("full"))
    late = loop_cycles(_load_users, core_options("full-late"))
    early = loop_cycles(_load_users, CoreOptions(late_branch=True, late_branch_requests=True))
    print(f"load -> store / branch loop: {fast} cycles per iteration with both forwardings, "
          f"{store} with the store's only, {full} on the full core (neither), {late} with "
          f"branches resolved in M (full-late), {early} when the load behind one may request")
    # 8 instructions (taken branches from the buffer); 2 loads -> branches, 1 load -> store;
    # full-late resolves both branches in M (no bubble), but the load right behind the first
    # waits one cycle (no data request while M resolves a branch; not with
    # late_branch_requests), the store one
    assert (fast, store, full, late, early) == (8, 8 + 2, 8 + 3, 8 + 2, 8 + 1)


def test_csr_values(variant):
    p = Program()
    p.csrr(1, CSR.MISA)
    p.csrr(2, CSR.MSTATUS)
    p.li(3, 0xFFFF_FFFF)
    p.csrw(CSR.MSTATUS, 3)
    p.csrr(4, CSR.MSTATUS)
    p.csrw(CSR.MEPC, 3)
    p.csrr(5, CSR.MEPC)
    p.csrw(CSR.MIE, 3)
    p.csrr(6, CSR.MIE)
    p.csrw(CSR.MISA, 0)
    p.csrr(7, CSR.MISA)
    p.csrr(8, CSR.MHARTID)
    p.csrr(9, CSR.MSTATUSH)
    p.csrw(CSR.MTVEC, 3)
    p.csrr(11, CSR.MTVEC)
    p.csrr(12, CSR.MINSTRET)          # 16 instructions retired before this one
    p.csrw(CSR.MINSTRET, 3)           # the write replaces this instruction's increment
    p.csrr(13, CSR.MINSTRET)
    p.csrr(14, CSR.MINSTRETH)
    p.csrr(15, CSR.TIME)
    p.csrr(16, CSR.TIMEH)
    p.csrr(17, CSR.CYCLE)
    p.csrr(18, CSR.MCYCLE)
    p.csrw(CSR.MSTATUS, 0)
    p.csrw(CSR.MCYCLEH, 3)
    p.csrr(19, CSR.MCYCLEH)
    p.csrr(21, 0xB03)                 # mhpmcounter3: reads zero
    p.csrw(0xB03, 3)                  # and ignores writes
    p.halt()
    result = run(p, mtime=0x1234_5678_9ABC_DEF0)
    regs = result.regs()
    assert regs[1] == MISA_VALUE == regs[7]
    assert regs[2] == 0x1800 and regs[4] == 0x1888 | 1 << 17 | 1 << 21   # MPP = M, MPRV, TW
    assert regs[5] == 0xFFFF_FFFC and regs[6] == 0x888
    assert regs[8] == 0 and regs[9] == 0 and regs[11] == 0xFFFF_FFFD
    assert regs[12] == 16 and regs[13] == 0xFFFF_FFFF and regs[14] == 1
    assert (regs[15], regs[16]) == (0x9ABC_DEF0, 0x1234_5678)
    assert 0 < regs[17] < regs[18] < 100
    assert regs[19] == 0xFFFF_FFFF and regs[21] == 0
    assert not any(r["trap"] for r in result.trace)


@pytest.mark.parametrize("timing", TIMINGS)
def test_fence_i_refetches_modified_code(timing, variant):
    p = Program()
    new = Program()
    new.addi(5, 0, 2)
    p.li(1, new.assemble()[0])
    p.auipc(2, 0)
    p.sw(1, 2, 16)                     # overwrite the instruction after fence.i
    p.fence()
    p.fence_i()
    p.addi(5, 0, 1)                    # replaced by addi x5, x0, 2
    p.halt()
    result = run(p, **timing)
    assert result.halted
    assert result.regs()[5] == 2
