"""Single-port word memory built from the iCE40UP5K's SPRAM blocks (``SB_SPRAM256KA``)."""

from amaranth.hdl import Cat, ClockSignal, Instance, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["SpramMemory", "SPRAM_BLOCKS", "SPRAM_WORDS", "spram_blocks", "check_spram_depth"]

#: SPRAM blocks on an iCE40UP5K (each 16384 x 16 bits).
SPRAM_BLOCKS = 4
#: 32-bit words in one pair of blocks side by side.
SPRAM_WORDS = 16384


def spram_blocks(size):
    """Blocks a memory of ``size`` bytes takes: two per started 64 KiB (one per 16-bit half)."""
    return 2 * -(-size // (4 * SPRAM_WORDS))


def check_spram_depth(depth):
    """``ValueError`` unless ``depth`` words fit SPRAM as :class:`SpramMemory` builds it."""
    if not isinstance(depth, int) or not 2 <= depth <= 2 * SPRAM_WORDS or depth & (depth - 1):
        raise ValueError(f"depth must be a power of two in 2..{2 * SPRAM_WORDS}, "
                         f"not {depth!r}")


class SpramMemory(wiring.Component):
    """``depth`` 32-bit words in ``SB_SPRAM256KA`` blocks, one synchronous read/write port.

    Each 32-bit word is two blocks side by side (low and high half); 32768 words use two such
    pairs, selected by the top address bit. Byte enables become the blocks' nibble write masks
    (``MASKWREN``). The blocks cannot be initialised: they start with unknown contents.

    Parameters
    ----------
    depth : int
        Words, a power of two, 2..32768 (below 16384 the upper block addresses stay 0).

    Members
    -------
    addr0 : In(log2(depth))
    wdata0 : In(32)
    we0 : In(4)
        One write enable per byte lane.
    rdata0 : Out(32)
        The word at ``addr0`` of the previous cycle, when that cycle wrote no byte; after a
        write cycle it is unspecified (the block keeps its last output).

    The ports have the names and the read behaviour of a one-port
    :class:`~.sim_memory.WordMemory`, so either can stand in for the other.

    Latency
    -------
    One cycle from ``addr0`` to ``rdata0``; one access per cycle.
    """

    def __init__(self, depth):
        check_spram_depth(depth)
        self._depth = depth
        self._aw = depth.bit_length() - 1
        super().__init__({"addr0": In(self._aw), "wdata0": In(32), "we0": In(4),
                          "rdata0": Out(32)})

    def elaborate(self, platform):
        m = Module()
        banks = 2 if self._depth > SPRAM_WORDS else 1
        bank = Signal(range(banks)) if banks > 1 else None
        bank_q = Signal(range(banks)) if banks > 1 else None
        if banks > 1:
            m.d.comb += bank.eq(self.addr0[-1])
            m.d.sync += bank_q.eq(bank)
        address = Signal(14)
        m.d.comb += address.eq(self.addr0[:14] if self._aw > 14 else self.addr0)
        outputs = []
        for b in range(banks):
            select = (bank == b) if banks > 1 else 1
            halves = []
            for half in range(2):
                dataout = Signal(16, name=f"bank{b}_half{half}_dataout")
                lanes = self.we0[2 * half:2 * half + 2]
                mask = Cat(lanes[0], lanes[0], lanes[1], lanes[1])
                m.submodules[f"spram_{b}_{half}"] = Instance(
                    "SB_SPRAM256KA",
                    i_ADDRESS=address,
                    i_DATAIN=self.wdata0[16 * half:16 * half + 16],
                    i_MASKWREN=mask,
                    i_WREN=lanes.any(),
                    i_CHIPSELECT=select,
                    i_CLOCK=ClockSignal(),
                    i_STANDBY=0,
                    i_SLEEP=0,
                    i_POWEROFF=1,
                    o_DATAOUT=dataout,
                )
                halves.append(dataout)
            outputs.append(Cat(*halves))
        if banks > 1:
            m.d.comb += self.rdata0.eq(Mux(bank_q, outputs[1], outputs[0]))
        else:
            m.d.comb += self.rdata0.eq(outputs[0])
        return m
