"""One compiled Amaranth simulation of a design, run again and again from reset.

Elaborating a large design (the whole NPU) and compiling it for Amaranth's Python simulator
takes seconds, most of a short test. :func:`reusable` builds a design and its simulator once per
``key`` in this process; each :meth:`ReusableSimulation.run` first restarts the simulator from
reset (``Simulator.reset``: every signal and memory back to its initial value, time back to 0,
every testbench restarted) and then runs the testbenches it is given, so a run sees exactly what
a freshly built simulator would.

Contract:
- Equal keys must mean equal designs: the key names everything ``build`` depends on (for the
  NPU its frozen :class:`~dure.config.SoCConfig` and constructor arguments).
- Testbenches reach the design only through ``sim.design`` (the object ``build`` returned), never
  through a design object built elsewhere.
- A run that raises drops the simulator from the cache: the next run with that key builds anew.
"""

from collections import OrderedDict

from amaranth.sim import Simulator

__all__ = ["ReusableSimulation", "reusable", "CACHE_SIZE"]

#: Simulators kept per process (least recently used dropped first).
CACHE_SIZE = 8

_CACHE = OrderedDict()


class ReusableSimulation:
    """A design (``toplevel``, or ``design``: an object holding it and parts testbenches need),
    its compiled simulator, and slots for up to ``critical`` testbenches that ``run`` waits for,
    ``background`` ones it stops when those return (the order of
    :func:`dure.sim.verif.bus.simulate`: critical first, in the order given, then background)
    and ``processes`` (simulator processes, stopped with the background ones)."""

    def __init__(self, toplevel, *, design=None, period=1e-8, critical=4, background=6,
                 processes=0):
        self.design = toplevel if design is None else design
        self._toplevel, self._period = toplevel, period
        self._critical = [None] * critical
        self._background = [None] * background
        self._processes = [None] * processes
        self._sim = None        # compiled at the first run (its testbenches start then)
        self.broken = False     # a run raised: not reused

    def _compile(self):
        self._sim = Simulator(self._toplevel)
        self._sim.add_clock(self._period)
        for index in range(len(self._critical)):
            self._sim.add_testbench(_slot(self._critical, index))
        for index in range(len(self._background)):
            self._sim.add_testbench(_slot(self._background, index), background=True)
        for index in range(len(self._processes)):
            self._sim.add_process(_slot(self._processes, index))

    def run(self, testbenches, background=(), processes=()):
        """Run ``testbenches`` (async functions of the simulator context) from reset until all
        return, with ``background`` ones and ``processes`` (``Simulator.add_process``) beside
        them; raises ``ValueError`` when there are more than the slots."""
        for given, slots, kind in ((testbenches, self._critical, "critical testbenches"),
                                   (background, self._background, "background testbenches"),
                                   (processes, self._processes, "processes")):
            if len(given) > len(slots):
                raise ValueError(f"{len(given)} {kind} given, but this simulation has slots "
                                 f"for {len(slots)}")
        if self._sim is None:
            self._compile()
        else:
            self._sim.reset()
        for slots, given in ((self._critical, testbenches), (self._background, background),
                             (self._processes, processes)):
            slots[:] = list(given) + [None] * (len(slots) - len(given))
        try:
            self._sim.run()
        except BaseException:
            self.broken = True
            raise


def _slot(table, index):
    """A testbench that runs whatever ``table[index]`` holds when the run starts."""
    async def bench(ctx):
        if table[index] is not None:
            await table[index](ctx)
    return bench


def reusable(key, build, **options):
    """The :class:`ReusableSimulation` of ``build()`` cached under ``key`` (built on first use,
    or anew after a run that raised; ``options`` go to its constructor then). ``build`` returns
    the toplevel elaboratable, or ``(toplevel, design)`` when testbenches need more than it."""
    sim = _CACHE.pop(key, None)
    if sim is None or sim.broken:
        built = build()
        toplevel, design = built if isinstance(built, tuple) else (built, None)
        sim = ReusableSimulation(toplevel, design=design, **options)
    _CACHE[key] = sim
    while len(_CACHE) > CACHE_SIZE:
        _CACHE.popitem(last=False)
    return sim
