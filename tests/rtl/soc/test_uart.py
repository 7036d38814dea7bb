# amaranth: UnusedElaboratable=no
"""UART block: FIFOs, status flags, interrupts, divisor; byte ports and a serial loopback."""

import pytest
from amaranth.hdl import Elaboratable, Module
from dure.rtl.soc.registers import field, offset
from dure.rtl.soc.uart import Uart
from dure.sim.verif.bus import simulate, transact


def _reg(name):
    return offset("uart", name) // 4


def _mask(register, name):
    return 1 << field("uart", register, name)[0]


RX_VALID = _mask("status", "rx_valid")
RX_FULL = _mask("status", "rx_full")
TX_EMPTY = _mask("status", "tx_empty")
TX_FULL = _mask("status", "tx_full")
TX_IDLE = _mask("status", "tx_idle")
RX_OVERRUN = _mask("status", "rx_overrun")
RX_FRAME_ERROR = _mask("status", "rx_frame_error")
RX_EMPTY = _mask("data", "rx_empty")


def test_byte_ports_fifos_and_flags():
    dut = Uart(fifo_depth=4, divisor=434, phy="byte")
    log = {}
    sent = []

    async def bench(ctx):
        log["reset"] = await transact(ctx, dut.bus, _reg("status"))
        log["divisor"] = await transact(ctx, dut.bus, _reg("divisor"))
        # Fill the TX FIFO while the sink is not ready.
        for byte in b"abcd":
            await transact(ctx, dut.bus, _reg("data"), we=1, wdata=byte)
        log["tx_full"] = await transact(ctx, dut.bus, _reg("status"))
        # A fifth write is held off until the sink drains a byte.
        ctx.set(dut.bus.req, 1)
        ctx.set(dut.bus.we, 1)
        ctx.set(dut.bus.addr, _reg("data"))
        ctx.set(dut.bus.wdata, ord("e"))
        log["held_gnt"] = ctx.get(dut.bus.gnt)
        ctx.set(dut.bus.req, 0)
        ctx.set(dut.tx_data.ready, 1)
        await transact(ctx, dut.bus, _reg("data"), we=1, wdata=ord("e"))
        await ctx.tick().repeat(8)
        log["tx_idle"] = await transact(ctx, dut.bus, _reg("status"))

        # RX: push until the FIFO refuses.
        for byte in b"WXYZ!":
            ctx.set(dut.rx_data.valid, 1)
            ctx.set(dut.rx_data.payload, byte)
            log.setdefault("rx_ready", []).append(ctx.get(dut.rx_data.ready))
            await ctx.tick()
        ctx.set(dut.rx_data.valid, 0)
        log["rx_full"] = await transact(ctx, dut.bus, _reg("status"))
        log["rx"] = [await transact(ctx, dut.bus, _reg("data")) for _ in range(5)]
        log["undefined"] = await transact(ctx, dut.bus, 0x40 // 4)
        await transact(ctx, dut.bus, _reg("divisor"), we=1, wdata=0x1234_0010, be=0b0001)
        log["divisor2"] = await transact(ctx, dut.bus, _reg("divisor"))

    async def sink(ctx):
        while True:
            *_, valid, ready, payload = await ctx.tick().sample(
                dut.tx_data.valid, dut.tx_data.ready, dut.tx_data.payload)
            if valid and ready:
                sent.append(payload)

    simulate(dut, [bench], [sink])
    assert log["reset"] == (TX_EMPTY | TX_IDLE, 0)
    assert log["divisor"] == (434, 0)
    assert log["tx_full"] == (TX_FULL, 0)
    assert log["held_gnt"] == 0
    assert bytes(sent) == b"abcde"
    assert log["tx_idle"] == (TX_EMPTY | TX_IDLE, 0)
    assert log["rx_ready"] == [1, 1, 1, 1, 0]
    assert log["rx_full"] == (RX_VALID | RX_FULL | TX_EMPTY | TX_IDLE, 0)
    assert log["rx"] == [(b, 0) for b in b"WXYZ"] + [(RX_EMPTY, 0)]
    assert log["undefined"] == (0, 1)
    assert log["divisor2"] == (0x1B2 & 0xFF00 | 0x10, 0)


def test_interrupts():
    dut = Uart(fifo_depth=4, divisor=434, phy="byte")
    log = []

    async def bench(ctx):
        log.append(ctx.get(dut.irq))                                       # nothing enabled
        await transact(ctx, dut.bus, _reg("irq_enable"), we=1,
                       wdata=_mask("irq_enable", "tx_empty"))
        log.append(ctx.get(dut.irq))                                       # TX empty: 1
        await transact(ctx, dut.bus, _reg("data"), we=1, wdata=0x41)     # sink not ready
        log.append(ctx.get(dut.irq))                                       # TX not empty: 0
        await transact(ctx, dut.bus, _reg("irq_enable"), we=1,
                       wdata=_mask("irq_enable", "rx_valid"))
        ctx.set(dut.rx_data.valid, 1)
        ctx.set(dut.rx_data.payload, 0x42)
        await ctx.tick()
        ctx.set(dut.rx_data.valid, 0)
        log.append(ctx.get(dut.irq))                                       # RX not empty: 1
        log.append(await transact(ctx, dut.bus, _reg("irq_pending")))
        await transact(ctx, dut.bus, _reg("data"))
        log.append(ctx.get(dut.irq))                                       # drained: 0

    simulate(dut, [bench])
    assert log == [0, 1, 0, 1, (_mask("irq_pending", "rx_valid"), 0), 0]


class _Loopback(Elaboratable):
    """The UART with its tx pin wired to its rx pin."""

    def __init__(self, uart):
        self.uart = uart

    def elaborate(self, platform):
        m = Module()
        m.submodules.uart = self.uart
        m.d.comb += self.uart.rx.eq(self.uart.tx)
        return m


def test_serial_loopback_overrun_and_frame_error():
    dut = Uart(fifo_depth=4, divisor=6, phy="serial")
    log = {}
    data = b"\x55\x00\xff\xa3"

    async def bench(ctx):
        for byte in data + b"\x99":          # five bytes: the fifth overruns the RX FIFO
            await transact(ctx, dut.bus, _reg("data"), we=1, wdata=byte)
        cycles = 0
        while not (await transact(ctx, dut.bus, _reg("status")))[0] & TX_IDLE:
            cycles += 2
            assert cycles < 1000, "the serializer never finished"
        log["tx_cycles"] = cycles
        await ctx.tick().repeat(30)
        log["status"] = await transact(ctx, dut.bus, _reg("status"))
        log["rx"] = [(await transact(ctx, dut.bus, _reg("data")))[0] for _ in range(5)]
        await transact(ctx, dut.bus, _reg("status"), we=1, wdata=RX_OVERRUN)
        log["cleared"] = await transact(ctx, dut.bus, _reg("status"))

    simulate(_Loopback(dut), [bench])
    assert log["status"] == (RX_VALID | RX_FULL | TX_EMPTY | TX_IDLE | RX_OVERRUN, 0)
    # Five back-to-back frames of 10 bits at 6 cycles per bit, after the writes.
    assert 5 * 10 * 6 - 20 <= log["tx_cycles"] <= 5 * 10 * 6 + 4
    assert log["rx"] == list(data) + [RX_EMPTY]
    assert log["cleared"] == (TX_EMPTY | TX_IDLE, 0)


def test_frame_error_flag():
    dut = Uart(fifo_depth=4, divisor=4, phy="serial")
    log = {}

    async def bench(ctx):
        # A frame whose stop bit is 0, driven straight onto rx.
        for bit in [0] + [1] * 8 + [0] + [1] * 4:
            ctx.set(dut.rx, bit)
            await ctx.tick().repeat(4)
        log["status"] = await transact(ctx, dut.bus, _reg("status"))
        await transact(ctx, dut.bus, _reg("status"), we=1, wdata=RX_FRAME_ERROR)
        log["cleared"] = await transact(ctx, dut.bus, _reg("status"))

    simulate(dut, [bench])
    assert log["status"] == (TX_EMPTY | TX_IDLE | RX_FRAME_ERROR, 0)
    assert log["cleared"] == (TX_EMPTY | TX_IDLE, 0)


@pytest.mark.parametrize("kwargs, message", [
    ({"fifo_depth": 0, "divisor": 4}, "fifo_depth must be"),
    ({"fifo_depth": 4, "divisor": 1}, "divisor must be an integer in 2..65535"),
    ({"fifo_depth": 4, "divisor": 4, "phy": "usb"}, "phy must be 'serial' or 'byte'"),
])
def test_bad_parameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Uart(**kwargs)
