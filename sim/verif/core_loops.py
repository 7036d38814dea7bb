"""Cycles per iteration of a loop on the core bench (:func:`loop_cycles`), for the tests that
measure what the branch predictor and the forwarding paths save."""

from .asm import Program
from .core_bench import run
from .core_random import compare

__all__ = ["loop_cycles"]


def loop_cycles(p_build, options, iterations=12):
    """Cycles per iteration of the loop labelled "loop" that ``p_build(p, iterations)`` writes
    into a :class:`Program` ``p``, run with core ``options`` on one-cycle memory (from its
    fifth pass: the predictor has learned by then); the results must equal the reference's."""
    p = Program()
    p_build(p, iterations)
    words = p.assemble()
    result = run(words, options=options, max_cycles=3000)
    compare(words, result)
    loop = p._labels["loop"]
    starts = [r["cycle"] for r in result.trace if r["pc_rdata"] == loop]
    assert len(starts) == iterations
    return (starts[-1] - starts[4]) / (iterations - 5)
