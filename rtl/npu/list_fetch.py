"""List fetcher: reads the entries of a LIST command from main memory, ahead of execution."""

from amaranth.hdl import Module, Mux, ResetInserter, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

from ..bus.signature import BusSignature
from .commands import DESCRIPTOR_WORDS
from .descriptor import DESCRIPTOR_LAYOUT

__all__ = ["ListFetcher"]


class ListFetcher(wiring.Component):
    """Fetches ``count`` descriptors (8 little-endian words each) from consecutive word
    addresses and offers them in order, prefetching up to ``entries`` descriptors ahead of the
    consumer.

    Reads are issued one word per grant as long as the words requested and not yet taken from
    ``o`` fit in the entry buffer (``entries`` descriptors), so a list streams at the bus's
    bandwidth while the consumer keeps up, and stops ``entries`` descriptors ahead when it does
    not. While ``defer`` is set (another initiator of the same port wants it) a new read is
    raised only when no whole descriptor waits in ``o`` (the consumer would starve): the
    prefetch takes the port's idle cycles, not the data's. A read answered with ``err`` ends
    the list: the descriptor that word belongs to comes
    out with ``fault`` (and ``last``) set, no further read is issued, and the responses still
    outstanding are dropped. ``abort`` drops the list being fetched (a speculative fetch whose
    LIST was refused): the descriptors buffered are discarded, no further read is issued and
    the responses still outstanding are dropped; nothing of that list reaches ``o`` after it.

    Parameters
    ----------
    entries : int
        Descriptors buffered (>= 1); ``8 * entries`` words may be in flight, which should cover
        the memory's latency at its bandwidth.
    addr_width : int
        Word-address width of the bus.
    bypass : bool
        Offer a descriptor on ``o`` in the cycle the response to its last word arrives when
        nothing is buffered ahead of it (a combinational path from ``bus.rdata`` to
        ``o.payload``; an entry not taken then is held in an output register, ``valid`` stays
        up). ``False``: every descriptor passes the buffer (offered two cycles after that
        response).

    Members
    -------
    start : In(stream.Signature(StructLayout({"addr": addr_width, "count": 16})))
        A list: word address of entry 0 and the number of entries (>= 1; 0 is treated as 1,
        the validator refuses it before). Accepted (``ready``) only while not ``busy``.
    o : Out(stream.Signature(StructLayout({"words": DESCRIPTOR_LAYOUT, "fault": 1,
        "last": 1})))
        The descriptors in list order; ``last`` marks the final one (entry ``count - 1``, or
        the faulting one). ``valid`` does not depend on ``ready``.
    bus : Out(BusSignature(addr_width))
        Read-only initiator (``we`` is 0).
    busy : Out(1)
        A list is being fetched, a response is outstanding or a descriptor waits in ``o``.
    defer : In(1)
        Prefetch only into idle port cycles (above); 0 (unconnected): fetch whenever there is
        room.
    abort : In(1)
        Drop the list being fetched (above); ``busy`` stays up until the responses still
        outstanding are in. No effect while idle.

    Latency
    -------
    The first read is requested the cycle after ``start`` is accepted; a descriptor is offered
    on ``o`` two cycles after the response to its last word (with ``bypass`` and nothing
    buffered ahead of it: in that cycle).
    """

    def __init__(self, *, entries=4, addr_width=30, bypass=False):
        if not isinstance(entries, int) or entries < 1:
            raise ValueError(f"entries must be an integer >= 1, not {entries!r}")
        if not isinstance(bypass, bool):
            raise TypeError(f"bypass must be a bool, not {bypass!r}")
        self._entries = entries
        self._addr_width = addr_width
        self._bypass = bypass
        self._out_layout = data.StructLayout({"words": DESCRIPTOR_LAYOUT, "fault": 1, "last": 1})
        super().__init__({
            "start": In(stream.Signature(data.StructLayout({"addr": addr_width,
                                                             "count": 16}))),
            "o": Out(stream.Signature(self._out_layout)),
            "bus": Out(BusSignature(addr_width)),
            "busy": Out(1),
            "defer": In(1),
            "abort": In(1),
        })

    def elaborate(self, platform):
        m = Module()
        n = DESCRIPTOR_WORDS
        room = n * self._entries
        # the buffer is emptied by ``abort`` (its reset wins over a write that cycle)
        m.submodules.fifo = fifo = ResetInserter(self.abort)(
            SyncFIFOBuffered(width=self._out_layout.size, depth=self._entries))

        active = Signal()                       # between start and the last entry assembled
        faulted = Signal()                      # a read answered err: no more reads
        addr = Signal(self._addr_width)         # next word to request
        to_request = Signal(16 + 3)             # words still to request
        held = Signal(range(room + 1))          # words requested and not yet taken from o
        outstanding = Signal(range(room + 1))   # words requested, response not yet seen
        waiting = Signal()                      # a request is up and was not granted
        word_index = Signal(range(n))           # word of the entry being assembled
        entry_index = Signal(16)                # its index in the list
        last_entry = Signal(16)                 # count - 1
        words = Signal(DESCRIPTOR_LAYOUT)

        bus = self.bus
        granted = bus.req & bus.gnt
        popped = self.o.valid & self.o.ready
        entry_ready = Signal()                  # a whole descriptor waits for the consumer
        # A raised request stays up until granted, even if a fault or an abort arrives
        # meanwhile; a new read waits while the port is wanted elsewhere and a descriptor is
        # ready.
        m.d.comb += [
            bus.req.eq(waiting | (active & ~faulted & ~self.abort & (to_request != 0)
                                  & (held < room) & ~(self.defer & entry_ready))),
            bus.addr.eq(addr),
            bus.we.eq(0),
            bus.be.eq(0xF),
        ]
        with m.If(bus.req):
            m.d.sync += waiting.eq(~bus.gnt)
        with m.If(granted):
            m.d.sync += [addr.eq(addr + 1), to_request.eq(to_request - 1)]
        m.d.sync += [
            held.eq(held + granted - popped * n),
            outstanding.eq(outstanding + granted - bus.rvalid),
        ]

        push = Signal()
        push_fault = Signal()
        push_last = Signal()
        word = bus.rdata
        with m.If(bus.rvalid & active & ~faulted):
            with m.If(bus.err):
                m.d.comb += [push.eq(1), push_fault.eq(1), push_last.eq(1)]
                m.d.sync += [faulted.eq(1), active.eq(0)]
            with m.Else():
                m.d.sync += [words[word_index].eq(word), word_index.eq(word_index + 1)]
                with m.If(word_index == n - 1):
                    m.d.comb += [push.eq(1), push_last.eq(entry_index == last_entry)]
                    m.d.sync += [word_index.eq(0), entry_index.eq(entry_index + 1)]
                    with m.If(entry_index == last_entry):
                        m.d.sync += active.eq(0)
        entry = Signal(self._out_layout)
        m.d.comb += [
            entry.words.eq(words),
            entry.words[n - 1].eq(word),
            entry.fault.eq(push_fault),
            entry.last.eq(push_last),
            fifo.w_data.eq(entry),
        ]
        if self._bypass:
            # hold: the output register (the entry offered, or the buffer's head moved into
            # it); direct: a new entry offered in its own cycle, nothing being ahead of it
            hold = Signal(self._out_layout)
            hold_valid = Signal()
            direct = Signal()
            m.d.comb += [
                direct.eq(push & ~hold_valid & (fifo.level == 0)),
                fifo.w_en.eq(push & ~direct),
                self.o.valid.eq(hold_valid | direct),
                self.o.payload.eq(Mux(hold_valid, hold, entry)),
                entry_ready.eq(hold_valid | fifo.r_rdy),
            ]
            with m.If(~hold_valid | popped):
                m.d.comb += fifo.r_en.eq(1)
                m.d.sync += [hold_valid.eq(fifo.r_rdy), hold.eq(fifo.r_data)]
                with m.If(direct & ~self.o.ready):
                    m.d.sync += [hold_valid.eq(1), hold.eq(entry)]
            with m.If(self.abort):
                m.d.sync += hold_valid.eq(0)
            held_out = hold_valid
        else:
            m.d.comb += [
                fifo.w_en.eq(push),
                self.o.valid.eq(fifo.r_rdy),
                self.o.payload.eq(fifo.r_data),
                fifo.r_en.eq(self.o.ready),
                entry_ready.eq(fifo.r_rdy),
            ]
            held_out = 0
        with m.If(self.abort):
            m.d.sync += [active.eq(0), faulted.eq(1)]

        m.d.comb += [self.busy.eq(active | (outstanding != 0) | (fifo.level != 0) | waiting
                                  | held_out),
                     self.start.ready.eq(~self.busy)]
        with m.If(self.start.valid & self.start.ready):
            count = self.start.payload.count
            m.d.sync += [
                active.eq(1), faulted.eq(0), held.eq(0), word_index.eq(0), entry_index.eq(0),
                addr.eq(self.start.payload.addr),
                to_request.eq(count * n),
                last_entry.eq(count - 1),
            ]
            with m.If(count == 0):
                m.d.sync += [to_request.eq(n), last_entry.eq(0)]
        return m
