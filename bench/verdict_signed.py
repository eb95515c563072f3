"""How long the kiosk takes to judge a signed code on its own, and what that costs over
the parts it cannot avoid.

Measured in one run, interleaved so that load from other processes hits every case alike:
  decode_only      HC1 text -> COSE bytes (base45 + zlib), the floor of any verifier
  ecdsa_raw        one bare P-256 ECDSA verify from `cryptography`, the crypto floor
  verify_es256     verify() end to end: text -> Result, ES256, trust list of --keys keys
  verify_ps256     the same with an RSA-2048 PSS issuer
  qr_and_verify    decode a rendered QR image with the kiosk's decoder (decode.py, zxing-cpp
                   first rung), then verify(): the whole path from pixels (informative)
Target (issue 10): verification <= 15 ms at p99 on this machine. Last line: JSON summary.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from firmware.signed import cose, envelope
from firmware.signed.trustlist import TrustList
from firmware.signed.verify import verify
from provisioning import keys

TARGET_MS = 15.0


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=2000, help="runs per case")
    parser.add_argument("--keys", type=int, default=300, help="keys in the trust list")
    parser.add_argument("--qr-runs", type=int, default=200, help="runs of qr_and_verify")
    args = parser.parse_args()

    es = keys.new_issuer("CN", "ES256")
    ps = keys.new_issuer("CN", "PS256")
    filler = [keys.new_issuer("CN", "ES256").trusted_key() for _ in range(max(0, args.keys - 2))]
    trust = TrustList(1, (es.trusted_key(), ps.trusted_key(), *filler))
    code_es = keys.sign_code(es)
    code_ps = keys.sign_code(ps)
    assert verify(code_es, trust).valid and verify(code_ps, trust).valid

    msg = cose.decode_sign1(envelope.unwrap(code_es))
    tbs = cose.sig_structure(msg.protected_bytes, msg.payload)
    der = encode_dss_signature(
        int.from_bytes(msg.signature[:32], "big"), int.from_bytes(msg.signature[32:], "big")
    )
    public = es.private_key.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)

    import numpy as np
    import segno
    from PIL import Image

    from firmware.kiosk.decode import Decoder

    png = Path("/tmp") / f"bench-verdict-signed-{id(args)}.png"
    segno.make(code_es, error="q").save(str(png), scale=4, border=4)
    with Image.open(png) as img:
        frame = np.asarray(img.convert("L"))
    png.unlink()
    decoder = Decoder()

    def qr_and_verify() -> None:
        text = decoder.decode(frame).codes[0].text
        assert verify(text, trust).valid

    cases = {
        "decode_only": lambda: envelope.unwrap(code_es),
        "ecdsa_raw": lambda: public.verify(der, tbs, ec.ECDSA(hashes.SHA256())),
        "verify_es256": lambda: verify(code_es, trust),
        "verify_ps256": lambda: verify(code_ps, trust),
        "qr_and_verify": qr_and_verify,
    }
    runs = {name: args.qr_runs if name == "qr_and_verify" else args.n for name in cases}
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for fn in cases.values():  # warm-up
        for _ in range(20):
            fn()
    for i in range(max(runs.values())):
        for name, fn in cases.items():
            if i < runs[name]:
                t0 = time.perf_counter()
                fn()
                samples[name].append((time.perf_counter() - t0) * 1000)

    summary: dict[str, dict[str, float]] = {}
    for name, values in samples.items():
        summary[name] = {
            "p50_ms": round(statistics.median(values), 4),
            "p99_ms": round(percentile(values, 99), 4),
            "n": len(values),
        }
        s = summary[name]
        print(f"{name:<14} p50 {s['p50_ms']:8.3f} ms   p99 {s['p99_ms']:8.3f} ms   (n={s['n']})")
    worst_verify = max(summary["verify_es256"]["p99_ms"], summary["verify_ps256"]["p99_ms"])
    overhead = summary["verify_es256"]["p50_ms"] - summary["ecdsa_raw"]["p50_ms"]
    print(f"verify() over the raw ECDSA verify: {overhead:.3f} ms at p50")
    print(
        json.dumps(
            {
                "bench": "verdict_signed",
                "trust_list_keys": len(trust.keys),
                "cases": summary,
                "baseline": {
                    "decode_only": summary["decode_only"],
                    "ecdsa_raw": summary["ecdsa_raw"],
                },
                "verify_overhead_over_ecdsa_p50_ms": round(overhead, 4),
                "target_ms": TARGET_MS,
                "target_met": worst_verify <= TARGET_MS,
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
