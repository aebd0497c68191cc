"""One benchmark stage in its own process, so its peak RSS is its own. Prints one JSON line."""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path


def main() -> None:
    stage, rows, folder, cache = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3]), sys.argv[4]
    t0 = time.perf_counter()
    if stage == "generate":
        from data.generate import generate

        generate(folder, rows=rows, domains=("payments",))
    elif stage == "ingest":
        from data.engine import open_source

        open_source(folder, cache_dir=cache)
    seconds = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "stage": stage,
                "rows": rows,
                "seconds": round(seconds, 2),
                "peak_rss_mb": round(peak_mb),
            }
        )
    )


if __name__ == "__main__":
    main()
