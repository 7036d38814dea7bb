// Testbench of dure.sim.verif.npu_verilator: plays a script of register operations through the
// whole NPU's register port and serves its DMA port from a byte image (main memory).
#include "Vdut.h"
#include "verilated.h"

#if defined(DURE_COVERAGE)
#include "verilated_cov.h"
#endif
#include <unistd.h>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <string>
#include <vector>

// A code-coverage build (DURE_COVERAGE, dure.sim.verilator_build.COVERAGE_ARGS) writes the run's
// counts to $DURE_CODE_COVERAGE/verilator-<pid>-<ns>.dat; other builds do nothing.
static void write_coverage(VerilatedContext* context) {
#if defined(DURE_COVERAGE)
    const char* folder = std::getenv("DURE_CODE_COVERAGE");
    if (!folder || !*folder) return;
    const long long ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
        std::chrono::system_clock::now().time_since_epoch()).count();
    const std::string path = std::string(folder) + "/verilator-" + std::to_string(getpid()) +
                             "-" + std::to_string(ns) + ".dat";
    context->coveragep()->write(path);
#else
    (void)context;
#endif
}

struct Resp { uint64_t due; uint32_t data; bool err; };

int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: %s IN OUT\n", argv[0]); return 2; }
    FILE *f = fopen(argv[1], "rb");
    uint32_t h[8];
    if (!f || fread(h, 4, 8, f) != 8) { fprintf(stderr, "cannot read %s\n", argv[1]); return 1; }
    const uint32_t nops = h[0], base = h[1], size = h[2], latency = h[3], interval = h[4];
    const uint32_t busy_bit = h[5], err_lo = h[6], err_hi = h[7];   // offsets answering err
    std::vector<uint32_t> ops(3 * nops);
    std::vector<uint8_t> mem(size + 4);
    bool ok = fread(ops.data(), 4, 3 * nops, f) == 3 * nops
              && fread(mem.data(), 1, size, f) == size;
    fclose(f);
    if (!ok) { fprintf(stderr, "short input file\n"); return 1; }

    VerilatedContext ctx;
    Vdut *top = new Vdut(&ctx);
    top->rst = 1;
    for (int k = 0; k < 2; k++) { top->clk = 0; top->eval(); top->clk = 1; top->eval(); }
    top->rst = 0;
    std::vector<uint32_t> values;
    std::vector<uint64_t> stamps(nops);
    std::deque<Resp> resp;
    uint32_t op = 0, wait = 0;
    bool requesting = true, responded = false;
    uint64_t cyc = 0;
    const uint64_t limit = 2000000000ull;
    while (op < nops) {
        if (cyc >= limit) { fprintf(stderr, "timeout at operation %u\n", op); return 3; }
        const uint32_t kind = ops[3 * op], addr = ops[3 * op + 1], value = ops[3 * op + 2];
        top->bus___05Freq = requesting;
        top->bus___05Faddr = addr;
        top->bus___05Fwe = kind == 0;
        top->bus___05Fbe = 0xF;
        top->bus___05Fwdata = value;
        const bool gnt = wait == 0;
        top->dma___05Fgnt = gnt;
        if (!resp.empty() && resp.front().due <= cyc) {
            top->dma___05Frvalid = 1; top->dma___05Frdata = resp.front().data;
            top->dma___05Ferr = resp.front().err;
            resp.pop_front();
        } else {
            top->dma___05Frvalid = 0; top->dma___05Ferr = 0;
        }
        top->clk = 0; top->eval();
        if (top->dma___05Freq && gnt) {
            const uint64_t byte = (uint64_t)top->dma___05Faddr * 4;
            if (byte < base || byte + 4 > (uint64_t)base + size) {
                fprintf(stderr, "DMA outside memory at 0x%llx\n", (unsigned long long)byte);
                return 4;
            }
            const uint32_t off = byte - base;
            uint32_t data = 0;
            for (int b = 0; b < 4; b++) data |= (uint32_t)mem[off + b] << (8 * b);
            const bool err = off >= err_lo && off < err_hi;
            if (top->dma___05Fwe && !err)
                for (int b = 0; b < 4; b++)
                    if (top->dma___05Fbe >> b & 1) mem[off + b] = top->dma___05Fwdata >> (8 * b);
            uint64_t due = cyc + latency;
            if (!resp.empty() && due <= resp.back().due) due = resp.back().due + 1;
            resp.push_back({due, data, err});
            wait = interval - 1;
        } else if (wait) {
            wait--;
        }
        const bool granted = requesting && top->bus___05Fgnt;
        if (top->bus___05Frvalid) {
            if (top->bus___05Ferr) { fprintf(stderr, "register error at op %u\n", op); return 5; }
            const uint32_t data = top->bus___05Frdata;
            if (kind == 1) values.push_back(data);
            if (kind == 2 && (data >> busy_bit & 1)) requesting = true;   // poll again
            else { stamps[op] = cyc; responded = true; }
        }
        top->clk = 1; top->eval();
        if (granted) requesting = false;
        if (responded) { op++; requesting = true; responded = false; }
        cyc++;
    }
    FILE *o = fopen(argv[2], "wb");
    const uint32_t n = values.size();
    fwrite(&n, 4, 1, o);
    fwrite(values.data(), 4, n, o);
    fwrite(stamps.data(), 8, nops, o);
    fwrite(mem.data(), 1, size, o);
    fclose(o);
    top->final();
    write_coverage(&ctx);
    delete top;
    return 0;
}
