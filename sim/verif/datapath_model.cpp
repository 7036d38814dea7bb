// Testbench of dure.sim.verif.datapath_model: dispatches NPU datapath commands from a file in
// order of their dependencies and serves the DMA bus from a byte image (main memory).
#include "Vdut.h"
#include "verilated.h"
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <set>
#include <vector>

static const int PW = 8;
template <std::size_t N> static void put(VlWide<N> &s, const uint32_t *w) {
    for (std::size_t i = 0; i < N; i++) s[i] = w[i];
}
static void put(QData &s, const uint32_t *w) { s = w[0] | ((uint64_t)w[1] << 32); }
static uint64_t rng;
static unsigned rnd() {
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return (rng >> 20) % 1000;
}

struct Resp { uint64_t due; uint32_t data; bool err; };

int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: %s IN OUT\n", argv[0]); return 2; }
    FILE *f = fopen(argv[1], "rb");
    uint32_t h[12];
    if (!f || fread(h, 4, 12, f) != 12) { fprintf(stderr, "cannot read %s\n", argv[1]); return 1; }
    const uint32_t ncmd = h[0], base = h[1], size = h[2], latency = h[3], interval = h[4];
    const uint32_t stall = h[5], jitter = h[6], idle = h[7], nerr = h[9];
    const uint64_t max_cycles = h[10] | ((uint64_t)h[11] << 32);
    rng = h[8] * 2654435761u + 88172645463325252ull;
    std::vector<uint8_t> mem(size + 4);
    std::vector<uint32_t> unit(ncmd), pay(ncmd * PW + PW);
    std::vector<std::vector<uint32_t>> deps(ncmd);
    std::set<uint32_t> errw;
    bool ok = fread(mem.data(), 1, size, f) == size;
    for (uint32_t i = 0; i < nerr && ok; i++) {
        uint32_t w;
        ok = fread(&w, 4, 1, f) == 1;
        errw.insert(w);
    }
    for (uint32_t i = 0; i < ncmd && ok; i++) {
        uint32_t nd;
        ok = fread(&unit[i], 4, 1, f) == 1 && fread(&pay[i * PW], 4, PW, f) == PW
             && fread(&nd, 4, 1, f) == 1;
        deps[i].resize(nd);
        if (ok && nd) ok = fread(deps[i].data(), 4, nd, f) == nd;
    }
    fclose(f);
    if (!ok) { fprintf(stderr, "short input file\n"); return 1; }

    VerilatedContext ctx;
    Vdut *top = new Vdut(&ctx);
    top->rst = 1;
    for (int k = 0; k < 2; k++) { top->clk = 0; top->eval(); top->clk = 1; top->eval(); }
    top->rst = 0;
    std::vector<int64_t> issue(ncmd, -1), done(ncmd, -1);
    std::vector<uint32_t> error(ncmd, 0);
    std::deque<uint32_t> inflight[3];
    std::deque<Resp> resp;
    uint64_t ev[6] = {0, 0, 0, 0, 0, 0};   // rows, macs, rd bytes, wr bytes, stall mem, stall out
    uint32_t next = 0, ndone = 0, wait = 0;
    bool offer = false;
    uint64_t cyc = 0;
    while (ndone < ncmd) {
        if (cyc >= max_cycles) {
            fprintf(stderr, "timeout after %llu cycles: %u of %u commands done\n",
                    (unsigned long long)cyc, ndone, ncmd);
            return 3;
        }
        if (!offer && next < ncmd) {
            bool ready = true;
            for (uint32_t d : deps[next]) ready = ready && done[d] >= 0;
            if (ready && (idle == 0 || rnd() >= idle)) {
                offer = true;
                const uint32_t *p = &pay[next * PW];
                if (unit[next] == 0) put(top->control___05Fload_cmd___05Fpayload, p);
                else if (unit[next] == 1) put(top->control___05Fexec_cmd___05Fpayload, p);
                else put(top->control___05Fstore_cmd___05Fpayload, p);
            }
        }
        top->control___05Fload_cmd___05Fvalid = offer && unit[next] == 0;
        top->control___05Fexec_cmd___05Fvalid = offer && unit[next] == 1;
        top->control___05Fstore_cmd___05Fvalid = offer && unit[next] == 2;
        const bool gnt = wait == 0 && (stall == 0 || rnd() >= stall);
        top->bus___05Fgnt = gnt;
        if (!resp.empty() && resp.front().due <= cyc) {
            top->bus___05Frvalid = 1;
            top->bus___05Frdata = resp.front().data;
            top->bus___05Ferr = resp.front().err;
            resp.pop_front();
        } else {
            top->bus___05Frvalid = 0; top->bus___05Ferr = 0;
        }
        top->clk = 0; top->eval();
        if (top->bus___05Freq && gnt) {
            const uint64_t byte = (uint64_t)top->bus___05Faddr * 4;
            if (byte < base || byte + 4 > (uint64_t)base + size) {
                fprintf(stderr, "bus access outside memory at 0x%llx, cycle %llu\n",
                        (unsigned long long)byte, (unsigned long long)cyc);
                return 4;
            }
            const uint32_t off = byte - base;
            const bool err = errw.count(top->bus___05Faddr) != 0;
            uint32_t data;
            memcpy(&data, &mem[off], 4);
            if (top->bus___05Fwe && !err)
                for (int b = 0; b < 4; b++)
                    if (top->bus___05Fbe >> b & 1) mem[off + b] = top->bus___05Fwdata >> (8 * b);
            uint64_t due = cyc + latency + (jitter ? rnd() % (jitter + 1) : 0);
            if (!resp.empty() && due <= resp.back().due) due = resp.back().due + 1;
            resp.push_back({due, data, err});
            wait = interval - 1;
        } else if (wait) {
            wait--;
        }
        if (offer) {
            const bool taken = (unit[next] == 0 && top->control___05Fload_cmd___05Fready) ||
                               (unit[next] == 1 && top->control___05Fexec_cmd___05Fready) ||
                               (unit[next] == 2 && top->control___05Fstore_cmd___05Fready);
            if (taken) {
                issue[next] = cyc;
                inflight[unit[next]].push_back(next);
                next++;
                offer = false;
            }
        }
        const bool pulse[3] = {(bool)top->control___05Fload_done, (bool)top->control___05Fexec_done, (bool)top->control___05Fstore_done};
        const bool perr[3] = {(bool)top->control___05Fload_bus_error, false, (bool)top->control___05Fstore_bus_error};
        for (int u = 0; u < 3; u++) {
            if (!pulse[u]) continue;
            if (inflight[u].empty()) {
                fprintf(stderr, "unit %d: done with no command\n", u);
                return 5;
            }
            const uint32_t i = inflight[u].front();
            inflight[u].pop_front();
            done[i] = cyc; error[i] = perr[u]; ndone++;
        }
        ev[0] += top->control___05Fev_compute_row; ev[1] += top->control___05Fev_macs; ev[2] += top->control___05Fev_dma_rd_bytes;
        ev[3] += top->control___05Fev_dma_wr_bytes; ev[4] += top->control___05Fev_stall_mem; ev[5] += top->control___05Fev_stall_out;
        top->clk = 1; top->eval();
        cyc++;
    }
    for (int k = 0; k < 32; k++) {
        top->clk = 0; top->eval();
        if (top->bus___05Freq || top->control___05Fload_done || top->control___05Fexec_done || top->control___05Fstore_done) {
            fprintf(stderr, "activity after the last command finished\n"); return 5;
        }
        top->clk = 1; top->eval();
    }
    FILE *o = fopen(argv[2], "wb");
    uint64_t c = cyc;
    fwrite(&c, 8, 1, o);
    fwrite(ev, 8, 6, o);
    for (uint32_t i = 0; i < ncmd; i++) {
        int64_t v[3] = {issue[i], done[i], error[i]};
        fwrite(v, 8, 3, o);
    }
    fwrite(mem.data(), 1, size, o);
    fclose(o);
    delete top;
    return 0;
}
