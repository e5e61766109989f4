"""One pickle policy for every command: the corpus of tests/pickle_corpus.py judged by inspect-ckpt and
check-data alike. Malicious files are unsafe and never recommended, and no payload ever runs; benign
real checkpoints are never unsafe; `unknown` only where a class outside the allow-list appears."""

from __future__ import annotations

import io
import json
import pickle
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nandoctor.ckpt.engine import inspect_ckpt
from nandoctor.data.engine import check_data
from nandoctor.pickle_policy import trusting
from tests import pickle_corpus
from tests.conftest import run_cli

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::DeprecationWarning")
CHECK_DATA_SUFFIXES = {".pt", ".pth", ".bin"}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    canary = root / "CANARY"
    files = {
        "malicious": pickle_corpus.malicious(root / "malicious", canary),
        "unknown": pickle_corpus.unknown_only(root / "unknown"),
        "benign": pickle_corpus.benign(root / "benign"),
        "canary": canary,
    }
    yield files
    assert not canary.exists(), "a pickle payload ran"


def _ckpt(path: Path) -> dict:
    [entry] = inspect_ckpt(path).summary["checkpoints"]
    return entry


def _check_data_verdict(path: Path) -> str:
    """check-data's verdict from its findings: ND128 error = unsafe, ND128 warning = unknown."""
    report = check_data(path)
    pickle_findings = [f for f in report.findings if f.code == "ND128"]
    if not pickle_findings:
        return "safe"
    [f] = pickle_findings
    return f.data["verdict"]


def test_every_malicious_case_is_unsafe_and_names_its_global(corpus):
    statuses = {name: _ckpt(path)["status"] for name, path in corpus["malicious"].items()}
    assert statuses == dict.fromkeys(corpus["malicious"], "unsafe")
    entry = _ckpt(corpus["malicious"]["torch.utils.collect_env.run"])
    assert entry["unsafe_global"] == "torch.utils.collect_env.run" and entry["tensors"] == 0
    assert _ckpt(corpus["malicious"]["GLOBAL 'torch' 'os.system'"])["unsafe_global"] == "torch.os.system"
    assert not corpus["canary"].exists()


def test_check_data_gives_the_same_verdict_as_inspect_ckpt(corpus):
    seen = 0
    for group in ("malicious", "unknown", "benign"):
        for name, path in corpus[group].items():
            if path.suffix not in CHECK_DATA_SUFFIXES:
                continue
            seen += 1
            ours = _ckpt(path).get("pickle")
            assert _check_data_verdict(path) == (ours or "safe"), (group, name)
    assert seen > 40
    assert not corpus["canary"].exists()


def test_benign_real_checkpoints_are_never_unsafe_nor_unknown(corpus):
    verdicts = {name: (_ckpt(path)["pickle"], _ckpt(path)["status"]) for name, path in corpus["benign"].items()}
    assert all(pickle_verdict == "safe" for pickle_verdict, _ in verdicts.values()), verdicts
    # the tensors' own verdict is inspect-ckpt's business (a real Trainer checkpoint keeps ModelCheckpoint's
    # inf "kth_value"); the pickle never makes a benign file unsafe, unknown or unreadable
    not_checkpoints = {"real HF training_args.bin"}  # configuration: no tensors
    assert all(
        status not in ("unsafe", "unknown", "unreadable")
        for name, (_, status) in verdicts.items()
        if name not in not_checkpoints
    ), verdicts
    ours = {n: s for n, (_, s) in verdicts.items() if not n.startswith("real ")}
    assert set(ours.values()) == {"clean"}, ours


FW_PYTHON = Path("/work/fwvenv/bin/python")
REAL_ULTRALYTICS = """
import sys, torch
from copy import deepcopy
from ultralytics.cfg import get_cfg
from ultralytics.nn.tasks import DetectionModel
from ultralytics.utils.torch_utils import ModelEMA
m = DetectionModel("yolov8n.yaml", verbose=False)
ema = ModelEMA(m)
opt = torch.optim.SGD(m.parameters(), lr=0.01)
torch.save({"epoch": 1, "best_fitness": None, "model": None, "ema": deepcopy(ema.ema).half(), "updates": ema.updates,
            "optimizer": opt.state_dict(), "train_args": vars(get_cfg()), "train_metrics": {},
            "train_results": {"epoch": [1, 2]}, "date": "2026-01-01", "version": "8.4"}, sys.argv[1])
"""


@pytest.mark.skipif(not FW_PYTHON.is_file(), reason="needs the framework venv with ultralytics")
def test_a_real_ultralytics_checkpoint_is_safe_and_clean(tmp_path):
    """Written by real ultralytics (a DetectionModel pickled whole, as its trainer saves it)."""
    path = tmp_path / "last.pt"
    made = subprocess.run(
        [str(FW_PYTHON), "-c", REAL_ULTRALYTICS, str(path)], capture_output=True, text=True, timeout=300, cwd=tmp_path
    )
    if made.returncode != 0:
        pytest.skip(f"ultralytics not importable in the framework venv: {made.stderr[-200:]}")
    entry = _ckpt(path)
    assert entry["pickle"] == "safe" and entry["status"] == "clean" and entry["framework"] == "ultralytics"
    assert "ultralytics.nn.tasks.DetectionModel" in entry["globals"] and entry["tensors"] > 300
    assert _check_data_verdict(path) == "safe"


def test_json_reports_every_global_torch_included(corpus):
    r = run_cli("inspect-ckpt", corpus["benign"]["Lightning-style hparams"], "--format", "json")
    globals_ = r.json["summary"]["checkpoints"][0]["globals"]
    assert {
        "torch._utils._rebuild_tensor_v2",
        "collections.OrderedDict",
        "argparse.Namespace",
        "pathlib.PosixPath",
        "datetime.datetime",
    } <= set(globals_)
    r = run_cli("inspect-ckpt", corpus["malicious"]["builtins.getattr chain"], "--format", "json")
    [f] = r.json["findings"]
    assert r.code == 1 and {g["global"] for g in f["data"]["unsafe_globals"]} == {
        "builtins.getattr",
        "builtins.__import__",
    }
    assert "os.system" not in f["data"]["globals"]  # only reached at load time: never named in the file
    assert "torch._utils._rebuild_tensor_v2" in f["data"]["globals"]


def test_unknown_class_is_read_never_recommended_and_nan_still_found(corpus, tmp_path):
    entry = _ckpt(corpus["unknown"]["custom class"])
    assert entry["status"] == "unknown" and entry["unknown_globals"] == ["tests.pickle_corpus.CustomModel"]
    r = inspect_ckpt(corpus["unknown"]["custom class with NaN"])
    [entry] = r.summary["checkpoints"]
    assert entry["status"] == "poisoned" and entry["nonfinite_tensors"] == ["w"]
    assert {"ND201", "ND217"} <= {f.code for f in r.findings}
    report = check_data(corpus["unknown"]["custom class with NaN"])
    assert [f.where for f in report.findings if f.code == "ND123"] == ["model.w"]
    # a run folder: the newer file with an unknown class is not recommended, the older plain one is
    run = tmp_path / "weights"
    run.mkdir()
    torch.save({"model": {"w": torch.ones(2)}, "epoch": 1}, run / "epoch1.pt")
    (run / "epoch2.pt").write_bytes(corpus["unknown"]["custom class"].read_bytes())
    r = inspect_ckpt(run)
    assert Path(r.summary["recommended"]).name == "epoch1.pt"


def test_trust_makes_an_unknown_class_safe_but_never_an_unsafe_one(corpus):
    path = corpus["unknown"]["custom class"]
    r = run_cli("inspect-ckpt", path, "--format", "json")
    assert r.json["summary"]["recommended"] is None and r.json["summary"]["checkpoints"][0]["status"] == "unknown"
    r = run_cli("inspect-ckpt", path, "--trust", "tests.pickle_corpus.CustomModel", "--format", "json")
    [entry] = r.json["summary"]["checkpoints"]
    assert r.code == 0 and entry["status"] == "clean" and r.json["summary"]["recommended"] == str(path)
    r = run_cli("check-data", path, "--trust", "tests.pickle_corpus", "--format", "json")
    assert "ND128" not in [f["code"] for f in r.json["findings"]]
    with trusting(["os.system", "os"]):
        assert _ckpt(corpus["malicious"]["os.system"])["status"] == "unsafe"


def test_malicious_files_in_a_run_folder_are_never_recommended(corpus, tmp_path):
    run = tmp_path / "weights"
    run.mkdir()
    torch.save(
        {"model": {"w": torch.ones(2)}, "optimizer": {"state": {}, "param_groups": []}, "epoch": 1}, run / "epoch1.pt"
    )
    for i, name in enumerate(
        [
            "torch.utils.collect_env.run",
            "zip decoy archive/xdata.pkl",
            "zip duplicate data.pkl",
            "GLOBAL 'torch' 'os.system'",
            "legacy format",
        ]
    ):
        (run / f"epoch{i + 2}.pt").write_bytes(corpus["malicious"][name].read_bytes())
    r = run_cli("inspect-ckpt", run, "--format", "json")
    assert r.code == 1 and Path(r.json["summary"]["recommended"]).name == "epoch1.pt"
    assert r.json["summary"]["counts"]["unsafe"] == 5
    assert not corpus["canary"].exists()


def _zip_with(members: list[tuple[str, bytes]], path: Path) -> Path:
    import warnings

    with zipfile.ZipFile(path, "w") as z, warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        for name, data in members:
            z.writestr(name, data)
    return path


def _members(obj) -> list[tuple[str, bytes]]:
    buf = io.BytesIO()
    torch.save(obj, buf)
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as z:
        return [(i.filename, z.read(i)) for i in z.infolist()]


def test_duplicate_data_pkl_reads_the_one_torch_reads(tmp_path):
    """Two archive/data.pkl members: nandoctor scans the tensors of the one torch.load returns."""
    clean = _members({"model": {"w": torch.ones(2)}})
    nan = dict(_members({"model": {"w": torch.tensor([float("nan"), 1.0])}}))
    path = _zip_with(clean[:1] + [("archive/data.pkl", nan["archive/data.pkl"])] + clean[1:], tmp_path / "dup.pt")
    torch_sees_nan = bool(torch.isnan(torch.load(path, weights_only=True)["model"]["w"]).any())
    entry = _ckpt(path)
    assert entry["status"] == ("poisoned" if torch_sees_nan else "clean")
    assert entry["pickle"] == "safe"


def test_a_decoy_pickle_torch_never_reads_is_still_judged(tmp_path):
    members = _members({"model": {"w": torch.ones(2)}})
    decoy = pickle.dumps({"cfg": pickle_corpus.CustomModel()}, protocol=2)
    entry = _ckpt(_zip_with(members + [("archive/xdata.pkl", decoy)], tmp_path / "decoy.pt"))
    assert entry["status"] == "unknown" and entry["unknown_globals"] == ["tests.pickle_corpus.CustomModel"]


def test_legacy_format_tensors_are_read_in_place(tmp_path):
    path = tmp_path / "legacy.pt"
    torch.save(
        {"model": {"a": torch.ones(3), "b": torch.tensor([1.0, float("inf")]).half()}},
        path,
        _use_new_zipfile_serialization=False,
    )
    entry = _ckpt(path)
    assert entry["format"] == "torch-legacy" and entry["status"] == "poisoned" and entry["nonfinite_tensors"] == ["b"]


def test_memo_bomb_is_refused_before_allocating():
    """A 12-byte pickle asking for memo slot 2e8 (3.1 GB in the C unpickler) ends in well under 512 MiB.
    Measured as this process's VmHWM: ru_maxrss survives exec and would start at pytest's own peak."""
    code = (
        "import resource, sys, tempfile, pathlib\n"
        "from nandoctor.ckpt.engine import inspect_ckpt\n"
        "p = pathlib.Path(tempfile.mkdtemp()) / 'bomb.pt'\n"
        "p.write_bytes(b'\\x80\\x02N' + b'r' + (200_000_000).to_bytes(4, 'little') + b'.')\n"
        "r = inspect_ckpt(p)\n"
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM:')]\n"
        "peak = int(hwm[0].split()[1]) if hwm else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "print(r.summary['checkpoints'][0]['status'], [f.code for f in r.findings], peak // 1024)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    words = out.stdout.split()
    assert words and words[0] == "unsafe" and "'ND202'" in out.stdout, out.stdout + out.stderr
    assert int(words[-1]) < 512, f"peak {words[-1]} MiB"


def test_real_hf_training_args_is_safe_and_triage_reads_its_fields():
    path = pickle_corpus.DATA / "training_args.bin"
    from nandoctor.ckpt.readers import read_any
    from nandoctor.triage.engine import _scalar_training_args

    loaded = read_any(path)
    assert loaded.verdict.status == "safe" and "transformers.training_args.TrainingArguments" in loaded.globals
    assert _scalar_training_args(path)["learning_rate"] == 3e-05


def test_payload_never_runs_under_the_cli(corpus):
    for name in ("logging.FileHandler", "numpy.savetxt", "codecs.open", "torch.save"):
        path = corpus["malicious"][name]
        for command in ("inspect-ckpt", "check-data"):
            r = run_cli(command, path, "--format", "json")
            assert r.code == 1 and "Traceback" not in r.stderr, (name, command, r.stderr)
            assert json.loads(r.stdout)["findings"][0]["data"]["verdict"] == "unsafe"
    assert not corpus["canary"].exists()


def test_an_allow_listed_class_called_with_non_data_is_unsafe():
    """argparse.Namespace is data when NEWOBJ-rebuilt (as pickle writes it), not when a pickle calls it on a
    function of its own choosing."""
    from nandoctor.ckpt.unpickle import UnsafePickle, restricted_loads

    data = b"\x80\x02cargparse\nNamespace\ncmypkg\nhelper\n\x85R."
    with pytest.raises(UnsafePickle) as exc:
        restricted_loads(data)
    assert exc.value.global_name == "argparse.Namespace" and "not plain data" in exc.value.reason
    obj, globals_ = restricted_loads(pickle.dumps(__import__("argparse").Namespace(lr=0.1), protocol=2))
    assert obj.fields == {"lr": 0.1} and globals_ == ["argparse.Namespace"]


_plain = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=8)
    | st.binary(max_size=8)
    | st.complex_numbers(allow_nan=False, allow_infinity=False)
    | st.frozensets(st.integers(), max_size=4)
    | st.sets(st.text(max_size=3), max_size=4),
    lambda inner: (
        st.lists(inner, max_size=4) | st.tuples(inner, inner) | st.dictionaries(st.text(max_size=4), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(value=_plain, protocol=st.integers(0, 5))
def test_plain_data_is_rebuilt_exactly_and_judged_safe(value, protocol):
    """Whatever plain data pickle writes, in any protocol, the inert unpickler rebuilds it exactly."""
    from nandoctor.ckpt.unpickle import judge_pickle, next_pickle

    data = pickle.dumps(value, protocol=protocol)
    obj, verdict = judge_pickle(next_pickle(io.BytesIO(data)))
    assert verdict.status == "safe" and obj == value


def test_triage_never_recommends_an_unknown_checkpoint_unless_trusted(cli, tmp_path):
    from tests.triage_runs import ultralytics_run

    run = ultralytics_run(tmp_path / "run", epochs=5, nan_epoch=4)
    torch.save(
        {
            "epoch": 2,
            "model": {"w": torch.ones(2)},
            "optimizer": {"state": {}, "param_groups": []},
            "cfg": pickle_corpus.CustomModel(),
        },
        run / "weights" / "epoch2.pt",
    )
    r = cli("triage", run, "--format", "json")
    assert r.json["summary"]["recommended"] == str(run / "weights" / "epoch1.pt")
    assert "ND217" in r.codes()
    r = cli("triage", run, "--trust", "tests.pickle_corpus.CustomModel", "--format", "json")
    assert r.json["summary"]["recommended"] == str(run / "weights" / "epoch2.pt") and "ND217" not in r.codes()


def test_an_unknown_function_called_is_unsafe_unless_trusted():
    from nandoctor.ckpt.unpickle import UnsafePickle, restricted_loads

    data = b"\x80\x02cmypkg.models\nmake\nK\x01\x85R."  # mypkg.models.make(1)
    with pytest.raises(UnsafePickle) as exc:
        restricted_loads(data)
    assert exc.value.global_name == "mypkg.models.make" and "calls" in exc.value.reason
    referenced = b"\x80\x02}X\x02\x00\x00\x00fncmypkg.models\nmake\ns."  # {"fn": mypkg.models.make}, not called
    from nandoctor.ckpt.unpickle import judge_pickle, next_pickle

    assert judge_pickle(next_pickle(io.BytesIO(referenced)))[1].status == "unknown"
    with trusting(["mypkg"]):
        _, verdict = judge_pickle(next_pickle(io.BytesIO(data)))
    assert verdict.status == "safe" and verdict.trusted == ["mypkg.models.make"]


@settings(max_examples=300, deadline=None)
@given(body=st.binary(max_size=200), proto=st.sampled_from([b"", b"\x80\x02", b"\x80\x04", b"\x80\x05"]))
def test_arbitrary_pickle_bytes_end_in_a_verdict_or_a_one_line_error(body, proto):
    """Random opcodes never escape as anything but unreadable (ValueError) or unsafe (UnsafePickle)."""
    from nandoctor.ckpt.unpickle import UnsafePickle, judge_pickle, next_pickle

    try:
        judge_pickle(next_pickle(io.BytesIO(proto + body)))
    except UnsafePickle as exc:
        assert exc.verdict.status == "unsafe" and exc.global_name
    except ValueError as exc:
        assert "\n" not in str(exc) and str(exc)


def test_a_zip_of_decoy_pickles_is_not_read_forever(tmp_path):
    members = _members({"model": {"w": torch.ones(2)}})
    decoys = [(f"archive/d{i}.pkl", pickle.dumps(i)) for i in range(1100)]
    r = inspect_ckpt(_zip_with(members + decoys, tmp_path / "decoys.pt"))
    assert r.summary["checkpoints"][0]["status"] == "unreadable" and r.summary["recommended"] is None
    assert "1,101 pickles; 101 beyond the first 1,000 were not judged" in r.findings[0].message


def test_tar_format_records_are_walked_and_every_pickle_judged(tmp_path):
    """torch's oldest format, laid out as its legacy_load reads it: the storage and tensor records
    between the pickles are skipped by their sizes, so a pickle after them is still judged."""
    import struct
    import tarfile

    class WithStorage(pickle.Pickler):
        def persistent_id(self, obj):
            return "k0" if obj == "STORAGE" else None

    def dumps_with_pid(obj) -> bytes:
        buf = io.BytesIO()
        WithStorage(buf, protocol=2).dump(obj)
        return buf.getvalue()

    storages = (
        pickle.dumps(1, protocol=2)
        + pickle.dumps(("k0", "cpu", torch.FloatStorage), protocol=2)
        + struct.pack("<q", 3)
        + struct.pack("<3f", 1, 2, 3)
        + pickle.dumps([], protocol=2)
    )
    tensors = (
        pickle.dumps(1, protocol=2)
        + pickle.dumps(("t0", "k0", torch.FloatTensor), protocol=2)
        + struct.pack("<ii", 1, 0)
        + struct.pack("<qq", 3, 1)
        + struct.pack("<q", 0)
    )
    for name, main in (("ok", {"w": "STORAGE", "epoch": 1}), ("evil", {"w": pickle_corpus.Reduce(print, "x")})):
        path = tmp_path / f"{name}.pt"
        with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
            for member, data in (
                ("sys_info", pickle.dumps({"little_endian": True}, protocol=2)),
                ("storages", storages),
                ("tensors", tensors),
                ("pickle", dumps_with_pid(main)),
            ):
                info = tarfile.TarInfo(member)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        entry = _ckpt(path)
        if name == "ok":
            assert entry["format"] == "torch-tar" and entry["pickle"] == "safe"
            assert {"torch.FloatStorage", "torch.FloatTensor"} <= set(entry["globals"])
        else:
            assert entry["status"] == "unsafe" and entry["unsafe_global"] == "builtins.print"
