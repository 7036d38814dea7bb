// Where the cycles of a run go: a breakdown of the bubbles between retirements, from the
// retirement port alone (no RTL counters), for `dure bench-cpu`.
//
// Every retirement (rvfi valid) after the first closes a gap: the cycles since the previous
// retirement minus one are bubbles. The bubbles of a gap are charged to one cause, chosen from
// the previous retired instruction (`prev`) and this one (`cur`), first match wins:
//
//   trap       prev trapped, cur is the first instruction of a handler (intr), or prev is a
//              SYSTEM instruction that refetches (MRET, WFI, ECALL/EBREAK, FENCE.I, CSR write)
//   divide     cur is DIV / DIVU / REM / REMU (it sits in X while it iterates)
//   branch_mispredict  prev is a conditional branch and the gap is 3 or more (X's redirect)
//   branch_taken       prev is a taken conditional branch (gap 1 or 2: predicted in D)
//   branch_not_taken   prev is a not-taken conditional branch (gap 1 or 2: D predicted taken
//              from a buffer hit, fetch went to the target)
//   jal        prev is JAL
//   ret        prev is a return (JALR, rs1 = x1 / x5, rd = x0)
//   jalr       prev is any other JALR
//   load_use   prev is a load, MUL* or CSR read with rd != x0 and cur reads that register
//   split      cur is a load / store across a word boundary (a second access in M)
//   other      anything else (fetch, bus waits, ...)
//
// The events column counts the retirements charged to each cause with a gap of at least one
// cycle; `retired` counts every retirement seen. This is an attribution by rule, not a
// measurement inside the pipeline: a gap with two causes is charged once, to the first.

#pragma once

#include <cstdint>
#include <cstdio>

class StallCounts {
public:
    enum Cause {
        kTrap, kDivide, kBranchMispredict, kBranchTaken, kBranchNotTaken, kJal, kRet, kJalr,
        kLoadUse, kSplit, kOther, kCauses
    };

    // One retirement at `cycle`: its instruction word, whether it trapped or starts a handler,
    // its next pc, its pc and its memory address and masks (for the split-access rule).
    void retire(uint64_t cycle, uint32_t insn, bool trap, bool intr, uint32_t pc,
                uint32_t pc_next, uint32_t mem_addr, uint32_t mem_mask) {
        retired_++;
        if (have_prev_) {
            uint64_t gap = cycle - prev_cycle_ - 1;
            if (gap) {
                Cause cause = classify(insn, intr, mem_addr, mem_mask, gap);
                bubbles_[cause] += gap;
                events_[cause]++;
            }
        }
        have_prev_ = true;
        prev_cycle_ = cycle;
        prev_insn_ = insn;
        prev_trap_ = trap;
        prev_taken_ = pc_next != pc + 4;
    }

    // ``"stalls": {"retired": N, "load_use": [events, bubbles], ...}`` (no trailing comma).
    void write_json(FILE* out) const {
        static const char* const kNames[kCauses] = {
            "trap", "divide", "branch_mispredict", "branch_taken", "branch_not_taken", "jal",
            "ret", "jalr", "load_use", "split", "other"};
        std::fprintf(out, "\"stalls\": {\"retired\": %llu", (unsigned long long)retired_);
        for (int i = 0; i < kCauses; i++)
            std::fprintf(out, ", \"%s\": [%llu, %llu]", kNames[i],
                         (unsigned long long)events_[i], (unsigned long long)bubbles_[i]);
        std::fprintf(out, "}");
    }

private:
    static uint32_t opcode(uint32_t insn) { return insn & 0x7f; }
    static uint32_t rd(uint32_t insn) { return (insn >> 7) & 31; }
    static uint32_t funct3(uint32_t insn) { return (insn >> 12) & 7; }
    static uint32_t rs1(uint32_t insn) { return (insn >> 15) & 31; }
    static uint32_t rs2(uint32_t insn) { return (insn >> 20) & 31; }
    static bool is_muldiv(uint32_t insn) { return opcode(insn) == 0x33 && (insn >> 25) == 1; }

    // Registers that `insn` reads (0 = none: x0 never waits).
    static void sources(uint32_t insn, uint32_t* a, uint32_t* b) {
        *a = *b = 0;
        switch (opcode(insn)) {
        case 0x33: case 0x23: case 0x63: *a = rs1(insn); *b = rs2(insn); break;
        case 0x13: case 0x03: case 0x67: *a = rs1(insn); break;
        case 0x73: if (funct3(insn) >= 1 && funct3(insn) <= 3) *a = rs1(insn); break;
        default: break;
        }
    }

    // A load, MUL* or CSR read whose result comes late (from M).
    static bool late_result(uint32_t insn) {
        if (rd(insn) == 0) return false;
        uint32_t op = opcode(insn);
        return op == 0x03 || (is_muldiv(insn) && funct3(insn) < 4) ||
               (op == 0x73 && funct3(insn) != 0 && funct3(insn) != 4);
    }

    Cause classify(uint32_t insn, bool intr, uint32_t mem_addr, uint32_t mem_mask,
                   uint64_t gap) const {
        uint32_t prev = prev_insn_, op = opcode(prev);
        bool csr_write = op == 0x73 && funct3(prev) != 0 &&
                         (funct3(prev) == 1 || funct3(prev) == 5 || rs1(prev) != 0);
        if (prev_trap_ || intr || (op == 0x73 && (funct3(prev) == 0 || csr_write)) ||
            (op == 0x0f && funct3(prev) == 1))
            return kTrap;
        if (is_muldiv(insn) && funct3(insn) >= 4) return kDivide;
        if (op == 0x63) {
            if (gap >= 3) return kBranchMispredict;
            return prev_taken_ ? kBranchTaken : kBranchNotTaken;
        }
        if (op == 0x6f) return kJal;
        if (op == 0x67)
            return (rd(prev) == 0 && (rs1(prev) == 1 || rs1(prev) == 5)) ? kRet : kJalr;
        uint32_t a, b;
        sources(insn, &a, &b);
        if (late_result(prev) && (a == rd(prev) || b == rd(prev))) return kLoadUse;
        // A split access: its mask's lanes wrap around (lanes below the offset are the next
        // word's), so the access crosses a word boundary when the lowest set lane is below
        // the offset of its address.
        if (mem_mask && (mem_addr & 3) && (mem_mask & ((1u << (mem_addr & 3)) - 1)))
            return kSplit;
        return kOther;
    }

    bool have_prev_ = false;
    uint64_t prev_cycle_ = 0;
    uint32_t prev_insn_ = 0;
    bool prev_trap_ = false;
    bool prev_taken_ = false;
    uint64_t retired_ = 0;
    uint64_t events_[kCauses] = {};
    uint64_t bubbles_[kCauses] = {};
};
