"""The README's verification recipe, run as a stand-alone script against our records."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from schemas.catalogue import model_for
from schemas.envelope import to_record
from schemas.signing import PrivateKey, b64
from tests.unit.helpers import sealed

SCRIPT = Path(__file__).parents[2] / "docs" / "verify_event.py"
KEY = PrivateKey.generate("urn:emining:pk:gov:ba-mmdd")


def _dump(tmp_path: Path, headers, value: bytes) -> Path:
    path = tmp_path / "record.json"
    path.write_text(json.dumps({"headers": {k: v.decode() for k, v in headers},
                                "value": value.decode()}, ensure_ascii=False))
    return path


def _run(path: Path):
    return subprocess.run([sys.executable, str(SCRIPT), str(path), b64(KEY.public_key)],
                          capture_output=True, text=True, check=False)


def test_stock_libraries_verify_our_event_and_compute_its_chain_hash(tmp_path):
    model = model_for("pk.emining.approval.licence.granted")
    env = sealed(model.model_validate(model.EXAMPLE), KEY)
    record = to_record(env)
    result = _run(_dump(tmp_path, record.headers, record.value))
    assert result.returncode == 0, result.stderr
    assert f"valid signature by {env.source}; hash {env.hash()}" in result.stdout


def test_stock_libraries_reject_a_changed_value(tmp_path):
    model = model_for("pk.emining.approval.licence.granted")
    record = to_record(sealed(model.model_validate(model.EXAMPLE), KEY))
    tampered = record.value.replace(b'"term_years":3', b'"term_years":30')
    assert tampered != record.value
    result = _run(_dump(tmp_path, record.headers, tampered))
    assert result.returncode != 0
    assert "BadSignatureError" in result.stderr
