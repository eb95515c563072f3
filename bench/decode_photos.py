"""Kiosk decoder against plain zxing-cpp and plain pyzbar on real photographs, same run.

The data set (default /work/shared/data/qr-photos, the training half of the BoofCV QR
benchmark) has one folder per category; beside each image, `imageNNN.txt` gives every
code's four corners on the stored pixels (before EXIF orientation). A decoded code counts
when its centre lies inside a ground-truth quadrilateral, one match per quadrilateral.

What the readers see: the kiosk camera delivers grey frames of ~1-2 MP, while these photos
go up to 12 MP. Every image is read as grey stored pixels (EXIF orientation ignored, so the
ground truth applies) and scaled down with area averaging so that it holds at most
`--max-mp` megapixels (default 2); smaller photos are left as they are. All three readers
get that same array; loading and scaling are not timed. Corners are mapped back to stored
pixels before matching.

  kiosk   firmware.kiosk.decode.Decoder() as the kiosk builds it (the ladder, no budget)
  zxing   zxingcpp.read_barcodes(grey, formats=QRCode) with its defaults
  pyzbar  pyzbar.decode(grey, symbols=[QRCODE])

  --study runs every candidate rung of the decoder alone on every photo and picks a ladder
          greedily by images gained per millisecond (a training aid; the ladder in
          decode.py is what the plain run measures).
Last line: JSON summary.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from firmware.kiosk.decode import Code, Decoder, candidate_steps, ladder, unscale, zxing_corners

DATA = Path("/work/shared/data/qr-photos")
SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp"}


def load_truth(path: Path) -> list[np.ndarray]:
    """Quadrilaterals (4x2 float32) from a ground-truth file: 'SETS' then 8 numbers per
    line, or (older files) one corner per line, four lines per code."""
    lines = [ln.strip() for ln in path.read_text().splitlines()]
    lines = [ln for ln in lines if ln and not ln.startswith("#")]
    if lines and lines[0] == "SETS":
        rows = [[float(v) for v in ln.split()] for ln in lines[1:]]
        return [np.array(r[:8], np.float32).reshape(4, 2) for r in rows if len(r) >= 8]
    pts = [[float(v) for v in ln.split()[:2]] for ln in lines]
    return [np.array(pts[i : i + 4], np.float32) for i in range(0, len(pts) - 3, 4)]


def load_image(path: Path, max_mp: float) -> tuple[np.ndarray, float]:
    """Grey stored pixels, downscaled to at most max_mp megapixels; and that scale."""
    grey = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE | cv2.IMREAD_IGNORE_ORIENTATION)
    if grey is None:
        raise ValueError(f"{path}: not readable")
    h, w = grey.shape
    scale = min(1.0, (max_mp * 1e6 / (w * h)) ** 0.5) if max_mp > 0 else 1.0
    if scale < 1.0:
        grey = cv2.resize(grey, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(grey), scale


def matched(codes: list[Code], quads: list[np.ndarray], scale: float) -> int:
    """Quadrilaterals with a decoded code's centre inside; each code matches one quad."""
    used: set[int] = set()
    hits = 0
    for quad in quads:
        for i, code in enumerate(codes):
            if i in used:
                continue
            cx = sum(p[0] for p in code.corners) / 4 / scale
            cy = sum(p[1] for p in code.corners) / 4 / scale
            if cv2.pointPolygonTest(quad.reshape(-1, 1, 2), (cx, cy), False) >= 0:
                used.add(i)
                hits += 1
                break
    return hits


def zxing_plain(grey: np.ndarray) -> list[Code]:
    import zxingcpp

    return [Code(b.text, zxing_corners(b.position))
            for b in zxingcpp.read_barcodes(grey, formats=zxingcpp.BarcodeFormat.QRCode)]


def pyzbar_plain(grey: np.ndarray) -> list[Code]:
    from pyzbar import pyzbar

    out = []
    for s in pyzbar.decode(grey, symbols=[pyzbar.ZBarSymbol.QRCODE]):
        poly = [(float(p.x), float(p.y)) for p in s.polygon] or [(0.0, 0.0)]
        # the centre of the polygon's bounding box: zbar's polygon may have more than 4 points
        xs, ys = [p[0] for p in poly], [p[1] for p in poly]
        box = ((min(xs), min(ys)), (max(xs), min(ys)), (max(xs), max(ys)), (min(xs), max(ys)))
        out.append(Code(s.data.decode("utf-8", "replace"), box))
    return out


def photos(root: Path, categories: list[str] | None) -> list[tuple[str, Path, list[np.ndarray]]]:
    out = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        if categories and folder.name not in categories:
            continue
        for img in sorted(p for p in folder.iterdir() if p.suffix.lower() in SUFFIXES):
            truth = img.with_suffix(".txt")
            if truth.exists():
                out.append((folder.name, img, load_truth(truth)))
    return out


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else 0.0


def summary(rows: list[dict]) -> dict:
    return {
        "images": len(rows),
        "images_read": round(100 * sum(r["hits"] > 0 for r in rows) / max(1, len(rows)), 1),
        "codes_read": round(
            100 * sum(r["hits"] for r in rows) / max(1, sum(r["codes"] for r in rows)), 1
        ),
        "median_ms": round(statistics.median(r["ms"] for r in rows), 1) if rows else 0.0,
        "p95_ms": round(pct([r["ms"] for r in rows], 0.95), 1),
    }


READERS = ("kiosk", "zxing", "pyzbar")


def run_bench(items, max_mp: float) -> dict:
    decoder = Decoder()
    rows: dict[str, dict[str, list[dict]]] = {}
    steps: dict[str, int] = {}
    for category, path, quads in items:
        grey, scale = load_image(path, max_mp)
        per = rows.setdefault(category, {r: [] for r in READERS})
        for reader in READERS:
            start = time.perf_counter()
            if reader == "kiosk":
                result = decoder.decode(grey)
                codes = list(result.codes)
                if codes:
                    steps[result.step or "-"] = steps.get(result.step or "-", 0) + 1
            elif reader == "zxing":
                codes = zxing_plain(grey)
            else:
                codes = pyzbar_plain(grey)
            ms = (time.perf_counter() - start) * 1000
            per[reader].append(
                {"hits": matched(codes, quads, scale), "codes": len(quads), "ms": ms}
            )
    out: dict = {"input": f"grey stored pixels, at most {max_mp} MP", "categories": {}}
    head = " | ".join(f"{r:^28}" for r in READERS)
    print(f"{'':<13} {head}")
    print(
        f"{'category':<13} "
        + " | ".join(f"{'img %':>6} {'code %':>6} {'med':>6} {'p95':>6}" for _ in READERS)
    )

    def line(name: str, sums: dict) -> None:
        cells = [
            f"{s['images_read']:>6} {s['codes_read']:>6} {s['median_ms']:>6} {s['p95_ms']:>6}"
            for s in (sums[r] for r in READERS)
        ]
        print(f"{name:<13} " + " | ".join(cells))

    for category, per in rows.items():
        sums = {r: summary(per[r]) for r in READERS}
        out["categories"][category] = sums
        line(category, sums)
    overall = {r: summary([x for per in rows.values() for x in per[r]]) for r in READERS}
    out["overall"] = overall
    line("OVERALL", overall)
    print("kiosk reads by rung:", json.dumps(steps))
    out["rungs"] = steps
    out["below_zxing"] = [
        c
        for c, s in out["categories"].items()
        if s["kiosk"]["images_read"] < s["zxing"]["images_read"]
    ]
    out["median_ratio_to_zxing"] = round(
        overall["kiosk"]["median_ms"] / max(1e-9, overall["zxing"]["median_ms"]), 2
    )
    glare = out["categories"].get("glare", {}).get("kiosk", {}).get("images_read")
    out["targets_met"] = (
        overall["kiosk"]["images_read"] >= 90
        and (glare is None or glare >= 85)
        and not out["below_zxing"]
        and out["median_ratio_to_zxing"] <= 2.0
    )
    return out


def run_study(items, max_mp: float, names: list[str] | None, dump: Path | None = None) -> dict:
    """Every candidate alone on every photo, then a greedy ladder by images gained per ms."""
    candidates = ladder(names) if names else candidate_steps()
    reads: dict[str, set[int]] = {c.name: set() for c in candidates}
    ms: dict[str, list[float]] = {c.name: [] for c in candidates}
    cats = [c for c, _, _ in items]
    for i, (_category, path, quads) in enumerate(items):
        grey, scale = load_image(path, max_mp)
        for c in candidates:
            start = time.perf_counter()
            image = c.prepare(grey)
            codes = c.engine(image) if image is not None else []
            ms[c.name].append((time.perf_counter() - start) * 1000)
            codes = [unscale(x, c.scale, grey.shape) for x in codes]
            if matched(codes, quads, scale):
                reads[c.name].add(i)
    n = len(items)
    if dump is not None:  # per-photo results, to compare ladders without rerunning
        dump.write_text(
            json.dumps(
                {
                    "photos": [f"{c}/{p.name}" for c, p, _ in items],
                    "reads": {k: sorted(v) for k, v in reads.items()},
                    "ms": ms,
                }
            )
        )
    print(f"study: {n} photos, at most {max_mp} MP")
    for c in candidates:
        print(
            f"  {c.name:<28} alone {100 * len(reads[c.name]) / n:5.1f} %  median "
            f"{statistics.median(ms[c.name]):7.1f} ms  mean {statistics.mean(ms[c.name]):7.1f} ms"
        )
    chosen: list[str] = []
    covered: set[int] = set()
    remaining = [c.name for c in candidates]
    while remaining:

        def value(name: str, covered: set[int] = covered) -> float:
            gained = len(reads[name] - covered)
            cost = statistics.mean(ms[name][i] for i in range(n) if i not in covered) or 1e-3
            return gained / cost

        best = max(remaining, key=value)
        gained = reads[best] - covered
        if not gained:
            break
        chosen.append(best)
        covered |= gained
        remaining.remove(best)
        by_cat: dict[str, int] = {}
        for i in gained:
            by_cat[cats[i]] = by_cat.get(cats[i], 0) + 1
        cost = statistics.mean(ms[best][i] for i in range(n) if i not in covered - gained)
        print(
            f"  + {best:<28} +{len(gained):>2} -> {100 * len(covered) / n:5.1f} %  "
            f"({cost:6.1f} ms on the unread) {by_cat}"
        )
    return {
        "ladder": chosen,
        "covered": round(100 * len(covered) / n, 1),
        "alone": {k: round(100 * len(v) / n, 1) for k, v in reads.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--max-mp", type=float, default=2.0, help="0: full resolution")
    parser.add_argument("--category", action="append", help="only these categories")
    parser.add_argument(
        "--study", action="store_true", help="every candidate rung alone, greedy ladder"
    )
    parser.add_argument(
        "--steps", nargs="*", help="with --study: only these engine:preparation rungs"
    )
    parser.add_argument("--dump", type=Path, help="with --study: write per-photo results (JSON)")
    args = parser.parse_args()
    items = photos(args.data, args.category)
    if not items:
        raise SystemExit(f"{args.data}: no photos with ground truth")
    start = time.perf_counter()
    result = (
        run_study(items, args.max_mp, args.steps, args.dump)
        if args.study
        else run_bench(items, args.max_mp)
    )
    result["seconds"] = round(time.perf_counter() - start, 1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
