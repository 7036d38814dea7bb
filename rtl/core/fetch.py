"""Instruction fetch (F stage): prefetch over the instruction bus into a small buffer, with an
optional branch target buffer."""

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..bus.signature import BusSignature
from .predictor import GSHARE_MAX_ENTRIES, FetchDirection

__all__ = ["FetchLayout", "Fetch"]


FetchLayout = data.StructLayout({
    "pc":   32,
    "insn": 32,
    "err":  1,   # the bus answered err: instruction access fault
    "btb_taken": 1,    # fetch went on at btb_target after this instruction (BTB hit)
    "btb_known": 1,    # the buffer held this pc's direction (taken or, written by D, not)
    "btb_target": 32,
    "dir": FetchDirection,   # where the direction tables looked for it (``dir_entries``)
})

#: Tag bits kept per branch target buffer entry (a partial tag: a false hit is corrected in D).
BTB_TAG_BITS = 8


class Fetch(wiring.Component):
    """Sequential prefetcher with redirect and an optional branch target buffer.

    Requests consecutive words while the buffer has room for every answer still due, so with a
    target that grants every cycle and answers one cycle later it delivers one instruction per
    cycle. Answers pass straight to ``out`` when the buffer is empty.

    On ``redirect`` the buffer is emptied and every request already granted (or still waiting
    for its grant: a request is never withdrawn) becomes stale; the answers to stale requests
    are counted and dropped when they arrive. In the redirect cycle the request goes to
    ``target`` directly (unless an older request is still waiting for its grant).

    With ``btb_entries`` > 0, a direct-mapped branch target buffer (indexed by the request
    address, partial tag) is looked up for every request made from the sequential address
    (not for the request made to a redirect target in the redirect cycle): on a hit the next
    request goes to the stored target instead of ``pc + 4``, and the instruction carries
    ``btb_taken`` / ``btb_target`` so that D can check the guess (D redirects fetch when its
    own prediction differs, and writes the buffer through ``btb_we`` / ``btb_pc`` /
    ``btb_valid`` / ``btb_target``). A taken branch or jump that hits costs no bubble.

    Parameters
    ----------
    reset_vector : int
        First fetch address (4-byte aligned).
    depth : int
        Buffer entries (and so the number of useful requests in flight); ``depth`` sustains
        one instruction per cycle on a target answering ``depth - 1`` cycles after the grant.
    btb_entries : int
        Entries of the branch target buffer (0: none; else a power of two).
    btb_known : bool
        Entries also record branches D predicted not taken (``known`` without ``valid``),
        reported as ``btb_known`` with each instruction (the predictor's
        ``weak_follows_fetch``); else ``btb_known`` is 0.
    dir_entries : int
        With ``btb_entries``: fetch predicts the direction of conditional branches itself
        (0: the buffer's ``valid`` is the direction). Each buffer entry then marks a
        conditional branch (``cond``, written by D for every branch it sees with an aligned
        target, whatever its direction); a hit on one goes to the target only when a
        tournament of 2-bit counters says taken: a per-branch counter and a chooser (indexed
        like the buffer), and a global-history counter (``dir_entries`` of them, indexed by
        ``pc[2:] ^ history``, ``history`` = the directions of the last log2(``dir_entries``)
        trained branches, newest in bit 0, not speculative). The instruction carries
        ``btb_known`` = the hit was a conditional branch (D keeps fetch's direction) and
        ``dir`` (where the tables looked, for training through ``x_dir_*``: the counters are
        read again then, a second read port of each table). Not with ``btb_known``.

    Members
    -------
    ibus : Out(BusSignature())
        Reads only (``we`` = 0, ``be`` = 0b1111).
    redirect : In(1)
        Fetch from ``target`` on; everything fetched before is discarded.
    target : In(32)
        4-byte aligned.
    target_next : In(32)
        ``target + 4``, computed by the caller beside ``target`` (so that no incrementer
        follows the redirect target on its way into the next request address).
    btb_we : In(1)
        Write the branch target buffer entry of ``btb_pc``.
    btb_pc, btb_target : In(32)
    btb_valid : In(1)
        0: invalidate the entry.
    x_btb_we : In(1)
    x_btb_pc : In(32)
        Write the entry of ``x_btb_pc`` with ``target`` (the redirect target; X learns an
        indirect jump's target). Takes priority over ``btb_we``.
    btb_cond : In(1)
        With ``dir_entries``: the entry ``btb_we`` writes is a conditional branch.
    x_dir_update : In(1)
    x_dir_pc : In(32)
    x_dir_state : In(FetchDirection)
    x_dir_taken : In(1)
        With ``dir_entries``: train the direction tables with the outcome of the conditional
        branch at ``x_dir_pc``, whose ``dir`` was ``x_dir_state`` (one cycle after it left X;
        a branch fetch did not look up, ``look`` = 0, only enters the history).
    out : Out(stream.Signature(FetchLayout))
        Instructions in program order from the last redirect.

    Latency
    -------
    ``redirect`` in cycle t; with a one-cycle target the instruction at ``target`` is on ``out``
    in cycle t + 1.
    """

    MAX_OUTSTANDING = 4

    def __init__(self, *, reset_vector=0x8000_0000, depth=3, btb_entries=0, btb_known=False,
                 dir_entries=0):
        self._btb_known = bool(btb_known)
        if not isinstance(dir_entries, int) or dir_entries < 0 or \
                dir_entries & (dir_entries - 1) or dir_entries > GSHARE_MAX_ENTRIES:
            raise ValueError(f"dir_entries must be 0 or a power of two up to "
                             f"{GSHARE_MAX_ENTRIES}, not {dir_entries!r}")
        if dir_entries and (btb_known or not btb_entries):
            raise ValueError("dir_entries needs btb_entries and excludes btb_known")
        self._dir_entries = dir_entries
        if not isinstance(reset_vector, int) or reset_vector % 4 or \
                not 0 <= reset_vector < 2**32:
            raise ValueError(f"reset_vector must be a 4-byte aligned 32-bit address, "
                             f"not {reset_vector!r}")
        if not isinstance(depth, int) or not 1 <= depth <= 8:
            raise ValueError(f"depth must be an integer in 1..8, not {depth!r}")
        if not isinstance(btb_entries, int) or btb_entries < 0 or \
                btb_entries & (btb_entries - 1):
            raise ValueError(f"btb_entries must be 0 or a power of two, not {btb_entries!r}")
        self._reset_vector = reset_vector
        self._depth = depth
        self._btb_entries = btb_entries
        super().__init__({
            "ibus": Out(BusSignature()),
            "redirect": In(1),
            "target": In(32),
            "target_next": In(32),
            "btb_we": In(1),
            "btb_pc": In(32),
            "btb_valid": In(1),
            "btb_target": In(32),
            "x_btb_we": In(1),
            "x_btb_pc": In(32),
            "btb_cond": In(1),
            "x_dir_update": In(1),
            "x_dir_pc": In(32),
            "x_dir_state": In(FetchDirection),
            "x_dir_taken": In(1),
            "out": Out(stream.Signature(FetchLayout)),
        })

    def elaborate(self, platform):
        m = Module()
        depth = self._depth
        bus = self.ibus

        pc = Signal(32, init=self._reset_vector)        # next non-stale request address
        held = Signal()                                 # request presented, not yet granted
        held_addr = Signal(30)
        held_stale = Signal()
        out_cnt = Signal(range(self.MAX_OUTSTANDING + 1))   # granted, answer not yet seen
        drop_cnt = Signal(range(self.MAX_OUTSTANDING + 1))  # of those, answers to discard
        level = Signal(range(depth + 1))
        entries = [Signal(FetchLayout, name=f"entry{i}") for i in range(depth)]

        # Branch target buffer: looked up with `pc` (the sequential request address).
        hit = Signal()
        known = Signal()
        hit_target = Signal(32)
        looked = Signal(FetchDirection)     # where the direction tables looked for `pc`
        if self._btb_entries:
            bits = (self._btb_entries - 1).bit_length()
            # valid: fetch goes on at target; known: the entry holds this pc's direction (a
            # branch D predicted not taken stays known, invalid), for D's weak counters.
            fields = {"valid": 1, "tag": BTB_TAG_BITS, "target": 30}
            if self._btb_known:
                fields["known"] = 1
            if self._dir_entries:
                fields["cond"] = 1
            entry = data.StructLayout(fields)
            m.submodules.btb = btb = Memory(shape=entry, depth=self._btb_entries,
                                            init=[{"valid": 0}] * self._btb_entries)
            rd = btb.read_port(domain="comb")
            wr = btb.write_port()
            tag = slice(2 + bits, 2 + bits + BTB_TAG_BITS)
            match = Signal()
            m.d.comb += [
                rd.addr.eq(pc[2:2 + bits]),
                match.eq(rd.data.valid & (rd.data.tag == pc[tag])),
                hit_target.eq(Cat(Const(0, 2), rd.data.target)),
                wr.addr.eq(Mux(self.x_btb_we, self.x_btb_pc, self.btb_pc)[2:2 + bits]),
                wr.data.valid.eq(self.x_btb_we | self.btb_valid),
                wr.data.tag.eq(Mux(self.x_btb_we, self.x_btb_pc, self.btb_pc)[tag]),
                wr.data.target.eq(Mux(self.x_btb_we, self.target, self.btb_target)[2:]),
                wr.en.eq(self.x_btb_we | self.btb_we),
            ]
            if self._btb_known:
                m.d.comb += [known.eq(rd.data.known & (rd.data.tag == pc[tag])),
                             wr.data.known.eq(1)]
            if self._dir_entries:
                taken = self._direction(m, pc, bits, looked)
                m.d.comb += [
                    hit.eq(match & (~rd.data.cond | taken)),
                    known.eq(match & rd.data.cond),
                    wr.data.cond.eq(~self.x_btb_we & self.btb_cond),
                ]
            else:
                m.d.comb += hit.eq(match)

        # Request.
        in_use = Signal(range(2 * self.MAX_OUTSTANDING + depth + 1))
        m.d.comb += in_use.eq(out_cnt - drop_cnt + level)
        room = (out_cnt < self.MAX_OUTSTANDING) & (self.redirect | (in_use < depth))
        m.d.comb += [
            bus.req.eq(held | room),
            bus.addr.eq(Mux(held, held_addr, Mux(self.redirect, self.target[2:], pc[2:]))),
            bus.we.eq(0),
            bus.be.eq(0b1111),
            bus.wdata.eq(0),
        ]
        grant = Signal()
        stale = Signal()   # the request presented now is stale
        m.d.comb += [
            grant.eq(bus.req & bus.gnt),
            stale.eq(held & (held_stale | self.redirect)),
        ]
        m.d.sync += [
            held.eq(bus.req & ~bus.gnt),
            held_addr.eq(bus.addr),
            held_stale.eq(stale),
        ]
        # A request to the redirect target in the redirect cycle is not looked up.
        predicted = Signal()
        m.d.comb += predicted.eq(hit & ~self.redirect)
        base = Mux(self.redirect, self.target, pc)
        after = Mux(predicted, hit_target, Mux(self.redirect, self.target_next, pc + 4))
        m.d.sync += pc.eq(Mux(grant & ~stale, after, base))

        # Answers.
        dropping = drop_cnt != 0
        fresh = Signal()
        m.d.comb += fresh.eq(bus.rvalid & ~dropping)
        incoming = Signal(FetchLayout)
        m.d.comb += [incoming.insn.eq(bus.rdata), incoming.err.eq(bus.err)]
        m.d.sync += out_cnt.eq(out_cnt + grant - bus.rvalid)
        with m.If(self.redirect):
            m.d.sync += drop_cnt.eq(out_cnt - bus.rvalid + (grant & stale))
        with m.Else():
            m.d.sync += drop_cnt.eq(drop_cnt - (bus.rvalid & dropping) + (grant & stale))

        if self._btb_entries:
            # The address and prediction of every non-stale request in flight, in order.
            Pending = data.StructLayout({"pc": 30, "taken": 1, "known": 1, "target": 30,
                                         "dir": FetchDirection})
            queue = [Signal(Pending, name=f"pending{i}") for i in range(self.MAX_OUTSTANDING)]
            count = Signal(range(self.MAX_OUTSTANDING + 1))
            new = Signal(Pending)
            push = grant & ~stale
            m.d.comb += [
                new.pc.eq(bus.addr),
                new.taken.eq(predicted),
                new.known.eq(known & ~self.redirect),
                new.target.eq(hit_target[2:]),
                new.dir.eq(looked),
                new.dir.look.eq(looked.look & ~self.redirect),
                incoming.pc.eq(Cat(Const(0, 2), queue[0].pc)),
                incoming.btb_taken.eq(queue[0].taken),
                incoming.btb_known.eq(queue[0].known),
                incoming.btb_target.eq(Cat(Const(0, 2), queue[0].target)),
                incoming.dir.eq(queue[0].dir),
            ]
            with m.If(self.redirect):
                m.d.sync += [count.eq(push), queue[0].eq(new)]
            with m.Else():
                pop = fresh
                with m.If(pop):
                    for i in range(self.MAX_OUTSTANDING - 1):
                        m.d.sync += queue[i].eq(queue[i + 1])
                with m.If(push):
                    with m.Switch(count - pop):
                        for i in range(self.MAX_OUTSTANDING):
                            with m.Case(i):
                                m.d.sync += queue[i].eq(new)
                m.d.sync += count.eq(count - pop + push)
        else:
            resp_pc = Signal(32, init=self._reset_vector)   # address of the next answer
            m.d.comb += incoming.pc.eq(resp_pc)
            with m.If(self.redirect):
                m.d.sync += resp_pc.eq(self.target)
            with m.Elif(fresh):
                m.d.sync += resp_pc.eq(resp_pc + 4)

        # Buffer with bypass: a ring. Every fresh answer is written at ``wr_at`` (also one
        # D takes at once, past the buffer), so the entries' write enables depend on the bus
        # answer only, never on D's ``ready`` (D's hold, from X's: a long path into the
        # enables of every entry when the buffer shifted); ``ready`` moves ``rd_at`` and
        # ``level``.
        rd_at = Signal(range(max(depth, 2)))
        wr_at = Signal(range(max(depth, 2)))
        head = Signal(FetchLayout)
        with m.Switch(rd_at):
            for i in range(depth):
                with m.Case(i):
                    m.d.comb += head.eq(entries[i])
        m.d.comb += [
            self.out.valid.eq((level != 0) | fresh),
            self.out.payload.eq(Mux(level != 0, head, incoming)),
        ]
        pop = Signal()
        m.d.comb += pop.eq(self.out.valid & self.out.ready)

        def following(ptr):
            return Mux(ptr == depth - 1, 0, ptr + 1)

        with m.If(fresh):
            with m.Switch(wr_at):
                for i in range(depth):
                    with m.Case(i):
                        m.d.sync += entries[i].eq(incoming)
        with m.If(self.redirect):
            m.d.sync += [level.eq(0), rd_at.eq(0), wr_at.eq(0)]
        with m.Else():
            # (the requests in flight never exceed the free entries: no overflow)
            m.d.sync += level.eq(level + fresh - pop)
            with m.If(fresh):
                m.d.sync += wr_at.eq(following(wr_at))
            with m.If(pop):
                m.d.sync += rd_at.eq(following(rd_at))
        return m

    def _direction(self, m, pc, bits, looked):
        """Fetch's direction tables (``dir_entries``): whether the conditional branch at
        ``pc`` is taken; where they looked goes to ``looked``."""
        def toward(ctr, up):      # a saturating 2-bit counter moved one step
            return Mux(up, Mux(ctr == 3, 3, ctr + 1), Mux(ctr == 0, 0, ctr - 1))

        entries = self._dir_entries
        gbits = (entries - 1).bit_length()
        # Per-branch counter (bits 0:2, taken when >= 2) and chooser (bits 2:4, the global
        # table when >= 2), indexed like the buffer; initial: weakly not taken, per-branch.
        m.submodules.dir_local = local = Memory(shape=4, depth=self._btb_entries,
                                                init=[0b0101] * self._btb_entries)
        m.submodules.dir_global = glob = Memory(shape=2, depth=entries, init=[1] * entries)
        history = Signal(max(gbits, 1))
        lrd = local.read_port(domain="comb")
        grd = glob.read_port(domain="comb")
        m.d.comb += [
            lrd.addr.eq(pc[2:2 + bits]),
            grd.addr.eq(pc[2:2 + gbits] ^ history[:gbits]),
            looked.look.eq(1),
            looked.index.eq(grd.addr),
        ]
        # Training, one cycle after the branch left X: the counters where fetch looked for it,
        # read again (a second read port), moved and written back in the same cycle.
        x = self.x_dir_state
        taken = self.x_dir_taken
        update = self.x_dir_update & x.look
        lold = local.read_port(domain="comb")
        gold = glob.read_port(domain="comb")
        lwr = local.write_port()
        gwr = glob.write_port()
        bim, choose, gs = lold.data[0:2], lold.data[2:4], gold.data
        bim_right = bim[1] == taken
        gs_right = gs[1] == taken
        m.d.comb += [
            lold.addr.eq(self.x_dir_pc[2:2 + bits]),
            gold.addr.eq(x.index[:gbits]),
            lwr.addr.eq(lold.addr),
            lwr.data[0:2].eq(toward(bim, taken)),
            lwr.data[2:4].eq(Mux(bim_right == gs_right, choose, toward(choose, gs_right))),
            lwr.en.eq(update),
            gwr.addr.eq(gold.addr),
            gwr.data.eq(toward(gs, taken)),
            gwr.en.eq(update),
        ]
        with m.If(self.x_dir_update):
            m.d.sync += history.eq(Cat(taken, history[:-1]))
        return Mux(lrd.data[3], grd.data[1], lrd.data[1])
