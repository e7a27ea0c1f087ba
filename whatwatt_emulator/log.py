"""The request log: what the device saw, for tests and benchmarks to read."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class LoggedRequest:
    """One request as the device saw it.

    ``body`` is the parsed JSON, the raw text when it is not JSON, or None when empty.  It is
    kept verbatim (keys and passwords included): tests check what was sent.  It is never
    printed.  ``auth`` is the scheme the request carried; ``authorized`` whether it passed
    (True on an unprotected device).  ``status`` is 0 when the connection was dropped.
    """

    method: str
    path: str
    query: dict[str, str]
    body: Any
    auth: str
    authorized: bool
    status: int
    time: float

    def as_dict(self) -> dict[str, Any]:
        """Return a JSON-friendly dict."""
        return asdict(self)


class RequestLog(list[LoggedRequest]):
    """A list of LoggedRequest that keeps at most ``limit`` entries (the newest)."""

    def __init__(self, limit: int) -> None:
        """Start empty."""
        super().__init__()
        self.limit = limit

    def add(self, entry: LoggedRequest) -> None:
        """Append, dropping the oldest tenth when full."""
        self.append(entry)
        if len(self) > self.limit:
            del self[: max(1, self.limit // 10)]
