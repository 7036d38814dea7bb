"""The Dure bus: a pipelined request / in-order response bus (in the spirit of OBI).

Every initiator (core instruction port, core data port, simulator loader, later the NPU DMA) and
every target (memories, peripherals) speaks this one protocol. The signature is written from the
initiator's side; targets use ``In(BusSignature(...))`` or ``BusSignature(...).flip()``.

Members
-------
req : Out(1)
    The initiator presents a request. Once raised, ``req`` and the request fields stay stable
    until ``gnt`` (a request is never withdrawn). ``req`` never depends on ``gnt``.
gnt : In(1)
    The target accepts the request presented in this cycle (the address phase completes when
    ``req & gnt``). May depend combinationally on ``req`` and ``addr``.
addr : Out(addr_width)
    Word address (byte address >> 2).
we : Out(1)
    Write when 1, read when 0.
be : Out(4)
    Byte enables for writes (bit i covers ``wdata[8*i:8*i+8]``); reads always return the whole
    word and ``be`` is ignored by targets (it is still driven to the bytes the initiator wants).
wdata : Out(32)
    Write data.
rvalid : In(1)
    A response: exactly one per granted request (reads and writes alike), in request order,
    at the earliest one cycle after the grant. The initiator must accept it in that cycle.
rdata : In(32)
    Read data, valid with ``rvalid`` for reads.
err : In(1)
    With ``rvalid``: the access failed (unmapped address, access not allowed). A write that
    answers ``err`` has changed nothing.

Latency
-------
The protocol allows any number of outstanding requests; each target documents its own grant
and response latency. On-chip RAM grants every cycle and answers one cycle after the grant, so
one access per cycle is sustained.
"""

from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["BusSignature"]


class BusSignature(wiring.Signature):
    """Signature of a Dure bus port, initiator side.

    Parameters
    ----------
    addr_width : int
        Width of the word address, 1..30.
    """

    def __init__(self, addr_width=30):
        if not isinstance(addr_width, int) or not 1 <= addr_width <= 30:
            raise TypeError(f"addr_width must be an integer in 1..30, not {addr_width!r}")
        self._addr_width = addr_width
        super().__init__({
            "req":    Out(1),
            "gnt":    In(1),
            "addr":   Out(addr_width),
            "we":     Out(1),
            "be":     Out(4),
            "wdata":  Out(32),
            "rvalid": In(1),
            "rdata":  In(32),
            "err":    In(1),
        })

    @property
    def addr_width(self):
        return self._addr_width

    def __eq__(self, other):
        return isinstance(other, BusSignature) and other.addr_width == self.addr_width

    def __hash__(self):
        return hash((BusSignature, self._addr_width))

    def __repr__(self):
        return f"BusSignature(addr_width={self._addr_width})"
