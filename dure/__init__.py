"""Dure: an open RISC-V SoC with a dual-precision (INT8 + FP16) systolic-array NPU."""
