"""The memory map of a variant as a Markdown table (for the README and ``dure memory-map``).

The README embeds the table between ``<!-- memory-map:begin -->`` and ``<!-- memory-map:end -->``;
tests/test_readme.py checks that it matches :func:`markdown_table` for the ``sim`` variant, so
the README cannot drift from dure/config.py.
"""

from .config import SoCConfig

__all__ = ["markdown_table", "BEGIN", "END"]

BEGIN = "<!-- memory-map:begin -->"
END = "<!-- memory-map:end -->"


def _size(n):
    for unit, scale in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale and n % scale == 0:
            return f"{n // scale} {unit}"
    return f"{n} B"


def markdown_table(config: SoCConfig) -> str:
    """The regions of ``config`` as a Markdown table, one row per region."""
    rows = [
        "| base | size | region | executable | what |",
        "|---|---|---|---|---|",
    ]
    for r in config.regions:
        what = r.description.replace("|", "\\|")
        rows.append(f"| `0x{r.base:08X}` | {_size(r.size)} | {r.name} | "
                    f"{'yes' if r.executable else 'no'} | {what} |")
    return "\n".join(rows)
