"""``dure gen-header``: write the firmware's C header for a variant."""

import pathlib

from ..config import preset
from ..errors import UserError
from ..header import generate_header

NAME = "gen-header"
HELP = "write the generated C header (memory map, registers) for an SoC variant"


def add_arguments(parser):
    parser.add_argument("--variant", default="sim", help="SoC variant (default: sim)")
    parser.add_argument("--out", required=True, type=pathlib.Path, help="header file to write")


def run(args):
    try:
        config = preset(args.variant)
    except ValueError as error:
        raise UserError(str(error)) from None
    text = generate_header(config)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if not args.out.exists() or args.out.read_text() != text:
        args.out.write_text(text)   # unchanged headers keep their timestamp: no needless rebuilds
    return 0
