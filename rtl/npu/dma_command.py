"""The DMA command contract: what a unit asks of a DMA reader or writer.

The load unit issues read commands, the store unit write commands; :class:`~.dma_reader.DmaReader`,
:class:`~.dma_writer.DmaWriter` and :class:`~.dma.Dma` accept them. All of them take the layout
from here (this module imports nothing of ``rtl/npu``).
"""

from amaranth.lib import data

__all__ = ["dma_cmd_layout", "row_words"]


def dma_cmd_layout(max_row_bytes):
    """Command of a DMA reader or writer: ``rows`` rows of ``row_bytes`` bytes, row ``r`` at
    byte address ``addr + r * stride`` (32-bit arithmetic)."""
    return data.StructLayout({
        "addr": 32, "stride": 32, "rows": 16, "row_bytes": range(max_row_bytes + 1),
    })


def row_words(max_row_bytes):
    """Bus words a row of ``max_row_bytes`` bytes can touch (it may start at any byte)."""
    return (max_row_bytes + 6) // 4
