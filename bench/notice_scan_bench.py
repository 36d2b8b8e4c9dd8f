"""How much a change-notice scan costs, as a ratio to planning the same learners' reminders.

    python bench/notice_scan_bench.py            # 20,000 learners
    python bench/notice_scan_bench.py --quick    # 2,000 learners

Run from the project root (it reads calendars/). A SQLite file in a temporary folder holds a
generated roster; then, best of 3 each (time.perf_counter):

1. baseline: ``daemon.plan_all`` (every reminder of every learner, in memory, nothing written);
2. a scan with nothing changed (what the daemon does every minute): snapshots and digests of
   every learner compared with the baselines;
3. a scan after a closure was added (every learner gets a notice row written).

It fails only on a wrong result (a scan that queues nothing after the edit, or something before).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cnam_calendar.inputs.catalogue import load_catalogue  # noqa: E402
from cnam_calendar.inputs.config import load_centres  # noqa: E402
from cnam_calendar.inputs.roster import generate_learners  # noqa: E402
from cnam_calendar.mail.daemon import plan_all  # noqa: E402
from cnam_calendar.mail.notices import scan_notices  # noqa: E402
from cnam_calendar.store.database import open_store  # noqa: E402

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)


def best(fn, repeats: int = 3) -> float:  # noqa: ANN001
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    n = 2_000 if parser.parse_args().quick else 20_000
    with tempfile.TemporaryDirectory() as tmp:
        calendars = Path(tmp) / "calendars"
        shutil.copytree(ROOT / "calendars", calendars)
        centres = load_centres(calendars)
        store = open_store(f"sqlite:///{tmp}/bench.db")
        catalogues = {c.id: [u.code for u in load_catalogue(c)] for c in centres}
        store.import_learners(generate_learners(n, 1, centres, catalogues, 2026))
        plan = best(lambda: plan_all(store, centres, 2026))
        first = scan_notices(store, centres, NOW, 2026)
        assert first.baselined == n and first.queued == 0, first
        idle = best(lambda: scan_notices(store, centres, NOW, 2026))
        for path in calendars.glob("*.toml"):
            text = path.read_text()
            path.write_text(text.replace("[years.2026]\nclosures = [", '[years.2026]\nclosures = [{ id = "bench", '
                                         'start = 2027-04-12, end = 2027-04-12, label = "Pont" }, ', 1))
        edited = load_centres(calendars)
        start = time.perf_counter()
        report = scan_notices(store, edited, NOW, 2026)
        queued = time.perf_counter() - start
        assert report.queued == n, report
        store.close()
    print(f"{n} learners: plan_all {plan:.2f} s (baseline); idle scan {idle:.2f} s; scan queuing {n} notices "
          f"{queued:.2f} s")
    print(f"ratio idle scan/plan: {idle / plan:.2f}x ; ratio queuing scan/plan: {queued / plan:.2f}x")


if __name__ == "__main__":
    main()
