"""The Makefile's own targets are phony: a target named like a folder of the repository
(``fpga``, ``firmware``, ``sim``) is otherwise "up to date" whenever that folder is newer than
its prerequisites, and ``make fpga BOARD=...`` silently did nothing (found in session 19)."""

import re
from pathlib import Path

MAKEFILE = Path(__file__).resolve().parent.parent / "Makefile"


def _targets_and_phony(text):
    joined = text.replace("\\\n", " ")
    targets = set(re.findall(r"^([a-z][a-z0-9_-]*):(?!=)", joined, flags=re.M))
    phony = set()
    for line in re.findall(r"^\.PHONY:(.*)$", joined, flags=re.M):
        phony.update(line.split())
    return targets, phony


def test_every_named_target_is_phony():
    targets, phony = _targets_and_phony(MAKEFILE.read_text())
    assert {"test", "sim", "fpga"} <= targets, "the Makefile parse found too few targets"
    assert sorted(targets - phony) == []


def test_the_parse_sees_a_missing_phony():
    targets, phony = _targets_and_phony("all: x\n.PHONY: all \\\n  x\nfpga: y\n\tdo\n")
    assert targets - phony == {"fpga"}
