"""check-data against the real Ultralytics `verify_image_label`: every label file it drops gets an
`error`, and the port in check_data_fixtures.py decides exactly as the real function does.

Skipped where Ultralytics is not installed (nandoctor never depends on it); run with an interpreter
that has it, e.g. `PYTHONPATH=$PWD /work/fwvenv/bin/python -m pytest tests/test_check_data_ultralytics.py`.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from nandoctor.data import yolo
from tests.check_data_fixtures import NC, label_cases, ultralytics_rejects, write_cases

pytestmark = pytest.mark.skipif(importlib.util.find_spec("ultralytics") is None, reason="ultralytics is not installed")


@pytest.fixture(scope="module")
def verify(tmp_path_factory):
    """The real function; its settings file goes to a temporary folder, not the user's home."""
    mp = pytest.MonkeyPatch()
    mp.setenv("YOLO_CONFIG_DIR", str(tmp_path_factory.mktemp("yolo_settings")))
    mp.setenv("YOLO_OFFLINE", "1")
    from ultralytics.data.utils import verify_image_label

    yield verify_image_label
    mp.undo()


def _real_rejects(verify, image: Path, label: Path, pose: bool) -> tuple[bool, str]:
    out = verify((str(image), str(label), "", pose, NC, 1 if pose else 0, 3 if pose else 0, False))
    return out[8] == 1, out[9]  # corrupt count, message


def test_real_verify_image_label_drops_only_files_that_get_an_error(verify, tmp_path):
    from typer.testing import CliRunner

    from nandoctor.cli import app

    cases = label_cases()
    rejected, port_disagrees = [], []
    for pose in (False, True):
        root = write_cases(tmp_path / f"ds{pose}", cases, pose)
        r = CliRunner().invoke(app, ["check-data", str(root), "--format", "json"], catch_exceptions=False)
        errored = {
            Path(f["path"]).stem for f in json.loads(r.stdout)["findings"] if f["severity"] == "error" and f["path"]
        }
        for c in (c for c in cases if c["pose"] == pose):
            label = root / "labels" / "train" / f"{c['name']}.txt"
            real, msg = _real_rejects(verify, root / "images" / "train" / f"{c['name']}.png", label, pose)
            if real != ultralytics_rejects(c["data"], NC, pose, 1 if pose else 0, 3 if pose else 0):
                port_disagrees.append((c["name"], real, msg))
            if real:
                rejected.append(c["name"])
                assert c["name"] in errored, (c["name"], c["data"], msg)
    assert not port_disagrees
    assert len(rejected) > 40 and "ND102_0_alone" in rejected


_TOKENS = st.one_of(
    st.integers(-2, 4).map(str),
    st.floats(-0.05, 1.1, allow_nan=False).map(lambda x: f"{x:.4f}"),
    st.sampled_from(
        [
            "nan",
            "inf",
            "0",
            "1",
            "2",
            "1.5",
            "2.0000001",
            "-0.005",
            "1.01",
            "1.0100001",
            "-0.01",
            "-0.011",
            "abc",
            "1e39",
            "0.5,",
            "0.0",
        ]
    ),
)
_ROWS = st.lists(
    st.one_of(st.lists(_TOKENS, min_size=1, max_size=10).map(" ".join), st.sampled_from(["", " ", "\t"])),
    min_size=0,
    max_size=5,
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=_ROWS, pose=st.booleans())
def test_real_verify_image_label_on_hypothesis_rows(verify, tmp_path, rows, pose):
    text = "\n".join(rows)
    label, image = tmp_path / "lbl.txt", tmp_path / "lbl.png"
    label.write_text(text)
    if not image.exists():
        Image.new("RGB", (32, 24), (90, 120, 150)).save(image)
    real, msg = _real_rejects(verify, image, label, pose)
    assert real == ultralytics_rejects(text, NC, pose, 1 if pose else 0, 3 if pose else 0), msg
    spec = yolo.Spec(task="pose" if pose else None, nc=NC, kpt=(1, 3) if pose else None)
    errors = [h for h in yolo.scan_files([str(label)], spec).hits if h[1] == "error"]
    if real:
        assert errors and all(h[4] for h in errors), (text, msg)  # an error, each at its 1-based line
