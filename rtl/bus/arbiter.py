"""Arbiter: N initiators share one target, round-robin."""

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .route_queue import RouteQueue
from .signature import BusSignature

__all__ = ["Arbiter"]


class Arbiter(wiring.Component):
    """Lets ``n`` initiators share one target, granting in round-robin order.

    Parameters
    ----------
    n : int
        Number of initiator ports, >= 1.
    addr_width : int
        Word-address width of every port.
    max_outstanding : int
        Depth of the response-routing queue: the most granted requests whose responses have
        not yet arrived. Further requests wait.
    parked : bool
        Present the request of an *owner* held in a register (see Policy) instead of picking
        among the requests of the cycle: the request fields reach the target through a
        multiplexer selected by a flip-flop, and no initiator's ``req`` steers another's
        address, data or grant. Costs a cycle when the bus changes hands from an idle owner
        (see Latency).

    Members
    -------
    initiators : In(Signature({"i0": ..., "i<n-1>": BusSignature(addr_width)}))
        One target-side port per initiator, ``initiators.i0`` to ``initiators.i<n-1>``; also
        reachable as ``arbiter.port(k)``.
    bus : Out(BusSignature(addr_width))
        The shared port towards the target.

    Policy: round-robin. Among the initiators requesting in a cycle, the first one after the
    most recently granted (in index order, wrapping) is presented to the target. Once the
    target has seen a request without granting it, the arbiter keeps presenting that same
    request until it is granted (a request is never withdrawn from the target). With every
    initiator requesting all the time, each gets one grant in every ``n``.

    Parked (``parked=True``): the presented request is always the owner's (initially
    initiator 0, the *home*). The owner changes only between requests: after a cycle in which
    the owner's request was granted or the owner presented none, the next requesting
    initiator after the owner (in index order, wrapping) becomes the owner; if none other
    requests and the owner does not either, initiator 0 does. A request the target saw and
    refused stays presented. With every initiator requesting all the time the grants still
    alternate one in every ``n``.

    Responses are routed back through a queue of initiator indices written at each grant
    (:class:`.route_queue.RouteQueue`: the oldest index in a register), so each initiator
    receives its own responses in its own request order, and several requests
    (of the same or of different initiators) may be in flight at once.

    Latency
    -------
    No cycles added: ``gnt`` is combinational from the target's ``gnt``, responses pass
    straight through. Parked: an initiator that is not the owner waits at least one cycle
    (it becomes the owner in the cycle after it asks, or after the owner's next grant);
    initiator 0 alone on an idle bus waits none.
    """

    def __init__(self, n, *, addr_width=30, max_outstanding=16, parked=False):
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be an integer >= 1, not {n!r}")
        if not isinstance(max_outstanding, int) or max_outstanding < 1:
            raise ValueError(f"max_outstanding must be an integer >= 1, not {max_outstanding!r}")
        self._n = n
        self._max_outstanding = max_outstanding
        self._parked = bool(parked)
        super().__init__({
            "initiators": In(wiring.Signature(
                {f"i{k}": Out(BusSignature(addr_width)) for k in range(n)})),
            "bus": Out(BusSignature(addr_width)),
        })

    def port(self, k):
        """The target-side port of initiator ``k``."""
        return getattr(self.initiators, f"i{k}")

    def elaborate(self, platform):
        m = Module()
        n = self._n
        ports = [self.port(k) for k in range(n)]
        bus = self.bus

        m.submodules.route = route = RouteQueue(width=max(1, (n - 1).bit_length()),
                                                depth=self._max_outstanding)

        pick = Signal(range(n))
        if self._parked:
            self._park(m, ports, pick)
        else:
            self._round_robin(m, ports, pick)

        with m.Switch(pick):
            for k, port in enumerate(ports):
                with m.Case(k):
                    m.d.comb += [
                        bus.req.eq(port.req & route.w_rdy),
                        bus.addr.eq(port.addr),
                        bus.we.eq(port.we),
                        bus.be.eq(port.be),
                        bus.wdata.eq(port.wdata),
                        port.gnt.eq(bus.gnt & route.w_rdy),
                    ]

        granted = bus.req & bus.gnt
        m.d.comb += [
            route.w_en.eq(granted),
            route.w_data.eq(pick),
        ]

        m.d.comb += route.r_en.eq(bus.rvalid)
        for k, port in enumerate(ports):
            m.d.comb += [
                port.rvalid.eq(bus.rvalid & (route.r_data == k)),
                port.rdata.eq(bus.rdata),
                port.err.eq(bus.err),
            ]
        return m

    def _next_requester(self, m, ports, after, into):
        """``into`` := the first requesting initiator after ``after`` (index order, wrapping;
        ``after`` itself last); unchanged when none requests."""
        n = self._n
        with m.Switch(after):
            for prev in range(n):
                with m.Case(prev):
                    order = [(prev + 1 + k) % n for k in range(n)]
                    # Later assignments win: walk from the lowest priority to the highest.
                    for k in reversed(order):
                        with m.If(ports[k].req):
                            m.d.comb += into.eq(k)

    def _park(self, m, ports, pick):
        """Parked policy: ``pick`` is the owner register."""
        bus = self.bus
        owner = Signal(range(self._n))
        m.d.comb += pick.eq(owner)
        following = Signal(range(self._n))
        m.d.comb += following.eq(0)
        self._next_requester(m, ports, owner, following)
        with m.If(~(bus.req & ~bus.gnt)):
            # Between requests: hand over (the owner itself if it alone requests; home if
            # nobody does).
            m.d.sync += owner.eq(following)

    def _round_robin(self, m, ports, pick):
        """Round-robin policy: ``pick`` from this cycle's requests, or the locked one."""
        n = self._n
        bus = self.bus
        last = Signal(range(n), init=n - 1)      # most recently granted initiator
        locked = Signal()                        # the target saw `locked_idx` and did not grant
        locked_idx = Signal(range(n))
        with m.If(locked):
            m.d.comb += pick.eq(locked_idx)
        with m.Else():
            self._next_requester(m, ports, last, pick)
        granted = bus.req & bus.gnt
        with m.If(granted):
            m.d.sync += [last.eq(pick), locked.eq(0)]
        with m.Elif(bus.req):
            m.d.sync += [locked.eq(1), locked_idx.eq(pick)]
        with m.Else():
            # Only reached if an initiator broke the protocol (e.g. was reset mid-request).
            m.d.sync += locked.eq(0)
