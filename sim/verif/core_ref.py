"""A small RV32IM + Zicsr reference model (M- and U-mode, PMP, triggers) producing retirement
records.

Written from the specifications for the core tests (independent of the RTL). Interrupts and
the cycle counters are not modelled (they depend on timing); everything else is, including
traps with the core's documented choices: loads and stores at any address, one that crosses a
word boundary done as two word accesses (a fault on either traps with mtval = the first byte of
the faulting part; a store whose second part faults keeps its first part written); records use
wrap-around byte lanes (lane i = the access's byte at an address i modulo 4); PMP with G = 0
checks both words of a split access before either is made; ``mcontrol`` triggers match the
lowest address, action 0 (see ``rtl/core/README.md``).
"""

from dure.rtl.core.isa import (
    CSR,
    HPM_RANGES,
    MISA_VALUE,
    PMP_ADDR_RANGE,
    PMP_CFG_RANGE,
    TINFO_VALUE,
    ZERO_RANGES,
    csr_is_read_only,
)

M32 = 0xFFFF_FFFF


def sx(value, bits):
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def _div(a, b, signed, rem):
    if signed:
        a, b = sx(a, 32), sx(b, 32)
    if b == 0:
        return (a if rem else -1) & M32
    if signed and a == -2**31 and b == -1:
        return 0 if rem else a & M32
    q = abs(a) // abs(b)
    if (a < 0) != (b < 0):
        q = -q
    return ((a - q * b) if rem else q) & M32


def _lanes(addr, size):
    """Byte lanes of an access in its first word and (crossing a word boundary) the next."""
    wide = ((1 << size) - 1) << (addr & 3)
    return wide & 15, wide >> 4


def _next_word(addr):
    """Address of the word after the one holding ``addr`` (a split access's second part)."""
    return ((addr >> 2) + 1 << 2) & M32


def _bytes_mask(lanes):
    return sum(0xFF << (8 * i) for i in range(4) if lanes >> i & 1)


def pmp_allows(cfgs, addrs, priv_m, addr, perm):
    """PMP decision (G = 0) for an aligned access of at most 4 bytes at ``addr``; ``perm`` is
    1 (read), 2 (write) or 4 (execute)."""
    word = addr >> 2
    for i, (cfg, pa) in enumerate(zip(cfgs, addrs, strict=True)):
        mode = cfg >> 3 & 3
        if mode == 1:
            lo = addrs[i - 1] if i else 0
            hit = lo <= word < pa
        elif mode == 2:
            hit = word == pa
        elif mode == 3:
            ones = 0                              # trailing ones: 2 ** (ones + 1) words
            while ones < 32 and pa >> ones & 1:
                ones += 1
            hit = word >> (ones + 1) == pa >> (ones + 1)
        else:
            hit = False
        if hit:
            if priv_m and not cfg >> 7 & 1:
                return True
            return bool(cfg & perm)
    return priv_m or not cfgs


class Reference:
    def __init__(self, mem, pc, *, pmp_entries=16, triggers=1):
        self.mem = mem          # MemoryModel (read / write as on the bus)
        self.pc = pc
        self.x = [0] * 32
        self.mie_bit = self.mpie_bit = 0
        self.priv_m, self.mpp_m, self.tw = 1, 1, 0
        self.mprv = 0           # mstatus.MPRV: loads / stores use MPP's privilege (in M)
        self.csrs = {CSR.MIE: 0, CSR.MTVEC: 0, CSR.MSCRATCH: 0, CSR.MEPC: 0, CSR.MCAUSE: 0,
                     CSR.MTVAL: 0, CSR.MCOUNTINHIBIT: 0, CSR.MCOUNTEREN: 0, CSR.TCONTROL: 0}
        self.instret = 0
        self.pmpcfg = [0] * pmp_entries
        self.pmpaddr = [0] * pmp_entries
        self.tselect = 0
        self.tctrl = [0] * triggers     # tdata1 bits L S X U (3:0) and M (6)
        self.ttype = [2] * triggers     # tdata1.type: 2 mcontrol, 6 mcontrol6, 15 disabled
        self.tdata2 = [0] * triggers

    def _known(self, addr):
        return any(addr == c.value for c in CSR) or \
            any(lo <= addr <= hi for lo, hi in (*HPM_RANGES, PMP_CFG_RANGE, PMP_ADDR_RANGE,
                                                *ZERO_RANGES))

    def _user_ok(self, addr):
        """Whether U-mode may access CSR ``addr`` (an existing one)."""
        if addr >> 8 & 3:
            return False
        if 0xC00 <= addr <= 0xC1F or 0xC80 <= addr <= 0xC9F:
            n = addr & 31
            return n < 3 and bool(self.csrs[CSR.MCOUNTEREN] >> n & 1)
        return True

    def _trigger(self, kind, addr):
        """Whether a trigger fires: kind 1 load, 2 store, 4 execute."""
        mte = self.csrs[CSR.TCONTROL] >> 3 & 1
        for ctrl, t2 in zip(self.tctrl, self.tdata2, strict=True):
            mode = (ctrl >> 6 & 1 and mte) if self.priv_m else ctrl >> 3 & 1
            if mode and ctrl & kind and t2 == addr:
                return True
        return False

    def _pmp_ok(self, addr, perm):
        priv_m = self.priv_m
        if perm != 4 and self.mprv and self.priv_m:   # load / store, MPRV: MPP's privilege
            priv_m = self.mpp_m
        return pmp_allows(self.pmpcfg, self.pmpaddr, priv_m, addr, perm)

    def _csr_read(self, addr):
        n = len(self.pmpcfg)
        if PMP_CFG_RANGE[0] <= addr <= PMP_CFG_RANGE[1]:
            k = addr - PMP_CFG_RANGE[0]
            return sum(self.pmpcfg[i] << 8 * (i - 4 * k) for i in range(4 * k, 4 * k + 4)
                       if i < n)
        if PMP_ADDR_RANGE[0] <= addr <= PMP_ADDR_RANGE[1]:
            i = addr - PMP_ADDR_RANGE[0]
            return self.pmpaddr[i] if i < n else 0
        ntrig = len(self.tctrl)
        if addr == CSR.TSELECT.value:
            return self.tselect
        if addr == CSR.TDATA1.value:
            return (self.ttype[self.tselect] << 28 | self.tctrl[self.tselect]) if ntrig else 0
        if addr == CSR.TDATA2.value:
            return self.tdata2[self.tselect] if ntrig else 0
        if addr == CSR.TINFO.value:
            return TINFO_VALUE if ntrig else 1
        if addr == CSR.MSTATUS.value:
            return (self.mie_bit << 3 | self.mpie_bit << 7 | 3 * self.mpp_m << 11 |
                    self.mprv << 17 | self.tw << 21)
        if addr == CSR.MISA.value:
            return MISA_VALUE
        if addr in (CSR.MINSTRET.value, CSR.INSTRET.value):
            return self.instret & M32
        if addr in (CSR.MINSTRETH.value, CSR.INSTRETH.value):
            return self.instret >> 32
        for c, v in self.csrs.items():
            if addr == c.value:
                return v
        return 0

    def _csr_write(self, addr, v):
        masks = {CSR.MIE: 0x888, CSR.MTVEC: 0xFFFF_FFFD, CSR.MSCRATCH: M32,
                 CSR.MEPC: 0xFFFF_FFFC, CSR.MCAUSE: M32, CSR.MTVAL: M32, CSR.MCOUNTINHIBIT: 5,
                 CSR.MCOUNTEREN: 7, CSR.TCONTROL: 0x88}
        n = len(self.pmpcfg)
        if PMP_CFG_RANGE[0] <= addr <= PMP_CFG_RANGE[1]:
            k = addr - PMP_CFG_RANGE[0]
            for i in range(4 * k, min(4 * k + 4, n)):
                b = v >> 8 * (i - 4 * k) & 0xFF
                if not self.pmpcfg[i] >> 7 & 1:
                    self.pmpcfg[i] = b & 0x9D | (b & b << 1 & 2)
        elif PMP_ADDR_RANGE[0] <= addr <= PMP_ADDR_RANGE[1]:
            i = addr - PMP_ADDR_RANGE[0]
            locked = i < n and (self.pmpcfg[i] >> 7 & 1 or
                                i + 1 < n and self.pmpcfg[i + 1] & 0x98 == 0x88)
            if i < n and not locked:
                self.pmpaddr[i] = v
        elif addr == CSR.TSELECT.value:
            if v < len(self.tctrl):
                self.tselect = v
        elif addr == CSR.TDATA1.value and self.tctrl:
            kind = v >> 28
            if kind in (2, 6):
                unsupported = v >> 7 & 0x1F or v >> 12 & 0xF or (
                    v >> 16 & 0xF if kind == 2 else v >> 5 & 1 or v >> 16 & 7 or v >> 21 & 1)
                self.tctrl[self.tselect] = v & 0x48 | (0 if unsupported else v & 7)
                self.ttype[self.tselect] = kind
            else:                       # type 0, 15 or unsupported: disabled (type 15)
                self.tctrl[self.tselect] = 0
                self.ttype[self.tselect] = 15
        elif addr == CSR.TDATA2.value and self.tctrl:
            self.tdata2[self.tselect] = v
        if addr == CSR.MSTATUS.value:
            self.mie_bit, self.mpie_bit = v >> 3 & 1, v >> 7 & 1
            self.mpp_m = int(v >> 11 & 3 == 3)
            self.mprv = v >> 17 & 1
            self.tw = v >> 21 & 1
        elif addr == CSR.MINSTRET.value:
            self.instret = (self.instret & ~M32) | v
            return True
        elif addr == CSR.MINSTRETH.value:
            self.instret = (self.instret & M32) | v << 32
            return True
        for c, mask in masks.items():
            if addr == c.value:
                self.csrs[c] = v & mask
        return False

    def _trap(self, rec, cause, tval):
        self.csrs[CSR.MEPC] = self.pc
        self.csrs[CSR.MCAUSE] = cause
        self.csrs[CSR.MTVAL] = tval & M32
        self.mpie_bit, self.mie_bit = self.mie_bit, 0
        self.mpp_m, self.priv_m = self.priv_m, 1
        tc = self.csrs[CSR.TCONTROL]
        self.csrs[CSR.TCONTROL] = (tc & 8) << 4
        rec.update(trap=1, rd_addr=0, rd_wdata=0, mem_addr=0, mem_rmask=0, mem_wmask=0,
                   mem_rdata=0, mem_wdata=0)
        self.pc = self.csrs[CSR.MTVEC] & ~3
        rec["pc_wdata"] = self.pc
        return rec

    def step(self):
        """Execute one instruction; return its retirement record."""
        pc = self.pc
        insn, err = self.mem.read(pc >> 2)
        rec = dict(insn=insn, trap=0, pc_rdata=pc, pc_wdata=(pc + 4) & M32, rd_addr=0,
                   rd_wdata=0, mem_addr=0, mem_rmask=0, mem_wmask=0, mem_rdata=0, mem_wdata=0)
        if self._trigger(4, pc):
            return self._trap(rec, 3, pc)
        if err or not self._pmp_ok(pc, 4):
            return self._trap(rec, 1, pc)
        op, rd, f3 = insn & 0x7F, insn >> 7 & 31, insn >> 12 & 7
        rs1, rs2, f7 = insn >> 15 & 31, insn >> 20 & 31, insn >> 25
        a, b = self.x[rs1], self.x[rs2]
        imm_i = sx(insn >> 20, 12)
        imm_s = sx((insn >> 25) << 5 | (insn >> 7 & 31), 12)
        imm_b = sx((insn >> 31) << 12 | (insn >> 7 & 1) << 11 | (insn >> 25 & 63) << 5 |
                   (insn >> 8 & 15) << 1, 13)
        imm_j = sx((insn >> 31) << 20 | (insn >> 12 & 255) << 12 | (insn >> 20 & 1) << 11 |
                   (insn >> 21 & 1023) << 1, 21)
        illegal = False
        result = None
        next_pc = (pc + 4) & M32
        counted_write = False

        def alu(f3, a, b, alt):
            sh = b & 31
            return {0: (a - b) if alt else (a + b), 1: a << sh,
                    2: int(sx(a, 32) < sx(b, 32)), 3: int(a < b), 4: a ^ b,
                    5: (sx(a, 32) >> sh) if alt else (a >> sh), 6: a | b, 7: a & b}[f3] & M32

        if op == 0x37:
            result = insn & 0xFFFF_F000
        elif op == 0x17:
            result = (pc + (insn & 0xFFFF_F000)) & M32
        elif op in (0x6F, 0x67):
            if op == 0x67 and f3:
                illegal = True
            else:
                target = ((pc + imm_j) if op == 0x6F else ((a + imm_i) & ~1)) & M32
                if target & 3:
                    return self._trap(rec, 0, target)
                result, next_pc = (pc + 4) & M32, target
        elif op == 0x63:
            conds = {0: a == b, 1: a != b, 4: sx(a, 32) < sx(b, 32),
                     5: sx(a, 32) >= sx(b, 32), 6: a < b, 7: a >= b}
            if f3 not in conds:
                illegal = True
            elif conds[f3]:
                target = (pc + imm_b) & M32
                if target & 3:
                    return self._trap(rec, 0, target)
                next_pc = target
        elif op == 0x03:
            if f3 not in (0, 1, 2, 4, 5):
                illegal = True
            else:
                addr = (a + imm_i) & M32
                size = 1 << (f3 & 3)
                lanes, lanes_hi = _lanes(addr, size)
                if self._trigger(1, addr):
                    return self._trap(rec, 3, addr)
                if not self._pmp_ok(addr, 1):
                    return self._trap(rec, 5, addr)
                if lanes_hi and not self._pmp_ok(_next_word(addr), 1):
                    return self._trap(rec, 5, _next_word(addr))
                word, err = self.mem.read(addr >> 2)
                if err:
                    return self._trap(rec, 5, addr)
                if lanes_hi:
                    second = ((addr >> 2) + 1) & (M32 >> 2)
                    hi, err = self.mem.read(second)
                    if err:
                        return self._trap(rec, 5, second << 2)
                    keep = _bytes_mask(lanes)
                    word = (word & keep) | (hi & ~keep & M32)
                k = 8 * (addr & 3)
                v = ((word >> k) | (word << (32 - k))) & ((1 << 8 * size) - 1)
                result = v if f3 & 4 else sx(v, 8 * size) & M32
                rec.update(mem_addr=addr, mem_rmask=lanes | lanes_hi, mem_rdata=word)
        elif op == 0x23:
            if f3 > 2:
                illegal = True
            else:
                addr = (a + imm_s) & M32
                size = 1 << f3
                if self._trigger(2, addr):
                    return self._trap(rec, 3, addr)
                if not self._pmp_ok(addr, 2):
                    return self._trap(rec, 7, addr)
                if (addr & 3) + size > 4 and not self._pmp_ok(_next_word(addr), 2):
                    return self._trap(rec, 7, _next_word(addr))
                data = {0: (b & 0xFF) * 0x0101_0101, 1: (b & 0xFFFF) * 0x0001_0001, 2: b}[f3]
                k = 8 * (addr & 3)
                data = ((data << k) | (data >> (32 - k))) & M32
                be, be_hi = _lanes(addr, size)
                if self.mem.write(addr >> 2, be, data):
                    return self._trap(rec, 7, addr)
                if be_hi:
                    second = ((addr >> 2) + 1) & (M32 >> 2)
                    if self.mem.write(second, be_hi, data):
                        return self._trap(rec, 7, second << 2)   # first part stays written
                rec.update(mem_addr=addr, mem_wmask=be | be_hi, mem_wdata=data)
        elif op == 0x13:
            if f3 == 1 and f7 != 0 or f3 == 5 and f7 not in (0, 0x20):
                illegal = True
            else:
                result = alu(f3, a, imm_i & M32 if f3 not in (1, 5) else rs2, f3 == 5 and f7)
        elif op == 0x33:
            if f7 == 1:
                sa, sb = sx(a, 32), sx(b, 32)
                result = {0: a * b, 1: (sa * sb) >> 32, 2: (sa * b) >> 32, 3: (a * b) >> 32,
                          4: _div(a, b, True, False), 5: _div(a, b, False, False),
                          6: _div(a, b, True, True), 7: _div(a, b, False, True)}[f3] & M32
            elif f7 == 0 or f7 == 0x20 and f3 in (0, 5):
                result = alu(f3, a, b, f7 == 0x20)
            else:
                illegal = True
        elif op == 0x0F:
            illegal = f3 not in (0, 1)
        elif op == 0x73:
            if f3 == 0:
                if insn == 0x73:
                    return self._trap(rec, 11 if self.priv_m else 8, 0)
                if insn == 0x0010_0073:
                    return self._trap(rec, 3, pc)
                if insn == 0x3020_0073 and self.priv_m:
                    self.mie_bit, self.mpie_bit = self.mpie_bit, 1
                    if not self.mpp_m:
                        self.mprv = 0       # MRET to U clears MPRV
                    self.priv_m, self.mpp_m = self.mpp_m, 0
                    tc = self.csrs[CSR.TCONTROL]
                    self.csrs[CSR.TCONTROL] = tc & 0x80 | (tc >> 4 & 8)
                    next_pc = self.csrs[CSR.MEPC]
                elif insn != 0x1050_0073 or not self.priv_m and self.tw:
                    illegal = True          # WFI: no interrupts modelled, a no-op
            elif f3 != 4:
                addr = insn >> 20
                operand = rs1 if f3 & 4 else a
                write = (f3 & 3) == 1 or rs1 != 0
                if not self._known(addr) or write and csr_is_read_only(addr) or \
                        not self.priv_m and not self._user_ok(addr):
                    illegal = True
                else:
                    old = self._csr_read(addr)
                    new = {1: operand, 2: old | operand, 3: old & ~operand & M32}[f3 & 3]
                    if write:
                        counted_write = self._csr_write(addr, new)
                    result = old
            else:
                illegal = True
        else:
            illegal = True
        if illegal:
            return self._trap(rec, 2, insn)
        if result is not None and rd:
            self.x[rd] = result & M32
            rec.update(rd_addr=rd, rd_wdata=result & M32)
        self.pc = next_pc
        rec["pc_wdata"] = next_pc
        if not counted_write:
            self.instret += 1
        return rec
