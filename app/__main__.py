"""`python -m app`: the desktop launcher (see app/desktop.py)."""

import sys

from app.desktop import main

sys.exit(main())
