"""Exceptions of the spate package.

Every failure of the engine reaches Python as a SpateError carrying spate's
own message (the flow file and line, the stage, the option, the value) and
the errno it came with; never as a negative number.
"""


class SpateError(Exception):
    """A spate call failed; str(e) is spate's message."""

    def __init__(self, message, errno=0):
        super().__init__(message)
        self.message = message
        self.errno = errno


class ValidationError(SpateError):
    """The flow does not validate; problems lists every message."""

    def __init__(self, message, errno=22, problems=None):
        super().__init__(message, errno)
        self.problems = list(problems or [])


class RunError(SpateError):
    """A run failed (outputs rolled back); status is its final RunStatus."""

    def __init__(self, message, errno=5, status=None):
        super().__init__(message, errno)
        self.status = status
