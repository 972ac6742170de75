"""`attnhw bench` end to end on a tiny configuration: records, table and plot are
written; the floor is recomputed here from its definition, and no run beats it
(a cycle count below the floor would mean a miscount or a skipped computation)."""

import json

from attnhw.cli import main


def test_bench_writes_records_table_and_plot(tmp_path, capsys):
    code = main(["bench", "--configs", "8:4:2,8:8:1", "--seq-lens", "4,16", "--max-seq-len", "16",
                 "--out-dir", str(tmp_path), "--json", str(tmp_path / "copy.json")])
    out = capsys.readouterr().out
    assert code == 0
    records = json.loads((tmp_path / "bench.json").read_text())["records"]
    assert json.loads((tmp_path / "copy.json").read_text())["records"] == records
    assert [(r["head_dim"], r["lanes"], r["block"], r["seq_len"]) for r in records] == [
        (8, 4, 2, 4), (8, 4, 2, 16), (8, 8, 1, 4), (8, 8, 1, 16)]
    for r in records:
        floor = r["seq_len"] * r["seq_len"] * r["head_dim"] / (r["lanes"] * r["block"])
        assert r["floor"] == floor
        assert floor < r["cycles"]
        assert abs(r["utilisation"] - floor / r["cycles"]) < 1e-4
        assert r["kv_load_cycles"] >= r["seq_len"] * r["head_dim"] // r["lanes"]
        assert r["words_compared"] == r["seq_len"] * r["head_dim"]
    assert (tmp_path / "bench.png").stat().st_size > 10_000
    table = (tmp_path / "bench.md").read_text()
    assert table.count("\n| 8 |") == 4 and "| 16 | 1 |" in table
    assert "wrote" in out


def test_bench_rejects_a_bad_config_before_running(capsys):
    assert main(["bench", "--configs", "8:3:1", "--seq-lens", "4"]) == 2
    assert "lanes=3 must divide head_dim=8" in capsys.readouterr().err
    assert main(["bench", "--configs", "8:4", "--seq-lens", "4"]) == 2
    assert "--configs '8:4': expected comma-separated N:N:N" in capsys.readouterr().err


def test_bench_takes_the_preset_and_refuses_an_unknown_one(capsys):
    assert main(["bench", "--preset", "ecp5", "--configs", "8:4:1", "--seq-lens", "4"]) == 2
    assert "unknown preset 'ecp5'" in capsys.readouterr().err
