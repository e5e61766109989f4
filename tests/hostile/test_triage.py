"""Hostile input for triage's own readers: the peeks at results.csv, metrics.csv and args.yaml
that link the engines. Arbitrary bytes give an answer or None, never an exception; a run folder
of hostile pieces ends in findings, not a crash (the cross-cutting suite covers the rest)."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from nandoctor.triage_link import epoch_at_step, first_logged_epoch
from nandoctor.triage_discover import _read_args, discover

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
csvish = st.one_of(st.binary(max_size=400),
                   st.lists(st.lists(st.sampled_from(["epoch", "step", "1", "0", "-3", "nan", "1e400", "", "x",
                                                      "\x00", " 2", "\"", "9" * 30]), max_size=5), max_size=6)
                   .map(lambda rows: "\n".join(",".join(r) for r in rows).encode()))


@FAST
@given(data=csvish)
@example(data=b"epoch\n1e400")  # an infinite epoch once raised OverflowError
def test_property_first_logged_epoch(tmp_path, data):
    p = tmp_path / "results.csv"
    p.write_bytes(data)
    assert first_logged_epoch(p) is None or isinstance(first_logged_epoch(p), int)


@FAST
@given(data=csvish, step=st.integers(-5, 10**6))
def test_property_epoch_at_step(tmp_path, data, step):
    p = tmp_path / "metrics.csv"
    p.write_bytes(data)
    assert epoch_at_step(p, step) is None or isinstance(epoch_at_step(p, step), int)


@FAST
@given(data=st.one_of(st.binary(max_size=300), st.text(max_size=300).map(str.encode)))
def test_property_read_args(tmp_path, data):
    p = tmp_path / "args.yaml"
    p.write_bytes(data)
    assert isinstance(_read_args(p), dict)


def test_args_yaml_alias_bomb_and_huge_file_are_not_expanded(tmp_path):
    bomb = 'a: &a ["x","x","x","x","x","x","x","x","x"]\n' + "".join(
        f"{c}: &{c} [{','.join(['*' + p] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi"))
    (tmp_path / "args.yaml").write_text(bomb + "data: nowhere.yaml\n")
    layout = discover(tmp_path)  # reads `data:` only; the aliases are shared, never walked
    assert layout.dataset is None and any("nowhere.yaml" in m for m, _ in layout.notes)
    huge = tmp_path / "big" / "args.yaml"
    huge.parent.mkdir()
    with open(huge, "w") as f:
        f.write("data: /x.yaml\n" + "#" * (5 * 1024 * 1024))
    assert _read_args(huge) == {}


def test_discovery_survives_loops_unreadable_entries_and_a_huge_flat_folder(tmp_path):
    (tmp_path / "weights").symlink_to(tmp_path / "weights")  # a self loop where weights/ belongs
    (tmp_path / "results.csv").symlink_to(tmp_path / "results.csv")
    (tmp_path / "args.yaml").write_text("data: d.yaml\n")
    for i in range(3000):
        (tmp_path / f"img_{i}.txt").write_text("0 0.5 0.5 0.1 0.1\n")
    layout = discover(tmp_path)
    assert layout.framework == "ultralytics" and layout.checkpoints == [] and layout.log is None
    assert layout.config == Path(tmp_path / "args.yaml")
