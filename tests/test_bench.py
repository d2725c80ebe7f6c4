"""The benchmark's own machinery, at a tiny scale, so it cannot rot unnoticed. (Its
figures are measured by `python -m bench.run`, never asserted here.)"""

from __future__ import annotations

from datetime import date

from bench.generate import generate
from bench.phases import expand_all, sweep, sync_db
from govcal.rules.loader import load_partnerships


def test_generator_writes_valid_partnerships_deterministically(tmp_path):
    ids = generate(tmp_path / "a", partnerships=3, schools=30, seed=7)
    generate(tmp_path / "b", partnerships=3, schools=30, seed=7)
    assert ids == ["syn-001", "syn-002", "syn-003"]
    assert [p.id for p in load_partnerships([tmp_path / "a" / "rules"])] == ids
    for name in ("rules/syn-002.yaml", "directory/syn-003/schools.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    counts = [
        (tmp_path / "a" / "directory" / pid / "schools.csv").read_text().count("\n") - 1
        for pid in ids
    ]
    assert sum(counts) == 30 and all(7 <= n <= 13 for n in counts)  # seeded shares


def test_phases_run_end_to_end_on_a_small_data_set(tmp_path):
    generate(tmp_path, partnerships=2, schools=20, seed=1)
    day = date(2035, 11, 26)
    db = f"sqlite:///{tmp_path / 'bench.db'}"
    expanded = expand_all(data=tmp_path, as_of=day)
    synced = sync_db(data=tmp_path, as_of=day, db=db)
    swept = sweep(data=tmp_path, as_of=day, db=db)
    assert expanded["partnerships"] == synced["partnerships"] == 2
    assert synced["occurrences_created"] == swept["occurrences"] > expanded["occurrences"] > 0
    assert 0 < swept["open"] < swept["occurrences"]  # the generated history closed some
    assert swept["planned"] > 0
