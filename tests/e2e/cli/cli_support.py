"""State shared by the CLI's end-to-end fixtures and test."""

from __future__ import annotations

#: Wall times in seconds, reported at the end of the run and saved in the test output folder.
TIMINGS: dict[str, float] = {}
