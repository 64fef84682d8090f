"""The behaviour model in a scoring run (issue 12): the shipped JSON is checked when loaded, the part reaches the
verdict only within the profile's limits, the profile switch turns it off, and a short data window skips it."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from support.scoring import add_label, add_transfers, addr

import chainrisk
from chainrisk.engine.behaviour import MODEL_PATH, content_hash, load_model
from chainrisk.engine.features import FEATURES_VERSION
from chainrisk.errors import InputError
from chainrisk.profiles import load_profile

CN = load_profile("cn")
DAY_BLOCKS = 7_200   # 12 s blocks


def _economy(store) -> None:
    rows = []
    # ordinary wallets: paid by an exchange and paying it back, over 150 days
    for w in range(6):
        for k in range(10):
            rows += [("ex", f"w{w}", 500, (k * 15 + w) * DAY_BLOCKS + 1),
                     (f"w{w}", "ex", 200, (k * 15 + w + 3) * DAY_BLOCKS + 2)]
    # a throwaway: eight victims pay it within a day, and it passes everything on to one address at once
    for v in range(8):
        rows += [(f"v{v}", "drop", 1_000, 100 * DAY_BLOCKS + v)]
    rows += [("drop", "sink", 8_000, 100 * DAY_BLOCKS + 50)]
    add_transfers(store, rows)
    add_label(store, "ex", "exchange")


def _row(store, run_id: str, who: str):
    return store.execute(
        "SELECT s.illicit_score, s.illicit_band, s.illicit_reason, s.behaviour_score, s.behaviour_features"
        " FROM scores s JOIN addresses a ON a.id = s.address_id WHERE s.run_id = ? AND a.address = ?",
        [run_id, addr(who)]).fetchone()


def test_a_throwaway_behaves_like_the_illicit_seeds_and_the_switch_turns_it_off(store, tmp_path):
    _economy(store)
    run = chainrisk.score(store, "cn", indicators=False)   # the behaviour part alone (no indicator to corroborate)
    score, band, reason, part, feats = _row(store, run.run_id, "drop")
    assert part >= CN.behaviour.min_part and feats
    assert band in ("low", "medium") and score == pytest.approx(min(part, 49.99), abs=0.01)   # alone: <= medium
    assert reason.startswith("behaves like the illicit addresses")
    ordinary = _row(store, run.run_id, "w0")
    assert ordinary[3] is not None and ordinary[3] < part
    params = json.loads(store.execute("SELECT params_json FROM scoring_runs WHERE run_id = ?",
                                      [run.run_id]).fetchone()[0])
    assert params["behaviour"]["content_hash"] == load_model().content_hash
    # the profile switch: no part, no behaviour columns, the graph's verdict only
    toml = Path(chainrisk.profiles.__file__).parent.joinpath("cn.toml").read_text(encoding="utf-8")
    off = tmp_path / "off.toml"
    off.write_text(toml.replace("enabled = true", "enabled = false"), encoding="utf-8")
    run2 = chainrisk.score(store, str(off), indicators=False)
    s2 = _row(store, run2.run_id, "drop")
    assert s2[3] is None and s2[0] < score and not s2[2].startswith("behaves like")
    # with its pass-through indicator the part is independent evidence: a noisy-OR above either
    run3 = chainrisk.score(store, "cn")
    s3 = _row(store, run3.run_id, "drop")
    ind = 0.75 * 50   # short_lived, severity 50 (INDICATOR_WEIGHT * severity)
    assert s3[2].startswith("behavioural indicator short_lived (severity 50), corroborated by behaviour")
    assert s3[0] == pytest.approx(100 * (1 - (1 - ind / 100) * (1 - s3[3] / 100)), abs=0.02) and s3[1] == "high"
    [res] = chainrisk.lookup(store, [addr("drop")], run_id=run.run_id)
    assert res.to_dict()["behaviour"]["behaves_like"] == "illicit"
    assert any(line.startswith("behaves like") for line in res.reasons())


def test_a_short_data_window_skips_the_model(store):
    add_transfers(store, [("a", "b", 100, 1), ("b", "c", 100, 2)])
    run = chainrisk.score(store, "cn")
    assert _row(store, run.run_id, "b")[3] is None
    params = json.loads(store.execute("SELECT params_json FROM scoring_runs WHERE run_id = ?",
                                      [run.run_id]).fetchone()[0])
    assert params["behaviour"] is None and "data window" in params["behaviour_skipped"]


def test_the_shipped_model_is_checked_when_loaded(tmp_path):
    doc = json.loads(MODEL_PATH.read_text(encoding="utf-8"))
    assert doc["content_hash"] == content_hash(doc) and doc["features_version"] == FEATURES_VERSION
    assert doc["cv"]["auc"] >= 0.7 and all(f["sha256"] for f in doc["training"]["files"])
    # file paths are relative to the datasets folder: no path of the machine that trained it
    assert all(not Path(f["path"]).is_absolute() and ".." not in Path(f["path"]).parts
               for f in doc["training"]["files"])
    edited = dict(doc, model=dict(doc["model"], intercept=doc["model"]["intercept"] + 1))
    (tmp_path / "edited.json").write_text(json.dumps(edited), encoding="utf-8")
    with pytest.raises(InputError, match="content hash"):
        load_model(tmp_path / "edited.json")
    other = dict(doc, features_version="0")
    other["content_hash"] = content_hash(other)
    (tmp_path / "old.json").write_text(json.dumps(other), encoding="utf-8")
    with pytest.raises(InputError, match="retrain"):
        load_model(tmp_path / "old.json")
    with pytest.raises(InputError, match="not found"):
        load_model(tmp_path / "missing.json")


def test_the_model_evaluates_in_numpy_without_an_ml_library():
    import sys

    m = load_model()
    import numpy as np

    x = np.zeros((3, len(m.features)))
    part = m.evaluate(x)
    assert part.shape == (3,) and ((part > 0) & (part < 100)).all()
    assert not any(k.split(".")[0] in ("sklearn", "lightgbm", "torch") for k in sys.modules)
    assert dataclasses.is_dataclass(m)


def test_the_read_role_sees_the_behaviour_part_through_the_one_redaction_step(store):
    from chainrisk.answers.redact import redact

    _economy(store)
    run = chainrisk.score(store, "cn", indicators=False)
    [res] = chainrisk.lookup(store, [addr("drop")], run_id=run.run_id)
    full = res.to_dict()
    red = redact(full, "read")
    assert red["behaviour"] == full["behaviour"] and red["behaviour"]["top"]
    # the combined reason of a verdict resting on behaviour alone is the behaviour sentence, not "no exposure"
    assert full["top_category"] is None and red["reason"] == full["behaviour"]["sentence"]
