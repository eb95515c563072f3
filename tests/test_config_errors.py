"""A bad config file stops the process with ONE line that names the key and the problem.

That line is what an installer sees in `systemctl status`; the units do not restart on
exit code 2 (RestartPreventExitStatus=2), since restarting cannot fix a config file.
Each kind of mistake — missing key, wrong type, unknown key (a typo) — for the kiosk, the
kiosk as a systemd service, and the gateway, through the real command lines.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from firmware.kiosk import config as kiosk_config
from gateway import config as gateway_config

REPO = Path(__file__).resolve().parent.parent

KIOSK_TOP = 'site = "s1"\nkiosk = "k1"\ndoor = "d1"\ndata_dir = "/tmp/placecode-k1"\n'
KIOSK_DEVICES = '[input]\nkind = "camera"\n\n[signal]\nkind = "board"\n'
KIOSK_OK = KIOSK_TOP + KIOSK_DEVICES
GATEWAY_OK = ('site = "s1"\ndb_path = "/tmp/placecode-gw.sqlite"\n'
              'pseudonym_key = "0123456789abcdef0123"\n')

# (name, file text, the key the message must name, words the problem must contain)
KIOSK_BAD = [
    ("missing", KIOSK_OK.replace('door = "d1"\n', ""), "door", "required"),
    ("missing_device", KIOSK_TOP + '[signal]\nkind = "board"\n', "input", "required"),
    ("missing_kind", KIOSK_OK.replace('kind = "board"\n', 'port = "/dev/ttyACM0"\n'),
     "signal.kind", "required"),
    ("wrong_type", KIOSK_OK + "[broker]\nport = \"eighteen\"\n", "broker.port", "integer"),
    ("wrong_type_top", KIOSK_TOP + "verdict_timeout_s = \"fast\"\n" + KIOSK_DEVICES,
     "verdict_timeout_s", "number"),
    ("unknown", KIOSK_TOP + "verdict_timeout = 2\n" + KIOSK_DEVICES, "verdict_timeout",
     "not permitted"),
    ("unknown_nested", KIOSK_OK.replace('kind = "camera"\n', 'kind = "camera"\nratehz = 3\n'),
     "input.ratehz", "not permitted"),
    ("out_of_range", KIOSK_OK + "[broker]\nport = 70000\n", "broker.port", "65535"),
    ("bad_name", KIOSK_OK.replace('"k1"', '"Kiosk 1"'), "kiosk", "a-z"),
]
GATEWAY_BAD = [
    ("missing", GATEWAY_OK.replace('site = "s1"\n', ""), "site", "required"),
    ("wrong_type", GATEWAY_OK + "[http]\nport = [8800]\n", "http.port", "integer"),
    ("unknown", GATEWAY_OK + "pseudonym = \"x\"\n", "pseudonym", "not permitted"),
    ("unknown_nested", GATEWAY_OK + "[platform]\ndeadline_s = 1\n", "platform.deadline_s",
     "not permitted"),
    ("too_short", GATEWAY_OK.replace("0123456789abcdef0123", "short"), "pseudonym_key", "16"),
]


@pytest.mark.parametrize(
    "name,text,key,problem", KIOSK_BAD, ids=[getattr(c, "values", c)[0] for c in KIOSK_BAD]
)
def test_kiosk_loader_names_the_key(tmp_path: Path, name, text, key, problem):
    path = tmp_path / "kiosk.toml"
    path.write_text(text)
    with pytest.raises(kiosk_config.ConfigError) as caught:
        kiosk_config.load(path)
    message = str(caught.value)
    assert "\n" not in message
    assert f": {key}: " in message or f": {key}:" in message, message
    assert problem in message, message


@pytest.mark.parametrize("name,text,key,problem", GATEWAY_BAD, ids=[c[0] for c in GATEWAY_BAD])
def test_gateway_loader_names_the_key(tmp_path: Path, name, text, key, problem):
    path = tmp_path / "gateway.toml"
    path.write_text(text)
    with pytest.raises(kiosk_config.ConfigError) as caught:
        gateway_config.load(path)
    message = str(caught.value)
    assert "\n" not in message
    assert f": {key}: " in message, message
    assert problem in message, message


def test_good_files_load(tmp_path: Path):
    (tmp_path / "k.toml").write_text(KIOSK_OK)
    (tmp_path / "g.toml").write_text(GATEWAY_OK)
    assert kiosk_config.load(tmp_path / "k.toml").door == "d1"
    assert gateway_config.load(tmp_path / "g.toml").site == "s1"


ENTRY_POINTS = {
    "kiosk": ("firmware.kiosk", KIOSK_BAD),
    "kiosk-simulators": ("simulators.kiosk", KIOSK_BAD),
    "gateway": ("gateway", GATEWAY_BAD),
}


@pytest.mark.parametrize("entry", list(ENTRY_POINTS))
def test_each_kind_of_mistake_stops_the_process_with_one_line(tmp_path: Path, entry: str):
    module, cases = ENTRY_POINTS[entry]
    kinds = {"missing", "wrong_type", "unknown"}
    running = []
    for case in cases:
        name, text, key, problem = getattr(case, "values", case)
        if name not in kinds:
            continue
        path = tmp_path / f"{name}.toml"
        path.write_text(text)
        running.append((key, problem, subprocess.Popen(
            [sys.executable, "-m", module, "--config", str(path)], cwd=tmp_path,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=dict(os.environ, PYTHONPATH=str(REPO)))))
    assert len(running) == 3
    for key, problem, proc in running:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 2, (out, err)
        lines = [line for line in err.splitlines() if line.strip()]
        assert len(lines) == 1, err
        assert f": {key}: " in lines[0] and problem in lines[0], lines[0]
        assert "Traceback" not in err and out == ""


@pytest.mark.parametrize("device", ['[input]\nkind = "simulated"\n\n[signal]\nkind = "board"\n',
                                    '[input]\nkind = "camera"\n\n[signal]\nkind = "lights"\n'])
def test_an_installed_kiosk_refuses_simulated_devices(tmp_path: Path, device: str):
    path = tmp_path / "kiosk.toml"
    path.write_text(KIOSK_TOP + device)
    proc = subprocess.run([sys.executable, "-m", "firmware.kiosk", "--config", str(path)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "is a simulator" in lines[0], proc.stderr
    assert not (tmp_path / "placecode-k1").exists()


def test_units_do_not_restart_on_a_bad_config():
    for unit in ("placecode-kiosk.service", "placecode-gateway.service"):
        text = (REPO / "deploy" / "files" / unit).read_text()
        assert "RestartPreventExitStatus=2" in text and "Restart=always" in text
