"""The control ports every floating-point unit shares (a base class, no logic of its own)."""

from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["PipelinedUnit"]


class PipelinedUnit(wiring.Component):
    """Base of the fixed-latency FP units: a clock enable and a valid bit that travels with the
    data. A subclass declares its data ports as annotations and its latency as ``LATENCY``.

    Members
    -------
    en : In(1, init=1)
        Clock enable; while low every stage (data and valid) holds.
    i_valid : In(1)
        Input vector valid.
    o_valid : Out(1)
        ``i_valid`` delayed by ``LATENCY`` enabled cycles; an output is consumed on a cycle
        where ``en`` is high.
    """

    LATENCY = None

    en: In(1, init=1)
    i_valid: In(1)
    o_valid: Out(1)
