// Behavioural model of a x16 SDR SDRAM chip with timing checks, for the Verilator harness.
//
// The C++ counterpart of dure.sim.verif.sdram_chip.SdramChip (the Python model the controller's
// Amaranth tests use), written from the same datasheet (ISSI IS42S16160G-7, the ULX3S's 32 MiB
// part: 4 banks x 8192 rows x 512 columns x 16 bits) and with the same cycle semantics, so that
// the simulated ULX3S (fpga/link_sim_top.py with main memory in SDRAM) runs its real memory
// path: the SDRAM controller in the Verilator model, this chip in the harness.
//
// Contract (cycle n is the n-th clock period; step() gets the pins sampled at the edge ending
// cycle n and returns what the chip drives on DQ during cycle n + 1, or -1 for high impedance):
//   * every command is checked against the datasheet in nanoseconds of the given clock period:
//     the power-up wait (NOP only), the initialisation sequence (PRECHARGE ALL, >= 2 AUTO
//     REFRESH, LOAD MODE REGISTER) before any ACTIVE / READ / WRITE, the bank state (ACTIVE to
//     an idle bank, READ / WRITE to an open row, all banks idle for AUTO REFRESH and LOAD MODE),
//     tRCD, tRP, tRAS (min and max), tRC, tRRD, tWR, tRFC, tMRD, every refresh row refreshed
//     within tREF (8192 AUTO REFRESH per 64 ms), the clock period against the programmed CAS
//     latency, and the controller driving DQ while the chip does;
//   * reads drive the data CAS-latency cycles after the READ (one cycle earlier with the
//     inverted chip clock of the boards, `clock_inverted`), bursts of 1, 2, 4 or 8, sequential
//     or interleaved; writes take DQ in the cycle of the WRITE and after; DQM masks write bytes
//     and turns read output off two cycles ahead; a READ or WRITE ends the burst before it, a
//     PRECHARGE truncates a read burst CAS-latency cycles later;
//   * a violation throws SdramViolation naming the rule and the cycle (the harness turns it
//     into a failed run: exit status 3 and the message on stderr);
//   * never-written locations read as a pattern (SdramChip.unwritten in the Python model).
// Not modelled (a violation when used): BURST TERMINATE, auto precharge (A10 with READ /
// WRITE), full-page bursts, CKE low with a command.

#pragma once

#include <cstdint>
#include <cstdio>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace dure {

// The datasheet numbers (seconds; minimums unless named max). Defaults: IS42S16160G-7.
struct SdramDatasheet {
    double t_rcd = 15e-9;
    double t_rp = 15e-9;
    double t_ras = 37e-9;
    double t_ras_max = 100e-6;
    double t_rc = 60e-9;
    double t_rrd = 14e-9;
    double t_wr = 14e-9;        // last data in to PRECHARGE (tDPL)
    double t_rfc = 60e-9;
    int t_mrd_clk = 2;          // LOAD MODE REGISTER to the next command, clocks
    double t_ref = 64e-3;       // every refresh row within this time
    int refresh_rows = 8192;    // AUTO REFRESH commands per t_ref
    double t_init = 100e-6;     // power-up wait, NOP only
    int init_refreshes = 2;
    double t_ck_cl2 = 7.5e-9;   // shortest clock period at CAS latency 2
    double t_ck_cl3 = 7e-9;     // ... at CAS latency 3
    int banks = 4;
    int rows = 8192;
    int columns = 512;
};

class SdramViolation : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// The pins of one cycle, logical and active high (SdramPinSignature).
struct SdramPins {
    bool cke, cs, ras, cas, we;
    unsigned ba, a, dqm, dq_o;
    bool dq_oe;
};

class SdramChip {
public:
    SdramChip(double clk_period, const SdramDatasheet& ds = SdramDatasheet(),
              bool clock_inverted = true)
        : t_ck_(clk_period), ds_(ds), advance_(clock_inverted ? 1 : 0) {
        if (!(clk_period > 0)) throw std::invalid_argument("SDRAM clock period must be > 0");
        open_.assign(ds.banks, -1);
        last_active_.assign(ds.banks, -1);
        last_precharge_.assign(ds.banks, -1);
        last_write_data_.assign(ds.banks, -1);
        row_refreshed_.assign(ds.refresh_rows, 0);
        memory_.resize(size_t(ds.banks) * ds.rows * ds.columns);
        for (int b = 0; b < ds.banks; b++)
            for (int r = 0; r < ds.rows; r++)
                for (int c = 0; c < ds.columns; c++) memory_[index(b, r, c)] = unwritten(b, r, c);
    }

    static uint16_t unwritten(int bank, int row, int column) {
        return uint16_t((0xA5A5 ^ (row * 31 + column * 7 + bank * 1009)) & 0xFFFF);
    }

    // What the chip drives on DQ when it does not (the harness shows this on dq_i).
    unsigned floating() const { return 0xBAD0 | unsigned(cycle_ & 0xF); }

    int64_t cycle() const { return cycle_; }
    uint64_t commands() const { return commands_; }
    uint64_t refreshes() const { return refreshes_; }

    // One edge; see the file comment. Returns the DQ value of the new cycle or -1.
    int step(const SdramPins& p) {
        if (p.dq_oe && driving_) fail("the controller drives DQ while the chip outputs read data");
        static const char* const kCommands[8] = {
            "NOP", "BURST TERMINATE", "READ", "WRITE",
            "ACTIVE", "PRECHARGE", "AUTO REFRESH", "LOAD MODE REGISTER"};
        const std::string command =
            p.cs ? kCommands[(p.ras << 2) | (p.cas << 1) | int(p.we)] : "NOP";
        const bool nop = command == "NOP";
        if (!nop && !p.cke)
            fail(command + " with CKE low (power down / clock suspend are not modelled)");
        if (!nop && cycle_ * t_ck_ < ds_.t_init)
            fail(command + " during the power-up wait (" + num(ds_.t_init * 1e6) +
                 " us of NOP, " + num(cycle_ * t_ck_ * 1e6) + " us elapsed)");
        if (!nop) commands_++;
        // Data in of a write burst (before a new command ends the burst).
        auto beat = writes_.find(cycle_);
        if (beat != writes_.end()) {
            Target target = beat->second;
            writes_.erase(beat);
            if (command != "READ" && command != "WRITE") write_beat(target, p);
        }
        if (command == "ACTIVE") {
            active(int(p.ba), int(p.a));
        } else if (command == "READ" || command == "WRITE") {
            access(command, int(p.ba), p.a);
            if (command == "WRITE") {
                Target target = writes_.at(cycle_);
                writes_.erase(cycle_);
                write_beat(target, p);
            }
        } else if (command == "PRECHARGE") {
            precharge(int(p.ba), p.a);
        } else if (command == "AUTO REFRESH") {
            refresh();
        } else if (command == "LOAD MODE REGISTER") {
            load_mode(p.a);
        } else if (command == "BURST TERMINATE") {
            fail("BURST TERMINATE is not modelled");
        }
        // Read output disable: DQM two cycles before a data-out cycle turns it off.
        if (p.dqm == 3) drive_.erase(cycle_ + 2 - advance_);
        check_ages();
        cycle_++;
        int out = -1;
        auto it = drive_.find(cycle_);
        if (it != drive_.end()) {
            out = it->second.value;
            drive_.erase(it);
        }
        driving_ = out >= 0 || (advance_ && drove_);
        drove_ = out >= 0;
        drive_.erase(drive_.begin(), drive_.lower_bound(cycle_));
        return out;
    }

private:
    struct Target {
        int bank, row, column;
    };
    struct Beat {
        int bank;
        int value;
    };

    size_t index(int bank, int row, int column) const {
        return (size_t(bank) * ds_.rows + row) * ds_.columns + column;
    }

    static std::string num(double value) {
        char text[32];
        std::snprintf(text, sizeof(text), "%g", value);
        return text;
    }
    static std::string ns(double seconds) {
        char text[32];
        std::snprintf(text, sizeof(text), "%.1f", seconds * 1e9);
        return text;
    }

    [[noreturn]] void fail(const std::string& message) const {
        char where[64];
        std::snprintf(where, sizeof(where), "cycle %lld (%.0f ns): ", (long long)cycle_,
                      cycle_ * t_ck_ * 1e9);
        throw SdramViolation(where + message);
    }

    // `command` must come `minimum` seconds after the `event` at cycle `last` (-1: never).
    void after(int64_t last, double minimum, const std::string& event, const std::string& rule,
               const std::string& command) const {
        if (last < 0) return;
        const double elapsed = (cycle_ - last) * t_ck_;
        if (elapsed < minimum - 1e-12)
            fail(command + " " + ns(elapsed) + " ns (" + std::to_string(cycle_ - last) +
                 " cycles) after the " + event + " at cycle " + std::to_string(last) + ": " +
                 rule + " is " + ns(minimum) + " ns");
    }

    void mrd(const std::string& command) const {
        after(last_mrd_, ds_.t_mrd_clk * t_ck_ - 1e-13, "LOAD MODE REGISTER",
              "tMRD (" + std::to_string(ds_.t_mrd_clk) + " clocks)", command);
    }

    void ready(const std::string& command) const {
        if (!mode_set_ || init_refreshes_ < ds_.init_refreshes)
            fail(command + " before the initialisation is complete (PRECHARGE ALL, " +
                 std::to_string(ds_.init_refreshes) + " AUTO REFRESH, LOAD MODE REGISTER; seen " +
                 std::to_string(init_refreshes_) + " refreshes, mode " +
                 (mode_set_ ? "set" : "not set") + ")");
    }

    void all_idle(const std::string& command) const {
        for (int b = 0; b < ds_.banks; b++) {
            if (open_[b] >= 0)
                fail(command + " while bank " + std::to_string(b) + " has row " +
                     std::to_string(open_[b]) + " open");
            const std::string of = " of bank " + std::to_string(b);
            after(last_precharge_[b], ds_.t_rp, "PRECHARGE" + of, "tRP", command);
            after(last_active_[b], ds_.t_rc, "ACTIVE" + of, "tRC", command);
        }
        after(last_refresh_, ds_.t_rfc, "AUTO REFRESH", "tRFC", command);
        mrd(command);
    }

    void active(int bank, int row) {
        ready("ACTIVE");
        if (open_[bank] >= 0)
            fail("ACTIVE to bank " + std::to_string(bank) + " with row " +
                 std::to_string(open_[bank]) + " already open");
        if (row >= ds_.rows)
            fail("ACTIVE to row " + std::to_string(row) + ", the part has " +
                 std::to_string(ds_.rows));
        const std::string of = " of bank " + std::to_string(bank);
        after(last_precharge_[bank], ds_.t_rp, "PRECHARGE" + of, "tRP", "ACTIVE");
        after(last_active_[bank], ds_.t_rc, "ACTIVE" + of, "tRC", "ACTIVE");
        for (int other = 0; other < ds_.banks; other++)
            if (other != bank)
                after(last_active_[other], ds_.t_rrd, "ACTIVE of bank " + std::to_string(other),
                      "tRRD", "ACTIVE to bank " + std::to_string(bank));
        after(last_refresh_, ds_.t_rfc, "AUTO REFRESH", "tRFC", "ACTIVE");
        mrd("ACTIVE");
        open_[bank] = row;
        last_active_[bank] = cycle_;
    }

    void access(const std::string& command, int bank, unsigned a) {
        ready(command);
        const int row = open_[bank];
        if (row < 0) fail(command + " to bank " + std::to_string(bank) + ", which has no open row");
        after(last_active_[bank], ds_.t_rcd, "ACTIVE of bank " + std::to_string(bank), "tRCD",
              command);
        mrd(command);
        if (a & (1u << 10)) fail(command + " with auto precharge (A10): not modelled");
        const int column = int(a & 0x3FF);
        if (column >= ds_.columns)
            fail(command + " to column " + std::to_string(column) + ", the part has " +
                 std::to_string(ds_.columns));
        writes_.clear();  // a READ or WRITE ends the burst before it
        std::vector<int> columns;
        const int base = column & ~(burst_ - 1);
        for (int i = 0; i < burst_; i++)
            columns.push_back(base | ((interleaved_ ? (column ^ i) : (column + i)) & (burst_ - 1)));
        if (command == "READ") {
            const int64_t first = cycle_ + cas_latency_ - advance_;
            drive_.erase(drive_.lower_bound(first), drive_.end());
            for (size_t i = 0; i < columns.size(); i++)
                drive_[first + int64_t(i)] = Beat{bank, memory_[index(bank, row, columns[i])]};
        } else {
            if (single_write_) columns.resize(1);
            for (size_t i = 0; i < columns.size(); i++)
                writes_[cycle_ + int64_t(i)] = Target{bank, row, columns[i]};
        }
    }

    void precharge(int bank, unsigned a) {
        const bool all = a & (1u << 10);
        if (!precharged_) {
            if (!all) fail("the first command after the power-up wait must be PRECHARGE ALL");
            precharged_ = true;
        }
        for (int b = all ? 0 : bank; b < (all ? ds_.banks : bank + 1); b++) {
            if (open_[b] < 0) continue;
            const std::string command = "PRECHARGE of bank " + std::to_string(b);
            const std::string of = " of bank " + std::to_string(b);
            after(last_active_[b], ds_.t_ras, "ACTIVE" + of, "tRAS", command);
            after(last_write_data_[b], ds_.t_wr, "last write data" + of, "tWR", command);
            for (const auto& w : writes_)
                if (w.second.bank == b) fail(command + " during its write burst");
            // Read data stops CAS-latency cycles after the PRECHARGE (a truncated burst).
            const int64_t stop = cycle_ + cas_latency_ - advance_;
            for (auto it = drive_.lower_bound(stop); it != drive_.end();)
                it = it->second.bank == b ? drive_.erase(it) : std::next(it);
            open_[b] = -1;
            last_precharge_[b] = cycle_;
        }
        mrd("PRECHARGE");
    }

    void refresh() {
        if (!precharged_) fail("AUTO REFRESH before the initial PRECHARGE ALL");
        all_idle("AUTO REFRESH");
        last_refresh_ = cycle_;
        row_refreshed_[refresh_row_] = cycle_;
        refresh_row_ = (refresh_row_ + 1) % ds_.refresh_rows;
        init_refreshes_++;
        refreshes_++;
    }

    void load_mode(unsigned a) {
        if (!precharged_) fail("LOAD MODE REGISTER before the initial PRECHARGE ALL");
        all_idle("LOAD MODE REGISTER");
        const unsigned length = a & 7;
        if (length > 3)
            fail("LOAD MODE REGISTER: burst length code " + std::to_string(length) +
                 " is reserved or a full page (not modelled)");
        const int cl = int((a >> 4) & 7);
        if (cl != 2 && cl != 3)
            fail("LOAD MODE REGISTER: CAS latency code " + std::to_string(cl) + " is reserved");
        if ((a >> 7) & 3) fail("LOAD MODE REGISTER: operating mode A[8:7] must be 0 (standard)");
        const double t_min = cl == 2 ? ds_.t_ck_cl2 : ds_.t_ck_cl3;
        if (t_ck_ < t_min - 1e-13) {
            char text[128];
            std::snprintf(text, sizeof(text),
                          "clock period %.2f ns is shorter than %.2f ns, the minimum at CAS "
                          "latency %d", t_ck_ * 1e9, t_min * 1e9, cl);
            fail(text);
        }
        burst_ = 1 << length;
        interleaved_ = a & 8;
        cas_latency_ = cl;
        single_write_ = a & (1u << 9);
        mode_set_ = true;
        last_mrd_ = cycle_;
    }

    void write_beat(const Target& t, const SdramPins& p) {
        if (!p.dq_oe)
            fail("write data for bank " + std::to_string(t.bank) + " row " +
                 std::to_string(t.row) + " column " + std::to_string(t.column) +
                 " with DQ not driven");
        uint16_t& word = memory_[index(t.bank, t.row, t.column)];
        const unsigned keep = ((p.dqm & 1) ? 0xFF : 0) | ((p.dqm & 2) ? 0xFF00 : 0);
        word = uint16_t((word & keep) | (p.dq_o & ~keep & 0xFFFF));
        last_write_data_[t.bank] = cycle_;
    }

    void check_ages() const {
        const int64_t oldest = row_refreshed_[refresh_row_];
        if ((cycle_ - oldest) * t_ck_ > ds_.t_ref)
            fail("refresh row " + std::to_string(refresh_row_) + " was last refreshed at cycle " +
                 std::to_string(oldest) + ", more than tREF = " + num(ds_.t_ref * 1e3) +
                 " ms ago (" + std::to_string(ds_.refresh_rows) + " AUTO REFRESH per tREF)");
        for (int b = 0; b < ds_.banks; b++)
            if (open_[b] >= 0 && (cycle_ - last_active_[b]) * t_ck_ > ds_.t_ras_max)
                fail("bank " + std::to_string(b) + " row " + std::to_string(open_[b]) +
                     " open since cycle " + std::to_string(last_active_[b]) +
                     ", longer than tRAS max = " + num(ds_.t_ras_max * 1e6) + " us");
    }

    double t_ck_;
    SdramDatasheet ds_;
    int advance_;
    int64_t cycle_ = 0;
    uint64_t commands_ = 0, refreshes_ = 0;
    std::vector<int> open_;                      // open row per bank, -1: idle
    std::vector<int64_t> last_active_, last_precharge_, last_write_data_;
    int64_t last_refresh_ = -1, last_mrd_ = -1;
    bool precharged_ = false;                    // PRECHARGE ALL after the power-up wait
    int init_refreshes_ = 0;
    bool mode_set_ = false, interleaved_ = false, single_write_ = false;
    int burst_ = 1, cas_latency_ = 2;
    std::vector<int64_t> row_refreshed_;
    int refresh_row_ = 0;
    std::map<int64_t, Beat> drive_;              // cycle -> what the chip drives
    std::map<int64_t, Target> writes_;           // cycle -> location of a write beat
    bool driving_ = false, drove_ = false;
    std::vector<uint16_t> memory_;
};

}  // namespace dure
