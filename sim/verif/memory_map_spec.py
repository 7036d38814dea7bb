"""The SoC memory map written a second time, by hand, from the documentation.

Sources: the README's "Memory map" section (the ``sim`` variant's table and its sentence
"every address outside these regions answers with a bus error"), DESIGN's interoperability
conventions (the test-exit register, a write of 1 = pass, ``(n << 1) | 1`` = failure n;
programs start at the reset vector ``0x8000_0000``) and the CLINT layout the README names
(the SiFive CLINT convention: ``msip`` at +0x0, ``mtimecmp`` at +0x4000, ``mtime`` at
+0xBFF8, each 64-bit register as two little-endian words). Nothing here imports
``dure.config`` or ``dure.rtl``; ``tests/sim/verif/test_memory_map_spec.py`` checks the
configuration object (which generates the RTL's decoder, the C headers and the README table)
and the register tables against it, so a region moved in the configuration without the
documentation changing fails a test.
"""

__all__ = ["RESET_VECTOR", "REGIONS", "CLINT", "TEST_EXIT_PASS", "test_exit_fail"]

#: Where every program starts (README "Running your own program": "starts it at the reset
#: vector 0x8000_0000").
RESET_VECTOR = 0x8000_0000

KIB, MIB = 1 << 10, 1 << 20

#: The ``sim`` variant's regions, as the README's table lists them:
#: name -> (base, size in bytes, executable).
REGIONS = {
    "clint": (0x0200_0000, 64 * KIB, False),
    "uart": (0x1000_0000, 4 * KIB, False),
    "gpio": (0x1000_1000, 4 * KIB, False),
    "test_exit": (0x1000_2000, 4 * KIB, False),
    "irq": (0x1000_3000, 4 * KIB, False),
    "npu": (0x1100_0000, 64 * KIB, False),
    "main": (0x4000_0000, 4 * MIB, True),
    "ram": (0x8000_0000, 256 * KIB, True),
}

#: CLINT register offsets (SiFive CLINT layout, one hart).
CLINT = {"msip": 0x0, "mtimecmp": 0x4000, "mtimecmph": 0x4004, "mtime": 0xBFF8,
         "mtimeh": 0xBFFC}

#: The test-exit register's pass value; :func:`test_exit_fail` gives failure ``n``'s.
TEST_EXIT_PASS = 1


def test_exit_fail(n):
    """The value a program writes to report failure ``n`` (n >= 1)."""
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"failure numbers start at 1, not {n!r}")
    return (n << 1) | 1
