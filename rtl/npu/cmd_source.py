"""Command source: feeds the dispatcher from the command queue or, for a LIST, from its entries
fetched by DMA."""

from amaranth.hdl import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ..bus.signature import BusSignature
from .commands import Opcode
from .descriptor import DESCRIPTOR_LAYOUT, ENTRY_TAG_LAYOUT, FIELDS
from .list_fetch import ListFetcher

__all__ = ["CommandSource"]


class CommandSource(wiring.Component):
    """Chooses what the dispatcher validates next: the queue head, or the entries of a LIST.

    ::

        queue --+--> o (+ o_tag) --> dispatcher's validator and front
                |                         | list_accept / list_refuse
        ListFetcher (bus) <---------------+

    Queue descriptors pass straight through (tag all zero). After passing a LIST it offers
    nothing until the dispatcher's front has decided on it: ``list_refuse`` resumes the queue;
    ``list_accept`` lets the entries of the :class:`~.list_fetch.ListFetcher` pass, with
    ``o_tag.in_list`` and their ``index`` (and, for a failed fetch, ``fault`` with ``skip`` =
    the entries after it) until the last one, then the queue resumes. So the dispatcher sees
    exactly the order of the contract: the LIST, its entries, the commands pushed after it.

    Speculative fetch: the fetcher starts on a LIST the cycle after it passes (while the
    validator checks it) when its entries ``[list_addr, list_addr + 32 * count)`` lie in the
    DMA window (``dma_base``, ``dma_size``, the values the validator samples with it), its
    ``count`` is not 0 and its address is word-aligned; so entry 0 is read during the LIST's
    validation, and only bytes an accepted LIST with that window would read are read. If the
    front refuses the LIST, the fetch is aborted (``ListFetcher.abort``: its buffer emptied,
    outstanding responses dropped): nothing of it reaches the dispatcher, the error code and
    index are the validator's, and memory is only read. Otherwise (outside the window, or the
    fetcher still draining an aborted or failed list) the fetch starts after ``list_accept``.

    Parameters
    ----------
    entries : int
        Descriptors the fetcher buffers ahead of the dispatcher.
    bypass : bool
        The fetcher's ``bypass`` (:class:`~.list_fetch.ListFetcher`): an entry is offered in
        the cycle its last word arrives.

    Members
    -------
    queue : In(stream.Signature(DESCRIPTOR_LAYOUT))
        The command queue's output.
    o : Out(stream.Signature(DESCRIPTOR_LAYOUT))
        To the dispatcher's ``cmd``; ``valid`` does not depend on ``ready``.
    o_tag : Out(ENTRY_TAG_LAYOUT)
        With ``o``: where the descriptor comes from.
    list_accept, list_refuse : In(1)
        The dispatcher's front took the LIST passed last as valid / refused it (one-cycle
        pulses).
    dma_base, dma_size : In(32)
        The DMA window registers (as the dispatcher's).
    bus : Out(BusSignature())
        The fetcher's read initiator.
    busy : Out(1)
        A LIST is waiting for its decision, its entries are not all passed on, or the fetcher
        still waits for responses (after a failed or aborted fetch).
    defer : In(1)
        The fetcher's ``defer``: the DMA port is wanted by the datapath (prefetch only into
        idle cycles, :class:`~.list_fetch.ListFetcher`).

    Latency
    -------
    Combinational from the queue. A speculative fetch requests entry 0's first word two
    cycles after the LIST passes; entry 0 is offered two cycles after the response to its
    last word (with ``bypass``: in that cycle), or at once on ``list_accept`` if it came
    earlier. Otherwise entry 0 is offered about ``latency + 11`` cycles after ``list_accept``
    (fetcher start 1, first read 1, eight words, FIFO 1).
    """

    def __init__(self, *, entries=4, bypass=False):
        self._entries = entries
        self._bypass = bypass
        super().__init__({
            "queue": In(stream.Signature(DESCRIPTOR_LAYOUT)),
            "o": Out(stream.Signature(DESCRIPTOR_LAYOUT)),
            "o_tag": Out(ENTRY_TAG_LAYOUT),
            "list_accept": In(1),
            "list_refuse": In(1),
            "dma_base": In(32),
            "dma_size": In(32),
            "bus": Out(BusSignature()),
            "busy": Out(1),
            "defer": In(1),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.fetcher = fetcher = ListFetcher(entries=self._entries,
                                                     bypass=self._bypass)
        wiring.connect(m, fetcher.bus, wiring.flipped(self.bus))
        m.d.comb += fetcher.defer.eq(self.defer)

        addr_field = FIELDS[Opcode.LIST]["list_addr"]
        count_field = FIELDS[Opcode.LIST]["count"]
        head = self.queue.payload
        list_addr = Signal(32)
        count = Signal(16)
        index = Signal(16)
        entry = fetcher.o.payload
        spec = Signal()                 # the LIST passed last may be fetched speculatively
        started = Signal()              # the fetcher runs on it

        head_addr = head[addr_field.word]
        head_count = head[count_field.word][:count_field.width]
        in_window = ((head_count != 0) & (head_addr[:2] == 0) & (head_addr >= self.dma_base)
                     & (head_addr + (head_count << 5) <= self.dma_base + self.dma_size))
        start_now = Signal()
        m.d.comb += [
            fetcher.start.payload.addr.eq(list_addr[2:]),
            fetcher.start.payload.count.eq(count),
        ]

        with m.FSM() as fsm:
            with m.State("QUEUE"):
                m.d.comb += [
                    self.o.valid.eq(self.queue.valid),
                    self.o.payload.eq(head),
                    self.queue.ready.eq(self.o.ready),
                ]
                with m.If(self.queue.valid & self.o.ready
                          & (head[0][:4] == Opcode.LIST.value)):
                    m.d.sync += [
                        list_addr.eq(head_addr),
                        count.eq(head_count),
                        spec.eq(in_window),
                        started.eq(0),
                    ]
                    m.next = "DECIDE"
            with m.State("DECIDE"):
                # speculate while the front decides; never in the cycle it refuses
                m.d.comb += [
                    fetcher.start.valid.eq(spec & ~started & ~self.list_refuse),
                    start_now.eq(fetcher.start.valid & fetcher.start.ready),
                ]
                with m.If(start_now):
                    m.d.sync += started.eq(1)
                with m.If(self.list_accept):
                    m.d.sync += index.eq(0)
                    with m.If(started | start_now):
                        m.next = "ENTRIES"
                    with m.Else():
                        m.next = "START"
                with m.Elif(self.list_refuse):
                    m.d.comb += fetcher.abort.eq(started)
                    m.next = "QUEUE"
            with m.State("START"):
                m.d.comb += fetcher.start.valid.eq(1)
                with m.If(fetcher.start.ready):
                    m.d.sync += index.eq(0)
                    m.next = "ENTRIES"
            with m.State("ENTRIES"):
                m.d.comb += [
                    self.o.valid.eq(fetcher.o.valid),
                    self.o.payload.eq(entry.words),
                    self.o_tag.in_list.eq(1),
                    self.o_tag.fault.eq(entry.fault),
                    self.o_tag.index.eq(index),
                    self.o_tag.skip.eq(count - 1 - index),
                    fetcher.o.ready.eq(self.o.ready),
                ]
                with m.If(fetcher.o.valid & self.o.ready):
                    m.d.sync += index.eq(index + 1)
                    with m.If(entry.last):
                        m.next = "QUEUE"
        m.d.comb += self.busy.eq(~fsm.ongoing("QUEUE") | fetcher.busy)
        return m
