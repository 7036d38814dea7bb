// Testbench of dure.sim.verif.vector_harness: offers one input vector per enabled cycle.
// The build writes vector_ports.h beside it: DURE_NIN and DURE_NOUT (data port counts) and the
// statements DURE_SET_INPUTS (top->port = v[k] per input) and DURE_GET_OUTPUTS (o[k] = top->port
// per output).
#include "Vdut.h"
#include "verilated.h"
#include "vector_ports.h"
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

static const int NIN = DURE_NIN, NOUT = DURE_NOUT;

int main(int argc, char **argv) {
    if (argc != 7) {
        fprintf(stderr, "usage: %s IN OUT COUNT SEED STALL_PER_MILLE GAP_PER_MILLE\n", argv[0]);
        return 2;
    }
    const size_t n = strtoull(argv[3], nullptr, 10);
    uint64_t rng = strtoull(argv[4], nullptr, 10) * 2654435761u + 88172645463325252ull;
    const unsigned stall = strtoul(argv[5], nullptr, 10);
    const unsigned gap = strtoul(argv[6], nullptr, 10);
    std::vector<uint64_t> in(n * NIN + 1), out(n * (NOUT + 1) + 1);
    std::vector<uint64_t> taken(n + 1);
    FILE *f = fopen(argv[1], "rb");
    if (!f || fread(in.data(), sizeof(uint64_t), n * NIN, f) != n * NIN) {
        fprintf(stderr, "cannot read %zu input vectors from %s\n", n, argv[1]);
        return 1;
    }
    fclose(f);
    VerilatedContext ctx;
    Vdut *top = new Vdut(&ctx);
    top->en = 1; top->i_valid = 0; top->rst = 1;
    for (int k = 0; k < 2; k++) { top->clk = 0; top->eval(); top->clk = 1; top->eval(); }
    top->rst = 0;
    size_t sent = 0, got = 0;
    uint64_t enabled = 0, idle = 0;
    while (got < n) {
        rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
        const bool en = stall == 0 || (rng >> 20) % 1000 >= stall;
        const bool offer = sent < n && (gap == 0 || (rng >> 40) % 1000 >= gap);
        top->en = en;
        top->i_valid = offer;
        if (sent < n) {
            const uint64_t *v = &in[sent * NIN];
            DURE_SET_INPUTS
        }
        top->clk = 0; top->eval();
        if (en) {
            if (top->o_valid) {
                uint64_t *o = &out[got * (NOUT + 1)];
                DURE_GET_OUTPUTS
                o[NOUT] = enabled - taken[got];
                got++;
                idle = 0;
            } else if (++idle > 10000) {
                fprintf(stderr, "no output for 10000 enabled cycles after %zu of %zu\n", got, n);
                return 1;
            }
            if (offer) taken[sent++] = enabled;
            enabled++;
        }
        top->clk = 1; top->eval();
    }
    top->final();
    delete top;
    f = fopen(argv[2], "wb");
    if (!f || fwrite(out.data(), sizeof(uint64_t), n * (NOUT + 1), f) != n * (NOUT + 1)) {
        fprintf(stderr, "cannot write %s\n", argv[2]);
        return 1;
    }
    fclose(f);
    return 0;
}
