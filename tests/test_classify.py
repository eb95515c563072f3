"""What was read decides what the door does: health codes become events, the rest a prompt."""

from __future__ import annotations

import json

import numpy as np
import pytest

from firmware.kiosk.classify import Classifier, compile_platforms, load_patterns, mask
from simulators import scenes_payloads as payloads


@pytest.fixture
def classifier() -> Classifier:
    return Classifier()


def test_demo_platform_url_is_an_online_health_code(classifier: Classifier) -> None:
    rng = np.random.default_rng(1)
    for _ in range(20):
        result = classifier.classify(payloads.health_url(rng))
        assert (result.kind, result.platform) == ("code", "henan-demo")


def test_hc1_text_is_a_signed_code(classifier: Classifier) -> None:
    rng = np.random.default_rng(2)
    assert classifier.classify(payloads.signed_code(rng)).kind == "signed_code"


@pytest.mark.parametrize(
    "payload",
    [
        "https://qr.alipay.com/fkx12345abcdef",
        "wxp://f2f0AbCdEfGhIjKlMnOpQrStUvWxYz01",
        "https://venue.example.cn/poster?id=123456",
        "hello world",
        "",
        # almost a health code: wrong token length, extra query, other host,
        # token in a payment link
        "https://hc.henan.example/yk/v1?t=" + "a" * 31,
        "https://hc.henan.example/yk/v1?t=" + "a" * 32 + "&x=1",
        "https://hc.evil.example/yk/v1?t=" + "a" * 32,
        "https://qr.alipay.com/?u=https://hc.henan.example/yk/v1?t=" + "a" * 32,
        # HC1 prefix with text that is not base45, or too short to hold a signature
        "HC1:this is lower case and not base45 at all, not a signed code",
        "HC1:ABC",
    ],
)
def test_everything_else_is_not_a_health_code(classifier: Classifier, payload: str) -> None:
    assert classifier.classify(payload).kind == "not_health_code"
    assert not classifier.classify(payload).is_health_code


def test_not_health_payloads_from_the_simulator_are_rejected(classifier: Classifier) -> None:
    rng = np.random.default_rng(3)
    assert all(
        classifier.classify(payloads.not_health(rng)).kind == "not_health_code" for _ in range(30)
    )


def test_patterns_come_from_a_config_file(tmp_path) -> None:
    path = tmp_path / "patterns.json"
    path.write_text(json.dumps({"zhengzhou": r"https://zz\.example/c\?k=[0-9]{10}"}))
    classifier = Classifier(load_patterns(path))
    assert classifier.classify("https://zz.example/c?k=0123456789").platform == "zhengzhou"
    # the demo platform is not configured here, so its codes are not health codes
    assert (
        classifier.classify("https://hc.henan.example/yk/v1?t=" + "a" * 32).kind
        == "not_health_code"
    )


def test_bad_pattern_config_names_the_entry(tmp_path) -> None:
    with pytest.raises(ValueError, match="broken"):
        compile_platforms({"broken": "(unclosed"})
    with pytest.raises(ValueError, match="non-empty"):
        compile_platforms({})
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="bad.json"):
        load_patterns(bad)
    with pytest.raises(ValueError, match="missing.json"):
        load_patterns(tmp_path / "missing.json")


def test_mask_keeps_the_token_out_of_logs() -> None:
    url = "https://hc.henan.example/yk/v1?t=SECRETsecretSECRETsecret12345678"
    assert "SECRET" not in mask(url) and "secret" not in mask(url)
