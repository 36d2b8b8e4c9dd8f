"""Benchmark of the rules engine and the iCal export (issue 2, "How it is shown").

Run from the project root:

    python bench/engine_bench.py            # full run (~20 s)
    python bench/engine_bench.py --quick    # fewer repeats and dates (~5 s)

Two measurements, each the best of N repeats with time.perf_counter:

1. Deriving and exporting both centres of calendars/ for ten academic years
   (2026-2035): service.schedule + build.render_centre_year to bytes (no disk).
2. 100,000 `cpf-confirmation` deadlines (D + 3 jours ouvrés) on random dates
   (fixed seed) in 2026-2028, national calendar:
     (a) WorkingCalendar.add(d, 3) in a Python loop over date objects;
     (b) service.deadline("cpf-confirmation", d), the full engine call with
         its explanation;
   against the baseline numpy.busday_offset(dates, 3, roll="backward",
   holidays=...) vectorised over the same dates and the same holidays.
   (a) and numpy must give the same dates (checked; a mismatch raises).

Speed is reported as a ratio to the baseline measured in the same process;
nothing here is a test and nothing asserts on time.
"""

from __future__ import annotations

import argparse
import platform
import random
import sys
import time
from datetime import date, datetime, timezone

import numpy as np

from cnam_calendar import service
from cnam_calendar.ical import build
from cnam_calendar.inputs import config
from cnam_calendar.inputs.holidays_fr import calendars_for, french_holidays

YEARS = range(2026, 2036)  # ten academic years
CPF_DAYS = 3
SEED = 20260901
TARGET_ADD = 10.0  # issue 2: aim within 10x of numpy.busday_offset
EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
STAMP = datetime(2026, 1, 1, tzinfo=timezone.utc)
TODAY = date(2026, 1, 1)


def best_of(repeats: int, fn):
    """Return (best seconds, all timings, last result) of ``repeats`` calls of ``fn``."""
    times, result = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), times, result


def to_datetime64(days: list[date]) -> np.ndarray:
    """Convert date objects to a datetime64[D] array (outside any timed region)."""
    return (np.fromiter((d.toordinal() for d in days), dtype=np.int64, count=len(days))
            - EPOCH_ORDINAL).astype("datetime64[D]")


def renderer():
    """Return (name, fn(sched) -> bytes rendered): pure rendering with the centre's UE catalogue, no disk."""
    from cnam_calendar.inputs.catalogue import load_catalogue

    def render(sched) -> int:
        files, _ = build.render_centre_year(sched, load_catalogue(sched.centre), {}, STAMP, TODAY)
        return sum(map(len, files.values()))

    return ("build.render_centre_year (calendar.ics + ue/*.ics)", render)


def bench_build(repeats: int) -> dict:
    centres = config.load_centres("calendars")
    how, render = renderer()

    def run():
        events = size = 0
        for centre in centres:
            for year in YEARS:
                sched = service.schedule(centre, year)
                size += render(sched)
                events += len(sched.events)
        return events, size

    best, times, (events, size) = best_of(repeats, run)
    n = len(centres) * len(YEARS)
    return {"centres": [c.id for c in centres], "how": how, "n": n, "best": best, "first": times[0],
            "events": events, "bytes": size}


def bench_cpf(repeats: int, n_dates: int, n_engine: int) -> dict:
    rng = random.Random(SEED)
    lo, hi = date(2026, 1, 1).toordinal(), date(2028, 12, 31).toordinal()
    origins = [date.fromordinal(rng.randint(lo, hi)) for _ in range(n_dates)]
    engine_origins = origins[:n_engine]

    # Same holidays on both sides: the national calendar 2025-2029.
    ouvres = calendars_for(None, 2025, 2029)[0]
    holiday_list = sorted(french_holidays(None, range(2025, 2030)))
    np_holidays = to_datetime64(holiday_list)
    np_origins = to_datetime64(origins)
    assert set(ouvres.holidays) == set(holiday_list), "WorkingCalendar and numpy see different holidays"

    # (a) WorkingCalendar.add in a Python loop.
    add = ouvres.add
    t_add, _, got_add = best_of(repeats, lambda: [add(d, CPF_DAYS) for d in origins])

    # Baseline: numpy.busday_offset, vectorised.
    t_np, _, got_np = best_of(
        repeats, lambda: np.busday_offset(np_origins, CPF_DAYS, roll="backward", holidays=np_holidays))

    # Correctness (not timing): (a) and numpy must agree on every date.
    got_add_np = to_datetime64(got_add)
    if not np.array_equal(got_add_np, got_np):
        bad = np.flatnonzero(got_add_np != got_np)
        examples = ", ".join(f"{origins[i]} -> add {got_add[i]} / numpy {got_np[i]}" for i in bad[:5])
        raise AssertionError(f"{len(bad)} of {n_dates} deadlines differ from numpy: {examples}")

    # (b) the full engine call, with its explanation (national default centre).
    deadline = service.deadline
    t_engine, _, got_engine = best_of(
        repeats, lambda: [deadline("cpf-confirmation", d) for d in engine_origins])
    wrong = [(d, r.deadline, a) for d, r, a in zip(engine_origins, got_engine, got_add[:n_engine], strict=True) if r.deadline != a]
    if wrong:
        raise AssertionError(f"{len(wrong)} engine deadlines differ from WorkingCalendar.add: {wrong[:5]}")
    steps = sum(len(r.explanation) for r in got_engine)

    scale = n_dates / n_engine
    return {"n": n_dates, "n_engine": n_engine, "t_add": t_add, "t_np": t_np,
            "t_engine": t_engine, "t_engine_scaled": t_engine * scale, "steps": steps,
            "holidays": len(holiday_list)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="2 repeats, 20,000 dates and 5,000 engine calls (ratios scaled per date)")
    args = parser.parse_args(argv)
    repeats, n_dates, n_engine = (2, 20_000, 5_000) if args.quick else (5, 100_000, 100_000)

    print(f"cnam-calendar engine bench — Python {platform.python_version()}, numpy {np.__version__}, "
          f"{platform.machine()}; best of {repeats}{' (--quick)' if args.quick else ''}")
    print()

    b = bench_build(repeats)
    print(f"1. derive + export {len(b['centres'])} centres ({', '.join(b['centres'])}) "
          f"x {len(YEARS)} years ({YEARS[0]}-{YEARS[-1]}), rendering to bytes, no disk")
    print(f"   service.schedule + {b['how']}")
    print(f"   {'centre-years':<28}{b['n']:>12}")
    print(f"   {'events':<28}{b['events']:>12,}")
    print(f"   {'bytes of iCal':<28}{b['bytes']:>12,}")
    print(f"   {'total, first run (cold)':<28}{b['first']:>11.3f} s")
    print(f"   {'total, best':<28}{b['best']:>11.3f} s")
    print(f"   {'per centre-year, best':<28}{b['best'] / b['n'] * 1e3:>11.1f} ms")
    print()

    c = bench_cpf(repeats, n_dates, n_engine)
    per = lambda t, n: t / n * 1e6  # noqa: E731  µs per date
    scaled = "" if c["n_engine"] == c["n"] else f" (timed on {c['n_engine']:,}, scaled x{c['n'] / c['n_engine']:g})"
    print(f"2. cpf-confirmation (D + {CPF_DAYS} jours ouvrés), {c['n']:,} random dates 2026-2028 "
          f"(seed {SEED}), national calendar, {c['holidays']} holidays 2025-2029")
    print(f"   {'':<38}{'total s':>10}{'µs/date':>10}{'x numpy':>10}")
    print(f"   {'numpy.busday_offset (baseline)':<38}{c['t_np']:>10.4f}{per(c['t_np'], c['n']):>10.3f}{1:>9.1f}x")
    print(f"   {'(a) WorkingCalendar.add, Python loop':<38}{c['t_add']:>10.4f}"
          f"{per(c['t_add'], c['n']):>10.3f}{c['t_add'] / c['t_np']:>9.1f}x")
    print(f"   {'(b) service.deadline + explanation':<38}{c['t_engine_scaled']:>10.4f}"
          f"{per(c['t_engine'], c['n_engine']):>10.3f}{c['t_engine_scaled'] / c['t_np']:>9.1f}x{scaled}")
    print(f"   results: (a) == numpy on all {c['n']:,} dates; (b) == (a) on {c['n_engine']:,} dates "
          f"({c['steps'] / c['n_engine']:.1f} explanation steps per deadline)")
    print()

    print(f"build 10 years x {len(b['centres'])} centres: {b['best']:.3f} s "
          f"({b['best'] / b['n'] * 1e3:.1f} ms per centre-year, {b['events']:,} events, {b['bytes']:,} bytes)")
    print(f"ratio cpf add/numpy: {c['t_add'] / c['t_np']:.1f}x (target <= {TARGET_ADD:g}x)")
    print(f"ratio cpf engine/numpy: {c['t_engine_scaled'] / c['t_np']:.1f}x "
          "(full call with explanation; for information)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
