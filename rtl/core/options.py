"""Build options of the control core: what the pipeline spends logic on.

Every option keeps the ISA behaviour identical (same results, traps, CSR values, retirement
order); only timing (cycles per instruction) and size change. :data:`CORE_OPTIONS` names the
variants a :class:`dure.config.SoCConfig` can pick with its ``core`` field.
"""

from dataclasses import dataclass

__all__ = ["CoreOptions", "CORE_OPTIONS", "core_options"]


@dataclass(frozen=True)
class CoreOptions:
    """Size / speed trade-offs of :class:`~.core.Core`.

    Parameters
    ----------
    fetch_depth : int
        Entries of the prefetch buffer (:class:`~.fetch.Fetch`), 1..8. 3 sustains one
        instruction per cycle on a target answering up to two cycles after the grant; 1 halves
        the fetch rate on a one-cycle target.
    forwarding : bool
        Forward results from the M and W stages into X (:class:`~.bypass.Bypass`). Without
        forwarding the D stage waits while an older instruction in X or M writes one of its
        source registers (the W-stage write is still forwarded into D): a dependent
        instruction right behind its producer costs two bubbles instead of none.
    shift_in_multiplier : bool
        Compute SLL / SRL / SRA on the multiplier (``a * 2**n`` low word for SLL; high word of
        ``a * 2**(32 - n)``, unsigned or signed-by-unsigned, for SRL / SRA; ``a * 1`` for a
        right shift by 0) instead of a barrel shifter. The result then arrives in M like a
        MUL's (one bubble for a dependent instruction with forwarding).
    predictor : bool
        Predict in D (:class:`~.predictor.Predictor`: JAL and backward branches taken,
        two bubbles: D's redirect is registered). Without it every taken branch and jump
        is redirected from X (three bubbles), and D needs no target adder and X no
        ``pc + 4`` adder for redirects.
    bht_entries : int
        With ``predictor``: 2-bit counters (0 or a power of two) that learn, per branch,
        when to override the backward-taken guess (0: static prediction only).
    gshare_entries : int
        With ``bht_entries``: a second table of 2-bit counters indexed by the pc XOR the global
        branch history, and a chooser per entry of the first table that picks between the two
        (a tournament, :class:`~.predictor.Predictor`); 0 or a power of two up to 2048. 0:
        the per-branch table alone.
    gshare_history : int
        With ``gshare_entries``: directions of recent branches in the history (1 to
        log2(``gshare_entries``)).
    weak_follows_fetch : bool
        With ``bht_entries`` and ``btb_entries``: a weak history counter (1 or 2) keeps the
        direction fetch took for a branch the branch target buffer knew (the buffer then also
        keeps branches D predicted not taken, as known): D redirects only for a confident
        guess. Fewer cycles on the firmware benchmarks (-0.4 %), off in ``full``: its one
        place-and-route run came out at 48.6 MHz (``rtl/core/README.md``, round 3).
    fetch_gshare_entries : int
        With ``btb_entries``: fetch predicts the direction of the conditional branches its
        buffer holds (:class:`~.fetch.Fetch` ``dir_entries``): a tournament of a per-branch
        counter and a global-history counter (this many, 0 or a power of two up to 2048,
        indexed by the pc XOR the last log2(entries) directions), a chooser per branch. D then
        keeps fetch's direction for those branches instead of redirecting fetch (two bubbles)
        whenever its own guess differs. 0: the buffer's entry is the direction (the last one
        D predicted). Not with ``gshare_entries`` or ``weak_follows_fetch``. Fewer cycles on
        the firmware benchmarks (-1.6 % with 256); on in the ``full-gshare`` variant (50.4
        MHz routed in its one run, with ``registered_divider_start``), off in ``full`` until
        more runs confirm it (``rtl/core/README.md``, round 5).
    btb_entries : int
        With ``predictor``: entries of the branch target buffer in fetch (0 or a power of
        two; :class:`~.fetch.Fetch`): a taken branch or jump whose target it holds costs no
        bubble instead of one.
    ras_depth : int
        With ``predictor``: return address stack entries (0: returns are resolved in X, three
        bubbles; else a predicted return costs one).
    load_branch_forwarding : bool
        With ``forwarding``: a conditional branch in X takes a source that a load in M
        writes straight from the load's answer (the bus data, merged, shifted and extended)
        into its comparison only, instead of waiting one cycle for it; the ALU, the address
        adder and every other user still wait. A load followed by a branch on its value
        then costs no bubble instead of one. Puts the data bus answer in front of the
        branch comparison and X's registered redirect (``rtl/core/README.md``, Clock).
    load_store_forwarding : bool
        With ``forwarding``: the same for a store's data (``rs2``; its address still waits):
        a load followed by a store of the loaded value costs no bubble. Puts the data bus
        answer in front of the store data of the next request.
    late_branch : bool
        With ``forwarding`` and ``predictor``, not with ``load_branch_forwarding``: a
        conditional branch whose source is written by a load, MUL or CSR read still in M
        leaves X without waiting (its target must be 4-byte aligned and fetch's target
        right: then it cannot trap) and is resolved in M, comparing the value W writes
        that cycle (a register, not the bus answer). A right prediction then costs no
        bubble instead of one; a wrong one redirects fetch from X one cycle later than
        usual (four bubbles, as the wait plus the misprediction did before), dropping the
        instruction that followed it into M. While M resolves such a branch, X sends no
        data request. Off in ``full`` (46.4 / 47.1 MHz routed in its two runs,
        ``rtl/core/README.md`` round 4); on in the ``full-late`` variant.
    late_branch_requests : bool
        With ``late_branch``: the load or store behind such a branch may send its data
        request while M resolves the branch, unless M finds it mispredicted in that cycle
        (the comparison in M then gates the request: a path from W's value through the
        comparison into the data bus request).
    late_add : bool
        With ``forwarding``: a register-register ADD whose source is written by a load, MUL
        or CSR read still in M leaves X without waiting and is added in M, from the value W
        writes that cycle (a register) and the other operand captured in X: a MUL -> ADD
        (a multiply-accumulate loop) or load -> ADD costs no bubble instead of one; the
        ADD is then itself a late producer (an instruction right behind it that reads its
        result waits one cycle, as behind a load). One 32-bit adder and a result-mux input
        in M. On in ``full`` since round 9 (``rtl/core/README.md``: the core alone 54.4 /
        54.0 MHz routed with ``late_shift``, seeds 1 / 2); off in ``full-early``.
    late_shift : bool
        With ``forwarding``, without ``shift_in_multiplier``: a shift (SLL / SRL / SRA, by a
        register or an immediate) whose value or amount is written by a load, MUL or CSR
        read still in M leaves X without waiting and is shifted in M by a second barrel
        shifter, from the value W writes that cycle (a register) and the other operand
        captured in X (or the immediate): a MUL -> shift (bit fields of a product) or load
        -> shift costs no bubble instead of one; the shift is then itself a late producer
        (an instruction right behind it that reads its result waits one cycle; an ADD or
        shift with ``late_add`` / ``late_shift`` does not). A second barrel shifter and a
        result-mux input in M. On in ``full`` (``rtl/core/README.md`` round 9); off in
        ``full-early``.
    early_branch : bool
        With ``forwarding`` and ``predictor``: a conditional branch whose sources no
        instruction in X or M writes (its values are in the register file, or W writes them
        this cycle) is compared in D, in its first cycle there, and D steers fetch by the
        real direction instead of the predicted one: fetch's path right costs no bubble,
        wrong costs D's redirect (two bubbles) instead of a misprediction from X (three).
        The branch target buffer and the history table learn as before (the buffer keeps
        the predicted direction, so a loop's exit does not evict its entry). A comparator
        (``branch.py``'s ``branch_condition``, from one subtraction) in D. On in ``full``
        since round 10 (``rtl/core/README.md``: GCC ``bench_cmark`` -2.9 % cycles; the core
        alone 53.5 / 52.0 / 52.5 MHz routed, seeds 1 / 2 / 3); off in ``full-early``.
    registered_divider_start : bool
        Without ``serial_divider``: the divider captures the operands' magnitudes first and
        counts the dividend's leading zero bytes from them in the next cycle
        (:class:`~.divider.Divider` ``registered_start``): one more cycle per division, the
        bypass -> negation -> zero-byte count -> dividend path cut in two.
    serial_divider : bool
        Divide on one shared subtractor (:class:`~.divider_serial.SerialDivider`, 36 cycles)
        instead of :class:`~.divider.Divider` (33 cycles, separate negators and comparator).
    """

    fetch_depth: int = 3
    forwarding: bool = True
    shift_in_multiplier: bool = False
    predictor: bool = True
    bht_entries: int = 64
    gshare_entries: int = 0
    gshare_history: int = 8
    weak_follows_fetch: bool = False
    fetch_gshare_entries: int = 0
    btb_entries: int = 64
    ras_depth: int = 4
    load_branch_forwarding: bool = False
    load_store_forwarding: bool = False
    late_branch: bool = False
    late_branch_requests: bool = False
    late_add: bool = True
    late_shift: bool = True
    early_branch: bool = True
    registered_divider_start: bool = False
    serial_divider: bool = False

    def __post_init__(self):
        if not isinstance(self.fetch_depth, int) or not 1 <= self.fetch_depth <= 8:
            raise ValueError(f"fetch_depth must be an integer in 1..8, not {self.fetch_depth!r}")
        for name in ("bht_entries", "btb_entries"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0 or value & (value - 1):
                raise ValueError(f"{name} must be 0 or a power of two, not {value!r}")
        if not isinstance(self.ras_depth, int) or not 0 <= self.ras_depth <= 32:
            raise ValueError(f"ras_depth must be an integer in 0..32, not {self.ras_depth!r}")
        if not self.predictor and (self.bht_entries or self.btb_entries or self.ras_depth):
            raise ValueError("bht_entries, btb_entries and ras_depth need predictor=True")
        if self.weak_follows_fetch and not (self.bht_entries and self.btb_entries):
            raise ValueError("weak_follows_fetch needs bht_entries and btb_entries")
        if self.fetch_gshare_entries:
            value = self.fetch_gshare_entries
            if not isinstance(value, int) or value < 0 or value & (value - 1) or value > 2048:
                raise ValueError(f"fetch_gshare_entries must be 0 or a power of two up to "
                                 f"2048, not {value!r}")
            if not self.btb_entries:
                raise ValueError("fetch_gshare_entries needs btb_entries")
            if self.gshare_entries or self.weak_follows_fetch:
                raise ValueError("fetch_gshare_entries excludes gshare_entries and "
                                 "weak_follows_fetch")
        if self.gshare_entries:
            value = self.gshare_entries
            if not isinstance(value, int) or value < 0 or value & (value - 1) or value > 2048:
                raise ValueError(f"gshare_entries must be 0 or a power of two up to 2048, not "
                                 f"{value!r}")
            if not self.bht_entries:
                raise ValueError("gshare_entries needs bht_entries")
            bits = (value - 1).bit_length()
            if not isinstance(self.gshare_history, int) or \
                    not 1 <= self.gshare_history <= bits:
                raise ValueError(f"gshare_history must be an integer in 1..{bits}, not "
                                 f"{self.gshare_history!r}")
        if (self.load_branch_forwarding or self.load_store_forwarding) and \
                not self.forwarding:
            raise ValueError("load_branch_forwarding and load_store_forwarding need "
                             "forwarding=True")
        if self.late_branch and not (self.forwarding and self.predictor):
            raise ValueError("late_branch needs forwarding=True and predictor=True")
        if self.late_add and not self.forwarding:
            raise ValueError("late_add needs forwarding=True")
        if self.late_shift and not (self.forwarding and not self.shift_in_multiplier):
            raise ValueError("late_shift needs forwarding=True and shift_in_multiplier=False")
        if self.early_branch and not (self.forwarding and self.predictor):
            raise ValueError("early_branch needs forwarding=True and predictor=True")
        if self.late_branch_requests and not self.late_branch:
            raise ValueError("late_branch_requests needs late_branch=True")
        if self.registered_divider_start and self.serial_divider:
            raise ValueError("registered_divider_start needs serial_divider=False")
        if self.late_branch and self.load_branch_forwarding:
            raise ValueError("late_branch and load_branch_forwarding exclude each other")


#: Named variants: ``full`` is the default five-stage core with every fast path; ``small`` is
#: the control core for small FPGAs (iCE40UP5K); ``full-late`` is ``full`` with branches on a
#: late producer resolved in M (``late_branch``: fewer cycles, below 50 MHz on the ECP5 so far);
#: ``full-gshare`` is ``full`` with branch directions predicted in fetch
#: (``fetch_gshare_entries``) and the divider's start registered; ``full-early`` is ``full``
#: as it was before issue 15's round 9: ADDs and shifts on a late producer wait in X
#: (``late_add`` and ``late_shift`` off) and branches are not compared in D
#: (``early_branch`` off, round 10).
CORE_OPTIONS = {
    "full": CoreOptions(),
    "full-late": CoreOptions(late_branch=True),
    "full-gshare": CoreOptions(fetch_gshare_entries=256, registered_divider_start=True),
    "full-early": CoreOptions(late_add=False, late_shift=False, early_branch=False),
    "small": CoreOptions(fetch_depth=2, forwarding=False, shift_in_multiplier=True,
                         predictor=False, bht_entries=0, gshare_entries=0, gshare_history=0,
                         fetch_gshare_entries=0, btb_entries=0, ras_depth=0,
                         load_branch_forwarding=False, load_store_forwarding=False,
                         late_branch=False, late_branch_requests=False, late_add=False,
                         late_shift=False, early_branch=False,
                         registered_divider_start=False, serial_divider=True),
}


def core_options(name):
    """The :class:`CoreOptions` called ``name``; ``ValueError`` listing the choices otherwise."""
    try:
        return CORE_OPTIONS[name]
    except KeyError:
        raise ValueError(f"unknown core variant {name!r}; choose one of: "
                         f"{', '.join(CORE_OPTIONS)}") from None
