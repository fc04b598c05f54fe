"""The engine's one kind of error for a value it refuses.

It is a ``ValueError`` (callers that only care that the input was bad catch that) which also says
which argument it is about and, where there is a short list, what is allowed: a caller maps
``field`` to its own names instead of reading the English message.
"""

from __future__ import annotations

from typing import Iterable


class InvalidValue(ValueError):
    """``field`` (an argument or Setup field name, e.g. "source", "loss") has a value the engine
    refuses; ``allowed`` lists the accepted values when there are few."""

    def __init__(self, field: str, message: str, allowed: Iterable[str] = ()) -> None:
        super().__init__(message)
        self.field = field
        self.allowed = tuple(allowed)

    def __reduce__(self) -> tuple:
        """Pickle with every argument: worker processes send these back to the server."""
        return type(self), (self.field, str(self), self.allowed)
