"""Formal harnesses of the bus (:mod:`dure.rtl.bus`) and of the NPU dispatcher.

:class:`ArbiterHarness`
    :class:`~dure.rtl.bus.arbiter.Arbiter` with ``n`` initiators and one target, all arbitrary
    within the rules of :mod:`dure.rtl.bus.signature` (assumed): an initiator keeps ``req`` and
    its fields stable until ``gnt``; the target answers only requests it granted in an earlier
    cycle, and its answer's ``rdata`` is the word address of the request it answers (so that
    the routing can be observed). Asserted, from the signature's rules:

    * *no response without a request*: an initiator sees ``rvalid`` only while it has a
      granted, unanswered request;
    * *responses in order*: the response an initiator sees carries the address of its own
      oldest unanswered request;
    * *no grant lost or invented*: the target grants a request exactly when one initiator
      sees ``gnt`` with its ``req`` up, and the request fields on the target side are that
      initiator's; an initiator never sees ``gnt`` unless the target granted;
    * the arbiter, as an initiator towards the target, never withdraws or changes a request
      the target has seen and not granted.

    ``broken`` drops one rule from the assumptions or adds a false claim, so the run must fail.

:class:`RefusedCommandHarness`
    :class:`~dure.rtl.npu.dispatch.Dispatcher` (small NPU) on an arbitrary stream of
    descriptors (no LIST; the tag is "not a list entry"), arbitrary DMA window, units that
    accept whenever they like and pulse ``done`` only for a command they hold. One command,
    number ``watch`` in queue order (an arbitrary constant), is followed; its decoded fields
    are assumed to differ from those of every other command of its opcode, so that it can be
    recognised on its unit's stream. Asserted: if the dispatcher reports it refused
    (``err_valid`` with ``err_seq`` = ``watch``), it is never handed to a unit, before or
    after.
"""

from unittest import mock

from amaranth.hdl import Assert, Assume, Cat, Fragment, Module, Mux, ResetSignal, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In
from dure.rtl.bus.arbiter import Arbiter
from dure.rtl.npu import dispatch as dispatch_module
from dure.rtl.npu.commands import SEQ_BITS, ErrorCode, Opcode
from dure.rtl.npu.descriptor import DESCRIPTOR_LAYOUT, command_layout, unpack_fields
from dure.rtl.npu.dispatch import Dispatcher
from dure.rtl.npu.validate import Validator

from dure.config import SoCConfig

__all__ = ["ArbiterHarness", "RefusedCommandHarness", "NPU_FORMAL_CONFIG"]

#: A small NPU for the dispatcher check (the validator's limits depend on the shape).
NPU_FORMAL_CONFIG = SoCConfig(npu_rows=2, npu_cols=2, npu_spad_rows=16, npu_acc_rows=16,
                              npu_queue_depth=2)

_ARBITER_BROKEN = (None, "no_outstanding_check", "target_answers_unasked", "wrong_order")


class ArbiterHarness(wiring.Component):
    """Bus rules around an :class:`~dure.rtl.bus.arbiter.Arbiter` (see the module docstring).

    Parameters
    ----------
    n : int
        Initiators.
    max_outstanding : int
        The arbiter's routing queue depth.
    broken : str or None
        ``"target_answers_unasked"``: the target may answer with nothing outstanding (a
        protocol violation by the environment, so "no response without a request" must fail);
        ``"wrong_order"``: claim the response carries the *newest* outstanding address (false
        with two in flight). ``None``: the real check.
    parked : bool
        Check the arbiter's parked policy (``Arbiter(parked=True)``) instead of round-robin.
    """

    ADDR = 4

    def __init__(self, n=2, *, max_outstanding=2, broken=None, parked=False):
        if broken not in _ARBITER_BROKEN:
            raise ValueError(f"broken must be one of {_ARBITER_BROKEN}, not {broken!r}")
        self._n, self._depth, self._broken = n, max_outstanding, broken
        self._parked = bool(parked)
        members = {"t_gnt": In(1), "t_rvalid": In(1), "t_err": In(1)}
        for k in range(n):
            members.update({f"i{k}_req": In(1), f"i{k}_addr": In(self.ADDR),
                            f"i{k}_we": In(1), f"i{k}_be": In(4), f"i{k}_wdata": In(32)})
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        n, aw = self._n, self.ADDR
        m.submodules.arb = arb = Arbiter(n, addr_width=aw, max_outstanding=self._depth,
                                         parked=self._parked)
        m.d.comb += Assume(~ResetSignal())
        bus = arb.bus
        cap = self._depth + 2                # shadow queues: one more than can be in flight

        # Target: answers only granted, unanswered requests, in order, echoing the address.
        t_addrs = [Signal(aw, name=f"t_q{i}") for i in range(cap)]
        t_count = Signal(range(cap + 1))
        granted = bus.req & self.t_gnt
        m.d.comb += [bus.gnt.eq(self.t_gnt), bus.rvalid.eq(self.t_rvalid),
                     bus.rdata.eq(t_addrs[0]), bus.err.eq(self.t_err)]
        if self._broken != "target_answers_unasked":
            m.d.comb += Assume(~self.t_rvalid | (t_count != 0))
        self._queue(m, t_addrs, t_count, granted, bus.addr, self.t_rvalid)

        # The arbiter as an initiator: a request the target saw and did not grant stays.
        waiting = Signal()
        held = Signal(len(Cat(bus.addr, bus.we, bus.be, bus.wdata)))
        fields = Cat(bus.addr, bus.we, bus.be, bus.wdata)
        m.d.sync += [waiting.eq(bus.req & ~self.t_gnt), held.eq(fields)]
        with m.If(waiting):
            m.d.comb += [Assert(bus.req, "arbiter withdrew a request the target saw"),
                         Assert(fields == held, "arbiter changed a request the target saw")]

        grants = []
        for k in range(n):
            port = arb.port(k)
            req, addr = getattr(self, f"i{k}_req"), getattr(self, f"i{k}_addr")
            we, be = getattr(self, f"i{k}_we"), getattr(self, f"i{k}_be")
            wdata = getattr(self, f"i{k}_wdata")
            m.d.comb += [port.req.eq(req), port.addr.eq(addr), port.we.eq(we), port.be.eq(be),
                         port.wdata.eq(wdata)]
            # Initiator rule (assumed): req and fields stable until gnt.
            i_wait = Signal(name=f"i{k}_wait")
            i_held = Signal(len(Cat(addr, we, be, wdata)), name=f"i{k}_held")
            m.d.sync += [i_wait.eq(req & ~port.gnt), i_held.eq(Cat(addr, we, be, wdata))]
            with m.If(i_wait):
                m.d.comb += [Assume(req), Assume(Cat(addr, we, be, wdata) == i_held)]
            got = req & port.gnt
            grants.append(got)
            with m.If(got):
                m.d.comb += [Assert(granted, f"initiator {k} granted but the target was not"),
                             Assert(bus.addr == addr, f"initiator {k}: address lost"),
                             Assert(bus.we == we, f"initiator {k}: we lost"),
                             Assert(bus.be == be, f"initiator {k}: be lost"),
                             Assert(bus.wdata == wdata, f"initiator {k}: wdata lost")]
            # Its outstanding requests, oldest first.
            q = [Signal(aw, name=f"i{k}_q{i}") for i in range(cap)]
            count = Signal(range(cap + 1), name=f"i{k}_count")
            self._queue(m, q, count, got, addr, port.rvalid)
            with m.If(port.rvalid):
                m.d.comb += Assert(count != 0, f"initiator {k}: response without a request")
                if self._broken == "wrong_order":
                    newest = Signal(aw, name=f"i{k}_newest")
                    m.d.comb += newest.eq(q[0])
                    for i in range(1, cap):
                        with m.If(count > i):
                            m.d.comb += newest.eq(q[i])
                    m.d.comb += Assert(port.rdata[:aw] == newest, f"initiator {k}: order")
                else:
                    m.d.comb += Assert(port.rdata[:aw] == q[0],
                                       f"initiator {k}: response out of order or misrouted")
        with m.If(granted):
            one_hot = Signal(n)
            m.d.comb += one_hot.eq(Cat(*grants))
            m.d.comb += Assert((one_hot != 0) & ((one_hot & (one_hot - 1)) == 0),
                               "a target grant reached no initiator, or several")
        return m

    @staticmethod
    def _queue(m, slots, count, push, value, pop):
        """Shift-register FIFO: ``slots[0]`` is the oldest of ``count`` entries."""
        cap = len(slots)
        m.d.sync += count.eq(count + push - pop)
        m.d.comb += Assume(~(push & ~pop) | (count != cap))
        for i in range(cap):
            nxt = slots[i + 1] if i + 1 < cap else slots[i]
            with m.If(pop):
                with m.If(push & (count - 1 == i)):
                    m.d.sync += slots[i].eq(value)
                with m.Else():
                    m.d.sync += slots[i].eq(nxt)
            with m.Elif(push & (count == i)):
                m.d.sync += slots[i].eq(value)


_UNITS = (("load", Opcode.LOAD), ("exec", Opcode.COMPUTE), ("store", Opcode.STORE))


class _FreeCodeValidator(wiring.Component):
    """The real :class:`~dure.rtl.npu.validate.Validator` (its timing and handshake) with an
    arbitrary ``o_code`` per checked descriptor: the refusal decision becomes an input of the
    dispatcher's front, and the validator's arithmetic drops out of the solver's problem (a
    sound abstraction for "a refused command never reaches a unit"). The code is drawn when
    the validator's output changes and held while it stays."""

    def __init__(self, config, free_code):
        self._inner = Validator(config)
        self._free = free_code
        super().__init__(self._inner.signature)

    def elaborate(self, platform):
        m = Module()
        m.submodules.inner = inner = self._inner
        for name, member in self.signature.members.items():
            if name == "o_code":
                continue
            if member.flow == wiring.In:
                m.d.comb += getattr(inner, name).eq(getattr(self, name))
            else:
                m.d.comb += getattr(self, name).eq(getattr(inner, name))
        now = Cat(inner.o_valid, inner.o_words.as_value())
        prev = Signal(len(now))
        held = Signal(4)
        code = Signal(4)
        m.d.comb += [code.eq(Mux(now == prev, held, self._free)),
                     self.o_code.as_value().eq(code)]
        m.d.sync += [prev.eq(now), held.eq(code)]
        return m


class RefusedCommandHarness(wiring.Component):
    """A refused command never reaches a unit (see the module docstring).

    Parameters
    ----------
    broken : str or None
        ``"never_issued"``: claim the watched command never reaches a unit;
        ``"never_refused"``: claim it is never refused. Both are false claims (each must
        fail, which shows that issues and refusals are reachable at the depth used).
    """

    def __init__(self, *, broken=None, config=NPU_FORMAL_CONFIG, free_codes=True):
        if broken not in (None, "never_issued", "never_refused"):
            raise ValueError(f"unknown broken variant {broken!r}")
        self._broken, self._config, self._free_codes = broken, config, free_codes
        members = {"cmd_valid": In(1), "cmd_words": In(DESCRIPTOR_LAYOUT),
                   "dma_base": In(32), "dma_size": In(32), "watch": In(SEQ_BITS),
                   "watch_words": In(DESCRIPTOR_LAYOUT)}
        for name, _ in _UNITS:
            members[f"{name}_ready"] = In(1)
            members[f"{name}_done"] = In(1)
        members["bus_error"] = In(2)
        members["free_code"] = In(4)
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        disp = Dispatcher(self._config)
        if self._free_codes:
            with mock.patch.object(dispatch_module, "Validator",
                                   lambda config: _FreeCodeValidator(config, self.free_code)):
                m.submodules.disp = Fragment.get(disp, platform)
        else:
            m.submodules.disp = disp
        m.d.comb += Assume(~ResetSignal())
        words = self.cmd_words
        opcode = words.as_value()[0:4]
        m.d.comb += [disp.cmd.valid.eq(self.cmd_valid), disp.cmd.payload.eq(words),
                     disp.cmd_tag.eq(0), disp.dma_base.eq(self.dma_base),
                     disp.dma_size.eq(self.dma_size)]
        # Stream rule (assumed): offered command held until taken; no LIST.
        c_wait = Signal()
        c_held = Signal.like(words.as_value())
        m.d.sync += [c_wait.eq(self.cmd_valid & ~disp.cmd.ready), c_held.eq(words.as_value())]
        with m.If(c_wait):
            m.d.comb += [Assume(self.cmd_valid), Assume(words.as_value() == c_held)]
        m.d.comb += Assume(~self.cmd_valid | (opcode != Opcode.LIST))
        # The watched number and the watched command's words are constants (chosen by the
        # solver in the first cycle).
        watch = Signal(SEQ_BITS)
        w_words = Signal.like(words.as_value())
        first = Signal(init=1)
        m.d.sync += [first.eq(0), watch.eq(self.watch), w_words.eq(self.watch_words.as_value())]
        with m.If(~first):
            m.d.comb += [Assume(self.watch == watch),
                         Assume(self.watch_words.as_value() == w_words)]
        w_words = self.watch_words.as_value()
        w_opcode = w_words[0:4]

        seq = Signal(SEQ_BITS + 1)           # number of the next command taken
        taken = self.cmd_valid & disp.cmd.ready
        m.d.sync += seq.eq(seq + taken)
        m.d.comb += Assume(seq < (1 << SEQ_BITS) - 1)
        is_w = taken & (seq == self.watch)
        with m.If(is_w):
            m.d.comb += Assume(words.as_value() == w_words)
        w_seen = Signal()
        with m.If(is_w):
            m.d.sync += w_seen.eq(1)

        refused = Signal()
        issued = Signal()
        refuse_now = disp.err_valid & (disp.err_seq == self.watch) & w_seen & \
            (disp.err_code != ErrorCode.NONE) & (disp.err_code != ErrorCode.BUS_ERROR)
        issue_now = Signal()
        bus_error = self.bus_error
        for name, op in _UNITS:
            stream_ = getattr(disp, f"{name}_cmd")
            m.d.comb += stream_.ready.eq(getattr(self, f"{name}_ready"))
            # Done only for a command the unit holds (accepted, not yet done).
            held = Signal(4, name=f"{name}_held")
            done = getattr(self, f"{name}_done")
            m.d.sync += held.eq(held + (stream_.valid & stream_.ready) - done)
            m.d.comb += [Assume(~done | (held != 0)), Assume(held != 15),
                         getattr(disp, f"{name}_done").eq(done)]
            if name == "load":
                m.d.comb += disp.load_bus_error.eq(bus_error[0] & done)
            if name == "store":
                m.d.comb += disp.store_bus_error.eq(bus_error[1] & done)
            # The watched command's fields, decoded from the spec's descriptor layout.
            w_fields = Signal(command_layout(op), name=f"w_{name}_fields")
            o_fields = Signal(command_layout(op), name=f"o_{name}_fields")
            m.d.comb += unpack_fields(op, [w_words[32 * j:32 * j + 32] for j in range(8)],
                                      w_fields)
            m.d.comb += unpack_fields(op, [words.as_value()[32 * j:32 * j + 32]
                                           for j in range(8)], o_fields)
            # Every other command of this opcode differs from the watched one.
            with m.If(taken & ~is_w & (opcode == op) & (w_opcode == op)):
                m.d.comb += Assume(o_fields.as_value() != w_fields.as_value())
            with m.If((w_opcode == op) & stream_.valid & stream_.ready &
                      (stream_.payload.as_value() == w_fields.as_value())):
                m.d.comb += issue_now.eq(1)
        with m.If(issue_now):
            m.d.sync += issued.eq(1)
        with m.If(refuse_now):
            m.d.sync += refused.eq(1)
        if self._broken == "never_issued":
            m.d.comb += Assert(~issue_now, "watched command issued (expected)")
        elif self._broken == "never_refused":
            m.d.comb += Assert(~refuse_now, "watched command refused (expected)")
        else:
            m.d.comb += [Assert(~((refused | refuse_now) & issue_now),
                                "a refused command reached a unit"),
                         Assert(~(issued & refuse_now), "a command reported refused after it "
                                "reached a unit")]
        return m
