"""``python -m whatwatt_emulator``: run one emulated device until Ctrl+C / SIGTERM."""

from __future__ import annotations

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
