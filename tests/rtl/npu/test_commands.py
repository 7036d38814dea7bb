"""The command contract's index (rtl/npu/commands.py): every name of the per-command contract
modules is importable from it as the same object, and the contract modules sit at the top of
rtl/npu (they import only Amaranth, :mod:`.isa` and each other, never a block or the index)."""

import ast
import importlib
import pathlib

import pytest
from dure.rtl.npu import commands

#: The contract modules :mod:`dure.rtl.npu.commands` gathers.
PARTS = ("load_cmd", "store_cmd", "eltwise_cmd", "error_codes", "register_map")


@pytest.mark.parametrize("part", PARTS)
def test_every_contract_name_is_reexported(part):
    module = importlib.import_module(f"dure.rtl.npu.{part}")
    assert module.__all__, part
    for name in module.__all__:
        assert name in commands.__all__, f"{part}.{name} missing from commands.__all__"
        assert getattr(commands, name) is getattr(module, name), name


def test_the_index_defines_or_gathers_every_name():
    gathered = {name for part in PARTS
                for name in importlib.import_module(f"dure.rtl.npu.{part}").__all__}
    own = {"DESCRIPTOR_WORDS", "Opcode", "Precision", "Dataflow"}
    assert set(commands.__all__) == gathered | own
    assert len(commands.__all__) == len(set(commands.__all__))


@pytest.mark.parametrize("part", PARTS)
def test_contract_modules_import_only_the_contract(part):
    path = pathlib.Path(commands.__file__).with_name(f"{part}.py")
    allowed = {"isa", *PARTS}
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            assert all(alias.name.startswith("amaranth") for alias in node.names), part
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                assert node.module.startswith("amaranth"), (part, node.module)
            else:
                assert node.level == 1 and node.module in allowed, (part, node.module)
