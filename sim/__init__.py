"""Simulation: Verilator build of the SoC, program loader, golden models (``dure.sim``)."""
