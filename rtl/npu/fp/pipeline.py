"""Registers of a stalling pipeline (a helper for elaborate(), not a block of its own)."""

from amaranth.hdl import Signal, Value

__all__ = ["Pipeline"]


class Pipeline:
    """Creates stage registers that load only while ``en`` is high.

    Parameters
    ----------
    m : Module
        The module the registers are added to (``sync`` domain).
    en : Value
        Clock enable shared by all stages; while low every register holds.
    """

    def __init__(self, m, en):
        self._m = m
        self._en = en

    def reg(self, value, *, name, reset=False):
        """Return a register that loads ``value`` on every enabled clock edge.

        Data registers are reset-less; pass ``reset=True`` for control bits (valid).
        """
        value = Value.cast(value)
        sig = Signal(value.shape(), name=name, reset_less=not reset)
        with self._m.If(self._en):
            self._m.d.sync += sig.eq(value)
        return sig

    def regs(self, values, *, stage):
        """Register every entry of the dict ``values`` into stage ``stage``.

        Returns a dict with the same keys; the entry named ``valid`` gets a reset.
        """
        return {key: self.reg(value, name=f"s{stage}_{key}", reset=key == "valid")
                for key, value in values.items()}
