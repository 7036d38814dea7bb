"""Which control core a SoC variant uses: the five-stage core (with its options) or the tiny
multi-cycle core."""

from ..core.core import Core
from ..core.options import CORE_OPTIONS, core_options
from ..core_tiny.core import TinyCore

__all__ = ["CORE_VARIANTS", "check_core", "make_core"]

#: Names a :class:`dure.config.SoCConfig` may give in its ``core`` field: the variants of the
#: five-stage core (``full``, ``small``) and ``tiny`` (:class:`~dure.rtl.core_tiny.core.TinyCore`).
CORE_VARIANTS = (*CORE_OPTIONS, "tiny")


def check_core(name):
    """Raise ``ValueError`` listing the choices unless ``name`` is in :data:`CORE_VARIANTS`."""
    if name not in CORE_VARIANTS:
        raise ValueError(f"unknown core variant {name!r}; choose one of: "
                         f"{', '.join(CORE_VARIANTS)}")


def make_core(name, *, reset_vector, hartid=0, pmp_entries=16, triggers=1):
    """A new core of variant ``name``; every variant has the same ports and ISA behaviour
    (with ``pmp_entries`` PMP entries and ``triggers`` address triggers)."""
    check_core(name)
    prot = dict(pmp_entries=pmp_entries, triggers=triggers)
    if name == "tiny":
        return TinyCore(reset_vector=reset_vector, hartid=hartid, **prot)
    return Core(reset_vector=reset_vector, hartid=hartid, options=core_options(name), **prot)
