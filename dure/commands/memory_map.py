"""``dure memory-map``: print a variant's memory map as a Markdown table."""

from ..config import preset
from ..errors import UserError
from ..memory_map import markdown_table

NAME = "memory-map"
HELP = "print the memory map of an SoC variant as a Markdown table"


def add_arguments(parser):
    parser.add_argument("--variant", default="sim", help="SoC variant (default: sim)")


def run(args):
    try:
        config = preset(args.variant)
    except ValueError as error:
        raise UserError(str(error)) from None
    print(markdown_table(config))
    return 0
