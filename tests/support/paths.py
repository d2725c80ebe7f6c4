"""Where the shipped data the tests use lives."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_DIRECTORY = ROOT / "models" / "sample_directory"
GOVCAL = [sys.executable, "-m", "govcal.cli"]  # the command line, run as a user runs it
