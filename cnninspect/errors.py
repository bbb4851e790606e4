"""The error types cnninspect raises.

Every failure a user can cause ends in one of these, with a one-line message that
names the problem and the fix. Torch and fx tracebacks stay attached as
``__cause__`` for ``debug=True`` but are never the message itself.
"""

from __future__ import annotations


class CnnInspectError(Exception):
    """Base class: anything cnninspect reports on purpose."""


class UsageError(CnnInspectError, ValueError):
    """The call itself is malformed: a bad option value or input text, a missing option.

    The command line exits with status 2 for these (1 for a model that fails);
    the class says so, rather than a flag set on some other error.
    """


class InputShapeError(CnnInspectError, ValueError):
    """The input shape (or input data) does not fit the model or is malformed."""


class InputSpecError(UsageError, InputShapeError):
    """An input spec that cannot be read: shape text, sizes or dtypes that are not valid.

    An :class:`InputShapeError` too, so ``except InputShapeError`` still catches it.
    """


class ModelSpecError(CnnInspectError, ValueError):
    """A ``package.module:attr`` spec could not be turned into an ``nn.Module``."""


class ModelError(CnnInspectError, RuntimeError):
    """The model itself failed (its forward raised, or it is not an ``nn.Module``)."""


class OptionError(UsageError):
    """An option has an invalid value."""
