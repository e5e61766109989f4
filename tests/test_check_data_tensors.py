"""check-data on tensor files: NaN/Inf by tensor name and first index, numeric hazards, unsafe pickles."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest
import torch
from safetensors.numpy import save_file as save_np
from safetensors.torch import save_file as save_pt


def _poisoned() -> dict[str, np.ndarray]:
    x = np.random.default_rng(0).normal(size=(4, 8)).astype(np.float32)
    x[2, 5] = np.nan
    x[3, 1] = np.inf
    return {"features": x, "ok": np.linspace(0, 1, 10, dtype=np.float32)}


def _write(kind: str, tmp_path):
    t = _poisoned()
    if kind == "pt_dict":
        p = tmp_path / "batch.pt"
        torch.save({k: torch.from_numpy(v) for k, v in t.items()}, p)
    elif kind == "pt_list":
        p = tmp_path / "batch.pth"
        torch.save([torch.from_numpy(t["ok"]), torch.from_numpy(t["features"])], p)
    elif kind == "npz":
        p = tmp_path / "batch.npz"
        np.savez(p, **t)
    elif kind == "npy":
        p = tmp_path / "features.npy"
        np.save(p, t["features"])
    else:
        p = tmp_path / "batch.safetensors"
        save_np(t, str(p))
    return p


@pytest.mark.parametrize(
    "kind,name",
    [("pt_dict", "features"), ("pt_list", "1"), ("npz", "features"), ("npy", "features"), ("safetensors", "features")],
)
def test_ND123_nan_inf_by_tensor_name(cli, tmp_path, kind, name):
    r = cli("check-data", _write(kind, tmp_path), "--format", "json")
    assert r.code == 1
    bad = [f for f in r.json["findings"] if f["code"] == "ND123"]
    assert [f["where"] for f in bad] == [name]
    d = bad[0]["data"]
    assert (d["nan"], d["inf"], d["first_nan"], d["first_inf"]) == (1, 1, [2, 5], [3, 1])
    assert r.json["summary"]["tensors"][name]["nan"] == 1


def test_ND124_ND125_ND126_hazards(tmp_path):
    from nandoctor.data.engine import check_data

    p = tmp_path / "inputs.safetensors"
    save_pt(
        {
            "images": torch.rand(2, 3, 16, 16) * 255,
            "pad": torch.zeros(4, 4),
            "big": torch.tensor([1.0, 1e6]),
            "normed": torch.rand(2, 3, 16, 16),
        },
        str(p),
    )
    rep = check_data(p)
    assert {(f.code, f.where) for f in rep.findings} == {("ND124", "images"), ("ND125", "pad"), ("ND126", "big")}


def test_ND127_ids_at_vocab_size(tmp_path):
    from nandoctor.data.engine import check_data

    p = tmp_path / "tokens.pt"
    ids = torch.arange(10).reshape(2, 5)
    ids[1, 3] = 151643
    torch.save({"input_ids": ids}, p)
    rep = check_data(p, vocab_size=151643)
    assert [(f.code, f.where, f.data["first"]) for f in rep.findings] == [("ND127", "input_ids", [1, 3])]
    assert check_data(p).findings == []


def test_bf16_safetensors_are_read(tmp_path):
    from nandoctor.data.engine import check_data

    p = tmp_path / "m.safetensors"
    save_pt({"h": torch.tensor([1.0, float("nan"), 2.0], dtype=torch.bfloat16)}, str(p))
    assert [(f.code, f.data["first_nan"]) for f in check_data(p).findings] == [("ND123", [1])]


def _expected(arr: np.ndarray, vocab: int | None = None) -> dict:
    """What the per-tensor checks must find, computed on the whole array at once."""
    out = {}
    if arr.dtype.kind == "f":
        nan, inf = np.isnan(arr), np.isinf(arr)
        fin = arr[~(nan | inf)]
        out.update(nan=int(nan.sum()), inf=int(inf.sum()), min=float(fin.min()), max=float(fin.max()))
        if nan.any():
            out["first_nan"] = [int(i) for i in np.argwhere(nan)[0]]
        if inf.any():
            out["first_inf"] = [int(i) for i in np.argwhere(inf)[0]]
        out["big"] = int((np.abs(fin) > 65504).sum())
    else:
        out.update(min=int(arr.min()), max=int(arr.max()))
        if vocab is not None and (arr >= vocab).any():
            out.update(count=int((arr >= vocab).sum()), first=[int(i) for i in np.argwhere(arr >= vocab)[0]])
    return out


def _got(rep, name: str) -> dict:
    s = rep.summary["tensors"][name]
    out = {k: s[k] for k in ("nan", "inf", "min", "max") if k in s}
    for f in rep.findings:
        if f.where == name and f.code == "ND123":
            out.update({k: f.data[k] for k in ("first_nan", "first_inf") if k in f.data})
        if f.where == name and f.code == "ND127":
            out.update(count=f.data["count"], first=f.data["first"])
    if "nan" in s:
        big = [f.data["count"] for f in rep.findings if f.where == name and f.code == "ND126"]
        out["big"] = big[0] if big else 0
    return out


def test_blockwise_checks_equal_whole_array_checks(tmp_path, monkeypatch):
    """Blocks of 7 values across views, dtypes and readers give what one pass over the array gives."""
    from nandoctor.data import tensors
    from nandoctor.data.engine import check_data

    monkeypatch.setattr(tensors, "CHUNK", 7)
    rng = np.random.default_rng(1)
    base = rng.normal(size=(9, 11, 5)).astype(np.float32) * 1e5
    base[4, 7, 2], base[6, 0, 1], base[8, 10, 4] = np.nan, -np.inf, np.nan
    views = {
        "plain": torch.from_numpy(base),
        "transposed": torch.from_numpy(base).permute(2, 0, 1),
        "sliced": torch.from_numpy(base)[1::2, 3:, ::2],
        "half": torch.from_numpy(base / 1e5).half(),
        "ids": torch.from_numpy(rng.integers(0, 50, size=(6, 13))),
        "row": torch.from_numpy(base[5, 2]),
    }
    p = tmp_path / "views.pt"
    torch.save(views, p)
    rep = check_data(p, vocab_size=45)
    for name, t in views.items():
        arr = t.float().numpy() if t.dtype == torch.half else t.numpy()
        assert _got(rep, name) == _expected(arr, 45 if name == "ids" else None), name
    np.save(tmp_path / "f.npy", np.asfortranarray(base))
    np.savez(tmp_path / "z.npz", a=base, b=views["ids"].numpy())
    assert _got(check_data(tmp_path / "f.npy"), "f") == _expected(base)
    z = check_data(tmp_path / "z.npz", vocab_size=45)
    assert _got(z, "a") == _expected(base) and _got(z, "b") == _expected(views["ids"].numpy(), 45)


def test_stride0_view_is_judged_on_its_stored_values(tmp_path):
    from nandoctor.data.engine import check_data

    p = tmp_path / "wide.pt"
    row = torch.tensor([0.5, float("inf"), 2.0])
    torch.save({"w": row.expand(1000, 3)}, p)  # 3 stored values read by 3000 elements
    rep = check_data(p)
    assert [(f.code, f.message, f.data["first_inf"]) for f in rep.findings] == [
        ("ND123", "w: 1 Inf (first at [0, 1]) of 3 stored values", [0, 1])
    ]
    assert rep.summary["tensors"]["w"]["judged"] == "judged on the 3 stored values its 3,000 elements read"


def test_corrupt_npz_member_is_one_finding_the_next_member_is_checked(tmp_path):
    from nandoctor.data.engine import check_data

    x = np.random.default_rng(0).normal(size=1 << 20).astype(np.float32)
    p = tmp_path / "c.npz"
    np.savez_compressed(p, a=x, b=np.array([1.0, np.nan], dtype=np.float32))
    with zipfile.ZipFile(p) as z:
        start = z.getinfo("a.npy").header_offset + 30 + len("a.npy")
    data = bytearray(p.read_bytes())
    for i in range(start + 200_000, start + 200_100):  # inside a's deflate stream
        data[i] ^= 0xFF
    p.write_bytes(bytes(data))
    rep = check_data(p)
    assert [(f.code, f.where) for f in rep.findings] == [("ND100", "a"), ("ND123", "b")]
    assert rep.findings[0].message.startswith("a: cannot read values: ")
