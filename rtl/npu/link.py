"""The control-to-datapath link: the one interface between the NPU's command processor and its
datapath.

:class:`DatapathLink` is written from the command processor's side (it issues commands, the
datapath answers), the way bus signatures are written from the initiator's side:
:class:`~.control.NpuControl` has it as ``Out(DatapathLink())``, :class:`~.datapath.NpuDatapath`
as ``In(DatapathLink())``, and :class:`~.npu.Npu` joins the two with one ``wiring.connect``.
:data:`UNITS` names the per-unit members; the dispatcher takes them from here. This module
imports only the contract modules :mod:`.commands` and :mod:`.descriptor`.
"""

from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .commands import Opcode
from .descriptor import command_layout

__all__ = ["UNITS", "EVENTS", "DatapathLink"]

#: The datapath's units: (name, opcode, stream member, done member, bus-error member or None).
UNITS = (
    ("load", Opcode.LOAD, "load_cmd", "load_done", "load_bus_error"),
    ("compute", Opcode.COMPUTE, "exec_cmd", "exec_done", None),
    ("store", Opcode.STORE, "store_cmd", "store_done", "store_bus_error"),
    ("eltwise", Opcode.ELTWISE, "eltwise_cmd", "eltwise_done", None),
)

#: Per-cycle performance events of the datapath: {member: width}.
EVENTS = {"ev_compute_row": 1, "ev_lane_row": 1, "ev_macs": 16, "ev_dma_rd_bytes": 4,
          "ev_dma_wr_bytes": 4, "ev_stall_mem": 1, "ev_stall_out": 1}


class DatapathLink(wiring.Signature):
    """Signature of the control-to-datapath link, command-processor side.

    Members
    -------
    load_cmd, exec_cmd, store_cmd, eltwise_cmd : Out(stream.Signature(command_layout(opcode)))
        Validated commands to the load, execute, store and element-wise units (LOAD, COMPUTE,
        STORE, ELTWISE fields of :data:`~.descriptor.FIELDS`); ``valid`` never depends on
        ``ready`` and, once raised, stays up with a stable payload until ``ready``.
    load_done, exec_done, store_done, eltwise_done : In(1)
        One-cycle pulse per finished command, in issue order per unit (STORE: after every
        write response).
    load_bus_error, store_bus_error : In(1)
        With the done pulse: the command stopped at a DMA access answered with err.
    ev_compute_row : In(1)
        The array accepted an activation row this cycle.
    ev_lane_row : In(1)
        The element-wise unit computed an ELTWISE row this cycle.
    ev_macs : In(16)
        Multiply-accumulates issued this cycle.
    ev_dma_rd_bytes, ev_dma_wr_bytes : In(4)
        Bytes whose DMA read / write response arrived this cycle.
    ev_stall_mem : In(1)
        A DMA request waited for the bus (no grant).
    ev_stall_out : In(1)
        The array was stalled by its output (ACC write).
    """

    def __init__(self):
        members = {}
        for _, opcode, cmd, _, _ in UNITS:
            members[cmd] = Out(stream.Signature(command_layout(opcode)))
        for _, _, _, done, _ in UNITS:
            members[done] = In(1)
        for _, _, _, _, bus_error in UNITS:
            if bus_error is not None:
                members[bus_error] = In(1)
        for name, width in EVENTS.items():
            members[name] = In(width)
        super().__init__(members)

    def __eq__(self, other):
        return type(other) is DatapathLink

    def __hash__(self):
        return hash(DatapathLink)

    def __repr__(self):
        return "DatapathLink()"
