"""Differential testing of the core against a reference ISS (Unicorn) on random programs.

:mod:`.generator` writes a seeded random RV32IM program, :mod:`.assemble` turns it into an ELF,
:mod:`.reference` runs that ELF on Unicorn and records one :class:`.trace.TraceRecord` per
retired instruction, and :mod:`.compare` runs the same ELF on the simulated SoC (its ``--trace``
output, format in :mod:`.trace`) and reports the first instruction where the two disagree.
``python -m dure.sim.diff --seeds 0-99 --length 2000`` sweeps seeds from the command line.
"""
