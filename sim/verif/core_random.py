"""Random program generator for the core tests, and a trace comparison against the reference.

The comparison is lock-step on the retirement port: every record of the core must equal the
reference model's (:mod:`dure.sim.verif.core_ref`) for the same instruction, traps included.
Trap handlers read mcause, mtval, mstatus and mepc into registers, so those CSRs are compared
after every exception and interrupt. Asynchronous interrupts are timing-dependent, so the
core decides *when* one is taken; the comparison then checks that it was allowed (vectored
mode, an implemented interrupt enabled in mie, mstatus.MIE set) and takes it in the reference
with the trap-entry rules of :mod:`dure.sim.verif.priv_spec` (written from the privileged
specification, not from the RTL): mepc = the next instruction in program order, mcause, mtval
= 0, MPIE = MIE, MIE = 0; the handler's records, its CSR reads and the MRET are then compared
like any other.
"""

import random

from dure.rtl.core.isa import CSR
from dure.sim.verif.asm import Program

from .core_bench import IRQ_BASE, RAM_BASE, MemoryModel, Timing, run
from .core_ref import Reference
from .coverage import cover
from .priv_spec import INTERRUPT_CODES, PRIV_M, PRIV_U, TCONTROL_BITS, TrapState, trap_entry

DATA = RAM_BASE + 0x8000
REGS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13]   # x10: data pointer, x30: trap handler
ALU_R = ["add", "sub", "sll", "slt", "sltu", "xor", "srl", "sra", "or_", "and_"]
MULDIV = ["mul", "mulh", "mulhsu", "mulhu", "div", "divu", "rem", "remu"]
ALU_I = ["addi", "slti", "sltiu", "xori", "ori", "andi"]
SHIFT_I = ["slli", "srli", "srai"]
LOADS = ["lb", "lh", "lw", "lbu", "lhu"]
STORES = ["sb", "sh", "sw"]
BRANCHES = ["beq", "bne", "blt", "bge", "bltu", "bgeu"]
SPECIAL = [0x1234_5678 & ~0x7F | 0x7F, 0, 0xFFFF_FFFF, 0x3050_1073 | 1 << 31]  # illegal words
INTERESTING = [0, 1, -1, 0x7FFF_FFFF, -0x8000_0000, 2, -2, 31, 32]
#: Bus timings the random-program tests cycle through (seed modulo the length picks one).
TIMINGS = [
    {},
    dict(ibus=Timing(0.6, 3), dbus=Timing(0.5, 3)),
    dict(ibus=Timing(1.0, 2)),
    dict(dbus=Timing(0.3, 0)),
]


def _privileged_setup(p, rng):
    """PMP entries and a trigger at random around the data area, then MRET to U-mode.

    Entries 0..3: random mode (OFF / TOR / NA4 / NAPOT up to 64 bytes; no TOR for entry 0,
    whose range would start at 0), permissions and lock bits near ``DATA``; entry 4: NAPOT
    RWX over the code (32 KiB) or all of RAM (64 KiB, the data area too). The trigger (U bit
    set, random L / S / X) watches a data word or a unit of the program. Uses x31 (the
    interrupt handler's register, unused here)."""
    base = DATA >> 2
    for i in range(4):
        mode = rng.choice([0, 1, 2, 3, 3] if i else [0, 2, 3])   # TOR from 0 would cover code
        addr = base + rng.randrange(-16, 16)
        if mode == 3:
            addr = (addr & ~15) | ((1 << rng.randint(0, 3)) - 1)
        cfg = mode << 3 | rng.choice([0, 1, 3, 4, 5, 7]) | (0x80 if rng.random() < 0.2 else 0)
        p.li(31, addr)
        p.csrw(0x3B0 + i, 31)
        p.li(31, cfg << 8 * i)
        p.csrrs(0, 0x3A0, 31)
    p.li(31, (0x8000_0000 >> 2) | (0xFFF if rng.random() < 0.5 else 0x1FFF))
    p.csrw(0x3B4, 31)
    p.li(31, (3 << 3 | 7))
    p.csrw(0x3A1, 31)
    if rng.random() < 0.7:
        if rng.random() < 0.6:
            p.li(31, DATA + rng.randrange(-64, 64, 4))
        else:
            p.li(31, 0)    # patched by the caller: a unit's address
            p.label("trigger_unit")
        p.csrw(CSR.TDATA2, 31)
        p.li(31, 2 << 28 | 1 << 3 | rng.choice([1, 2, 3, 4, 7]))
        p.csrw(CSR.TDATA1, 31)
    p.li(31, 0x1800)
    p.csrrc(0, CSR.MSTATUS, 31)
    p.auipc(31, 0)
    p.addi(31, 31, 12)
    p.csrw(CSR.MEPC, 31)
    p.mret()


def _handlers(p, interrupts):
    """Emit the trap handlers of :func:`random_program` at the end of ``p``; returns the value
    for mtvec (vectored with ``interrupts``: the interrupt vectors lead to the handler that
    clears the line, reads mepc, mstatus and mtval and takes a nested ECALL; else direct to
    the exception handler, which reads mcause, mtval, mstatus and returns to mepc + 4)."""
    table = None
    if interrupts:
        table = p.pc | 1
        p.jal(0, "exc")
        for cause in range(1, 12):
            if cause in (3, 7, 11):
                p.jal(0, "irq")
            else:
                p.nop()
        p.label("irq")
        p.csrrs(31, CSR.MCAUSE, 0)
        p.andi(31, 31, 15)
        p.srli(31, 31, 2)
        p.slli(31, 31, 2)
        p.add(31, 31, 28)
        p.sw(0, 31, 0)
        for csr in (CSR.MEPC, CSR.MSTATUS, CSR.MTVAL):    # compared with the reference
            p.csrrs(29, csr, 0)
        # A nested trap: save mepc and mstatus, ECALL (the exception handler returns past it
        # with MPIE = 0 from the handler's MIE), restore, return from the interrupt.
        p.csrrs(26, CSR.MEPC, 0)
        p.csrrs(27, CSR.MSTATUS, 0)
        p.ecall()
        p.csrrw(0, CSR.MEPC, 26)
        p.csrrw(0, CSR.MSTATUS, 27)
        p.mret()
    p.label("exc")
    for csr in (CSR.MCAUSE, CSR.MTVAL, CSR.MSTATUS):      # compared with the reference
        p.csrrs(31, csr, 0)
    p.csrrs(30, CSR.MEPC, 0)
    p.addi(30, 30, 4)
    p.csrrw(0, CSR.MEPC, 30)
    p.mret()
    return table if interrupts else p._labels["exc"]


def _assemble_with_handlers(p, interrupts):
    """Emit the handlers (:func:`_handlers`) at the end of ``p`` and assemble it, with the
    mtvec value patched into the program's first two words (the ``li x30, 0`` placeholder
    both program builders start with)."""
    table = _handlers(p, interrupts)
    words = p.assemble()
    patch = Program()
    patch.li(30, table)
    code = patch.assemble()
    assert len(code) == 2, "the handler address needs the two-word li of the placeholder"
    words[0:2] = code
    return words


def random_program(seed, length=60, traps=True, muldiv=True, interrupts=False,
                   misaligned_data=True, privileged=False):
    """Random code (units of one or two instructions; branches and jumps land on units).

    Traps go to a handler that reads mcause, mtval and mstatus, then resumes at mepc + 4. With
    ``interrupts``, mtvec is vectored and the interrupt vectors lead to a handler that clears
    the line (through the bench's MMIO), reads mepc, mstatus and mtval, takes a nested ECALL
    (saving and restoring mepc and mstatus around it), and returns;
    :func:`irq_region` gives the addresses of that handler. ``misaligned_data`` off keeps every
    load and store aligned; the random choices are the same either way, so a seed gives the
    same program otherwise. With ``privileged`` the units run in U-mode under random PMP
    entries and a random trigger (the handler runs in M and returns to U); CSR accesses in the
    units then trap as illegal instructions.
    """
    rng = random.Random(seed)
    p = Program()
    p.li(30, 0)       # patched below: handler address
    p.csrw(CSR.MTVEC, 30)
    p.li(10, DATA)
    if interrupts:
        p.li(28, IRQ_BASE)
        p.li(29, 0x888)
        p.csrw(CSR.MIE, 29)
        p.csrrsi(0, CSR.MSTATUS, 8)
    for r in REGS:
        v = rng.choice(INTERESTING) if rng.random() < 0.3 else rng.getrandbits(32)
        p.li(r, v)
    if privileged:
        _privileged_setup(p, rng)
    for n in range(length):
        p.label(f"u{n}")
        r = rng.random
        rd, rs1, rs2 = rng.choice(REGS), rng.choice(REGS), rng.choice(REGS)
        ahead = f"u{n + rng.randint(1, 3)}"
        kind = r()
        if kind < 0.25:
            getattr(p, rng.choice(ALU_R))(rd, rs1, rs2)
        elif kind < 0.40:
            getattr(p, rng.choice(ALU_I))(rd, rs1, rng.randint(-2048, 2047))
        elif kind < 0.45:
            getattr(p, rng.choice(SHIFT_I))(rd, rs1, rng.randint(0, 31))
        elif kind < 0.50:
            rng.choice([p.lui, p.auipc])(rd, rng.getrandbits(20))
        elif kind < 0.58 and muldiv:
            getattr(p, rng.choice(MULDIV))(rd, rs1, rs2)
        elif kind < 0.70:
            off = rng.randrange(-64, 64, 1 if r() < 0.25 else 4)
            off = off if misaligned_data else off & ~3
            getattr(p, rng.choice(LOADS))(rd, 10, off)
        elif kind < 0.80:
            off = rng.randrange(-64, 64, 1 if r() < 0.25 else 4)
            off = off if misaligned_data else off & ~3
            getattr(p, rng.choice(STORES))(rs2, 10, off)
        elif kind < 0.88:
            getattr(p, rng.choice(BRANCHES))(rs1, rs2, ahead)
        elif kind < 0.91:
            p.jal(rd, ahead)
        elif kind < 0.93:
            p.auipc(rd, 0)
            p.jalr(rd, rd, rng.choice([8, 12, 10, 11] if traps else [8, 12]))
        elif kind < 0.96:
            p.csrrw(rd, CSR.MSCRATCH, rs1)
            p.csrrs(rs2, CSR.MSCRATCH, 0)
        elif traps:
            rng.choice([p.ecall, p.ebreak, lambda: p.word(rng.choice(SPECIAL))])()
        else:
            p.nop()
    for n in range(length, length + 4):
        p.label(f"u{n}")
        p.nop()
    # Backward loop: a counter that runs a few times.
    p.li(14, 3)
    p.label("loop")
    p.addi(15, 15, 7)
    p.addi(14, 14, -1)
    p.bne(14, 0, "loop")
    p.nop()
    p.nop()
    p.halt()
    words = _assemble_with_handlers(p, interrupts)
    if "trigger_unit" in p._labels:
        at = (p._labels["trigger_unit"] - RAM_BASE) // 4
        patch = Program()
        patch.li(31, p._labels[f"u{rng.randrange(length)}"])
        code = patch.assemble()
        words[at - len(code):at] = code
    return words


def irq_region(words):
    """(first, end) addresses of the interrupt vectors and handler of a random program."""
    halt = RAM_BASE + 4 * words.index(0x0000_006F)
    return halt + 8, halt + 4 * (1 + 12 + 15)


#: Part of the data area answers bus errors in the random tests (access faults).
ERR_RANGES = ((DATA + 32, DATA + 48),)


def take_interrupt(ref, got):
    """The core took an asynchronous interrupt before ``got`` (the first record of its
    handler): check it was allowed and take it in the reference ``ref`` per
    :func:`~dure.sim.verif.priv_spec.trap_entry`. Returns the interrupt code."""
    mtvec = ref.csrs[CSR.MTVEC]
    base = mtvec & ~3
    assert mtvec & 3 == 1, "an interrupt in direct mode: the comparison needs vectored mode"
    code, rest = divmod(got["pc_rdata"] - base, 4)
    assert rest == 0 and code in INTERRUPT_CODES.values(), \
        f"handler entered at {got['pc_rdata']:#x}, not an interrupt vector of {base:#x}"
    assert ref.mie_bit or not ref.priv_m, \
        f"interrupt {code} taken in M-mode with mstatus.MIE clear (pc {ref.pc:#x})"
    assert ref.csrs[CSR.MIE] >> code & 1, f"interrupt {code} taken while disabled in mie"
    tc = ref.csrs[CSR.TCONTROL]
    state = TrapState(mie=ref.mie_bit, mpie=ref.mpie_bit, mtvec=mtvec,
                      priv=PRIV_M if ref.priv_m else PRIV_U,
                      mpp=PRIV_M if ref.mpp_m else PRIV_U,
                      mte=tc >> TCONTROL_BITS["MTE"] & 1, mpte=tc >> TCONTROL_BITS["MPTE"] & 1)
    ref.pc = trap_entry(state, pc=ref.pc, code=code, interrupt=True)
    ref.csrs[CSR.MEPC], ref.csrs[CSR.MCAUSE], ref.csrs[CSR.MTVAL] = \
        state.mepc, state.mcause, state.mtval
    ref.mie_bit, ref.mpie_bit = state.mie, state.mpie
    # The privilege half (MPP = the old level, the hart enters M; tcontrol MPTE = MTE, MTE = 0).
    ref.mpp_m, ref.priv_m = int(state.mpp == PRIV_M), int(state.priv == PRIV_M)
    ref.csrs[CSR.TCONTROL] = (state.mte << TCONTROL_BITS["MTE"] |
                              state.mpte << TCONTROL_BITS["MPTE"])
    return code


def _cover_masked(ref, got):
    """Coverage of interrupt lines high while masked (``core.irq_enable``) at the retirement of
    ``got``: disabled in mie, or globally by mstatus.MIE = 0 in M-mode. The comparison checks
    that no interrupt is taken then (:func:`take_interrupt` refuses a masked one)."""
    for line, code in enumerate((3, 7, 11)):
        if got.get("irq", (0, 0, 0))[line]:
            if not ref.csrs[CSR.MIE] >> code & 1:
                cover("core.irq_enable", f"{code}/masked_mie")
            elif ref.priv_m and not ref.mie_bit:
                cover("core.irq_enable", f"{code}/masked_mstatus")


def _situation(prev, insn, interrupt):
    """What the record ``prev`` retired just before a trap of ``insn`` (or an interrupt) was,
    for the functional coverage (:mod:`dure.sim.verif.coverage`)."""
    if prev is None:
        return "plain"
    op, rd = prev["insn"] & 0x7F, prev["insn"] >> 7 & 31
    if interrupt and prev["insn"] == 0x3020_0073:
        return "after_trap_return"
    if interrupt and prev["insn"] == 0x1050_0073:
        return "after_wfi"
    if prev["pc_wdata"] != (prev["pc_rdata"] + 4) & 0xFFFF_FFFF and not prev["trap"]:
        return "branch_shadow"
    if op == 0x03:
        if interrupt:
            return "after_load"
        if rd and rd in (insn >> 15 & 31, insn >> 20 & 31):
            return "load_use"
    if op == 0x33 and prev["insn"] >> 25 == 1:
        return "after_muldiv" if interrupt else "muldiv"
    if op == 0x23:
        return "after_store"
    return "plain"


def compare(words, result, data=None, err_ranges=ERR_RANGES, max_steps=5000, skip=None,
            interrupts=False, seen=None, pmp_entries=16, triggers=1):
    """Check the core's trace against the reference; return the reference.

    ``skip``: (first, end) addresses whose records are left out. With ``interrupts``, a
    record with ``intr`` that does not follow a trapping one is an asynchronous interrupt,
    checked and taken in the reference by :func:`take_interrupt`; without, it is an error.
    ``seen`` (a dict) receives counts of what happened: ``("trap", mcause)`` per exception,
    ``("irq", code)`` per interrupt, ``("irq_at", "code/situation")`` per interrupt and what
    retired just before it (the bins of the ``core.interrupt`` coverpoints). ``pmp_entries``,
    ``triggers``: those of the core."""
    mem = MemoryModel(words, err_ranges=err_ranges)
    for addr, value in (data or {}).items():
        mem.words[addr >> 2] = value
    ref = Reference(mem, RAM_BASE, pmp_entries=pmp_entries, triggers=triggers)
    prev_trap = False
    assert not result.protocol_errors, result.protocol_errors
    trace = [r for r in result.trace if skip is None or not skip[0] <= r["pc_rdata"] < skip[1]]
    prev = None
    for i, got in enumerate(trace):
        if interrupts:
            _cover_masked(ref, got)
        if interrupts and got["intr"] and not prev_trap:
            code = take_interrupt(ref, got)
            prev_trap = True
            cover("core.irq_enable", f"{code}/taken_{'m' if ref.mpp_m else 'u'}")
            cover("core.interrupt", f"{code}/{_situation(prev, 0, True)}")
            if seen is not None:
                seen[("irq", code)] = seen.get(("irq", code), 0) + 1
                at = ("irq_at", f"{code}/{_situation(prev, 0, True)}")
                seen[at] = seen.get(at, 0) + 1
        want = ref.step()
        if want["trap"]:
            cause = ref.csrs[CSR.MCAUSE]
            cover("core.trap", cause)
            if interrupts and not ref.mpie_bit:
                cover("core.nested", f"{cause}/in_interrupt_handler")
            cover("core.trap_situation", f"{cause}/{_situation(prev, want['insn'], False)}")
            if seen is not None:
                seen[("trap", cause)] = seen.get(("trap", cause), 0) + 1
        got_cmp = {k: got[k] for k in want}
        assert got_cmp == want, (f"record {i}:\n got  " +
                                 " ".join(f"{k}={v:#x}" for k, v in got_cmp.items()) +
                                 "\n want " + " ".join(f"{k}={v:#x}" for k, v in want.items()))
        assert got["intr"] == prev_trap, f"record {i}: intr={got['intr']}"
        prev_trap = bool(want["trap"])
        prev = got
        assert i < max_steps
    assert result.halted, f"did not halt in {result.cycles} cycles"
    assert mem.words == result.mem.words, "memory differs"
    return ref


def run_random(seed, **kw):
    words = random_program(seed)
    result = run(words, seed=seed, max_cycles=4000, err_ranges=ERR_RANGES, **kw)
    compare(words, result)
    return result


def run_random_privileged(seed, **kw):
    """Random program in U-mode under random PMP entries and a trigger (see
    :func:`random_program`), against the reference."""
    words = random_program(seed, privileged=True)
    result = run(words, seed=seed, max_cycles=5000, err_ranges=ERR_RANGES, **kw)
    compare(words, result)
    return result


#: The two lock-step comparisons of the interrupt runs: the reference model with priv_spec's
#: trap entry (:func:`compare`) and Unicorn with it (:func:`~dure.sim.verif.core_unicorn.
#: compare_unicorn`).
CHECKS = ("reference", "unicorn")


def _check_interrupt_run(words, result, checks, seen=None, max_steps=5000, err_ranges=()):
    unknown = set(checks) - set(CHECKS)
    if unknown:
        raise ValueError(f"unknown checks {sorted(unknown)}; choose from {CHECKS}")
    if "reference" in checks:
        compare(words, result, interrupts=True, seen=seen, max_steps=max_steps,
                err_ranges=err_ranges)
    if "unicorn" in checks:
        from .core_unicorn import compare_unicorn
        compare_unicorn(words, result, err_ranges, interrupts=True, max_steps=max_steps)


def run_random_interrupts(seed, pulses=8, seen=None, checks=CHECKS, **kw):
    """Random program with interrupt pulses at random times (the handler clears the line);
    every record, the handler's included, must match the reference, which takes each
    interrupt where the core did (:func:`take_interrupt`), and Unicorn, into which the
    interrupt is injected at the same retired instruction
    (:func:`~dure.sim.verif.core_unicorn.compare_unicorn`). ``checks``: which of the two
    (:data:`CHECKS`)."""
    words = random_program(seed, interrupts=True)
    rng = random.Random(seed + 1000)
    schedule = [(rng.randint(40, 500), rng.randrange(3), 1) for _ in range(pulses)]
    result = run(words, seed=seed, max_cycles=5000, err_ranges=ERR_RANGES,
                 irq_schedule=schedule, **kw)
    _check_interrupt_run(words, result, checks, seen=seen, err_ranges=ERR_RANGES)
    return result


def interrupt_phase_program(iterations=240, wfi=False, user=False):
    """A loop in which the instruction before an interrupt can be each situation of the
    ``core.interrupt`` coverpoints: a load, its use, a store, a multiply, plain ALU work, a
    taken forward branch, a JAL, the loop's backward branch; every interrupt masked in mie
    over part of the loop (a pulse then waits; not with ``wfi`` or ``user``); with
    the trap handlers of
    :func:`random_program` (interrupts on, vectored, nested ECALL). With ``wfi`` every
    iteration also waits in a WFI for the next interrupt (taken with mepc = the WFI + 4).
    With ``user`` the loop runs in U-mode (one PMP entry, NAPOT RWX over the RAM; no mie
    masking, a CSR access would trap), where interrupts are enabled whatever mstatus.MIE
    says; each is taken into M-mode and its MRET returns to U."""
    p = Program()
    p.li(30, 0)       # patched below: handler address
    p.csrw(CSR.MTVEC, 30)
    p.li(10, DATA)
    p.li(28, IRQ_BASE)
    p.li(29, 0x888)
    p.csrw(CSR.MIE, 29)
    p.csrrsi(0, CSR.MSTATUS, 8)
    p.li(14, iterations)
    p.li(1, 3)
    p.li(25, 0x888)          # mie.MSIE, MTIE, MEIE
    if user:
        p.li(24, (RAM_BASE >> 2) | 0x1FFF)     # NAPOT, 64 KiB
        p.csrw(0x3B0, 24)
        p.li(24, 3 << 3 | 7)
        p.csrw(0x3A0, 24)
        p.li(24, 0x1800)
        p.csrrc(0, CSR.MSTATUS, 24)            # MPP = U
        p.auipc(24, 0)
        p.addi(24, 24, 12)
        p.csrw(CSR.MEPC, 24)
        p.mret()
    p.label("loop")
    mask = not (user or wfi)
    if mask:
        p.csrrc(0, CSR.MIE, 25)  # every interrupt masked in mie for a few instructions
    p.lw(2, 10, 0)
    p.add(3, 2, 1)           # uses the load
    p.sw(3, 10, 0)
    p.mul(4, 3, 1)
    if mask:
        p.csrrs(0, CSR.MIE, 25)
    p.addi(5, 4, 1)
    if wfi:
        p.wfi()
    p.beq(0, 0, "skip")      # taken forward branch
    p.nop()
    p.label("skip")
    p.jal(6, "on")           # jump to the next word: a redirect all the same
    p.label("on")
    p.addi(14, 14, -1)
    p.bne(14, 0, "loop")
    p.nop()
    p.nop()
    p.halt()
    return _assemble_with_handlers(p, True)


def run_interrupt_phases(seed=0, pulses=45, seen=None, wfi=False, user=False, checks=CHECKS,
                         **kw):
    """:func:`interrupt_phase_program` with ``pulses`` interrupt pulses (lines in turn:
    software, timer, external) 65 to 104 cycles apart at random (``seed``), longer than the
    handler and a loop iteration (up to ~62 cycles with D's redirect registered), so that
    over the run each line arrives at every point of the loop; compared in lock-step
    with the reference like :func:`run_random_interrupts` (each interrupt taken per
    priv_spec's trap entry). ``wfi``: the program waits in a WFI every iteration (one
    iteration per pulse); ``user``: the loop runs in U-mode (compared with the reference
    alone: the Unicorn lock-step is M-mode only). ``checks``: as :func:`run_random_interrupts`.
    """
    words = interrupt_phase_program(pulses if wfi else 240, wfi=wfi, user=user)
    rng = random.Random(seed)
    schedule, when = [], 80
    for k in range(pulses):
        schedule.append((when, k % 3, 1))
        when += rng.randrange(65, 105)
    result = run(words, max_cycles=when + 3000, irq_schedule=schedule, **kw)
    if user:
        checks = [c for c in checks if c != "unicorn"]
    _check_interrupt_run(words, result, checks, seen=seen, max_steps=20000, err_ranges=())
    return result


def check_shifts_every_amount(max_cycles):
    """Every shift amount of SLL / SRL / SRA (register and immediate forms) on values with the
    sign bit set and clear, on the bench's core, against the reference model (cores that shift
    on the multiplier have a special case at 0)."""
    p = Program()
    p.li(1, 0x8765_4321)
    p.li(2, 0x1234_5678)
    p.li(10, RAM_BASE + 0x8000)
    for n in range(32):
        p.li(3, n | 0x40)                      # only the low five bits count
        for op in ("sll", "srl", "sra"):
            for src in (1, 2):
                getattr(p, op)(4, src, 3)
                getattr(p, op + "i")(5, src, n)
                p.sub(6, 4, 5)
                p.sw(6, 10, 0)                 # 0 when both forms agree
    p.halt()
    words = p.assemble()
    compare(words, run(words, max_cycles=max_cycles))


def trap_situation_program():
    """Directed exceptions in the situations the random programs do not reach (the
    ``core.trap_situation`` / ``core.trap`` bins they leave): a jump to a misaligned target
    (mcause 0) in the shadow of a taken jump, using a loaded register, after a multiply and
    after a store; an illegal instruction whose rs1 field names a register just loaded; a load
    through a just-loaded pointer into the bus-error range (5); ECALL after a store in M (11)
    and in U-mode (8); a fetch from the bus-error range (instruction access fault, 1). The
    handler reads mcause, mtval and mstatus and resumes at the address each item leaves in
    x20. Memory: :data:`TRAP_SITUATION_DATA` (pass it to ``run`` and ``compare``)."""
    p = Program()
    p.li(30, 0)       # patched: the handler
    p.csrw(CSR.MTVEC, 30)
    p.li(10, DATA)
    p.li(5, RAM_BASE + 0x100)          # an aligned address: jalr x5 + 2 is misaligned
    p.li(11, ERR_RANGES[0][0])         # a word answering a bus error
    p.li(1, 0x1234_5678)
    p.li(2, 3)

    def item(setup, trap):
        """auipc / addi x20 = the address after the item, then the setup and the trap."""
        p.auipc(20, 0)
        p.addi(20, 20, 4 * (2 + len(setup) + 1))
        for emit in setup:
            emit()
        trap()

    def shadow():
        here = p.pc
        p.jal(0, 8)                     # taken jump over the nop
        assert p.pc == here + 4
    item([shadow, p.nop], lambda: p.jalr(0, 5, 2))                      # 0 / branch_shadow
    item([lambda: p.lw(6, 10, 4)], lambda: p.jalr(0, 6, 2))             # 0 / load_use
    item([lambda: p.mul(7, 1, 2)], lambda: p.jalr(0, 5, 2))             # 0 / muldiv
    item([lambda: p.sw(1, 10, 8)], lambda: p.jalr(0, 5, 2))             # 0 / after_store
    item([lambda: p.lw(7, 10, 4)], lambda: p.word(0x7F | 7 << 15))      # 2 / load_use
    item([lambda: p.lw(8, 10, 12)], lambda: p.lw(9, 8, 0))              # 5 / load_use
    item([lambda: p.sw(1, 10, 8)], p.ecall)                             # 11 / after_store
    p.auipc(20, 0)                                                      # 1: fetch fault
    p.addi(20, 20, 12)
    p.jalr(0, 11, 0)
    # U-mode (one PMP entry, NAPOT RWX over the RAM), then ECALL after a store there (8).
    p.li(24, (RAM_BASE >> 2) | 0x1FFF)
    p.csrw(0x3B0, 24)
    p.li(24, 3 << 3 | 7)
    p.csrw(0x3A0, 24)
    p.li(24, 0x1800)
    p.csrrc(0, CSR.MSTATUS, 24)        # MPP = U
    p.auipc(24, 0)
    p.addi(24, 24, 16)                 # the word after the MRET
    p.csrw(CSR.MEPC, 24)
    p.mret()
    item([lambda: p.sw(1, 10, 8)], p.ecall)                             # 8 / after_store
    p.halt()
    handler = p.pc
    for csr in (CSR.MCAUSE, CSR.MTVAL, CSR.MSTATUS):
        p.csrrs(31, csr, 0)
    p.csrrw(0, CSR.MEPC, 20)
    p.mret()
    words = p.assemble()
    patch = Program()
    patch.li(30, handler)
    words[0:2] = patch.assemble()
    return words


#: Memory of :func:`trap_situation_program`: an aligned code address at DATA + 4 (a jump to
#: it + 2 is misaligned), a pointer into the bus-error range at DATA + 12.
TRAP_SITUATION_DATA = {DATA + 4: RAM_BASE + 0x100, DATA + 12: ERR_RANGES[0][0] + 4}


def run_trap_situations(**kw):
    """:func:`trap_situation_program` on the core, compared with the reference model (every
    record, the handler's reads of mcause, mtval, mstatus); returns ``(result, seen)``."""
    words = trap_situation_program()
    result = run(words, max_cycles=3000, data=TRAP_SITUATION_DATA, err_ranges=ERR_RANGES, **kw)
    seen = {}
    compare(words, result, data=TRAP_SITUATION_DATA, seen=seen)
    return result, seen
