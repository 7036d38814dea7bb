"""The U-mode example (firmware/apps/user_npu): a user task drives the NPU through M-mode
services (ECALL) and faults when it writes the NPU's DMA window registers (PMP)."""

import re

from dure.config import preset


def test_user_task_drives_the_npu_but_cannot_move_the_dma_window(firmware_build):
    from dure.sim.runner import run_elf

    result = run_elf(firmware_build / "user_npu.elf", preset("npu-small"), max_cycles=3_000_000)
    uart = result.uart.decode("latin-1")
    assert result.status == "pass", f"{result.status} {result.failure}\n{uart}"
    assert "kernel: NPU present" in uart
    assert "user: GEMM result matches" in uart
    blocked = re.findall(r"kernel: blocked store to ([0-9a-f]{8})", uart)
    assert blocked == ["11000010", "11000014"], uart     # DMA_BASE, DMA_SIZE
    # The window is still the task's (main memory + 64 KiB, 64 KiB), set by the kernel.
    assert "kernel: task exit 0, 2 blocked writes, window 40010000 00010000" in uart
    assert uart.index("user: moving the DMA window") < uart.index("kernel: blocked store")
