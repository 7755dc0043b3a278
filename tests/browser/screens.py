"""Where browser tests save their screenshots.

The pictures in docs/screenshots are refreshed on demand (``OKNO_SCREENSHOTS=1 make test``);
otherwise they go to a temporary folder, so that a test run leaves the checkout as it found it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

DOCS_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
SCREENSHOTS = DOCS_SCREENSHOTS if os.environ.get("OKNO_SCREENSHOTS") == "1" else Path(tempfile.mkdtemp(prefix="okno-screenshots-"))
