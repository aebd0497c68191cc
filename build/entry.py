"""Entry point of the frozen executable: the desktop launcher (`tieout desktop`)."""

import multiprocessing
import sys

from app.desktop import main

if __name__ == "__main__":
    multiprocessing.freeze_support()
    sys.exit(main())
