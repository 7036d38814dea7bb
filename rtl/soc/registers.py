"""Register offsets of every SoC peripheral: the one place RTL, header and tests read them from.

Each block maps register names to byte offsets inside its region of the memory map
(:mod:`dure.config`). Peripheral RTL decodes these offsets; :mod:`dure.header` exports them to C
as ``DURE_<REGION>_<REGISTER>``, and the bit fields in :data:`REGISTER_FIELDS` as
``DURE_<REGION>_<REGISTER>_<FIELD>`` (a mask). Every register is 32 bits wide and word aligned.
The meaning of each register is documented in the peripheral's module.

An access to an offset that is not listed here, inside a peripheral's region, is answered with a
bus error (an access-fault trap), so firmware bugs show up instead of reading zeros.
"""

#: (region name, {register: byte offset}) for each peripheral.
REGISTER_BLOCKS = (
    ("clint", {"msip": 0x0, "mtimecmp": 0x4000, "mtimecmph": 0x4004,
               "mtime": 0xBFF8, "mtimeh": 0xBFFC}),
    ("uart", {"data": 0x00, "status": 0x04, "irq_enable": 0x08, "irq_pending": 0x0C,
              "divisor": 0x10}),
    ("gpio", {"out": 0x0, "in": 0x4}),
    ("test_exit", {"exit": 0x0}),
    ("irq", {"pending": 0x0, "enable": 0x4}),
)

#: (region name, register, {field: (lsb, width)}) for registers with named bit fields.
REGISTER_FIELDS = (
    ("uart", "data", {"byte": (0, 8), "rx_empty": (31, 1)}),
    ("uart", "status", {"rx_valid": (0, 1), "rx_full": (1, 1), "tx_empty": (2, 1),
                        "tx_full": (3, 1), "tx_idle": (4, 1), "rx_overrun": (5, 1),
                        "rx_frame_error": (6, 1)}),
    ("uart", "irq_enable", {"rx_valid": (0, 1), "tx_empty": (1, 1)}),
    ("uart", "irq_pending", {"rx_valid": (0, 1), "tx_empty": (1, 1)}),
    ("uart", "divisor", {"cycles": (0, 16)}),
    ("irq", "pending", {"uart": (0, 1), "npu": (1, 1)}),
    ("irq", "enable", {"uart": (0, 1), "npu": (1, 1)}),
)

#: External-interrupt sources, bit numbers in the irq block's pending / enable registers.
IRQ_SOURCES = {"uart": 0, "npu": 1}


def offset(region, register):
    """Byte offset of ``register`` in ``region``; KeyError with the choices otherwise."""
    for name, registers in REGISTER_BLOCKS:
        if name == region:
            if register not in registers:
                raise KeyError(f"{region} has no register {register!r}; "
                               f"choose one of: {', '.join(registers)}")
            return registers[register]
    raise KeyError(f"no register block for region {region!r}")


def field(region, register, name):
    """``(lsb, width)`` of a bit field."""
    for block, reg, fields in REGISTER_FIELDS:
        if block == region and reg == register and name in fields:
            return fields[name]
    raise KeyError(f"{region}.{register} has no field {name!r}")
