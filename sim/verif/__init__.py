"""Verification support (``dure.sim.verif``): what tests and benches import, never the hardware.

Drivers, monitors and reference models of blocks, the assembler, Verilator models of NPU
subsystems and testbench C++ live here. ``dure.rtl`` never imports this package; tests import
it like any other package (no loading by path, no ``sys.path`` edits).
"""
