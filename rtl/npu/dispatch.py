"""Dispatcher: validates queued commands and hands them to the datapath's four units in order,
overlapping independent ones.

Structure
---------
::

    source --> Validator --> front --+--> refused: retire now (ERROR event), next command
                                     +--> LIST: retire, list_accept (the source then feeds
                                     |    its entries, tagged with their index)
                                     +--> FENCE: wait until nothing is pending or in flight
                                    +--> pending[load | compute | store] --> unit stream
                                                   (one slot per unit)     --> in flight FIFO
                                                                           <-- done pulses

The front takes commands strictly in queue order and moves each LOAD / COMPUTE / STORE /
ELTWISE into the *pending slot* of its unit (it waits while that slot is occupied): a
look-ahead of one command per unit. A pending command is handed to its unit (``valid`` on the
unit's stream) when

* its unit's *in-flight FIFO* has room: one entry for LOAD, STORE and ELTWISE (the unit is
  idle: its previous command's ``done`` pulse has arrived; two for LOAD with
  ``config.npu_load_overlap``: the load unit writes LOADs' rows in order, so LOADs need no
  check against each other; two for ELTWISE with ``eltwise_handover``: the element-wise unit
  takes the next one while the current one's last rows drain and orders the ACC rows between
  them itself), ``exec_depth`` entries for COMPUTE (the
  execute unit pipelines COMPUTEs and accepts the next one while earlier ones stream; its own
  ``ready`` says when it can), and
* it conflicts (:mod:`.hazard`: RAW, WAR or WAW on SPAD / ACC rows) with no command in flight
  in another unit, no in-flight COMPUTE it would read ACC rows of (:func:`~.hazard.conflict_cc`,
  for a pending COMPUTE, unless the execute unit orders those reads per row itself:
  ``exec_orders_acc``; for a pending STORE only the in-flight COMPUTEs writing its parameter
  rows when the store unit waits for each output row itself: ``store_orders_acc``; for a
  pending COMPUTE or ELTWISE no in-flight LOAD into SPAD when the execute and element-wise
  units wait for each SPAD row the load unit has still to write: ``load_follows``), and no
  *older* pending command of another unit (always the full check: a command follows only a
  LOAD the load unit has accepted).

Each in-flight FIFO holds the footprints of its unit's issued, unfinished commands in order;
the unit's ``done`` pulses (one per command, in order) retire them from the head. Every entry
takes part in the hazard checks.

An age matrix over the three pending slots records which are older. In-flight commands need no
age: a younger command only leaves its slot when it conflicts with no older one, and conflicts
between units are symmetric, so an in-flight command that conflicts with a pending one is always
older (an in-flight COMPUTE is always older than the pending one). The oldest pending command
can only wait for in-flight commands, which finish, so the dispatcher never deadlocks. The
scheme gives LOAD(next) || COMPUTE(this) || STORE(previous) for the usual double-buffered
tiling, and back-to-back COMPUTEs through the array when they do not accumulate onto each
other's ACC rows (e.g. N tiles innermost).
"""

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .commands import SEQ_BITS, ErrorCode, Opcode
from .descriptor import (
    DESCRIPTOR_LAYOUT,
    ENTRY_TAG_LAYOUT,
    FIELDS,
    command_layout,
    unpack_fields,
)
from .hazard import (
    conflict_cc,
    conflict_ce,
    conflict_cs,
    conflict_cs_params,
    conflict_es,
    conflict_es_params,
    conflict_lc,
    conflict_lc_acc,
    conflict_le,
    conflict_le_acc,
    conflict_ls,
    footprint_layouts,
    footprint_of,
    footprint_products,
)
from .link import UNITS
from .validate import Validator

__all__ = ["Dispatcher"]


def _conflict(a, fa, b, fb, *, exec_orders_acc=False, store_orders_acc=False,
              load_follows=False):
    """Conflict between pending unit ``a``'s footprint ``fa`` and unit ``b``'s ``fb`` (older
    when ``a == b``, only for COMPUTE; never with ``exec_orders_acc``). ``store_orders_acc``:
    ``fb`` is an issued COMPUTE and ``fa`` a pending STORE whose unit waits for each ACC row
    (only the parameter rows conflict). ``load_follows``: ``fb`` is an issued LOAD and ``fa``
    a pending COMPUTE whose unit waits for each SPAD row (only ACC rows conflict)."""
    if a == b:
        return Const(0) if exec_orders_acc else conflict_cc(fb, fa)
    if store_orders_acc and (a, b) == ("store", "compute"):
        return conflict_cs_params(fb, fa)
    if load_follows and (a, b) == ("compute", "load"):
        return conflict_lc_acc(fb, fa)
    if load_follows and (a, b) == ("eltwise", "load"):
        return conflict_le_acc(fb, fa)
    if store_orders_acc and (a, b) == ("store", "eltwise"):
        return conflict_es_params(fb, fa)
    pair = {a: fa, b: fb}
    if set(pair) == {"load", "compute"}:
        return conflict_lc(pair["load"], pair["compute"])
    if set(pair) == {"load", "store"}:
        return conflict_ls(pair["load"], pair["store"])
    if set(pair) == {"load", "eltwise"}:
        return conflict_le(pair["load"], pair["eltwise"])
    if set(pair) == {"eltwise", "store"}:
        return conflict_es(pair["eltwise"], pair["store"])
    if set(pair) == {"compute", "eltwise"}:
        return conflict_ce(pair["compute"], pair["eltwise"])
    return conflict_cs(pair["compute"], pair["store"])


class Dispatcher(wiring.Component):
    """Validates commands and issues them to the datapath's units with hazard tracking.

    Parameters
    ----------
    config : SoCConfig
        NPU shape (for the validator); without ``npu_eltwise`` the ELTWISE unit gets no
        pending slot or in-flight FIFO (every ELTWISE is refused) and ``eltwise_cmd`` stays
        idle.
    exec_depth : int
        COMPUTEs that may be in flight at once (issued, ``exec_done`` not yet seen); 3 keep
        commands of >= ``array latency`` rows streaming back to back, shorter ones need more.
    exec_orders_acc : bool
        The execute unit orders ACC reads after earlier COMPUTEs' writes of the same rows
        itself (:class:`~.exec_unit.ExecUnit` does, per row), so a COMPUTE accumulating onto
        an in-flight COMPUTE's rows is issued at once. ``False`` (the default, for a datapath
        without that ordering) holds it until the older one is done
        (:func:`~.hazard.conflict_cc`).
    store_orders_acc : bool
        The store unit reads an ACC row only once the execute unit (or the element-wise
        unit) has written it (:class:`~.store_unit.StoreUnit` ``acc_wait``), so a STORE
        reading an issued COMPUTE's (ELTWISE's) result rows is issued at once and follows them
        row by row. ``False`` (the default) holds it until the COMPUTE (ELTWISE) is done
        (:func:`~.hazard.conflict_cs`, :func:`~.hazard.conflict_es`).
    load_follows : bool
        The execute and element-wise units read a SPAD row only once the load unit has
        written it (:class:`~.load_unit.LoadUnit` ``spad_wait``), so a COMPUTE or ELTWISE
        reading rows of an issued LOAD into SPAD is issued at once and follows them row by
        row. ``False`` (the default) holds it until the LOAD is done
        (:func:`~.hazard.conflict_lc`, :func:`~.hazard.conflict_le`).
    hazard_regs : bool
        The hazard scoreboard registered, for the FPGA clock (``config.npu_hazard_regs``):
        a pending command's footprint is computed from its slot's own fields (not on the
        path from the validator), and each conflict of a pending command with an in-flight
        command or an older pending one is compared from the registers holding both
        footprints into a register; the command is handed to its unit from those bits (no
        product or row-range comparator between the footprints and the issue). A command
        that entered its pending slot therefore waits there two cycles more (its footprint,
        then its conflict bits; not counted in ``stall_dep``), and an entry just written
        into an in-flight FIFO takes the conflict its command had as a pending command (the
        full check of :mod:`.hazard`; a younger pending command may wait for it one cycle
        longer than without the registers). Which commands may run together is unchanged;
        only cycles. ``False`` (the default): the footprint is loaded with the command and
        the comparisons are combinational.
    eltwise_handover : bool
        The element-wise unit holds two ELTWISEs (it takes the next one while the current
        one's last rows drain) and makes a row of the younger one that reads an ACC row the
        older one has still to write wait (:class:`~.eltwise_unit.EltwiseUnit`), so a second
        ELTWISE is issued at once, with no check against the first. ``False`` (the default,
        for a unit that runs one at a time): one ELTWISE in flight.

    Members
    -------
    cmd : In(stream.Signature(DESCRIPTOR_LAYOUT))
        Descriptors from the queue, in order.
    cmd_tag : In(ENTRY_TAG_LAYOUT)
        With ``cmd``: whether it is a LIST entry (its index; a failed fetch), see
        :class:`~.cmd_source.CommandSource`.
    list_accept, list_refuse : Out(1)
        The front took a (pushed) LIST as valid, or refused it (one-cycle pulses). An accepted
        LIST retires at once; a refused one retires with its ``count`` entries.
    dma_base, dma_size : In(32)
        DMA window registers (sampled when a command enters the validator).
    load_cmd, exec_cmd, store_cmd, eltwise_cmd : Out(stream.Signature(command_layout(opcode)))
        Validated commands to the datapath's units; ``valid`` never depends on ``ready`` and,
        once raised, stays up with a stable payload until ``ready``.
    load_done, exec_done, store_done, eltwise_done : In(1)
        One-cycle pulse when the unit's oldest unfinished command has completely finished
        (pulses come in issue order).
    load_bus_error, store_bus_error : In(1)
        With the done pulse: the command ended at a DMA access answered with err.
    err_valid : Out(1)
        A command was refused or failed this cycle; ``err_code`` / ``err_seq`` name the oldest
        one if several did.
    err_code : Out(ErrorCode)
    err_seq : Out(SEQ_BITS)
        Sequence number: commands are numbered from 0 in queue order since reset (a LIST of
        count c takes c + 1 numbers, see ``LIST`` in :mod:`.commands`).
    err_index : Out(16)
        With ``err_valid``: the failed command's index in its LIST, 0xFFFF if not an entry.
    fence_irq : Out(1)
        A FENCE with its ``irq`` bit completed this cycle.
    retired : Out(17)
        Commands finished this cycle (refused, FENCEs, LISTs and done pulses, plus the entries
        of a refused LIST or after a failed fetch), for the DONE register.
    idle : Out(1)
        Nothing in the validator, the front, the pending slots or the units.
    stall_dep : Out(1)
        Some pending command's in-flight FIFO has room but the command waits for a hazard.
    pending_count : Out(3)
        Pending slots occupied (for tests and debugging).

    Latency
    -------
    A command reaches its unit stream 6 cycles after it is offered on ``cmd`` when nothing
    blocks it (validator 4, front 1, pending slot 1; 8 with ``hazard_regs``: pending slot 3);
    with independent commands the front accepts one command per cycle.
    """

    def __init__(self, config, *, exec_depth=4, exec_orders_acc=False, store_orders_acc=False,
                 load_follows=False, hazard_regs=False, eltwise_handover=False):
        if not isinstance(exec_depth, int) or exec_depth < 1:
            raise ValueError(f"exec_depth must be an integer >= 1, not {exec_depth!r}")
        if not isinstance(exec_orders_acc, bool):
            raise TypeError(f"exec_orders_acc must be a bool, not {exec_orders_acc!r}")
        if not isinstance(store_orders_acc, bool):
            raise TypeError(f"store_orders_acc must be a bool, not {store_orders_acc!r}")
        if not isinstance(load_follows, bool):
            raise TypeError(f"load_follows must be a bool, not {load_follows!r}")
        if not isinstance(hazard_regs, bool):
            raise TypeError(f"hazard_regs must be a bool, not {hazard_regs!r}")
        if not isinstance(eltwise_handover, bool):
            raise TypeError(f"eltwise_handover must be a bool, not {eltwise_handover!r}")
        self._hazard_regs = hazard_regs
        self._config = config
        self._orders_acc = exec_orders_acc
        self._store_orders = store_orders_acc
        self._load_follows = load_follows
        # With overlapped LOADs the load unit takes the next LOAD while busy (one more); the
        # element-wise unit with its hand-over the next ELTWISE likewise.
        self._depth = {"load": 1 + config.npu_load_overlap, "compute": exec_depth, "store": 1,
                       "eltwise": 1 + eltwise_handover}
        super().__init__({
            "cmd": In(stream.Signature(DESCRIPTOR_LAYOUT)),
            "cmd_tag": In(ENTRY_TAG_LAYOUT),
            "list_accept": Out(1),
            "list_refuse": Out(1),
            "dma_base": In(32),
            "dma_size": In(32),
            **{member: Out(stream.Signature(command_layout(opcode)))
               for _, opcode, member, _, _ in UNITS},
            **{done: In(1) for _, _, _, done, _ in UNITS},
            "load_bus_error": In(1),
            "store_bus_error": In(1),
            "err_valid": Out(1),
            "err_code": Out(ErrorCode),
            "err_seq": Out(SEQ_BITS),
            "err_index": Out(16),
            "fence_irq": Out(1),
            "retired": Out(17),
            "idle": Out(1),
            "stall_dep": Out(1),
            "pending_count": Out(3),
        })

    def elaborate(self, platform):
        m = Module()
        # Without the element-wise unit the validator refuses every ELTWISE, so it has no
        # pending slot, in-flight FIFO or footprint here (its stream stays idle).
        units = [unit for unit in UNITS if unit[0] != "eltwise" or self._config.npu_eltwise]
        # Footprint ranges: 16-bit rows, or with npu_narrow_footprints the bits of the
        # deeper of SPAD and ACC (exact: only validated commands, whose rows lie inside).
        cfg = self._config
        row_bits = 16
        if cfg.npu_narrow_footprints:
            row_bits = (max(cfg.npu_spad_rows, cfg.npu_acc_rows) - 1).bit_length()
        # with npu_row_hazard a LOAD's placement and a COMPUTE's walk carry their column
        # windows (hazard.conflict_lc: a side-padding FILL passes a walk of image columns)
        footprint = footprint_layouts(row_bits, grid=cfg.npu_row_hazard)
        names = [name for name, *_ in units]

        m.submodules.validator = v = Validator(self._config)
        take = Signal()                 # the front consumes the validator's output
        m.d.comb += [
            v.en.eq(~v.o_valid | take),
            v.i_valid.eq(self.cmd.valid),
            v.i_words.eq(self.cmd.payload),
            v.i_tag.eq(self.cmd_tag),
            self.cmd.ready.eq(v.en),
            v.dma_base.eq(self.dma_base),
            v.dma_size.eq(self.dma_size),
        ]
        seq = Signal(SEQ_BITS)          # sequence number of the command at the front
        skip = Signal(16)               # further numbers retired with it (LIST entries)
        with m.If(take):
            m.d.sync += seq.eq(seq + 1 + skip)
        tag = v.o_tag
        front_index = Mux(tag.in_list, tag.index, 0xFFFF)   # ERROR_INDEX of the front

        # Slots: one pending (with decoded fields) per unit, an in-flight FIFO per unit.
        words = [v.o_words[i] for i in range(len(v.o_words))]
        p_valid, p_fields, p_fp, p_seq, p_index = {}, {}, {}, {}, {}
        f_valid, f_fp, f_seq, f_index, f_head, f_tail = {}, {}, {}, {}, {}, {}
        # The footprint a pending slot takes: from the command at the front (loaded with it),
        # or with hazard_regs from the slot's own fields and products (registered with them
        # from the front's) a cycle after they load.
        hr = self._hazard_regs
        front_fields, next_fp, p_products, front_products = {}, {}, {}, {}
        for name, opcode, *_ in units:
            layout, depth = command_layout(opcode), self._depth[name]
            p_valid[name] = Signal(name=f"{name}_pending")
            p_fields[name] = Signal(layout, name=f"{name}_pending_fields")
            p_fp[name] = Signal(footprint[name], name=f"{name}_pending_fp")
            p_seq[name] = Signal(SEQ_BITS, name=f"{name}_pending_seq")
            p_index[name] = Signal(16, name=f"{name}_pending_index")
            f_valid[name] = [Signal(name=f"{name}_flight{i}") for i in range(depth)]
            f_fp[name] = [Signal(footprint[name], name=f"{name}_flight{i}_fp")
                          for i in range(depth)]
            f_seq[name] = [Signal(SEQ_BITS, name=f"{name}_flight{i}_seq")    # for bus errors
                           for i in range(depth)]
            f_index[name] = [Signal(16, name=f"{name}_flight{i}_index") for i in range(depth)]
            f_head[name] = Signal(range(depth), name=f"{name}_flight_head")   # oldest entry
            f_tail[name] = Signal(range(depth), name=f"{name}_flight_tail")   # next free entry
            front_fields[name] = Signal(layout, name=f"front_{name}_fields")
            next_fp[name] = Signal(footprint[name], name=f"{name}_next_fp")
            m.d.comb += unpack_fields(opcode, words, front_fields[name])
            if hr:
                front_products[name] = footprint_products(name, front_fields[name])
                p_products[name] = {
                    key: Signal(expr.shape(), name=f"{name}_pending_{key}")
                    for key, expr in front_products[name].items()}
                m.d.comb += footprint_of(name, p_fields[name], next_fp[name],
                                         lanes=self._config.npu_cols,
                                         products=p_products[name])
                m.d.sync += p_fp[name].eq(next_fp[name])
            else:
                m.d.comb += footprint_of(name, front_fields[name], next_fp[name],
                                         lanes=self._config.npu_cols)
        # older[a][b]: pending b entered before pending a (both still pending).
        older = {a: {b: Signal(name=f"{b}_older_than_{a}") for b in names if b != a}
                 for a in names}

        def advance(ptr, depth):
            return Mux(ptr == depth - 1, 0, ptr + 1)

        # Hazards, issue and retirement. With hazard_regs each conflict bit is registered
        # (`seeds`: the in-flight ones, set at their entry's issue) and a freshly entered
        # pending command waits two cycles (`p_new`, then `p_new2`): its footprint, then the
        # bits compared from it.
        issue, finished, head_seq, head_index, stalled = {}, {}, {}, {}, []
        pending_conflict, p_new, seeds = {}, {}, []
        for name, _, member, done, _ in units:
            port, depth = getattr(self, member), self._depth[name]
            room = ~Array(f_valid[name])[f_tail[name]]
            blocked = Signal(name=f"{name}_blocked")
            hazards = []
            for other in names:
                if other != name or name == "compute":      # in-flight commands
                    for i, (valid, fp) in enumerate(zip(f_valid[other], f_fp[other],
                                                        strict=True)):
                        bit = _conflict(name, p_fp[name], other, fp,
                                        exec_orders_acc=self._orders_acc,
                                        store_orders_acc=self._store_orders,
                                        load_follows=self._load_follows)
                        if hr:
                            reg = Signal(name=f"{name}_vs_{other}_flight{i}")
                            m.d.sync += reg.eq(bit)
                            seeds.append((reg, name, other, i))
                            bit = reg
                        hazards.append(valid & bit)
                if other != name:                           # older pending commands
                    bit = _conflict(name, p_fp[name], other, p_fp[other])
                    pending_conflict[name, other] = bit
                    if hr:
                        reg = Signal(name=f"{name}_vs_{other}_pending")
                        m.d.sync += reg.eq(bit)
                        bit = reg
                    hazards.append(p_valid[other] & older[name][other] & bit)
            fresh = Const(0)
            if hr:
                p_new[name] = Signal(name=f"{name}_pending_new")
                new2 = Signal(name=f"{name}_pending_new2")
                m.d.sync += [p_new[name].eq(0),             # set below when the slot fills
                             new2.eq(p_new[name])]
                fresh = p_new[name] | new2
            m.d.comb += blocked.eq(Cat(*hazards).any() | fresh)
            m.d.comb += [
                port.valid.eq(p_valid[name] & room & ~blocked),
                port.payload.eq(p_fields[name]),
            ]
            issue[name] = port.valid & port.ready
            stalled.append(p_valid[name] & room & blocked & ~fresh)
            with m.If(issue[name]):
                m.d.sync += [p_valid[name].eq(0), f_tail[name].eq(advance(f_tail[name], depth))]
                for i in range(depth):
                    with m.If(f_tail[name] == i):
                        m.d.sync += [f_valid[name][i].eq(1), f_fp[name][i].eq(p_fp[name]),
                                     f_seq[name][i].eq(p_seq[name]),
                                     f_index[name][i].eq(p_index[name])]
                for other in names:
                    if other != name:
                        m.d.sync += older[other][name].eq(0)
            finished[name] = getattr(self, done) & Array(f_valid[name])[f_head[name]]
            head_seq[name] = Array(f_seq[name])[f_head[name]]
            head_index[name] = Array(f_index[name])[f_head[name]]
            with m.If(finished[name]):
                m.d.sync += f_head[name].eq(advance(f_head[name], depth))
                for i in range(depth):
                    with m.If(f_head[name] == i):
                        m.d.sync += f_valid[name][i].eq(0)
        m.d.comb += self.stall_dep.eq(Cat(*stalled).any())
        # An in-flight entry written this cycle: its conflict with a pending command is the
        # one it had as a pending command (0 if the pending command is older: it was issued
        # past it). Its own unit's pending slot is empty next cycle (and then fresh).
        for reg, name, other, i in seeds:
            with m.If(issue[other] & (f_tail[other] == i)):
                m.d.sync += reg.eq(1 if name == other else pending_conflict[name, other])

        # Front: refusals, FENCE, routing into pending slots.
        opcode = words[0][:4]
        code = v.o_code
        nothing_left = ~Cat(*p_valid.values(), *[f for fs in f_valid.values() for f in fs]).any()
        refuse = Signal()
        refuse_code = Signal(ErrorCode)
        fence_done = Signal()
        irq_field = FIELDS[Opcode.FENCE]["irq"]
        count_field = FIELDS[Opcode.LIST]["count"]
        is_list = opcode == Opcode.LIST.value
        with m.If(v.o_valid):
            with m.If(tag.fault):
                # The fetch of this entry failed: it and the rest of its list retire now.
                m.d.comb += [take.eq(1), refuse.eq(1), refuse_code.eq(ErrorCode.BUS_ERROR),
                             skip.eq(tag.skip)]
            with m.Elif(code != ErrorCode.NONE):
                m.d.comb += [take.eq(1), refuse.eq(1), refuse_code.eq(code)]
                with m.If(is_list & ~tag.in_list):
                    m.d.comb += [self.list_refuse.eq(1),
                                 skip.eq(words[count_field.word][:count_field.width])]
            with m.Elif(is_list):
                m.d.comb += [take.eq(1), self.list_accept.eq(1)]
            with m.Elif(opcode == Opcode.FENCE.value):
                with m.If(nothing_left):
                    m.d.comb += [take.eq(1), fence_done.eq(1)]
            with m.Else():
                for name, unit_opcode, *_ in units:
                    with m.If((opcode == unit_opcode.value) & ~p_valid[name]):
                        m.d.comb += take.eq(1)
                        if hr:
                            m.d.sync += p_new[name].eq(1)
                            m.d.sync += [p_products[name][key].eq(expr)
                                         for key, expr in front_products[name].items()]
                        else:
                            m.d.sync += p_fp[name].eq(next_fp[name])
                        m.d.sync += [p_valid[name].eq(1), p_fields[name].eq(front_fields[name]),
                                     p_seq[name].eq(seq), p_index[name].eq(front_index)]
                        for other in names:
                            if other != name:
                                m.d.sync += older[name][other].eq(
                                    p_valid[other] & ~issue[other])
        m.d.comb += self.fence_irq.eq(fence_done & words[0][irq_field.lsb])

        # Errors: refusal at the front (always the youngest) or bus errors of LOAD / STORE.
        load_err = finished["load"] & self.load_bus_error
        store_err = finished["store"] & self.store_bus_error
        load_first = (head_seq["load"] - head_seq["store"])[SEQ_BITS - 1]   # load is older
        with m.If(load_err & (~store_err | load_first)):
            m.d.comb += [self.err_valid.eq(1), self.err_code.eq(ErrorCode.BUS_ERROR),
                         self.err_seq.eq(head_seq["load"]), self.err_index.eq(head_index["load"])]
        with m.Elif(store_err):
            m.d.comb += [self.err_valid.eq(1), self.err_code.eq(ErrorCode.BUS_ERROR),
                         self.err_seq.eq(head_seq["store"]),
                         self.err_index.eq(head_index["store"])]
        with m.Elif(refuse):
            m.d.comb += [self.err_valid.eq(1), self.err_code.eq(refuse_code),
                         self.err_seq.eq(seq), self.err_index.eq(front_index)]

        m.d.comb += [
            self.retired.eq(refuse + skip + self.list_accept + fence_done
                            + sum(finished.values())),
            self.idle.eq(~v.occupied & nothing_left),
            self.pending_count.eq(sum(p_valid.values())),
        ]
        return m
