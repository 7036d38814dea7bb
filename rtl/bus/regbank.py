"""Register banks: a table of 32-bit registers turned into a bus target.

A peripheral describes its registers as data (:class:`Register`: name, byte offset, access,
width, reset, bit fields) and lets :class:`RegisterBank` build the address decoding, the read
multiplexer, the byte-enable writes of the registers the bank holds, and one strobe per access
for the rest. What a register *does* (a FIFO pop on read, write-1-to-clear bits, a doorbell)
stays in the peripheral, written against the register's port; the decoding and the bus timing
are written once, here. The same tables feed the C header generator (:mod:`dure.header`), in
the spirit of amaranth-soc's CSR machinery (our own, smaller code).

Access modes
------------
``"r"``     read-only: reads return ``r_data``; writes are ignored (no error).
``"w"``     write-only: reads return 0.
``"rw"``    read and write.
``"rw1c"``  read, and write-1-to-clear: ``w_data`` holds the ones written in the enabled
            bytes; the peripheral clears those bits.

A register with ``storage=True`` (``"w"`` or ``"rw"`` only) is held by the bank: its value is
the port's ``data``, reset to ``reset``, and a write replaces the enabled bytes. Otherwise the
peripheral holds the value: it drives ``r_data`` and applies ``w_data`` on ``w_stb``.

Port of each register (``bank.<name>``), from the bank's side
---------------------------------------------------------------
``r_data`` : In(width)
    Readable registers without storage: the value a read returns.
``r_stb`` : Out(1)
    Readable registers: a read of this register is granted this cycle.
``w_stb`` : Out(1)
    Writable registers: a write to this register is granted this cycle.
``w_data`` : Out(width)
    Writable registers without storage: the register after the write, i.e. the enabled bytes
    of the write data over ``r_data`` (``"rw"``) or over zero (``"w"``, ``"rw1c"``).
``data`` : Out(width)
    Registers with storage: the value held.
``w_req`` : Out(1)
    Registers with ``stall=True``: a write to this register is requested (before the grant).
``w_ready`` : In(1)
    Registers with ``stall=True``: a requested write is granted only while this is set, so the
    initiator waits instead of losing the write.
"""

from typing import NamedTuple

from amaranth.hdl import Const, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .bytes import merge_bytes
from .signature import BusSignature

__all__ = ["ACCESS", "Register", "RegisterBank", "register_signature"]

#: The access modes (see the module docstring).
ACCESS = ("r", "w", "rw", "rw1c")


class Register(NamedTuple):
    """One register of a bank.

    Parameters
    ----------
    name : str
        Port name in the bank (a Python identifier) and, upper-cased, the header's name.
    offset : int
        Byte offset in the bank's region, word aligned.
    access : str
        One of :data:`ACCESS`.
    width : int
        Bits used, 1..32, from bit 0 (the rest read 0).
    reset : int
        Value after reset (registers with storage).
    fields : dict
        ``{field: (lsb, width)}``: named bit fields, for headers and bit lookups.
    storage : bool
        The bank holds the value (``"w"`` and ``"rw"`` only).
    stall : bool
        Writes wait for the port's ``w_ready`` (writable registers only).
    """

    name: str
    offset: int
    access: str
    width: int = 32
    reset: int = 0
    fields: dict = {}
    storage: bool = False
    stall: bool = False

    @property
    def readable(self):
        return self.access != "w"

    @property
    def writable(self):
        return self.access != "r"

    def bit(self, field):
        """The lsb of the one-bit ``field``; ``KeyError`` if there is no such field."""
        if field not in self.fields:
            raise KeyError(f"register {self.name!r} has no field {field!r}")
        return self.fields[field][0]

    def check(self):
        """Raises ``ValueError`` for an inconsistent entry; returns the register."""
        if not self.name.isidentifier() or self.name.startswith("_"):
            raise ValueError(f"register name {self.name!r} is not a public identifier")
        if self.access not in ACCESS:
            raise ValueError(f"register {self.name!r}: access must be one of "
                             f"{', '.join(ACCESS)}, not {self.access!r}")
        if not isinstance(self.offset, int) or self.offset < 0 or self.offset % 4:
            raise ValueError(f"register {self.name!r}: offset {self.offset!r} is not a "
                             f"non-negative multiple of 4")
        if not isinstance(self.width, int) or not 1 <= self.width <= 32:
            raise ValueError(f"register {self.name!r}: width must be 1..32, not {self.width!r}")
        if self.storage and self.access not in ("w", "rw"):
            raise ValueError(f"register {self.name!r}: storage needs access 'w' or 'rw'")
        if self.stall and not self.writable:
            raise ValueError(f"register {self.name!r}: only writable registers can stall")
        return self


def register_signature(register):
    """The port :class:`RegisterBank` gives ``register``, seen from the bank."""
    members = {}
    if register.readable:
        if not register.storage:
            members["r_data"] = In(register.width)
        members["r_stb"] = Out(1)
    if register.writable:
        members["w_stb"] = Out(1)
        if not register.storage:
            members["w_data"] = Out(register.width)
    if register.storage:
        members["data"] = Out(register.width, init=register.reset)
    if register.stall:
        members["w_req"] = Out(1)
        members["w_ready"] = In(1)
    return wiring.Signature(members)


class RegisterBank(wiring.Component):
    """Bus target for a table of registers.

    Parameters
    ----------
    registers : iterable of Register
        The table; names and offsets must be unique.
    addr_width : int
        Word-address width of the bus port (the decoder strips the region base).

    Members
    -------
    bus : In(BusSignature(addr_width))
        Register port. An offset that no register has answers with ``err``.
    <name> : Out(register_signature(register))
        One port per register (see the module docstring).

    Latency
    -------
    Grants every request at once, except a write to a ``stall`` register while its
    ``w_ready`` is 0 (held until it is set). Responds one cycle after the grant; ``rdata`` and
    ``err`` keep their values between responses.
    """

    def __init__(self, registers, *, addr_width):
        registers = tuple(Register(*r).check() for r in registers)
        names, offsets = set(), set()
        for reg in registers:
            if reg.name in names or reg.name == "bus" or hasattr(RegisterBank, reg.name):
                raise ValueError(f"register name {reg.name!r} used twice or reserved")
            if reg.offset in offsets:
                raise ValueError(f"register {reg.name!r}: offset {reg.offset:#x} used twice")
            if reg.offset >> 2 >= 1 << addr_width:
                raise ValueError(f"register {reg.name!r}: offset {reg.offset:#x} does not fit "
                                 f"in {addr_width} address bits")
            names.add(reg.name)
            offsets.add(reg.offset)
        self._registers = registers
        super().__init__({
            "bus": In(BusSignature(addr_width)),
            **{reg.name: Out(register_signature(reg)) for reg in registers},
        })

    @property
    def registers(self):
        """The table, as given."""
        return self._registers

    def elaborate(self, platform):
        m = Module()
        bus = self.bus

        # Grant: every request, except a write to a stalling register that is not ready.
        held = Const(0, 1)
        for reg in self._registers:
            if reg.stall:
                port = getattr(self, reg.name)
                m.d.comb += port.w_req.eq(bus.req & bus.we & (bus.addr == reg.offset // 4))
                held = held | (port.w_req & ~port.w_ready)
        m.d.comb += bus.gnt.eq(~held)
        granted = bus.req & bus.gnt

        rvalid = Signal()
        rdata = Signal(32)
        err = Signal()
        m.d.sync += rvalid.eq(granted)
        m.d.comb += [bus.rvalid.eq(rvalid), bus.rdata.eq(rdata), bus.err.eq(err)]

        for reg in self._registers:
            port = getattr(self, reg.name)
            if reg.writable and not reg.storage:
                base = port.r_data if reg.access == "rw" else Const(0, reg.width)
                m.d.comb += port.w_data.eq(merge_bytes(base, bus.wdata, bus.be))

        with m.If(granted):
            m.d.sync += [rdata.eq(0), err.eq(0)]
            with m.Switch(bus.addr):
                for reg in self._registers:
                    port = getattr(self, reg.name)
                    with m.Case(reg.offset // 4):
                        if reg.readable:
                            value = port.data if reg.storage else port.r_data
                            m.d.sync += rdata.eq(value)
                            m.d.comb += port.r_stb.eq(~bus.we)
                        if reg.writable:
                            m.d.comb += port.w_stb.eq(bus.we)
                            if reg.storage:
                                with m.If(bus.we):
                                    m.d.sync += port.data.eq(
                                        merge_bytes(port.data, bus.wdata, bus.be))
                with m.Default():
                    m.d.sync += err.eq(1)
        return m
