"""``dure gen-header``: write the firmware's C header for a variant."""

import pathlib

from ..config import preset
from ..errors import UserError
from ..header import generate_header, generate_npu_header

NAME = "gen-header"
HELP = ("write the generated C headers for an SoC variant: --out (memory map, registers) and "
        "dure_npu.h next to it (NPU registers, encodings, descriptor fields)")


def add_arguments(parser):
    parser.add_argument("--variant", default="sim", help="SoC variant (default: sim)")
    parser.add_argument("--out", required=True, type=pathlib.Path, help="header file to write")


def run(args):
    try:
        config = preset(args.variant)
    except ValueError as error:
        raise UserError(str(error)) from None
    args.out.parent.mkdir(parents=True, exist_ok=True)
    for path, text in ((args.out, generate_header(config)),
                       (args.out.parent / "dure_npu.h", generate_npu_header(config))):
        if not path.exists() or path.read_text() != text:
            path.write_text(text)   # unchanged headers keep their timestamp: no needless rebuilds
    return 0
