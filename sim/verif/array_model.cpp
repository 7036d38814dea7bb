// Testbench of dure.sim.verif.array_model: plays weight and ops beats from a file through the
// systolic array (Vdut, built with --prefix Vdut) with pseudo-random idle and stall cycles, checks
// the results handshake and writes the results with per-beat cycle stamps.
// DURE_ROWS and DURE_COLS (the array shape) come from the build's -D flags.
#include "Vdut.h"
#include "verilated.h"
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

static const int R = DURE_ROWS, C = DURE_COLS;
typedef std::vector<uint32_t> Bits;

static void set_field(Bits &w, int off, int width, uint64_t v) {
    for (int b = 0; b < width; b++, off++) {
        uint32_t bit = (v >> b) & 1;
        w[off / 32] = (w[off / 32] & ~(1u << (off % 32))) | (bit << (off % 32));
    }
}
static uint32_t get_field(const Bits &w, int off, int width) {
    uint32_t v = 0;
    for (int b = 0; b < width; b++, off++) v |= ((w[off / 32] >> (off % 32)) & 1u) << b;
    return v;
}
template <std::size_t N> static void put(VlWide<N> &s, const Bits &w) {
    for (std::size_t i = 0; i < N; i++) s[i] = w[i];
}
static void put(CData &s, const Bits &w) { s = w[0]; }
static void put(SData &s, const Bits &w) { s = w[0]; }
static void put(IData &s, const Bits &w) { s = w[0]; }
static void put(QData &s, const Bits &w) { s = w[0] | ((uint64_t)w[1] << 32); }
template <std::size_t N> static Bits get(const VlWide<N> &s) {
    Bits w(N + 2, 0);
    for (std::size_t i = 0; i < N; i++) w[i] = s[i];
    return w;
}
static Bits get(QData s) { Bits w(4, 0); w[0] = (uint32_t)s; w[1] = s >> 32; return w; }
static Bits get(IData s) { Bits w(4, 0); w[0] = s; return w; }

static uint64_t rng;
static unsigned rnd() {
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return (rng >> 20) % 1000;
}

int main(int argc, char **argv) {
    if (argc != 8) {
        fprintf(stderr, "usage: %s IN OUT SEED OPS_IDLE W_IDLE STALL MAX_CYCLES\n", argv[0]);
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    uint32_t hdr[2];
    if (!f || fread(hdr, 4, 2, f) != 2) { fprintf(stderr, "cannot read %s\n", argv[1]); return 1; }
    const size_t nw = hdr[0], nops = hdr[1];
    const int WW = C + 1, OW = R + C + 4;
    std::vector<uint32_t> win(nw * WW + 1), oin(nops * OW + 1);
    if (fread(win.data(), 4, nw * WW, f) != nw * WW
        || fread(oin.data(), 4, nops * OW, f) != nops * OW) {
        fprintf(stderr, "short input file\n"); return 1;
    }
    fclose(f);
    rng = strtoull(argv[3], nullptr, 10) * 2654435761u + 88172645463325252ull;
    const unsigned ops_idle = atoi(argv[4]), w_idle = atoi(argv[5]), stall = atoi(argv[6]);
    const uint64_t max_cycles = strtoull(argv[7], nullptr, 10);

    VerilatedContext ctx;
    Vdut *top = new Vdut(&ctx);
    top->rst = 1;
    for (int k = 0; k < 2; k++) { top->clk = 0; top->eval(); top->clk = 1; top->eval(); }
    top->rst = 0;
    const int OPW = 16 * R + 32 * C + 3, WPW = 16 * C + 1, RPW = 32 * C + 2;
    Bits opb((OPW + 31) / 32 + 2, 0), wb((WPW + 31) / 32 + 2, 0), held;
    std::vector<std::vector<uint32_t>> res;           // C data, precision, last, cycle
    std::vector<uint64_t> op_cycle(nops), w_cycle(nw);
    size_t oi = 0, wi = 0;
    bool op_offer = false, w_offer = false, holding = false;
    uint64_t cyc = 0;
    while (res.size() < nops) {
        if (cyc >= max_cycles) { fprintf(stderr, "timeout after %llu cycles: %zu of %zu results\n",
                                         (unsigned long long)cyc, res.size(), nops); return 3; }
        if (!op_offer && oi < nops) {
            const uint32_t *o = &oin[oi * OW];
            int32_t src = (int32_t)o[R + C + 3];
            if ((src < 0 || (size_t)src < res.size()) && rnd() >= ops_idle) {
                for (int i = 0; i < R; i++) set_field(opb, 16 * i, 16, o[i]);
                for (int j = 0; j < C; j++)
                    set_field(opb, 16 * R + 32 * j, 32, src < 0 ? o[R + j] : res[src][j]);
                set_field(opb, 16 * R + 32 * C, 3,
                          o[R + C] | (o[R + C + 1] << 1) | (o[R + C + 2] << 2));
                op_offer = true;
            }
        }
        if (!w_offer && wi < nw && rnd() >= w_idle) {
            const uint32_t *w = &win[wi * WW];
            for (int j = 0; j < C; j++) set_field(wb, 16 * j, 16, w[j]);
            set_field(wb, 16 * C, 1, w[C]);
            w_offer = true;
        }
        put(top->ops___05Fpayload, opb); top->ops___05Fvalid = op_offer;
        put(top->weights___05Fpayload, wb); top->weights___05Fvalid = w_offer;
        const bool ready = rnd() >= stall;
        top->results___05Fready = ready;
        top->clk = 0; top->eval();
        const bool op_take = op_offer && top->ops___05Fready;
        const bool w_take = w_offer && top->weights___05Fready;
        const bool rvalid = top->results___05Fvalid;
        Bits rp = get(top->results___05Fpayload);
        if (holding) {
            bool same = rvalid;
            for (int b = 0; b < RPW && same; b++)
                same = get_field(rp, b, 1) == get_field(held, b, 1);
            if (!same) {
                fprintf(stderr, "results changed while valid and not ready at cycle %llu\n",
                        (unsigned long long)cyc);
                return 4;
            }
        }
        holding = rvalid && !ready;
        if (holding) held = rp;
        if (rvalid && ready) {
            if (res.size() >= nops) { fprintf(stderr, "extra result beat\n"); return 5; }
            std::vector<uint32_t> r(C + 3);
            for (int j = 0; j < C; j++) r[j] = get_field(rp, 32 * j, 32);
            r[C] = get_field(rp, 32 * C, 1);
            r[C + 1] = get_field(rp, 32 * C + 1, 1);
            r[C + 2] = cyc;
            res.push_back(r);
        }
        if (op_take) { op_cycle[oi++] = cyc; op_offer = false; }
        if (w_take) { w_cycle[wi++] = cyc; w_offer = false; }
        top->clk = 1; top->eval();
        cyc++;
    }
    top->results___05Fready = 1;
    for (int k = 0; k < 64; k++) {
        top->clk = 0; top->eval();
        if (top->results___05Fvalid) {
            fprintf(stderr, "extra result beat after the end\n");
            return 5;
        }
        top->clk = 1; top->eval();
    }
    FILE *o = fopen(argv[2], "wb");
    for (auto &r : res) fwrite(r.data(), 4, C + 3, o);
    for (auto c : op_cycle) { uint32_t v = c; fwrite(&v, 4, 1, o); }
    for (auto c : w_cycle) { uint32_t v = c; fwrite(&v, 4, 1, o); }
    fclose(o);
    delete top;
    return 0;
}
