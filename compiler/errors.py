"""The model compiler's exception (and its one refinement).

:class:`UnsupportedModel` is raised for every model the compiler cannot take: a file that is not
a model of the format (bad magic, truncated, unparsable), an operator, data type or attribute
outside what the compiler supports, inconsistent shapes. Its message names the node (index,
name, operator type) when there is one, and says what is missing, so that the command line can
print it as one line (it is a :class:`dure.errors.UserError`).
"""

from ..errors import UserError

__all__ = ["UnsupportedModel", "NotAModel"]


class UnsupportedModel(UserError):
    """A model the compiler cannot compile.

    Parameters
    ----------
    message : str
        What is wrong or missing.
    index : int, optional
        Index of the node in its graph (operator order of the file).
    name : str, optional
        The node's name (ONNX node name, or the TFLite operator's first output tensor name).
    op_type : str, optional
        The operator type as the file spells it (``CONV_2D``, ``QLinearConv``, ...).

    The string form is ``node <index> '<name>' (<op_type>): <message>`` (the node part left
    out when no node is named).
    """

    def __init__(self, message, *, index=None, name=None, op_type=None):
        self.index, self.name, self.op_type, self.detail = index, name, op_type, message
        super().__init__(self._text())

    def _text(self):
        if self.index is None and self.name is None and self.op_type is None:
            return self.detail
        parts = ["node"]
        if self.index is not None:
            parts.append(str(self.index))
        if self.name:
            parts.append(repr(self.name))
        if self.op_type:
            parts.append(f"({self.op_type})")
        return f"{' '.join(parts)}: {self.detail}"


class NotAModel(UnsupportedModel):
    """Bytes that hold no model of the format at all (as opposed to a model of it the compiler
    refuses): :func:`compiler.load.parse_model` then names both formats it tried."""
