"""Register offsets of every SoC peripheral: the one place RTL, header and tests read them from.

Each block maps register names to byte offsets inside its region of the memory map
(:mod:`dure.config`). Peripheral RTL decodes these offsets; :mod:`dure.header` exports them to C.
"""

#: (region name, {register: byte offset}) for each peripheral.
REGISTER_BLOCKS = (
    ("test_exit", {"exit": 0x0}),
)
