"""Constants of the whatwatt Go integration."""

from __future__ import annotations

import logging
from typing import Final

DOMAIN: Final = "whatwatt"
LOGGER: Final = logging.getLogger(__package__)
