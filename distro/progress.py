"""Progress counters of a run: plain integers the pipeline bumps and a display reads.

Keeping them plain keeps the hot path free of any rendering cost; the display
polls them a few times a second.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class Progress:
    """How far the scan and the counting have come."""

    segments: int = 0
    segments_done: int = 0
    rows_scanned: int = 0
    spaces_found: int = 0
    spaces_resumed: int = 0
    spaces_counted: int = 0
    uploads_counted: int = 0
    queries: int = 0  # Query requests answered, pages of big spaces included
    read_units: float = 0.0

    @property
    def scan_finished(self) -> bool:
        """True once every segment has reached its end."""
        return self.segments > 0 and self.segments_done == self.segments

    @property
    def spaces_to_count(self) -> int:
        """Spaces found that earlier runs had not counted."""
        return self.spaces_found - self.spaces_resumed
