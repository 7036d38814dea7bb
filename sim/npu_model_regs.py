"""The NPU's register interface on top of :class:`~.npu_model.NpuModel`, for running firmware on
an instruction-set emulator (dure.sim.verif.npu_unicorn) without the RTL.

Every descriptor takes effect at its DOORBELL write (the queue is never full and never busy
afterwards), which is one legal timing of the contract: commands act as if executed one at a
time in queue order. Registers as :class:`dure.rtl.npu.commands.Register` documents them;
the performance counters that depend on timing (busy, compute, stalls) read 0, ``PERF_MACS``
counts the MACs that take part (``m * k * n`` per COMPUTE, ``m * min(k, n)`` diagonal) and the
DMA byte counters the bytes the commands move (none for a fill LOAD).
"""

from dure.rtl.npu.commands import (
    ERROR_FIELDS,
    ID_MAGIC,
    SEQ_BITS,
    Control,
    Register,
    Status,
    config_word,
)

__all__ = ["NpuRegisters"]

_SEQ_MASK = (1 << SEQ_BITS) - 1


class NpuRegisters:
    """Register file of one NPU backed by ``model`` (an :class:`~.npu_model.NpuModel`).

    :meth:`read` / :meth:`write` take byte offsets inside the ``npu`` region. ``irq`` is the
    level of the NPU's interrupt line (STATUS bits masked by CONTROL); ``log`` lists every
    descriptor pushed (8 words each), in order."""

    def __init__(self, model):
        self.model = model
        self.control = 0
        self.cmd = [0] * 8
        self._latched_hi = {}
        self.log = []

    @property
    def status(self):
        m = self.model
        return ((Status.ERROR.value if m.error else 0)
                | (Status.FENCE_IRQ.value if m.fence_irq else 0))

    @property
    def irq(self):
        s = self.status
        return bool((s & Status.ERROR.value and self.control & Control.IRQ_ERROR.value)
                    or (s & Status.FENCE_IRQ.value and self.control & Control.IRQ_FENCE.value))

    def _perf(self, name):
        m = self.model
        return {"MACS": m.macs, "DMA_RD": m.dma_rd, "DMA_WR": m.dma_wr}.get(name, 0)

    def read(self, offset):
        m = self.model
        try:
            reg = Register(offset)
        except ValueError:
            raise ValueError(f"read of unmapped NPU offset 0x{offset:x}") from None
        if reg.name.startswith("PERF_"):
            name, half = reg.name[5:].rsplit("_", 1)
            if half == "LO":
                value = self._perf(name)
                self._latched_hi[name] = value >> 32
                return value & 0xFFFF_FFFF
            return self._latched_hi.get(name, 0)
        if reg.name.startswith("CMD") or reg == Register.DOORBELL:
            return 0
        return {
            Register.ID: ID_MAGIC,
            Register.CONFIG: config_word(m.config),
            Register.STATUS: self.status,
            Register.CONTROL: self.control,
            Register.DMA_BASE: m.dma_base,
            Register.DMA_SIZE: m.dma_size,
            Register.ERROR: (m.error[0].value | (m.error[1] & _SEQ_MASK) << ERROR_FIELDS["SEQ"][0]
                             if m.error else 0),
            Register.ISSUED: m.issued & _SEQ_MASK,
            Register.DONE: m.done & _SEQ_MASK,
            Register.ERROR_INDEX: (m.error_index if m.error and m.error_index is not None
                                   else 0xFFFF_FFFF),
        }[reg]

    def write(self, offset, value):
        m = self.model
        value &= 0xFFFF_FFFF
        try:
            reg = Register(offset)
        except ValueError:
            raise ValueError(f"write of unmapped NPU offset 0x{offset:x}") from None
        if reg.name.startswith("CMD"):
            self.cmd[int(reg.name[3:])] = value
        elif reg == Register.DOORBELL:
            self._doorbell()
        elif reg == Register.STATUS:
            if value & Status.ERROR.value:
                m.clear_error()
            if value & Status.FENCE_IRQ.value:
                m.clear_fence_irq()
        elif reg == Register.CONTROL:
            if value & Control.PERF_CLEAR.value:
                m.macs = m.dma_rd = m.dma_wr = 0
            self.control = value & (Control.IRQ_ERROR.value | Control.IRQ_FENCE.value)
        elif reg == Register.DMA_BASE:
            m.set_window(value, m.dma_size)
        elif reg == Register.DMA_SIZE:
            m.set_window(m.dma_base, value)
        # writes to read-only registers are ignored

    def _doorbell(self):
        words = list(self.cmd)
        self.log.append(words)
        self.model.execute(words)
