"""The whole NPU (control + real :class:`NpuDatapath`) on a reusable Amaranth simulation.

Every NPU-level testbench used to elaborate and compile ``Npu(config)`` anew (~3-4 s for the 4x4
test NPU, ~20 s for the shipped 8x8), more than most of its runs take; :func:`npu_simulation`
compiles it once per configuration in a process and restarts it from reset for each run
(:mod:`dure.sim.verif.reusable_sim`)."""

from dataclasses import dataclass

from dure.rtl.npu.datapath import NpuDatapath
from dure.rtl.npu.npu import Npu

from .reusable_sim import reusable

__all__ = ["NpuParts", "npu_simulation"]


@dataclass(frozen=True)
class NpuParts:
    """What a testbench drives and watches: the NPU (``npu.bus``, ``npu.dma``, ``npu.irq``) and
    its datapath (``datapath.control``: the units' command ports and done pulses)."""
    npu: Npu
    datapath: NpuDatapath


def npu_simulation(config, *, weight_banks=None):
    """The :class:`~dure.sim.verif.reusable_sim.ReusableSimulation` of ``Npu(config)`` with
    ``NpuDatapath(config, weight_banks=weight_banks)``; its ``design`` is an :class:`NpuParts`."""
    def build():
        datapath = NpuDatapath(config, weight_banks=weight_banks)
        npu = Npu(config, datapath=datapath)
        return npu, NpuParts(npu, datapath)
    return reusable(("npu", config, weight_banks), build)
