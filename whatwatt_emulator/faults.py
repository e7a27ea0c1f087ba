"""Fault injection: what a test (or the admin endpoint) can make the device do wrong."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class Faults:
    """Faults armed on one emulator.  Counters count down as requests consume them.

    - ``latency``: seconds added before every answer (also before an SSE stream starts).
    - ``fail_next(status, count)``: the next ``count`` requests get ``status`` with a JSON error.
    - ``malformed_json_next(count)``: the next ``count`` JSON answers are cut in half.
    - ``malformed_event_next(count)``: the next ``count`` SSE events carry broken JSON.
    - ``reset_next(count)``: the next ``count`` requests get their TCP connection closed
      (RST) without any answer.
    - ``drop_stream_after(events)``: the live stream is cut (no clean end) after ``events``
      more events.
    - ``expire_nonces()``: every Digest nonce issued so far is stale (401 ``stale=true``).
    - ``reboot_during_next_put(applied=False)``: the next PUT gets no answer because the
      device reboots; ``applied`` says whether the change was saved before that.
    """

    latency: float = 0.0
    fail_status: int = 503
    fail_count: int = 0
    malformed_count: int = 0
    malformed_event_count: int = 0
    reset_count: int = 0
    drop_after_events: int | None = None
    reboot_put: bool = False
    reboot_put_applied: bool = False
    expire_requested: bool = False

    def fail_next(self, status: int = 503, count: int = 1) -> None:
        """Answer the next ``count`` requests with ``status``."""
        if not 400 <= status <= 599:
            raise ValueError("status must be an HTTP error status (400..599)")
        self.fail_status = status
        self.fail_count = count

    def malformed_json_next(self, count: int = 1) -> None:
        """Break the JSON of the next ``count`` JSON answers."""
        self.malformed_count = count

    def malformed_event_next(self, count: int = 1) -> None:
        """Break the JSON of the next ``count`` live events."""
        self.malformed_event_count = count

    def reset_next(self, count: int = 1) -> None:
        """Close the connection of the next ``count`` requests without an answer."""
        self.reset_count = count

    def drop_stream_after(self, events: int) -> None:
        """Cut the live stream after ``events`` more events."""
        if events < 0:
            raise ValueError("events must be >= 0")
        self.drop_after_events = events

    def expire_nonces(self) -> None:
        """Make the Digest nonces issued so far stale."""
        self.expire_requested = True

    def reboot_during_next_put(self, applied: bool = False) -> None:
        """Reboot instead of answering the next PUT."""
        self.reboot_put = True
        self.reboot_put_applied = applied

    def clear(self) -> None:
        """Disarm every fault."""
        self.latency = 0.0
        self.fail_count = self.malformed_count = self.malformed_event_count = 0
        self.reset_count = 0
        self.drop_after_events = None
        self.reboot_put = self.reboot_put_applied = False
        self.expire_requested = False

    def take(self, name: str) -> bool:
        """Consume one use of a counted fault; return whether it fired."""
        left: int = getattr(self, name)
        if left <= 0:
            return False
        setattr(self, name, left - 1)
        return True

    def state(self) -> dict[str, Any]:
        """Return what is armed (for the admin endpoint)."""
        return {
            "latency": self.latency,
            "fail_next": {"status": self.fail_status, "count": self.fail_count},
            "malformed_json_next": self.malformed_count,
            "malformed_event_next": self.malformed_event_count,
            "reset_next": self.reset_count,
            "drop_stream_after": self.drop_after_events,
            "reboot_during_next_put": self.reboot_put,
        }
