"""Branch predictor (D stage): static backward-taken, optionally a branch history table (with
a global-history table and a chooser beside it) and a return address stack."""

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

__all__ = ["Predictor", "PredictorState", "FetchDirection", "GSHARE_MAX_ENTRIES"]

#: Largest global-history table (its index travels with the branch: 11 bits).
GSHARE_MAX_ENTRIES = 2048

#: What D read for a conditional branch, carried to X and back for training: the per-branch
#: counter (``bim``), the chooser (``choose``), the global-history counter (``gs``) and its
#: table index (``index``, pc and history as seen in D), and whether the branch is backward.
PredictorState = data.StructLayout({
    "bim":    2,
    "choose": 2,
    "gs":     2,
    "index":  (GSHARE_MAX_ENTRIES - 1).bit_length(),
    "back":   1,
    "flook":  1,
})

#: Where fetch's direction tables (``fetch_gshare_entries``) looked for an instruction, carried
#: with it to X and back to fetch for training: whether they were looked up for it at all
#: (``look``: not for the instruction at a redirect target) and the global-history table's
#: index (pc and history as fetch saw them). The counters themselves are read again when the
#: branch trains. In :data:`PredictorState` they travel as ``flook`` and ``index`` (the
#: D-stage global-history table is then absent).
FetchDirection = data.StructLayout({
    "look":   1,
    "index":  (GSHARE_MAX_ENTRIES - 1).bit_length(),
})


def _is_link(reg):
    return (reg == 1) | (reg == 5)


class Predictor(wiring.Component):
    """Prediction in decode: JAL taken; conditional branches backward-taken / forward-not-taken,
    corrected per branch by a table of 2-bit "disagree" counters; returns from a return address
    stack.

    - Conditional branch: the static guess is "taken when backward" (``imm[31]``). With
      ``bht_entries`` > 0, a table of 2-bit counters indexed by ``pc[2:]`` says whether to
      follow it (counter 0 or 1, the initial 0) or not (2, 3). X trains the counter of every
      branch that leaves it (``x_update``): towards 0 when the static guess was right, towards
      3 when it was wrong. With ``weak_follows_fetch``, a weak counter (1 or 2) does not
      overrule fetch when the branch
      target buffer knew the branch (``f_known``: its entry holds the direction D last
      predicted, taken or not): the branch is predicted the way fetch went (``f_taken``),
      since D's redirect costs two bubbles and is worth it only for a confident guess (right
      more than 3 times in 4: a wrong prediction costs three either way). A branch the buffer
      does not know (never seen, or evicted) follows its counter. (Measured with the firmware
      benchmarks, ``rtl/core/README.md``.)
    - With ``gshare_entries`` > 0 as well (a tournament): a second table of such counters,
      indexed by ``pc[2:] ^ history`` (gshare; ``history`` = the directions of the last
      ``gshare_history`` conditional branches that trained the tables, newest in bit 0), and a
      2-bit chooser per entry of the first table (initial 1) that picks the second table's
      counter when it is 2 or 3. Training updates both counters; the chooser moves towards the
      table that was right when the two disagreed (towards 3 for the global one). The history
      is not speculative: it takes a branch's direction when the branch trains (one cycle after
      it left X), so the two or three branches nearest before a branch in D are not yet in
      it; the index read in D travels with the branch (``ctr``), so it trains the entry it
      read.
    - Return address stack (``ras_depth`` > 0): JAL / JALR with ``rd`` = x1 or x5 (a call,
      the hint of the ISA manual) pushes ``pc + 4``; JALR with ``rs1`` = x1 / x5, ``rd`` not
      x1 / x5 and ``imm`` = 0 (a return) pops and is predicted taken to the popped address
      (when the stack is not empty). A full stack overwrites its oldest entry. The stack
      is updated once per instruction, in its first cycle in D, unless an older stage
      redirects in that cycle (``flush``); wrong-path updates of instructions flushed later
      are not undone (prediction quality only: X checks every predicted target).
    - Other JALR (indirect calls and jumps, calls through ``auipc`` + ``jalr``, and returns
      the stack cannot predict): with an even ``imm``, predicted taken to ``f_target`` when
      the branch target buffer hit (X writes the buffer with the target of every such JALR
      it redirects); else not predicted (resolved in X).
    - The fetch unit's branch target buffer may already have sent fetch somewhere after the
      instruction (``f_taken``, ``f_target``). When that path differs from the prediction
      here, D redirects fetch (to the predicted target, or to ``pc + 4``; the core registers
      the redirect, so it costs two bubbles) and writes the
      buffer (``btb_we``: the target when predicted taken, else the entry is invalidated);
      when it agrees, a taken prediction costs no bubble.

    A predicted target that is not 4-byte aligned is never predicted (the X stage raises
    instruction-address-misaligned instead), so fetch never runs at a misaligned address.
    The prediction is decided in the instruction's first cycle in D and held while D holds.

    Parameters
    ----------
    bht_entries : int
        Counters of the branch history table (0: none, static prediction only; else a power of
        two).
    gshare_entries : int
        Counters of the global-history table (0: none, no chooser; else a power of two up to
        :data:`GSHARE_MAX_ENTRIES`; needs ``bht_entries``).
    gshare_history : int
        Branch directions in the global history (1 to log2(``gshare_entries``)).
    weak_follows_fetch : bool
        A weak counter keeps fetch's direction for a branch the buffer knew (above).
    fetch_direction : bool
        Fetch predicts the direction of the conditional branches its buffer holds
        (:class:`~.fetch.Fetch`, ``dir_entries``): a branch with ``f_known`` keeps the
        direction fetch took (D never redirects it; X corrects it), the others follow the
        static guess and the history table; D writes a buffer entry (``btb_cond``, the target
        ``pc + imm``) for every conditional branch fetch did not know, whatever its
        direction, so that fetch's tables decide it from then on. ``ctr`` then carries
        ``f_dir`` (where fetch's tables looked) in its ``flook`` / ``index`` fields. Not with
        ``gshare_entries`` or ``weak_follows_fetch``.
    ras_depth : int
        Entries of the return address stack (0: none).
    early_branch : bool
        A conditional branch with ``resolved`` takes the direction ``resolved_taken`` (its
        real one, compared in D) instead of the predicted one: D redirects fetch when fetch's
        path differs from it, and X finds no misprediction. The branch target buffer is still
        written from the prediction (``btb_we`` / ``btb_valid`` as without the option), so
        fetch keeps predicting what the history table predicts (a loop's exit, taken the
        real way in D, leaves the loop's entry in the buffer).

    Members
    -------
    d_valid : In(1)
        The D stage holds an instruction (one with a pending exception too: its prediction
        only steers fetch until it traps in M).
    d_reload : In(1)
        The D stage takes a new instruction next cycle.
    flush : In(1)
        An older stage redirects this cycle (the instruction in D is squashed).
    branch, jal, jalr : In(1)
    rd, rs1 : In(5)
    pc, imm : In(32)
    taken : Out(1)
        Prediction for the instruction in D (passed on to the X stage).
    target : Out(32)
        The predicted target.
    check : Out(32)
        For a JALR: ``target - imm``, the ``rs1`` for which the predicted target is right
        (passed on to X, which compares it with ``rs1``, bits 31:1, keeping the target adder
        out of the check).
    ctr : Out(PredictorState)
        The table state read for the instruction (passed on to X for training).
    f_taken : In(1)
    f_target : In(32)
        Fetch continued at ``f_target`` after this instruction (branch target buffer hit).
    f_known : In(1)
        The branch target buffer held this instruction's direction (taken or not).
    f_dir : In(FetchDirection)
        With ``fetch_direction``: what fetch's direction tables read for the instruction.
    redirect : Out(1)
        Redirect fetch to ``redirect_target`` now: the first cycle of an instruction whose
        prediction differs from the path fetch took.
    redirect_target : Out(32)
    refetch : Out(1)
        Fetch followed the branch target buffer to a target other than the predicted one
        (a branch or JAL): X must redirect to the right path whatever the outcome.
    btb_we, btb_valid, btb_cond : Out(1)
        Write the branch target buffer entry of ``pc``: ``btb_valid``, ``target`` and
        (``fetch_direction``) whether it is a conditional branch.
    x_update : In(1)
        A conditional branch leaves X this cycle: train its counter.
    x_pc : In(32)
    x_ctr : In(PredictorState)
        Its state as read in D.
    x_agree : In(1)
        Its outcome equals the static guess (taken exactly when backward).
    resolved : In(1)
        With ``early_branch``: the conditional branch in D has its real direction in
        ``resolved_taken`` (its sources are not due from X or M).
    resolved_taken : In(1)
    """

    def __init__(self, *, bht_entries=0, ras_depth=0, gshare_entries=0, gshare_history=0,
                 weak_follows_fetch=False, fetch_direction=False, early_branch=False):
        self._early_branch = bool(early_branch)
        self._weak_follows_fetch = bool(weak_follows_fetch)
        self._fetch_direction = bool(fetch_direction)
        if fetch_direction and (gshare_entries or weak_follows_fetch):
            raise ValueError("fetch_direction excludes gshare_entries and weak_follows_fetch")
        for name, value in (("bht_entries", bht_entries), ("gshare_entries", gshare_entries)):
            if not isinstance(value, int) or value < 0 or value & (value - 1):
                raise ValueError(f"{name} must be 0 or a power of two, not {value!r}")
        if gshare_entries:
            if not bht_entries:
                raise ValueError("gshare_entries needs bht_entries")
            if gshare_entries > GSHARE_MAX_ENTRIES:
                raise ValueError(f"gshare_entries must be at most {GSHARE_MAX_ENTRIES}, not "
                                 f"{gshare_entries}")
            bits = (gshare_entries - 1).bit_length()
            if not isinstance(gshare_history, int) or not 1 <= gshare_history <= bits:
                raise ValueError(f"gshare_history must be an integer in 1..{bits}, not "
                                 f"{gshare_history!r}")
        elif gshare_history:
            raise ValueError("gshare_history needs gshare_entries")
        self._gshare_entries = gshare_entries
        self._gshare_history = gshare_history
        if not isinstance(ras_depth, int) or not 0 <= ras_depth <= 32:
            raise ValueError(f"ras_depth must be an integer in 0..32, not {ras_depth!r}")
        self._bht_entries = bht_entries
        self._ras_depth = ras_depth
        super().__init__({
            "d_valid": In(1),
            "d_reload": In(1),
            "flush": In(1),
            "branch": In(1),
            "jal": In(1),
            "jalr": In(1),
            "rd": In(5),
            "rs1": In(5),
            "pc": In(32),
            "imm": In(32),
            "taken": Out(1),
            "target": Out(32),
            "check": Out(32),
            "ctr": Out(PredictorState),
            "f_taken": In(1),
            "f_known": In(1),
            "f_target": In(32),
            "f_dir": In(FetchDirection),
            "redirect": Out(1),
            "redirect_target": Out(32),
            "refetch": Out(1),
            "btb_we": Out(1),
            "btb_valid": Out(1),
            "btb_cond": Out(1),
            "x_update": In(1),
            "x_pc": In(32),
            "x_ctr": In(PredictorState),
            "x_agree": In(1),
            "resolved": In(1),
            "resolved_taken": In(1),
        })

    def elaborate(self, platform):
        m = Module()
        first = Signal()          # the instruction's first cycle in D
        seen = Signal()
        m.d.comb += first.eq(self.d_valid & ~seen)
        m.d.sync += seen.eq(Mux(self.d_reload, 0, seen | self.d_valid))

        # ---- direction of conditional branches -------------------------------------------
        follow = Signal(init=1)   # follow the static guess
        weak = Signal()           # the counter is 1 or 2: keep fetch's direction
        if self._bht_entries:
            follow, weak = self._direction(m)
        if self._weak_follows_fetch:
            branch_taken = self.branch & Mux(weak & self.f_known, self.f_taken,
                                             self.imm[31] == follow)
        elif self._fetch_direction:
            branch_taken = self.branch & Mux(self.f_known, self.f_taken, self.imm[31] == follow)
        else:
            branch_taken = self.branch & (self.imm[31] == follow)
        # The predicted direction trains the buffer; with ``early_branch`` a resolved branch
        # steers fetch (and X's check) by its real one.
        predicted_branch = branch_taken
        if self._early_branch:
            branch_taken = Mux(self.resolved, self.branch & self.resolved_taken,
                               predicted_branch)

        # ---- return address stack --------------------------------------------------------
        seq = Signal(30)          # pc + 4 (word address)
        m.d.comb += seq.eq(self.pc[2:] + 1)
        ras_hit = Signal()
        ras_top = Signal(32)
        if self._ras_depth:
            depth = self._ras_depth
            stack = [Signal(30, name=f"ras{i}") for i in range(depth)]
            top = Signal(range(depth))          # index of the top entry
            count = Signal(range(depth + 1))
            call = (self.jal | self.jalr) & _is_link(self.rd)
            ret = self.jalr & ~_is_link(self.rd) & _is_link(self.rs1) & (self.imm == 0)
            with m.Switch(top):
                for i in range(depth):
                    with m.Case(i):
                        m.d.comb += ras_top.eq(Cat(0, 0, stack[i]))
            m.d.comb += ras_hit.eq(ret & (count != 0))
            update = first & ~self.flush
            up = Signal(range(depth))
            down = Signal(range(depth))
            m.d.comb += [
                up.eq(Mux(top == depth - 1, 0, top + 1)),
                down.eq(Mux(top == 0, depth - 1, top - 1)),
            ]
            with m.If(update & call):
                m.d.sync += [top.eq(up), count.eq(Mux(count == depth, depth, count + 1))]
                with m.Switch(up):
                    for i in range(depth):
                        with m.Case(i):
                            m.d.sync += stack[i].eq(seq)
            with m.Elif(update & ras_hit):
                m.d.sync += [top.eq(down), count.eq(count - 1)]

        # ---- prediction, decided in the first cycle and held -----------------------------
        target = Signal(32)
        jalr_target = Signal(32)
        check = Signal(32)
        taken = Signal()
        predicted = Signal()      # ``taken`` with the predicted direction of a branch
        indirect = Signal()
        misaligned = Signal()     # target[1]: a target that is not 4-byte aligned
        relative = Signal(32)     # pc + imm
        m.d.comb += [
            relative.eq(self.pc + self.imm),
            # Another JALR with an even imm follows the branch target buffer (trained by X).
            indirect.eq(self.jalr & ~ras_hit & ~self.imm[0] & self.f_taken),
            jalr_target.eq(Mux(ras_hit, ras_top, self.f_target)),
            target.eq(Mux(ras_hit | indirect, jalr_target, relative)),
            check.eq(jalr_target - self.imm),
            # target[1] without the adder's carry chain: the stack's and the buffer's targets
            # are word addresses, and pc + imm of a branch or JAL (imm[0] = 0) has bit 1 =
            # pc[1] ^ imm[1]. (A JALR otherwise is never predicted taken.)
            misaligned.eq(~ras_hit & ~indirect & (self.pc[1] ^ self.imm[1])),
            taken.eq((self.jal | branch_taken | ras_hit | indirect) & ~misaligned),
            predicted.eq((self.jal | predicted_branch | ras_hit | indirect) & ~misaligned),
        ]
        # Fetch's path after the instruction differs from the prediction: D redirects when
        # the direction differs or a return's target does (registered values: a short path).
        # A buffer target that differs from pc + imm (a partial-tag alias, or changed code)
        # is left to X (``refetch``), keeping the target adder out of D's redirect.
        differs = Signal()
        trains = Signal()         # the same with the predicted direction: the buffer learns
        late = Signal()
        stale = Signal()          # ``late`` with the predicted direction: the buffer learns
        ras_differs = ras_hit & (ras_top[2:] != self.f_target[2:])
        other = ~ras_hit & ~indirect & (relative[2:] != self.f_target[2:])
        m.d.comb += [
            differs.eq((taken != self.f_taken) | (taken & ras_differs)),
            trains.eq((predicted != self.f_taken) | (predicted & ras_differs)),
            late.eq(taken & self.f_taken & other),
            stale.eq(predicted & self.f_taken & other),
        ]
        held_taken = Signal()
        held_target = Signal(32)
        held_check = Signal(32)
        held_late = Signal()
        with m.If(first):
            m.d.sync += [held_taken.eq(taken), held_target.eq(target), held_late.eq(late),
                         held_check.eq(check)]
        m.d.comb += [
            self.taken.eq(Mux(first, taken, held_taken)),
            self.target.eq(Mux(first, target, held_target)),
            self.check.eq(Mux(first, check, held_check)),
            self.refetch.eq(Mux(first, late, held_late)),
            self.redirect.eq(first & differs),
            self.redirect_target.eq(Mux(taken, target, Cat(0, 0, seq))),
            self.ctr.back.eq(self.imm[31]),   # the outcome's reference for training
        ]
        if not self._fetch_direction:
            m.d.comb += [
                self.btb_we.eq(first & (trains | stale) & ~self.flush),
                self.btb_valid.eq(predicted),
            ]
        else:
            # Every conditional branch fetch did not know gets an entry (its target when the
            # target is aligned: a misaligned one is never predicted).
            cond = self.branch & ~misaligned
            m.d.comb += [
                self.btb_we.eq(first & (trains | stale | (self.branch & ~self.f_known)) &
                               ~self.flush),
                self.btb_valid.eq(predicted | cond),
                self.btb_cond.eq(cond),
                self.ctr.flook.eq(self.f_dir.look),
                self.ctr.index.eq(self.f_dir.index),
            ]
        return m

    def _direction(self, m):
        """The history table(s): whether the branch in D follows the static guess, and whether
        the counter that says so is weak (1 or 2)."""
        def toward(ctr, up):      # a saturating 2-bit counter moved one step
            return Mux(up, Mux(ctr == 3, 3, ctr + 1), Mux(ctr == 0, 0, ctr - 1))

        follow = Signal()
        weak = Signal()
        x = self.x_ctr
        bits = (self._bht_entries - 1).bit_length()
        gshare = self._gshare_entries
        # The per-branch table; with a global-history table its words also hold the chooser.
        m.submodules.bht = bht = Memory(shape=4 if gshare else 2, depth=self._bht_entries,
                                        init=[0b0100 if gshare else 0] * self._bht_entries)
        rd = bht.read_port(domain="comb")
        wr = bht.write_port()
        m.d.comb += [
            rd.addr.eq(self.pc[2:2 + bits]),
            self.ctr.bim.eq(rd.data[0:2]),
            wr.addr.eq(self.x_pc[2:2 + bits]),
            wr.data[0:2].eq(toward(x.bim, ~self.x_agree)),
            wr.en.eq(self.x_update),
        ]
        if not gshare:
            m.d.comb += [follow.eq(~rd.data[1]), weak.eq(rd.data[0] ^ rd.data[1])]
            return follow, weak
        gbits = (gshare - 1).bit_length()
        history = Signal(self._gshare_history)
        m.submodules.gshare = gst = Memory(shape=2, depth=gshare, init=[0] * gshare)
        grd = gst.read_port(domain="comb")
        gwr = gst.write_port()
        # A table was right when its "follow" (counter 0 or 1) matches the outcome.
        bim_right = ~x.bim[1] == self.x_agree
        gs_right = ~x.gs[1] == self.x_agree
        with m.If(self.x_update):
            # taken = (the static guess was right) == backward
            m.d.sync += history.eq(Cat(self.x_agree == x.back, history[:-1]))
        m.d.comb += [
            grd.addr.eq(self.pc[2:2 + gbits] ^ history),
            self.ctr.choose.eq(rd.data[2:4]),
            self.ctr.gs.eq(grd.data),
            self.ctr.index.eq(grd.addr),
            follow.eq(Mux(rd.data[3], ~grd.data[1], ~rd.data[1])),
            weak.eq(Mux(rd.data[3], grd.data[0] ^ grd.data[1], rd.data[0] ^ rd.data[1])),
            wr.data[2:4].eq(Mux(bim_right == gs_right, x.choose, toward(x.choose, gs_right))),
            gwr.addr.eq(x.index[:gbits]),
            gwr.data.eq(toward(x.gs, ~self.x_agree)),
            gwr.en.eq(self.x_update),
        ]
        return follow, weak
