"""Pipeline payloads, named after the edge they cross (D->X, X->M, M->W)."""

from amaranth.lib import data, enum

from .decoder import DecodedLayout
from .predictor import PredictorState
from .trigger import TRIGGER_CTRL_BITS

__all__ = ["ResultSrc", "TrapLayout", "DXLayout", "XMLayout", "MWLayout",
           "protection_layout"]


class ResultSrc(enum.Enum, shape=3):
    """Where the M stage takes the destination value from."""
    X    = 0   # computed in X (ALU, shifter, link address, divider): forwardable from M
    LOAD = 1   # the data bus answer (available at the M/W edge)
    MUL  = 2   # the multiplier's second stage
    CSR  = 3   # the CSR file (read in M)
    ADD  = 4   # ``late_add``: an ADD of W's value and the other operand, added in M
    SHIFT = 5  # ``late_shift``: a shift whose value or amount is W's value, shifted in M


#: A synchronous exception travelling with its instruction.
TrapLayout = data.StructLayout({
    "valid": 1,
    "cause": 4,
    "tval":  32,
})

DXLayout = data.StructLayout({
    "pc":              32,
    "insn":            32,
    "dec":             DecodedLayout,
    "predicted_taken": 1,
    "predicted_rs1": 32,      # a predicted JALR's rs1 for its predicted target, checked in X
    "bht_ctr":         PredictorState,   # the branch's table state as read in D (trained
                                         # from X)
    "refetch":         1,     # fetch went to a wrong target after it: X redirects
    "exc":             TrapLayout,
})

XMLayout = data.StructLayout({
    "pc":        32,
    "insn":      32,
    "taken":     1,     # a taken branch / jump: the successor is ``target``, else pc + 4
    "target":    32,    # (M forms the program-order successor for the trace from these)
    "rd":        5,     # 0 when nothing is written
    "src":       ResultSrc,
    "result":    32,    # X result, or the CSR write operand for CSR instructions
    "mem":       1,     # a load or store was issued on the data bus
    "store":     1,
    "funct3":    3,
    "mem_addr":  32,
    "mem_mask":  4,     # lanes of the (first) access
    "mem_mask_hi": 4,   # lanes of the second access of a split access (next word)
    "split":     1,     # the access crosses a word boundary: M sends the second access
    "mem_wdata": 32,
    "rs":        data.ArrayLayout(5, 2),    # sources read (0: none), for the trace
    "rs_rdata":  data.ArrayLayout(32, 2),   # their values as used (0 when none)
    "csr":       1,
    "csr_addr":  12,
    "csr_op":    2,     # funct3[1:0]: 1 write, 2 set, 3 clear
    "csr_write": 1,
    "mret":      1,
    "wfi":       1,
    "fence_i":   1,     # refetch after commit (FENCE.I, or a write to a PMP / trigger CSR)
    "exc":       TrapLayout,
    "irq":       1,     # interrupt marker: the instruction was not executed
    # A conditional branch resolved in M (``late_branch``): ``taken`` is not known yet; its
    # source ``late[i]`` is the value W writes while it is in M.
    "late_branch": 1,
    "late":      data.ArrayLayout(1, 2),
    "predicted_taken": 1,
})

MWLayout = data.StructLayout({
    "report":    1,     # appears on the retirement port (retired or trapped)
    "trap":      1,
    "irq":       1,     # an interrupt was taken (nothing reported)
    "pc":        32,
    "insn":      32,
    "next_pc":   32,
    "rd":        5,
    "result":    32,
    "mem_addr":  32,
    "mem_rmask": 4,
    "mem_wmask": 4,
    "mem_rdata": 32,
    "mem_wdata": 32,
    "rs":        data.ArrayLayout(5, 2),
    "rs_rdata":  data.ArrayLayout(32, 2),
})


def protection_layout(pmp_entries, triggers):
    """The privilege state the CSR file (M stage) hands to the checks in D and X: privilege
    level, the privilege of loads and stores (``mstatus.MPRV``), ``mstatus.TW``,
    ``mcounteren``, ``tcontrol.MTE``, the PMP entries and the trigger settings (arrays of at
    least one element; unused when the count is 0)."""
    return data.StructLayout({
        "priv_m":    1,
        "dpriv_m":   1,     # privilege of loads / stores (MPP when mstatus.MPRV is set in M)
        "tw":        1,
        "counteren": 3,
        "mte":       1,
        "pmp_cfg":   data.ArrayLayout(8, max(1, pmp_entries)),
        "pmp_addr":  data.ArrayLayout(32, max(1, pmp_entries)),
        "pmp_care":  data.ArrayLayout(32, max(1, pmp_entries)),   # NAPOT compare masks
        "trig_ctrl": data.ArrayLayout(TRIGGER_CTRL_BITS, max(1, triggers)),
        "trig_addr": data.ArrayLayout(32, max(1, triggers)),
    })
