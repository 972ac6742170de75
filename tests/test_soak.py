"""`attnhw soak` runs engine jobs too: one replayed engine job, its record and JSON."""

import json
import os

from attnhw.soak import random_engine_job, random_engine_params, soak

SIM = os.environ.get("SIM", "verilator")


def test_engine_jobs_are_reproducible_from_the_seed():
    p = random_engine_params(1, 0)
    assert p == random_engine_params(1, 0) and p != random_engine_params(2, 0)
    a, b = random_engine_job(p, 1, 0, 3), random_engine_job(p, 1, 0, 3)
    assert [h["q"].tolist() for h in a[0]] == [h["q"].tolist() for h in b[0]]
    assert sum(len(h["q"]) for h in a[0]) * p.head_dim >= 6000


def test_soak_replays_an_engine_job(tmp_path):
    path = tmp_path / "soak.json"
    s = soak(1, 1, 1, simulator=SIM, json_path=path, replay="engine:0.1", log=lambda *_: None)
    rec = json.loads(path.read_text())["records"]
    assert len(rec) == 1 and rec[0]["top"] == "engine" and rec[0]["ok"]
    assert rec[0]["words"] >= 6000 and rec[0]["mismatches"] == 0
    assert s["engine_words"] == rec[0]["words"] and s["core_words"] == 0
    assert rec[0]["replay"] == "attnhw soak --seed 1 --replay engine:0.1"
