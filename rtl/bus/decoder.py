"""Address decoder: one initiator, N targets, the memory map given as data."""

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .error import ErrorResponder
from .signature import BusSignature

__all__ = ["Decoder"]


class Decoder(wiring.Component):
    """Routes each request of one initiator to the target whose region holds its address.

    Parameters
    ----------
    regions : iterable
        The memory map: objects with ``name``, ``base`` and ``size`` attributes (byte address
        and byte size, e.g. :class:`dure.config.Region`). Sizes must be powers of two (at least
        4 bytes) and bases aligned to their size; regions must not overlap; names must be
        distinct Python identifiers.
    addr_width : int
        Word-address width of the initiator port.
    max_outstanding : int
        Most responses the decoder lets be outstanding at once; further requests wait.

    Members
    -------
    bus : In(BusSignature(addr_width))
        Initiator port.
    targets : Out(Signature({name: Out(BusSignature(w))}))
        One initiator-side port per region, named after it; ``w`` is ``log2(size / 4)`` and the
        address on it is the word offset inside the region (the region's base is stripped).

    Every address outside all regions goes to an internal :class:`ErrorResponder`: it is
    granted and answered with ``err``, so nothing ever hangs.

    Ordering: responses reach the initiator in request order. Requests may be pipelined to the
    same target without limit (up to ``max_outstanding``); a request to a *different* target
    is held off (``gnt = 0``) until every response from the previous target has arrived (it may
    be granted in the cycle the last one arrives). Targets answer in order by protocol, so at any
    time all outstanding responses come from one target.

    Latency
    -------
    No cycles added: ``gnt`` is the selected target's ``gnt`` (combinational through the
    address match) and responses pass straight through. A target's ``req`` depends on the
    address through its own region comparison only.
    """

    def __init__(self, regions, *, addr_width=30, max_outstanding=32):
        regions = tuple(regions)
        if not regions:
            raise ValueError("Decoder needs at least one region")
        if not isinstance(max_outstanding, int) or max_outstanding < 1:
            raise ValueError(f"max_outstanding must be an integer >= 1, not {max_outstanding!r}")
        members = {}
        self._map = []
        for region in regions:
            name, base, size = region.name, region.base, region.size
            if not name.isidentifier() or name in members:
                raise ValueError(f"region name {name!r} is not a distinct identifier")
            if size < 4 or size & (size - 1):
                raise ValueError(f"region {name!r}: size must be a power of two >= 4, not {size}")
            if base % size:
                raise ValueError(f"region {name!r}: base 0x{base:08x} is not aligned to its size")
            if base + size > 4 << addr_width:
                raise ValueError(f"region {name!r} lies outside the {addr_width}-bit word space")
            for other_name, other_base, other_size in self._map:
                if base < other_base + other_size and other_base < base + size:
                    raise ValueError(f"regions {name!r} and {other_name!r} overlap")
            width = (size // 4).bit_length() - 1
            members[name] = Out(BusSignature(max(width, 1)))
            self._map.append((name, base, size))
        self._addr_width = addr_width
        self._max_outstanding = max_outstanding
        super().__init__({
            "bus": In(BusSignature(addr_width)),
            "targets": Out(wiring.Signature(members)),
        })

    def elaborate(self, platform):
        m = Module()
        bus = self.bus
        m.submodules.unmapped = unmapped = ErrorResponder(self._addr_width)
        ports = [getattr(self.targets, name) for name, _, _ in self._map] + [unmapped.bus]
        n = len(ports)

        # One hit per port, one-hot (regions do not overlap; the last port, the error
        # responder, takes every address no region holds). Each port's request needs only
        # its own hit: whether the port may take a request (`allowed`) is computed without
        # the address, not from an encoded select compared with `cur`, so the address passes
        # one comparison on its way to a target's `req` (session 17, issue 15).
        hits = []
        for name, base, size in self._map:
            shift = (size // 4).bit_length() - 1
            hit = Signal(name=f"hit_{name}")
            m.d.comb += hit.eq((bus.addr >> shift) == (base >> 2 >> shift))
            hits.append(hit)
        hit_unmapped = Signal()
        m.d.comb += hit_unmapped.eq(~Cat(*hits).any())
        hits.append(hit_unmapped)

        # Outstanding responses and the port they come from (one-hot `cur`).
        count = Signal(range(self._max_outstanding + 1))
        cur = Signal(n)
        rvalid = Signal()
        m.d.comb += rvalid.eq(Cat(*(port.rvalid for port in ports)).any())
        drained = (count == 0) | ((count == 1) & rvalid)
        below_max = count != self._max_outstanding

        granted = Signal()
        port_granted = []
        for index, port in enumerate(ports):
            width = len(port.addr)
            # The port may take a request: nothing outstanding elsewhere (or the last of it
            # answering now), or it is the port answering and the queue has room.
            allowed = Signal(name=f"allowed_{index}")
            m.d.comb += [
                allowed.eq(drained | (cur[index] & below_max)),
                port.req.eq(bus.req & allowed & hits[index]),
                port.addr.eq(bus.addr[:width]),
                port.we.eq(bus.we),
                port.be.eq(bus.be),
                port.wdata.eq(bus.wdata),
            ]
            port_granted.append(allowed & hits[index] & port.gnt)
        m.d.comb += [
            granted.eq(bus.req & Cat(*port_granted).any()),
            bus.gnt.eq(granted),
        ]

        with m.If(granted):
            m.d.sync += cur.eq(Cat(*hits))
        m.d.sync += count.eq(count + granted - rvalid)

        # Responses: only the port in `cur` can answer, so an AND-OR gather is a mux.
        rdata = 0
        err = 0
        for port in ports:
            rdata = rdata | Mux(port.rvalid, port.rdata, 0)
            err = err | (port.err & port.rvalid)
        m.d.comb += [
            bus.rvalid.eq(rvalid),
            bus.rdata.eq(rdata),
            bus.err.eq(err),
        ]
        return m
