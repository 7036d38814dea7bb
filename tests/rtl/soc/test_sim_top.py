"""SimTop: programs loaded through the loader port run on the core and exit; Verilog ports."""

import re
from dataclasses import replace

import pytest
from dure.rtl.core.isa import CSR
from dure.rtl.soc.sim_top import SimTop
from dure.sim.rtlgen import TOP_NAME, generate_verilog
from dure.sim.verif.asm import Program
from dure.sim.verif.bus import simulate

from dure.config import RAM_BASE, SoCConfig, preset

# A 2x2 INT8 NPU: the fabric of an NPU SoC (RAM arbiter, the DMA on the main arbiter, the NPU
# register target) at a fraction of the default 8x8's elaboration and simulation time.
SMALL_NPU = dict(npu_rows=2, npu_cols=2, npu_fp16=False, npu_float_post=False,
                 npu_spad_rows=64, npu_acc_rows=64, npu_queue_depth=2)
CONFIG = SoCConfig(ram_size=4096, main_size=4096, main_latency=4, **SMALL_NPU)


def _run(words, max_cycles=2000, base=RAM_BASE, config=CONFIG, segments=()):
    """Loads ``words`` at ``base`` (and each ``(base, words)`` of ``segments``) through the
    loader port, releases hold, runs until the exit pulse and a few cycles more."""
    dut = SimTop(config)
    loads = [(base + 4 * i, word) for i, word in enumerate(words)]
    for segment_base, segment_words in segments:
        loads += [(segment_base + 4 * i, word) for i, word in enumerate(segment_words)]
    result = {"uart": [], "retired": 0, "traps": 0, "exit": None, "load_cycles": 0}

    async def bench(ctx):
        ctx.set(dut.hold, 1)
        cycles = 0
        for addr, word in loads:
            ctx.set(dut.load_valid, 1)
            ctx.set(dut.load_addr, addr)
            ctx.set(dut.load_data, word)
            while True:
                *_, ready = await ctx.tick().sample(dut.load_ready)
                cycles += 1
                if ready:
                    break
        result["load_cycles"] = cycles
        ctx.set(dut.load_valid, 0)
        ctx.set(dut.hold, 0)
        drain = None                # cycles left to run after the exit (to see it retire)
        for cycle in range(max_cycles):
            *_, exit_valid, exit_code, tx_valid, tx_data, rvfi_valid, trap, gpio = \
                await ctx.tick().sample(dut.exit_valid, dut.exit_code, dut.uart_tx_valid,
                                        dut.uart_tx_data, dut.rvfi.valid, dut.rvfi.trap,
                                        dut.gpio_out)
            if tx_valid:
                result["uart"].append(tx_data)
            result["retired"] += rvfi_valid
            result["traps"] += rvfi_valid & trap
            if exit_valid:
                assert result["exit"] is None, "exit_valid pulsed twice"
                result["exit"] = exit_code
                result["exit_cycle"] = cycle
                result["gpio"] = gpio
                drain = 8
            if drain is not None:
                drain -= 1
                if drain == 0:
                    return

    simulate(dut, [bench])
    return result


def test_smoke_li_lui_sw_exits_with_pass():
    p = Program(RAM_BASE)
    p.addi(10, 0, 1)            # li a0, 1
    p.lui(11, 0x10002)          # lui a1, 0x10002 (test exit)
    p.sw(10, 11, 0)             # sw a0, 0(a1)
    p.label("spin")
    p.jal(0, "spin")
    result = _run(p.assemble())
    assert result["exit"] == 1
    assert result["retired"] >= 4               # the three, then the spinning jal
    assert result["load_cycles"] == 4            # one word per cycle through the loader


# The ULX3S's fabric options (timing only): each alone and all together.
FABRIC_OPTIONS = [{}, {"soc_grant_buffers": True}, {"soc_main_slices": True},
                  {"soc_parked_arbiters": True}, {"soc_periph_slices": True},
                  {"soc_late_ram_writes": True}, {"soc_irq_regs": True},
                  {"soc_hold_regs": True},
                  {"soc_grant_buffers": True, "soc_main_slices": True,
                   "soc_parked_arbiters": True, "soc_periph_slices": True,
                   "soc_late_ram_writes": True, "soc_irq_regs": True, "soc_hold_regs": True}]


@pytest.mark.parametrize("options", FABRIC_OPTIONS)
def test_boot_rom_jumps_to_main_memory(options):
    """Reset vector in the boot ROM (filled by the loader while held); the ROM code jumps to
    code in main memory, fetched through the main-memory arbiter."""
    config = SoCConfig(ram_size=4096, main_size=4096, rom_size=1024, main_latency=3,
                       **SMALL_NPU, **options)
    rom = Program(0)
    rom.lui(5, 0x40000)
    rom.jalr(0, 5, 0)
    main = Program(0x4000_0000)
    main.addi(10, 0, 1)
    main.lui(11, 0x10002)
    main.sw(10, 11, 0)
    main.label("spin")
    main.jal(0, "spin")
    result = _run(rom.assemble(), base=0, config=config,
                  segments=[(0x4000_0000, main.assemble())])
    assert result["exit"] == 1


def _fabric_tour():
    """Main memory, UART, GPIO, CLINT, a load from an unmapped address (load access fault) and
    a jump into the UART region (instruction access fault), checked by a trap handler."""
    p = Program(RAM_BASE)
    p.jal(0, "main")
    # Trap handler at RAM_BASE + 4. x20 = which fault is expected next.
    p.csrrs(5, CSR.MCAUSE.value, 0)
    p.bne(20, 0, "second")
    p.addi(7, 0, 5)                          # first: load access fault
    p.bne(5, 7, "fail5")
    p.addi(20, 0, 1)
    p.csrrs(5, CSR.MEPC.value, 0)
    p.addi(5, 5, 4)
    p.csrrw(0, CSR.MEPC.value, 5)
    p.word(0x3020_0073)                      # mret
    p.label("second")
    p.addi(7, 0, 1)                          # second: instruction access fault
    p.bne(5, 7, "fail6")
    p.addi(5, 0, 1)
    p.sw(5, 6, 0)                            # pass
    p.label("spin")
    p.jal(0, "spin")

    p.label("main")
    p.lui(6, 0x10002)                        # x6 = test exit
    p.addi(20, 0, 0)
    p.lui(5, RAM_BASE >> 12)
    p.addi(5, 5, 4)
    p.csrrw(0, CSR.MTVEC.value, 5)
    p.lui(8, 0x40000)                        # main memory
    p.addi(9, 0, 0x123)
    p.sw(9, 8, 8)
    p.lw(10, 8, 8)
    p.bne(10, 9, "fail3")
    p.lui(11, 0x10000)                       # UART: send 'A'
    p.addi(12, 0, 0x41)
    p.sw(12, 11, 0)
    p.lui(13, 0x10001)                       # GPIO out = 0x5A
    p.addi(14, 0, 0x5A)
    p.sw(14, 13, 0)
    p.lui(15, 0x0200C)                       # CLINT mtime at 0x0200_BFF8
    p.lw(16, 15, -8)
    p.lw(17, 15, -8)
    p.bgeu(16, 17, "fail4")                  # mtime must have advanced
    p.lui(18, 0x20000)                       # unmapped: load access fault
    p.lw(19, 18, 0)
    p.jalr(0, 11, 0)                         # fetch from the UART region: access fault
    for n in (3, 4, 5, 6):
        p.label(f"fail{n}")
        p.addi(5, 0, (n << 1) | 1)
        p.sw(5, 6, 0)
        p.jal(0, f"fail{n}")
    return p.assemble()


@pytest.mark.parametrize("options", FABRIC_OPTIONS)
def test_fabric_tour_through_every_target(options):
    result = _run(_fabric_tour(), config=replace(CONFIG, **options))
    assert result["exit"] == 1, f"failure {result['exit'] >> 1}" if result["exit"] else result
    assert result["uart"] == [0x41]
    assert result["gpio"] == 0x5A
    assert result["traps"] == 2


def test_grant_buffers_and_parked_arbiters_cost_no_cycle():
    """The tour (RAM, main memory, peripherals, two traps) exits in the same cycle with the
    core's grants from grant buffers and the dbus / RAM arbiters parked on the core."""
    plain = _run(_fabric_tour(), config=CONFIG)
    timed = _run(_fabric_tour(), config=replace(CONFIG, soc_grant_buffers=True,
                                                soc_parked_arbiters=True))
    assert plain["exit"] == timed["exit"] == 1
    assert timed["exit_cycle"] == plain["exit_cycle"]
    assert timed["retired"] == plain["retired"]


def _store_load_pairs():
    """Stores to RAM each followed at once by loads of the same word (the late RAM's
    forwarded bytes and the block RAM's others), a byte store then a word load, and a load
    two instructions later; exits with 1 when every value is right."""
    p = Program(RAM_BASE)
    p.lui(6, 0x10002)                        # x6 = test exit
    p.lui(8, (RAM_BASE + 0x800) >> 12)       # x8 = a RAM buffer
    p.li(9, 0x1234_5678)
    p.sw(9, 8, 0)
    p.lw(10, 8, 0)                           # the next cycle: all four lanes forwarded
    p.bne(10, 9, "fail")
    p.addi(11, 0, 0x5A)
    p.sb(11, 8, 1)
    p.lw(12, 8, 0)                           # lane 1 forwarded, the others from the RAM
    p.li(13, 0x1234_5A78)
    p.bne(12, 13, "fail")
    p.sh(9, 8, 6)
    p.sw(11, 8, 8)
    p.lhu(14, 8, 6)                          # two instructions after its store
    p.li(15, 0x5678)
    p.bne(14, 15, "fail")
    p.lbu(16, 8, 8)
    p.bne(16, 11, "fail")
    p.addi(5, 0, 1)
    p.sw(5, 6, 0)                            # pass
    p.label("spin")
    p.jal(0, "spin")
    p.label("fail")
    p.addi(5, 0, 3)
    p.sw(5, 6, 0)
    p.jal(0, "fail")
    return p.assemble()


def test_late_ram_writes_cost_no_cycle():
    """Back-to-back stores and loads of one RAM word give the same values in the same cycles
    with the RAM's data-side writes registered (soc_late_ram_writes) as without."""
    plain = _run(_store_load_pairs(), config=CONFIG)
    late = _run(_store_load_pairs(), config=replace(CONFIG, soc_late_ram_writes=True))
    assert plain["exit"] == late["exit"] == 1
    assert late["exit_cycle"] == plain["exit_cycle"]
    assert late["retired"] == plain["retired"]


def _timer_interrupt():
    """Arms the CLINT's timer 64 cycles ahead, enables the timer interrupt and waits in WFI;
    the handler exits with 1."""
    p = Program(RAM_BASE)
    p.jal(0, "main")
    p.lui(6, 0x10002)                        # handler at RAM_BASE + 4: pass
    p.addi(5, 0, 1)
    p.sw(5, 6, 0)
    p.label("spin")
    p.jal(0, "spin")
    p.label("main")
    p.li(5, RAM_BASE + 4)
    p.csrrw(0, CSR.MTVEC.value, 5)
    p.lui(15, 0x0200C)                       # mtime at 0x0200_BFF8
    p.lw(16, 15, -8)
    p.addi(16, 16, 64)
    p.lui(17, 0x02004)                       # mtimecmp at 0x0200_4000
    p.sw(0, 17, 4)                           # high word first (the low one resets to ones)
    p.sw(16, 17, 0)
    p.addi(5, 0, 1 << 7)
    p.csrrs(0, CSR.MIE.value, 5)             # MTIE
    p.addi(5, 0, 1 << 3)
    p.csrrs(0, CSR.MSTATUS.value, 5)         # MIE
    p.label("wait")
    p.wfi()
    p.jal(0, "wait")
    return p.assemble()


def test_registered_core_reset_starts_the_core_one_cycle_later():
    """soc_hold_regs: the same program exits exactly one cycle later (the core leaves reset
    one cycle after hold falls)."""
    plain = _run(_store_load_pairs(), config=CONFIG)
    late = _run(_store_load_pairs(), config=replace(CONFIG, soc_hold_regs=True))
    assert plain["exit"] == late["exit"] == 1
    assert late["exit_cycle"] == plain["exit_cycle"] + 1
    assert late["retired"] == plain["retired"]


def test_registered_interrupt_lines_take_an_interrupt_one_cycle_later():
    """soc_irq_regs: the timer interrupt wakes WFI and is taken exactly one cycle later."""
    plain = _run(_timer_interrupt(), config=CONFIG)
    late = _run(_timer_interrupt(), config=replace(CONFIG, soc_irq_regs=True))
    assert plain["exit"] == late["exit"] == 1
    assert late["exit_cycle"] == plain["exit_cycle"] + 1
    assert late["retired"] == plain["retired"]


@pytest.mark.parametrize("variant", [
    "cpu", "npu-small",
    # The 8x8 NPU's SoC takes ~40 s to elaborate (its Verilog is only made under make fuzz).
    pytest.param("sim", marks=pytest.mark.slow),
])
def test_verilog_ports_match_the_contract(variant):
    """The ports of the ``dure_sim_top`` Verilog that the simulator's harness binds
    (:func:`dure.sim.rtlgen.generate_verilog`, cached per variant and shared with the model
    builds of the other tests), with and without an NPU."""
    text = generate_verilog(preset(variant)).read_text()
    module = text[text.index(f"module {TOP_NAME}("):]
    module = module[:module.index("endmodule")]
    declarations = re.findall(r"^\s*(input|output)\s+(?:\[\d+:0\]\s+)?(\w+)\s*;", module, re.M)
    ports = {name: kind for kind, name in declarations}
    expected = {
        "clk": "input", "rst": "input", "hold": "input",
        "load_valid": "input", "load_ready": "output", "load_addr": "input",
        "load_data": "input", "read_valid": "input", "read_ready": "output",
        "read_addr": "input", "read_rvalid": "output", "read_rdata": "output",
        "read_err": "output", "uart_tx_valid": "output", "uart_tx_data": "output",
        "uart_rx_valid": "input", "uart_rx_ready": "output", "uart_rx_data": "input",
        "exit_valid": "output", "exit_code": "output", "gpio_out": "output",
        "gpio_in": "input",
    }
    for member in ("valid", "insn", "trap", "intr", "pc_rdata", "pc_wdata", "rd_addr",
                   "rd_wdata", "mem_addr", "mem_rmask", "mem_wmask", "mem_rdata", "mem_wdata",
                   "rs1_addr", "rs2_addr", "rs1_rdata", "rs2_rdata"):
        expected[f"rvfi__{member}"] = "output"
    assert ports == expected
