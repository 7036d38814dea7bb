// Dure simulator harness: the C++ main loop around the Verilator model of `dure_sim_top`.
//
// Python (dure.sim.runner) prepares everything and then stays out of the per-cycle loop:
//
//   Vdure_sim_top --image F --result F [--max-cycles N] [--trace F] [--waves F]
//                 [--uart-in F | --uart-in -] [--bare N] [--dump ADDR:WORDS ... --dump-out F]
//
// --image     program image written by dure.sim.runner: magic "DUREIMG1", u32 run count, then
//             per run: u32 byte address (word aligned), u32 word count, the words (all LE).
// --result    file that receives one JSON line: status ("exit", "timeout" or "bare"),
//             exit_code, cycles, instret, uart_bytes, load_cycles, seconds (main loop only),
//             stalls (the bubbles between retirements by cause, stall_counts.h).
// --max-cycles  cycle limit after the core leaves hold (default 50,000,000).
// --trace     one line per rvfi valid: pc insn trap intr rd_addr rd_wdata mem_addr mem_rmask
//             mem_wmask mem_wdata mem_rdata pc_wdata, lowercase hex without 0x.
// --waves     VCD or FST file; only in a model built with DURE_WAVES_VCD / DURE_WAVES_FST.
// --uart-in   bytes pushed into the UART RX port, from a file or, for "-", from stdin
//             (polled every few thousand cycles while no byte is pending).
// --bare      benchmark mode: after loading, toggle the clock N times and do nothing else.
// --dump      after the run ends (exit or timeout), hold the core and read WORDS words from byte
//             address ADDR (word aligned; both decimal or 0x hex) through the read-back port;
//             repeatable. The words of every range, in option order, go to --dump-out as
//             little-endian bytes. A read the bus answers with err is an error. Models whose top
//             has no read-back port (read_valid ...) refuse --dump.
// --sdram-clock  clock frequency in Hz of the SDRAM controller, for a model whose top has SDRAM
//             pins (sdram__cs ...: main memory in SDRAM, fpga/link_sim_top.py); required there.
//             The harness then runs the chip model of sdram_chip.h on those pins at every rising
//             edge (the chip clocked by the inverted system clock, as on the boards); a datasheet
//             violation ends the run as an error (status 3, the rule and cycle on stderr).
//
// UART bytes go to stdout as they are sent (flushed at every newline and periodically).
// Errors print one line to stderr and exit with status 3. A code-coverage build writes the counts
// of the run (exit, timeout or bare) to $DURE_CODE_COVERAGE (see write_coverage).

#include "Vdure_sim_top.h"
#include "verilated.h"

#include "sdram_chip.h"
#include "stall_counts.h"

#if defined(DURE_COVERAGE)
#include "verilated_cov.h"
#endif

#if defined(DURE_WAVES_VCD)
#include "verilated_vcd_c.h"
typedef VerilatedVcdC WaveFile;
#elif defined(DURE_WAVES_FST)
#include "verilated_fst_c.h"
typedef VerilatedFstC WaveFile;
#endif

// Verilator escapes the "__" of Amaranth's flattened port names (rvfi__valid) as "___05F".
#define RVFI(member) rvfi___05F##member

#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace {

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

[[noreturn]] void fail(const std::string& message) {
    std::fprintf(stderr, "dure-sim: %s\n", message.c_str());
    std::exit(3);
}

struct Run {
    uint32_t addr;
    std::vector<uint32_t> words;
};

uint32_t read_u32(FILE* f, const char* path) {
    unsigned char b[4];
    if (std::fread(b, 1, 4, f) != 4) fail(std::string("truncated image file ") + path);
    return b[0] | (b[1] << 8) | (b[2] << 16) | (uint32_t(b[3]) << 24);
}

std::vector<Run> read_image(const char* path) {
    FILE* f = std::fopen(path, "rb");
    if (!f) fail(std::string("cannot open image file ") + path);
    char magic[8];
    if (std::fread(magic, 1, 8, f) != 8 || std::memcmp(magic, "DUREIMG1", 8) != 0)
        fail(std::string("not a Dure image file: ") + path);
    std::vector<Run> runs(read_u32(f, path));
    for (Run& run : runs) {
        run.addr = read_u32(f, path);
        run.words.resize(read_u32(f, path));
        for (uint32_t& w : run.words) w = read_u32(f, path);
    }
    std::fclose(f);
    return runs;
}

uint64_t parse_count(const char* option, const char* text) {
    char* end = nullptr;
    unsigned long long value = std::strtoull(text, &end, 0);
    if (!*text || *end || value == 0) fail(std::string(option) + " needs a positive integer");
    return value;
}

// Buffered UART output, flushed at newlines, when full and on request.
class UartOut {
public:
    void put(uint8_t byte) {
        buffer_[used_++] = byte;
        count_++;
        if (byte == '\n' || used_ == sizeof(buffer_)) flush();
    }
    void flush() {
        size_t done = 0;
        while (done < used_) {
            ssize_t n = ::write(1, buffer_ + done, used_ - done);
            if (n <= 0) break;  // stdout closed: keep simulating, drop the output
            done += size_t(n);
        }
        used_ = 0;
    }
    uint64_t count() const { return count_; }

private:
    uint8_t buffer_[4096];
    size_t used_ = 0;
    uint64_t count_ = 0;
};

// UART input: a whole file read up front, or stdin polled without blocking.
class UartIn {
public:
    void open(const char* path) {
        if (!path) return;
        if (std::strcmp(path, "-") == 0) {
            stdin_open_ = true;
            return;
        }
        FILE* f = std::fopen(path, "rb");
        if (!f) fail(std::string("cannot open UART input file ") + path);
        uint8_t chunk[4096];
        size_t n;
        while ((n = std::fread(chunk, 1, sizeof(chunk), f)) > 0) data_.insert(data_.end(), chunk, chunk + n);
        std::fclose(f);
    }
    bool pending() const { return pos_ < data_.size(); }
    uint8_t front() const { return data_[pos_]; }
    void pop() { pos_++; }
    // Called every few thousand cycles while nothing is pending.
    void poll_stdin() {
        if (!stdin_open_ || pending()) return;
        struct pollfd p = {0, POLLIN, 0};
        if (::poll(&p, 1, 0) <= 0) return;
        uint8_t chunk[4096];
        ssize_t n = ::read(0, chunk, sizeof(chunk));
        if (n <= 0) {
            stdin_open_ = false;
            return;
        }
        data_.assign(chunk, chunk + n);
        pos_ = 0;
    }
    bool polling() const { return stdin_open_; }

private:
    std::vector<uint8_t> data_;
    size_t pos_ = 0;
    bool stdin_open_ = false;
};

// Retirement trace writer (hand-rolled hex formatting: this runs once per instruction).
class Trace {
public:
    explicit Trace(const char* path) {
        file_ = std::fopen(path, "w");
        if (!file_) fail(std::string("cannot write trace file ") + path);
        std::setvbuf(file_, nullptr, _IOFBF, 1 << 20);
    }
    ~Trace() { std::fclose(file_); }
    void line(const Vdure_sim_top* t) {
        char text[128];
        char* p = text;
        p = hex(p, t->RVFI(pc_rdata), 8);
        p = hex(p, t->RVFI(insn), 8);
        p = hex(p, t->RVFI(trap), 1);
        p = hex(p, t->RVFI(intr), 1);
        p = hex(p, t->RVFI(rd_addr), 2);
        p = hex(p, t->RVFI(rd_wdata), 8);
        p = hex(p, t->RVFI(mem_addr), 8);
        p = hex(p, t->RVFI(mem_rmask), 1);
        p = hex(p, t->RVFI(mem_wmask), 1);
        p = hex(p, t->RVFI(mem_wdata), 8);
        p = hex(p, t->RVFI(mem_rdata), 8);
        p = hex(p, t->RVFI(pc_wdata), 8);
        p[-1] = '\n';
        std::fwrite(text, 1, size_t(p - text), file_);
    }

private:
    // Minimal lowercase hex (at most `digits` digits), followed by a space.
    static char* hex(char* p, uint32_t value, int digits) {
        static const char kDigits[] = "0123456789abcdef";
        char tmp[8];
        int n = 0;
        do {
            tmp[n++] = kDigits[value & 15];
            value >>= 4;
        } while (value && n < digits);
        while (n) *p++ = tmp[--n];
        *p++ = ' ';
        return p;
    }
    FILE* file_;
};

struct DumpRange {
    uint32_t addr;
    uint32_t words;
};

DumpRange parse_dump(const char* text) {
    char* end = nullptr;
    unsigned long long addr = std::strtoull(text, &end, 0);
    if (end == text || *end != ':') fail(std::string("--dump needs ADDR:WORDS, not ") + text);
    const char* count = end + 1;
    unsigned long long words = std::strtoull(count, &end, 0);
    if (!*count || *end || words == 0 || addr > 0xffffffffull || (addr & 3) ||
        addr + 4 * words > 0x100000000ull)
        fail(std::string("--dump needs an aligned ADDR:WORDS range, not ") + text);
    return DumpRange{uint32_t(addr), uint32_t(words)};
}

// Does the model's top have the read-back port? (SimTop does; stand-in tops may not.)
template <typename T, typename = void>
struct HasReadPort : std::false_type {};
template <typename T>
struct HasReadPort<T, std::void_t<decltype(std::declval<T&>().read_valid)>> : std::true_type {};

// Read every range through the read-back port, pipelined: a new request whenever the port
// grants, responses collected in order. `cycle` runs one clock cycle (eval + edge).
template <typename T, typename Eval, typename Cycle>
std::vector<uint32_t> read_back(T* top, const std::vector<DumpRange>& ranges, Eval eval,
                                Cycle cycle) {
    std::vector<uint32_t> out;
    if constexpr (HasReadPort<T>::value) {
        for (const DumpRange& range : ranges) {
            uint64_t issued = 0, answered = 0, idle = 0;
            while (answered < range.words) {
                bool want = issued < range.words;
                top->read_valid = want;
                top->read_addr = range.addr + uint32_t(4 * issued);
                eval();
                if (top->read_rvalid) {
                    if (top->read_err) {
                        char text[96];
                        std::snprintf(text, sizeof(text), "read-back at 0x%08" PRIx64
                                      " answered a bus error", range.addr + 4 * answered);
                        fail(text);
                    }
                    out.push_back(top->read_rdata);
                    answered++;
                    idle = 0;
                }
                if (want && top->read_ready) issued++;
                cycle();
                if (++idle > 100000) fail("the read-back port stopped answering");
            }
            top->read_valid = 0;
        }
    } else {
        (void)top;
        (void)eval;
        (void)cycle;
        if (!ranges.empty()) fail("this model has no read-back port: --dump is not available");
    }
    return out;
}

// Does the model's top have SDRAM pins? (LinkSimTop with main memory in SDRAM does.)
template <typename T, typename = void>
struct HasSdram : std::false_type {};
template <typename T>
struct HasSdram<T, std::void_t<decltype(std::declval<T&>().sdram___05Fcs)>> : std::true_type {};

// The chip model on a top's SDRAM pins: sample() before a rising edge, drive() after it.
template <typename T>
class SdramPort {
public:
    SdramPort(T* top, double clk_freq) : top_(top) {
        if constexpr (HasSdram<T>::value) {
            if (!(clk_freq > 0)) fail("this model has SDRAM pins: --sdram-clock HZ is required");
            chip_ = std::make_unique<dure::SdramChip>(1.0 / clk_freq);
        } else if (clk_freq > 0) {
            fail("--sdram-clock given, but this model has no SDRAM pins");
        }
    }
    void edge() {
        if constexpr (HasSdram<T>::value) {
            dure::SdramPins p{bool(top_->sdram___05Fclk_en), bool(top_->sdram___05Fcs),
                              bool(top_->sdram___05Fras), bool(top_->sdram___05Fcas),
                              bool(top_->sdram___05Fwe), unsigned(top_->sdram___05Fba),
                              unsigned(top_->sdram___05Fa), unsigned(top_->sdram___05Fdqm),
                              unsigned(top_->sdram___05Fdq_o), bool(top_->sdram___05Fdq_oe)};
            try {
                out_ = chip_->step(p);
            } catch (const dure::SdramViolation& violation) {
                fail(std::string("SDRAM chip model: ") + violation.what());
            }
        }
    }
    void drive() {
        if constexpr (HasSdram<T>::value)
            top_->sdram___05Fdq_i = out_ >= 0 ? unsigned(out_) : chip_->floating();
    }

private:
    T* top_;
    std::unique_ptr<dure::SdramChip> chip_;
    int out_ = -1;
};

}  // namespace

int main(int argc, char** argv) {
    const char* image_path = nullptr;
    const char* result_path = nullptr;
    const char* trace_path = nullptr;
    const char* waves_path = nullptr;
    const char* uart_in_path = nullptr;
    const char* dump_path = nullptr;
    std::vector<DumpRange> dumps;
    uint64_t max_cycles = 50000000;
    uint64_t bare_cycles = 0;
    double sdram_clock = 0;
    for (int i = 1; i < argc; i++) {
        std::string arg = argv[i];
        if (i + 1 >= argc) fail("option " + arg + " needs a value");
        const char* value = argv[++i];
        if (arg == "--image") image_path = value;
        else if (arg == "--result") result_path = value;
        else if (arg == "--trace") trace_path = value;
        else if (arg == "--waves") waves_path = value;
        else if (arg == "--uart-in") uart_in_path = value;
        else if (arg == "--max-cycles") max_cycles = parse_count("--max-cycles", value);
        else if (arg == "--bare") bare_cycles = parse_count("--bare", value);
        else if (arg == "--dump") dumps.push_back(parse_dump(value));
        else if (arg == "--dump-out") dump_path = value;
        else if (arg == "--sdram-clock") sdram_clock = double(parse_count("--sdram-clock", value));
        else fail("unknown option " + arg);
    }
    if (!image_path || !result_path) fail("--image and --result are required");
    if (!dumps.empty() != (dump_path != nullptr)) fail("--dump and --dump-out go together");
    std::vector<Run> image = read_image(image_path);

    auto context = std::make_unique<VerilatedContext>();
#if defined(DURE_WAVES_VCD) || defined(DURE_WAVES_FST)
    context->traceEverOn(true);
#endif
    auto top = std::make_unique<Vdure_sim_top>(context.get(), "dure_sim_top");
    SdramPort<Vdure_sim_top> sdram(top.get(), sdram_clock);

#if defined(DURE_WAVES_VCD) || defined(DURE_WAVES_FST)
    std::unique_ptr<WaveFile> waves;
    if (waves_path) {
        waves = std::make_unique<WaveFile>();
        top->trace(waves.get(), 99);
        waves->open(waves_path);
    }
    uint64_t wave_time = 0;
    auto dump = [&]() {
        if (waves) waves->dump(wave_time);
        wave_time += 5;
    };
#else
    if (waves_path) fail("this model was built without waveform support");
    auto dump = []() {};
#endif

    // One clock cycle, starting and ending with clk low and the model evaluated: inputs for
    // the cycle are set by the caller, then eval settles them before the rising edge. The SDRAM
    // chip (if any) samples the pins settled before the edge and drives DQ after it.
    auto posedge = [&]() {
        sdram.edge();
        top->clk = 1;
        top->eval();
        dump();
        top->clk = 0;
        sdram.drive();
    };

    // Reset with the core held, then load the program through the loader port.
    top->clk = 0;
    top->rst = 1;
    top->hold = 1;
    top->load_valid = 0;
    top->uart_rx_valid = 0;
    top->gpio_in = 0;
    for (int i = 0; i < 4; i++) {
        top->eval();
        dump();
        posedge();
    }
    top->rst = 0;
    uint64_t load_cycles = 0;
    for (const Run& run : image) {
        uint32_t addr = run.addr;
        for (uint32_t word : run.words) {
            top->load_valid = 1;
            top->load_addr = addr;
            top->load_data = word;
            for (int wait = 0;; wait++) {
                top->eval();
                dump();
                bool ready = top->load_ready;
                posedge();
                load_cycles++;
                if (ready) break;
                if (wait > 10000) fail("the loader port never became ready");
            }
            addr += 4;
        }
    }
    top->load_valid = 0;
    top->hold = 0;

    UartOut uart_out;
    UartIn uart_in;
    uart_in.open(uart_in_path);
    std::unique_ptr<Trace> trace;
    if (trace_path) trace = std::make_unique<Trace>(trace_path);

    const char* status = "timeout";
    uint32_t exit_code = 0;
    uint64_t cycles = 0;
    uint64_t instret = 0;
    StallCounts stalls;
    auto start = std::chrono::steady_clock::now();
    if (bare_cycles) {
        // The reference loop for simulator speed: the same model, the same two evaluations
        // per cycle, nothing observed.
        for (cycles = 0; cycles < bare_cycles; cycles++) {
            top->eval();
            top->clk = 1;
            top->eval();
            top->clk = 0;
        }
        status = "bare";
    } else {
        while (cycles < max_cycles) {
            if ((cycles & 0xfff) == 0) {
                if (uart_in.polling()) uart_in.poll_stdin();
                // Live input (--uart-in -) means someone answers the output: do not hold it back.
                if (uart_in.polling() || (cycles & 0xfffff) == 0) uart_out.flush();
            }
            bool rx = uart_in.pending();
            top->uart_rx_valid = rx;
            if (rx) top->uart_rx_data = uart_in.front();
            top->eval();
            dump();
            if (top->RVFI(valid)) {
                if (!top->RVFI(trap)) instret++;
                stalls.retire(cycles, top->RVFI(insn), top->RVFI(trap), top->RVFI(intr),
                              top->RVFI(pc_rdata), top->RVFI(pc_wdata), top->RVFI(mem_addr),
                              top->RVFI(mem_rmask) | top->RVFI(mem_wmask));
                if (trace) trace->line(top.get());
            }
            if (top->uart_tx_valid) uart_out.put(top->uart_tx_data);
            if (rx && top->uart_rx_ready) uart_in.pop();
            bool exited = top->exit_valid;
            if (exited) exit_code = top->exit_code;
            posedge();
            cycles++;
            if (exited) {
                status = "exit";
                break;
            }
        }
    }
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (!dumps.empty()) {
        // Hold the core (memories, NPU and peripherals keep running) and read the ranges.
        top->hold = 1;
        top->uart_rx_valid = 0;
        std::vector<uint32_t> words = read_back(
            top.get(), dumps,
            [&]() {
                top->eval();
                dump();
                if (top->uart_tx_valid) uart_out.put(top->uart_tx_data);
            },
            [&]() { posedge(); });
        FILE* out = std::fopen(dump_path, "wb");
        if (!out) fail(std::string("cannot write dump file ") + dump_path);
        for (uint32_t w : words) {
            unsigned char b[4] = {uint8_t(w), uint8_t(w >> 8), uint8_t(w >> 16), uint8_t(w >> 24)};
            std::fwrite(b, 1, 4, out);
        }
        std::fclose(out);
    }
    top->eval();
    dump();
    uart_out.flush();
    trace.reset();
#if defined(DURE_WAVES_VCD) || defined(DURE_WAVES_FST)
    if (waves) waves->close();
#endif
    top->final();
    write_coverage(context.get());

    FILE* result = std::fopen(result_path, "w");
    if (!result) fail(std::string("cannot write result file ") + result_path);
    std::fprintf(result,
                 "{\"status\": \"%s\", \"exit_code\": %" PRIu32 ", \"cycles\": %" PRIu64
                 ", \"instret\": %" PRIu64 ", \"uart_bytes\": %" PRIu64
                 ", \"load_cycles\": %" PRIu64 ", \"seconds\": %.6f, ",
                 status, exit_code, cycles, instret, uart_out.count(), load_cycles, seconds);
    stalls.write_json(result);
    std::fprintf(result, "}\n");
    std::fclose(result);
    return 0;
}
