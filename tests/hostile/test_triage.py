"""Hostile input for triage's own readers: the peeks at results.csv, metrics.csv and args.yaml
that link the engines. Arbitrary bytes give an answer or None, never an exception; a run folder
of hostile pieces ends in findings, not a crash (the cross-cutting suite covers the rest)."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from nandoctor.triage.discover import _read_args, discover
from nandoctor.triage.link import epoch_at_step, first_logged_epoch

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
csvish = st.one_of(
    st.binary(max_size=400),
    st.lists(
        st.lists(
            st.sampled_from(["epoch", "step", "1", "0", "-3", "nan", "1e400", "", "x", "\x00", " 2", '"', "9" * 30]),
            max_size=5,
        ),
        max_size=6,
    ).map(lambda rows: "\n".join(",".join(r) for r in rows).encode()),
)


def _number(cell: str) -> int | None:
    try:
        return int(float(cell))
    except (ValueError, OverflowError):
        return None


def _rows(data: bytes) -> list[list[str]]:
    import csv
    import io

    try:
        return list(csv.reader(io.StringIO(data.decode("utf-8", errors="replace"), newline="")))
    except csv.Error:
        return []


def _first_epoch_oracle(data: bytes) -> int | None:
    """The first data row's `epoch` cell, read independently with the csv module."""
    rows = _rows(data)
    if len(rows) < 2:
        return None
    header = [h.strip() for h in rows[0]]
    if "epoch" not in header or header.index("epoch") >= len(rows[1]):
        return None
    return _number(rows[1][header.index("epoch")])


def _epoch_at_step_oracle(data: bytes, step: int) -> int | None:
    rows = _rows(data)
    if not rows:
        return None
    header = rows[0]
    for r in rows[1:]:
        cells = dict(zip(header, r, strict=False))
        if _number(cells.get("step") or "nan") == step and cells.get("epoch"):
            epoch = _number(cells["epoch"])
            if epoch is not None:
                return epoch
    return None


@FAST
@given(data=csvish)
@example(data=b"epoch\n1e400")  # an infinite epoch once raised OverflowError
@example(data=b"step,epoch\n3,2")
@example(data=b'"\n",step,step,epoch\nepoch,epoch,epoch,1')  # a quoted newline in the header
def test_property_first_logged_epoch(tmp_path, data):
    p = tmp_path / "results.csv"
    p.write_bytes(data)
    assert first_logged_epoch(p) == _first_epoch_oracle(data)


@FAST
@given(data=csvish, step=st.integers(-5, 10**6))
@example(data=b"epoch,step\n0,9\n1,19", step=19)  # the answer is epoch 1
def test_property_epoch_at_step(tmp_path, data, step):
    p = tmp_path / "metrics.csv"
    p.write_bytes(data)
    assert epoch_at_step(p, step) == _epoch_at_step_oracle(data, step)


@FAST
@given(data=st.one_of(st.binary(max_size=300), st.text(max_size=300).map(str.encode)))
def test_property_read_args(tmp_path, data):
    p = tmp_path / "args.yaml"
    p.write_bytes(data)
    import yaml

    try:  # what Ultralytics itself would read: a mapping, or nothing
        expected = yaml.safe_load(data.decode("utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError, ValueError, RecursionError):
        expected = None
    assert _read_args(p) == (expected if isinstance(expected, dict) else {})


def test_args_yaml_alias_bomb_and_huge_file_are_not_expanded(tmp_path):
    bomb = 'a: &a ["x","x","x","x","x","x","x","x","x"]\n' + "".join(
        f"{c}: &{c} [{','.join(['*' + p] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    )
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


def test_readers_answer_on_plain_files(tmp_path):
    """The oracles above are not vacuous: on ordinary files both readers give the number."""
    p = tmp_path / "results.csv"
    p.write_text("                   epoch,  time\n 0, 1.5\n")
    assert first_logged_epoch(p) == 0 == _first_epoch_oracle(p.read_bytes().replace(b" ", b""))
    m = tmp_path / "metrics.csv"
    m.write_text("epoch,step,train_loss\n0,9,0.5\n1,19,nan\n")
    assert epoch_at_step(m, 19) == 1 and epoch_at_step(m, 20) is None
