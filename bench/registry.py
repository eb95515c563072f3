"""Benchmark: importing a district register of 100,000 venues from CSV.

A district loads its whole existing register at once (Erqi had 80,921 venue codes), so
the import must take seconds, not hours. Measured in the same run, on the same text:
  baseline   csv parsing alone (csv.reader over the text), no validation, no writes:
             the floor any CSV import pays;
  validate   parsing + every field rule (build_venue), no writes;
  import     the real thing: csv_io.import_text into a fresh SQLite register file
             (validation, cross-row checks, one transaction).
Each is run --runs times (fresh register each time); medians are reported. The last
line of output is a JSON summary.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import statistics
import tempfile
import time
from pathlib import Path

from provisioning import csv_io, sample_register
from provisioning.registry import InvalidVenue, Registry, build_venue


def baseline(text: str) -> int:
    return sum(1 for _ in csv.reader(io.StringIO(text, newline=""))) - 1


def validate_only(text: str) -> int:
    good = 0
    for _line, fields, _problem in csv_io.read_rows(text):
        if fields is None:
            continue
        try:
            build_venue(fields)
            good += 1
        except InvalidVenue:
            pass
    return good


def run_import(text: str, folder: Path, i: int) -> int:
    with Registry(folder / f"register-{i}.db") as registry:
        report = csv_io.import_text(registry, text)
        return report.loaded


def timed(fn, *args) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench/registry.py")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    text, planted = sample_register.csv_text(args.rows)
    print(f"register: {args.rows} rows, {len(text) / 1e6:.1f} MB, {len(planted)} planted bad rows")
    results: dict[str, list[float]] = {"baseline_csv_parse": [], "validate_only": [], "import": []}
    loaded = 0
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.runs):
            seconds, _ = timed(baseline, text)
            results["baseline_csv_parse"].append(args.rows / seconds)
            seconds, _ = timed(validate_only, text)
            results["validate_only"].append(args.rows / seconds)
            seconds, loaded = timed(run_import, text, Path(tmp), i)
            results["import"].append(args.rows / seconds)
            print(
                f"run {i + 1}: "
                + ", ".join(f"{k} {v[-1]:,.0f} rows/s" for k, v in results.items())
            )
    medians = {k: round(statistics.median(v)) for k, v in results.items()}
    summary = {
        "bench": "registry_csv_import",
        "rows": args.rows,
        "bad_rows": len(planted),
        "loaded": loaded,
        "runs": args.runs,
        "import_rows_per_s": medians["import"],
        "validate_only_rows_per_s": medians["validate_only"],
        "baseline_csv_parse_rows_per_s": medians["baseline_csv_parse"],
        "import_seconds": round(args.rows / medians["import"], 2),
        "import_vs_baseline": round(medians["import"] / medians["baseline_csv_parse"], 3),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
