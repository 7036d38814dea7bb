"""The whole NPU (control + real :class:`NpuDatapath`) on a reusable Amaranth simulation.

Every NPU-level testbench used to elaborate and compile ``Npu(config)`` anew (~3-4 s for the 4x4
test NPU, ~20 s for the shipped 8x8), more than most of its runs take; :func:`npu_simulation`
compiles it once per configuration in a process and restarts it from reset for each run
(:mod:`dure.sim.verif.reusable_sim`). :func:`run_through_registers` pushes a program through its
registers (:func:`push_and_wait_idle`, the testbench step other NPU benches share);
:func:`run_against_model` also runs the command model and compares."""

from dataclasses import dataclass

from dure.rtl.npu.commands import Status
from dure.rtl.npu.datapath import NpuDatapath
from dure.rtl.npu.npu import Npu
from dure.sim.npu_model import NpuModel

from .npu_control import reg_read, reg_write, submit
from .npu_datapath import MemoryTarget
from .npu_one_port import one_port_npu
from .reusable_sim import reusable

__all__ = ["NpuParts", "npu_simulation", "push_and_wait_idle", "run_through_registers",
           "run_against_model", "READ_BACK"]


@dataclass(frozen=True)
class NpuParts:
    """What a testbench drives and watches: the NPU (``npu.bus``, ``npu.dma``, ``npu.irq``) and
    its datapath (``datapath.control``: the units' command ports and done pulses)."""
    npu: Npu
    datapath: NpuDatapath


def npu_simulation(config, *, weight_banks=None):
    """The :class:`~dure.sim.verif.reusable_sim.ReusableSimulation` of ``Npu(config)`` with
    ``NpuDatapath(config, weight_banks=weight_banks)``, with one memory port
    (:func:`~.npu_one_port.one_port_npu`: with ``npu_list_port`` the LIST fetcher's port joined
    to the DMA's); its ``design`` is an :class:`NpuParts`."""
    def build():
        datapath = NpuDatapath(config, weight_banks=weight_banks)
        npu = one_port_npu(config, datapath=datapath)
        return npu, NpuParts(npu, datapath)
    return reusable(("npu", config, weight_banks), build)


async def push_and_wait_idle(ctx, bus, descriptors, names, *, window=None, tries=100_000):
    """Testbench step on an NPU register port ``bus``: sets the DMA window to ``window``
    (``(base, size)``; None: left as it is), pushes ``descriptors`` (lists of words), reads
    STATUS until BUSY is clear (``AssertionError`` after ``tries`` reads) and returns
    ``{name: value}`` of the registers ``names`` read then."""
    if window is not None:
        assert not await reg_write(ctx, bus, "DMA_BASE", window[0])
        assert not await reg_write(ctx, bus, "DMA_SIZE", window[1])
    for words in descriptors:
        await submit(ctx, bus, words)
    for _ in range(tries):
        if not (await reg_read(ctx, bus, "STATUS"))[0] & Status.BUSY.value:
            break
    else:
        raise AssertionError("the NPU never became idle")
    return {name: (await reg_read(ctx, bus, name))[0] for name in names}


#: What :func:`run_through_registers` reads back after the NPU went idle.
READ_BACK = ("STATUS", "ERROR", "ISSUED", "DONE", "PERF_MACS_LO", "PERF_BUSY_LO")


def run_through_registers(config, descriptors, image, *, base, gnt=0.9):
    """Push ``descriptors`` (lists of words) through the registers of the RTL NPU of ``config``,
    with main memory ``image`` at ``base`` (latency 3, jitter 2, grant probability ``gnt``: low
    lets LOADs still land while the commands behind them run) and the DMA window on it; wait
    until the NPU is idle. Returns ``(registers, memory)``: the :data:`READ_BACK` registers and
    the memory afterwards."""
    sim = npu_simulation(config)
    npu = sim.design.npu
    mem = bytearray(image)
    target = MemoryTarget(npu.dma, mem, base=base, latency=3, jitter=2, gnt_probability=gnt)
    regs = {}

    async def bench(ctx):
        regs.update(await push_and_wait_idle(ctx, npu.bus, descriptors, READ_BACK,
                                             window=(base, len(image))))

    sim.run([bench], [target.serve])
    return regs, mem


def run_against_model(config, descriptors, image, *, base, gnt=0.9):
    """:func:`run_through_registers` and the command model (:class:`NpuModel`) on the same image;
    asserts equal memory, ERROR (code and index), DONE and PERF_MACS (COMPUTE and element-wise
    MAC products). Returns ``(registers, memory, model)``; ``model.codes`` holds the model's
    code per descriptor."""
    regs, mem = run_through_registers(config, descriptors, image, base=base, gnt=gnt)
    ref = NpuModel(config, memory={base: bytes(image)})
    ref.set_window(base, len(image))
    ref.codes = ref.run(descriptors)
    want_error = 0 if ref.error is None else ref.error[0].value | ref.error[1] << 8
    assert regs["ERROR"] == want_error, (hex(regs["ERROR"]), hex(want_error))
    assert regs["DONE"] == ref.done
    assert regs["PERF_MACS_LO"] == ref.macs
    assert bytes(mem) == ref.read(base, len(image))
    return regs, mem, ref
