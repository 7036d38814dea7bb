"""``dure decode``: the alias of ``dure generate`` (:mod:`dure.commands.generate`), the name
the decode demo had first (``make decode-demo``)."""

from .generate import add_arguments, run

__all__ = ["NAME", "HELP", "add_arguments", "run"]

NAME = "decode"
HELP = "the same as dure generate (its first name)"
