from __future__ import annotations

import sys

from portal_gate.cli import main

sys.exit(main())
