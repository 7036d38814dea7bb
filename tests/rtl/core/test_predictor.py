"""Direction prediction of the predictor (``rtl/core/predictor.py``) against a reference model:
the per-branch table alone and the tournament with the global-history table, branch by branch
(predicted direction and the state handed to X), plus what each can learn."""

import gc
import random
import warnings

import pytest
from amaranth.sim import Simulator
from dure.rtl.core.options import CoreOptions
from dure.rtl.core.predictor import Predictor


class Tournament:
    """Reference: 2-bit "disagree" counters (follow the backward-taken guess at 0 / 1) in a
    per-branch table (``pc[2:]``) and, when ``gshare`` > 0, in a table indexed by
    ``pc[2:] ^ history`` with a chooser per per-branch entry (initial 1; >= 2 picks the
    global table). History: the directions of the trained branches, newest in bit 0."""

    def __init__(self, bht, gshare=0, history=0, weak_follows_fetch=False):
        self.bht, self.gshare, self.hbits = bht, gshare, history
        self.weak_follows_fetch = weak_follows_fetch
        self.bim = [0] * bht
        self.choose = [1] * bht
        self.gs = [0] * max(gshare, 1)
        self.history = 0

    def predict(self, pc, back, fetch_known, fetch_taken):
        """(predicted taken, per-branch index, global index): a weak counter (1, 2) keeps the
        direction fetch took when the branch target buffer knew the branch (with
        ``weak_follows_fetch``)."""
        bi = (pc >> 2) % self.bht
        gi = ((pc >> 2) ^ self.history) % self.gshare if self.gshare else 0
        ctr = self.gs[gi] if self.gshare and self.choose[bi] >= 2 else self.bim[bi]
        if self.weak_follows_fetch and ctr in (1, 2) and fetch_known:
            return fetch_taken, bi, gi
        return (back if ctr < 2 else not back), bi, gi

    def train(self, bi, gi, agree, taken):
        def toward(ctr, up):
            return min(ctr + 1, 3) if up else max(ctr - 1, 0)
        bim_right = (self.bim[bi] < 2) == agree
        gs_right = (self.gs[gi] < 2) == agree
        self.bim[bi] = toward(self.bim[bi], not agree)
        if self.gshare:
            if bim_right != gs_right:
                self.choose[bi] = toward(self.choose[bi], gs_right)
            self.gs[gi] = toward(self.gs[gi], not agree)
            self.history = ((self.history << 1) | taken) % (1 << self.hbits)


def _run(stream, **params):
    """Predict and train each (pc, imm, taken, fetch_known, fetch_taken) of ``stream`` in turn
    on the RTL
    and on the reference; returns the number of mispredictions (asserting that both agree every
    time)."""
    dut = Predictor(**params)
    ref = Tournament(params["bht_entries"], params.get("gshare_entries", 0),
                     params.get("gshare_history", 0), params.get("weak_follows_fetch", False))
    misses = []

    async def bench(ctx):
        ctx.set(dut.d_valid, 1)
        ctx.set(dut.d_reload, 1)        # every cycle is an instruction's first in D
        ctx.set(dut.branch, 1)
        for pc, imm, taken, fetch_known, fetch_taken in stream:
            back = imm < 0
            ctx.set(dut.pc, pc)
            ctx.set(dut.imm, imm & 0xFFFF_FFFF)
            ctx.set(dut.f_known, fetch_known)
            ctx.set(dut.f_taken, fetch_taken)
            ctx.set(dut.x_update, 0)
            await ctx.delay(1e-9)
            predicted, bi, gi = ref.predict(pc, back, fetch_known, fetch_taken)
            assert ctx.get(dut.taken) == predicted, (pc, imm)
            state = ctx.get(dut.ctr)
            assert state.bim == ref.bim[bi]
            assert state.back == back
            if ref.gshare:
                assert state.index == gi
                assert state.gs == ref.gs[gi]
                assert state.choose == ref.choose[bi]
            await ctx.tick()
            # X's training (the state read in D comes back with the outcome)
            agree = taken == back
            ctx.set(dut.x_update, 1)
            ctx.set(dut.x_pc, pc)
            ctx.set(dut.x_ctr, state)
            ctx.set(dut.x_agree, agree)
            ctx.set(dut.branch, 0)
            await ctx.tick()
            ctx.set(dut.branch, 1)
            ref.train(bi, gi, agree, taken)
            misses.append(predicted != taken)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return sum(misses[len(misses) // 2:])   # after warming up


def _alternating(n):
    """One forward branch that alternates taken / not taken: no per-branch counter learns it,
    the global history does (its previous outcome)."""
    return [(0x8000_0100, 16, i % 2 == 1, False, False) for i in range(n)]


def _random_program(rng, n):
    """Branches of a few pcs (some aliasing in small tables) with biased, patterned and random
    outcomes; whether the branch target buffer knew the branch, and its direction, at
    random."""
    pcs = [(0x8000_0000 + 4 * rng.randrange(512), rng.choice([-64, 24])) for _ in range(12)]
    out = []
    for i in range(n):
        k = rng.randrange(len(pcs))
        pc, imm = pcs[k]
        taken = (i // 3) % 2 == 0 if k % 3 == 0 else rng.random() < (0.9 if k % 2 else 0.3)
        known = rng.random() < 0.7
        out.append((pc, imm, taken, known, known and rng.random() < 0.5))
    return out


def test_alternating_branch_needs_history():
    n = 120
    alone = _run(_alternating(n), bht_entries=64)
    both = _run(_alternating(n), bht_entries=64, gshare_entries=256, gshare_history=8)
    assert alone >= n // 4        # the counter flips around its middle: half of them wrong
    assert both == 0


@pytest.mark.parametrize("params", [
    dict(bht_entries=16),
    dict(bht_entries=16, weak_follows_fetch=True),
    dict(bht_entries=16, gshare_entries=32, gshare_history=3),
    dict(bht_entries=64, gshare_entries=256, gshare_history=8, weak_follows_fetch=True),
], ids=["bht16", "bht16weak", "gshare32h3", "gshare256h8weak"])
def test_matches_reference(params):
    rng = random.Random(str(params))
    _run(_random_program(rng, 400), **params)


@pytest.mark.parametrize("kw, msg", [
    (dict(bht_entries=64, gshare_entries=48, gshare_history=4), "gshare_entries must be 0 or"),
    (dict(bht_entries=0, gshare_entries=64, gshare_history=4), "needs bht_entries"),
    (dict(bht_entries=64, gshare_entries=4096, gshare_history=4), "at most 2048"),
    (dict(bht_entries=64, gshare_entries=64, gshare_history=7), r"gshare_history .* 1\.\.6"),
    (dict(bht_entries=64, gshare_history=3), "gshare_history needs gshare_entries"),
])
def test_bad_parameters(kw, msg):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # the half-built predictor is never elaborated
        with pytest.raises(ValueError, match=msg) as info:
            Predictor(**kw)
        del info
        gc.collect()


@pytest.mark.parametrize("kw, msg", [
    (dict(gshare_entries=100), "gshare_entries must be 0 or a power of two up to 2048"),
    (dict(bht_entries=0, gshare_entries=64), "gshare_entries needs bht_entries"),
    (dict(gshare_entries=256, gshare_history=9), r"gshare_history must be an integer in 1\.\.8"),
    (dict(weak_follows_fetch=True, btb_entries=0), "needs bht_entries and btb_entries"),
    (dict(fetch_gshare_entries=96), "fetch_gshare_entries must be 0 or a power of two"),
    (dict(registered_divider_start=True, serial_divider=True), "needs serial_divider=False"),
    (dict(fetch_gshare_entries=4096), "up to 2048"),
    (dict(fetch_gshare_entries=256, btb_entries=0), "fetch_gshare_entries needs btb_entries"),
    (dict(fetch_gshare_entries=256, gshare_entries=256), "excludes gshare_entries"),
    (dict(fetch_gshare_entries=256, weak_follows_fetch=True), "excludes gshare_entries and "
     "weak_follows_fetch"),

    (dict(early_branch=True, forwarding=False, late_add=False, late_shift=False),
     "early_branch needs forwarding"),
    (dict(early_branch=True, predictor=False, bht_entries=0, btb_entries=0, ras_depth=0),
     "early_branch needs forwarding=True and predictor=True"),
])
def test_bad_options(kw, msg):
    with pytest.raises(ValueError, match=msg):
        CoreOptions(**kw)


def test_early_branch_takes_the_resolved_direction():
    """``early_branch``: a branch with ``resolved`` takes ``resolved_taken`` (the direction
    handed to X and D's redirect against fetch's path), one without it the prediction; the
    branch target buffer is written from the prediction either way (``btb_we`` when the
    predicted direction differs from fetch's, ``btb_valid`` = predicted taken), and the
    history table trains as without the option."""
    rng = random.Random(15)
    dut = Predictor(bht_entries=16, early_branch=True)
    ref = Tournament(16)
    seen = set()

    async def bench(ctx):
        ctx.set(dut.d_valid, 1)
        ctx.set(dut.d_reload, 1)
        for pc, imm, taken, _, fetch_taken in _random_program(rng, 400):
            resolved = rng.random() < 0.6
            back = imm < 0
            for port, value in ((dut.branch, 1), (dut.pc, pc), (dut.imm, imm & 0xFFFF_FFFF),
                                (dut.f_taken, fetch_taken), (dut.f_target, pc + imm),
                                (dut.resolved, resolved), (dut.resolved_taken, taken),
                                (dut.x_update, 0)):
                ctx.set(port, value)
            await ctx.delay(1e-9)
            predicted, bi, _ = ref.predict(pc, back, False, False)
            steer = taken if resolved else predicted
            assert ctx.get(dut.taken) == steer
            assert ctx.get(dut.redirect) == (steer != fetch_taken)
            assert ctx.get(dut.redirect_target) == (pc + imm if steer else pc + 4)
            assert ctx.get(dut.btb_we) == (predicted != fetch_taken)
            if predicted != fetch_taken:
                assert ctx.get(dut.btb_valid) == predicted
            seen.add((resolved, predicted != taken, steer != fetch_taken))
            state = ctx.get(dut.ctr)
            await ctx.tick()
            agree = taken == back
            for port, value in ((dut.x_update, 1), (dut.x_pc, pc), (dut.x_ctr, state),
                                (dut.x_agree, agree), (dut.branch, 0)):
                ctx.set(port, value)
            await ctx.tick()
            ref.train(bi, 0, agree, taken)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    # resolved branches the prediction got wrong, with fetch's path right and wrong
    assert {(True, True, False), (True, True, True), (False, True, True)} <= seen
