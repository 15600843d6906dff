"""The README's verification recipe, run as a stand-alone script against our records."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from schemas.catalogue import model_for
from schemas.envelope import to_record
from schemas.envelope_read import from_record
from schemas.signing import PrivateKey, Verifier, b64
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


def test_an_event_relayed_with_its_time_rewritten_still_verifies_with_the_same_hash(tmp_path):
    """A relay (a stock CloudEvents SDK) may write ...T11:00:00Z for ...T11:00:00.000000Z: the
    signature covers the canonical form, so the event and its chain link still hold."""
    model = model_for("pk.emining.approval.licence.granted")
    env = sealed(model.model_validate(model.EXAMPLE), KEY)
    assert env.attributes["time"].endswith(".000000Z")
    record = to_record(env)
    short = env.attributes["time"].replace(".000000Z", "Z").encode()
    relayed = [(k, short if k == "ce_time" else v) for k, v in record.headers]
    result = _run(_dump(tmp_path, relayed, record.value))
    assert result.returncode == 0, result.stderr
    assert f"hash {env.hash()}" in result.stdout
    again = from_record(record.key, record.value, relayed)
    Verifier(KEY.public_key).verify(again.signing_input(), again.signature)
    assert again.hash() == env.hash()
    later = [(k, b"2026-03-01T09:30:00.000001Z" if k == "ce_time" else v)
             for k, v in record.headers]  # another moment is another event: refused
    assert _run(_dump(tmp_path, later, record.value)).returncode != 0
