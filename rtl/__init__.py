"""Amaranth RTL of the Dure SoC (installed as ``dure.rtl``)."""
