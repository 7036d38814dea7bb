"""Exception and interrupt unit (M stage): the commit point of the pipeline."""

from amaranth.hdl import Cat, Const, Module, Mux
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .isa import ExceptionCause
from .layouts import TrapLayout

__all__ = ["TrapUnit"]


class TrapUnit(wiring.Component):
    """Decides what the instruction in the M stage does: wait, commit, trap or replay.

    The M stage is the commit point: everything older has left the pipeline, and nothing the
    instruction in M does is visible before this unit lets it commit. Exceptions raised in
    earlier stages travel with their instruction; the data bus answer adds the access faults.

    Interrupts are sampled in X, where the instruction gets an interrupt marker instead of
    executing (no bus access, no side effect). When the marker reaches M the decision is made
    again with the CSR state that all older instructions left: if the interrupt is still
    pending and enabled it is taken (``mepc`` = the marked instruction), otherwise the marked
    instruction is refetched ("replay").

    Members
    -------
    valid : In(1)
        The M stage holds an instruction.
    exc : In(TrapLayout)
        Exception raised earlier in the pipeline.
    irq : In(1)
        Interrupt marker.
    mem : In(1)
        A data bus request was issued; its answer is due.
    store : In(1)
    mem_addr : In(32)
    mret, wfi, fence_i : In(1)
    pc : In(32)
    bus_rvalid, bus_err : In(1)
        Data bus answer.
    irq_waiting, irq_pending : In(1)
    irq_cause : In(4)
    mtvec, mepc : In(32)
    busy : Out(1)
        Wait: the bus answer has not arrived, or WFI waits for ``irq_waiting``.
    commit : Out(1)
        The instruction retires this cycle.
    trap : Out(1)
        Take a trap this cycle (exception, or interrupt when ``trap_interrupt``).
    trap_interrupt : Out(1)
    trap_cause : Out(4)
    trap_tval : Out(32)
    replay : Out(1)
        Drop the instruction and refetch it.
    redirect : Out(1)
        Flush everything younger and fetch from ``redirect_pc`` (trap, replay, MRET, FENCE.I).
    redirect_pc : Out(32)
    """

    valid: In(1)
    exc: In(TrapLayout)
    irq: In(1)
    mem: In(1)
    store: In(1)
    mem_addr: In(32)
    mret: In(1)
    wfi: In(1)
    fence_i: In(1)
    pc: In(32)
    bus_rvalid: In(1)
    bus_err: In(1)
    irq_waiting: In(1)
    irq_pending: In(1)
    irq_cause: In(4)
    mtvec: In(32)
    mepc: In(32)

    busy: Out(1)
    commit: Out(1)
    trap: Out(1)
    trap_interrupt: Out(1)
    trap_cause: Out(4)
    trap_tval: Out(32)
    replay: Out(1)
    redirect: Out(1)
    redirect_pc: Out(32)

    def elaborate(self, platform):
        m = Module()
        plain = self.valid & ~self.irq & ~self.exc.valid   # executes normally
        waiting = plain & self.mem & ~self.bus_rvalid
        sleeping = plain & self.wfi & ~self.irq_waiting
        bus_fault = plain & self.mem & self.bus_rvalid & self.bus_err
        take_irq = self.valid & self.irq & self.irq_pending
        exception = (self.valid & ~self.irq & self.exc.valid) | bus_fault
        m.d.comb += [
            self.busy.eq(waiting | sleeping),
            self.trap.eq(take_irq | exception),
            self.trap_interrupt.eq(take_irq),
            self.replay.eq(self.valid & self.irq & ~self.irq_pending),
            self.commit.eq(plain & ~self.busy & ~bus_fault),
        ]
        with m.If(take_irq):
            m.d.comb += [self.trap_cause.eq(self.irq_cause), self.trap_tval.eq(0)]
        with m.Elif(self.exc.valid):
            m.d.comb += [self.trap_cause.eq(self.exc.cause), self.trap_tval.eq(self.exc.tval)]
        with m.Else():
            m.d.comb += [
                self.trap_cause.eq(Mux(self.store, ExceptionCause.STORE_ACCESS_FAULT,
                                       ExceptionCause.LOAD_ACCESS_FAULT)),
                self.trap_tval.eq(self.mem_addr),
            ]

        base = Cat(Const(0, 2), self.mtvec[2:])
        vectored = self.mtvec[0] & self.trap_interrupt
        vector = Mux(vectored, base + (self.trap_cause << 2), base)
        m.d.comb += self.redirect.eq(self.trap | self.replay |
                                     (self.commit & (self.mret | self.fence_i)))
        with m.If(self.trap):
            m.d.comb += self.redirect_pc.eq(vector)
        with m.Elif(self.replay):
            m.d.comb += self.redirect_pc.eq(self.pc)
        with m.Elif(self.mret):
            m.d.comb += self.redirect_pc.eq(self.mepc)
        with m.Else():
            m.d.comb += self.redirect_pc.eq(self.pc + 4)
        return m
