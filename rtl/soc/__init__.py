"""SoC: memories, peripherals and the top level that joins them to the core."""
