"""FPGA board targets (``dure.fpga``)."""
