"""Errors that the command line reports as one line, without a traceback."""


class UserError(Exception):
    """Bad input from the user (a file, an argument, a program): the message says what is wrong.

    The command line prints ``dure: <message>`` and exits with status 2.
    """
