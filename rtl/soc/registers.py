"""Registers of every SoC peripheral: the one place RTL, header and tests read them from.

Each block is a table of :class:`~dure.rtl.bus.regbank.Register` entries (name, byte offset
inside its region of the memory map (:mod:`dure.config`), access, width, reset, bit fields).
Peripheral RTL builds its bus decoding from its table with
:class:`~dure.rtl.bus.regbank.RegisterBank`; :mod:`dure.header` exports the offsets to C as
``DURE_<REGION>_<REGISTER>`` and the bit fields as ``DURE_<REGION>_<REGISTER>_<FIELD>`` (a mask),
through :data:`REGISTER_BLOCKS` and :data:`REGISTER_FIELDS`, which are views of the tables.
Every register is 32 bits wide on the bus and word aligned. The meaning of each register is
documented in the peripheral's module. A width or reset that depends on the peripheral's
parameters is set by the peripheral (:func:`with_changes`).

An access to an offset that is not listed here, inside a peripheral's region, is answered with a
bus error (an access-fault trap), so firmware bugs show up instead of reading zeros.
"""

from ..bus.regbank import Register

__all__ = ["REGISTERS", "REGISTER_BLOCKS", "REGISTER_FIELDS", "IRQ_SOURCES", "offset", "field",
           "registers", "with_changes", "npu_irq", "irq_source_count", "TILE_COUNTERS"]

#: External-interrupt sources, bit numbers in the irq block's pending / enable registers.
#: NPU tile 0 is ``npu``; tiles 1.. of a multi-tile SoC follow the fixed sources (:func:`npu_irq`).
IRQ_SOURCES = {"uart": 0, "npu": 1}

#: Tile slots of the ``tiles`` counter block (:mod:`.tile_counters`): one per possible tile.
TILE_COUNTERS = 8


def npu_irq(tile):
    """Bit of NPU tile ``tile``'s interrupt in the irq block: ``IRQ_SOURCES["npu"]`` for tile 0,
    ``len(IRQ_SOURCES) + tile - 1`` for the others."""
    return IRQ_SOURCES["npu"] if tile == 0 else len(IRQ_SOURCES) + tile - 1


def irq_source_count(npu_tiles=1):
    """Interrupt sources of an SoC with ``npu_tiles`` NPU tiles."""
    return len(IRQ_SOURCES) + max(npu_tiles, 1) - 1

_IRQ_BITS = {name: (bit, 1) for name, bit in IRQ_SOURCES.items()}

#: {region name: register table} for each peripheral.
REGISTERS = {
    "clint": (
        Register("msip", 0x0, "rw", width=1, storage=True),
        Register("mtimecmp", 0x4000, "rw", reset=0xFFFF_FFFF, storage=True),
        Register("mtimecmph", 0x4004, "rw", reset=0xFFFF_FFFF, storage=True),
        Register("mtime", 0xBFF8, "rw"),
        Register("mtimeh", 0xBFFC, "rw"),
    ),
    "uart": (
        Register("data", 0x00, "rw", stall=True,
                 fields={"byte": (0, 8), "rx_empty": (31, 1)}),
        Register("status", 0x04, "rw1c",
                 fields={"rx_valid": (0, 1), "rx_full": (1, 1), "tx_empty": (2, 1),
                         "tx_full": (3, 1), "tx_idle": (4, 1), "rx_overrun": (5, 1),
                         "rx_frame_error": (6, 1)}),
        Register("irq_enable", 0x08, "rw", width=2, storage=True,
                 fields={"rx_valid": (0, 1), "tx_empty": (1, 1)}),
        Register("irq_pending", 0x0C, "r", width=2,
                 fields={"rx_valid": (0, 1), "tx_empty": (1, 1)}),
        Register("divisor", 0x10, "rw", width=16, storage=True, fields={"cycles": (0, 16)}),
    ),
    "gpio": (
        Register("out", 0x0, "rw", storage=True),
        Register("in", 0x4, "r"),
    ),
    "test_exit": (
        Register("exit", 0x0, "w"),
    ),
    "irq": (
        Register("pending", 0x0, "r", fields=_IRQ_BITS),
        Register("enable", 0x4, "rw", storage=True, fields=_IRQ_BITS),
    ),
    # INT8 dot-product unit (rtl/soc/dot_unit.py; only with SoCConfig.dot_unit).
    "dot": (
        Register("acc", 0x0, "rw", stall=True),
        Register("xaddr", 0x4, "w", storage=True, stall=True),
        Register("waddr", 0x8, "w", storage=True, stall=True),
        Register("count", 0xC, "rw", stall=True),
    ),
    # NPU tile fabric (rtl/soc/tile_counters.py): per tile, the cycles its DMA asked for the
    # bus and was not granted (arbitration and memory-bandwidth waits), 32 bits, wrapping.
    "tiles": (
        *(Register(f"wait{t}", 4 * t, "r") for t in range(TILE_COUNTERS)),
        Register("control", 0x40, "w", fields={"clear": (0, 1)}),
    ),
}

#: (region name, {register: byte offset}) for each peripheral.
REGISTER_BLOCKS = tuple((region, {reg.name: reg.offset for reg in table})
                        for region, table in REGISTERS.items())

#: (region name, register, {field: (lsb, width)}) for registers with named bit fields.
REGISTER_FIELDS = tuple((region, reg.name, dict(reg.fields))
                        for region, table in REGISTERS.items() for reg in table if reg.fields)


def registers(region):
    """The register table of ``region``; KeyError with the choices otherwise."""
    if region not in REGISTERS:
        raise KeyError(f"no register block for region {region!r}")
    return REGISTERS[region]


def with_changes(region, **changes):
    """The table of ``region`` with some registers' entries changed:
    ``with_changes("gpio", out={"width": 8})``."""
    table = registers(region)
    unknown = set(changes) - {reg.name for reg in table}
    if unknown:
        raise KeyError(f"{region} has no register {', '.join(sorted(unknown))}")
    return tuple(reg._replace(**changes.get(reg.name, {})) for reg in table)


def offset(region, register):
    """Byte offset of ``register`` in ``region``; KeyError with the choices otherwise."""
    for reg in registers(region):
        if reg.name == register:
            return reg.offset
    raise KeyError(f"{region} has no register {register!r}; "
                   f"choose one of: {', '.join(reg.name for reg in registers(region))}")


def field(region, register, name):
    """``(lsb, width)`` of a bit field."""
    for reg in registers(region):
        if reg.name == register and name in reg.fields:
            return reg.fields[name]
    raise KeyError(f"{region}.{register} has no field {name!r}")
