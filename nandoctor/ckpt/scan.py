"""Per-tensor numbers in one pass over bounded chunks: finiteness, range, sanitiser signature.

Finiteness comes from each chunk's min and max (NaN propagates through both; an Inf is the min or the
max), computed on a cache-sized chunk, so the data is read once. Exact NaN/Inf counts and the first
bad index are computed only for chunks that fail; no full-size boolean mask is ever allocated.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from nandoctor.ckpt.tensors import TensorRef

FP16_MAX = 65504.0
ZERO_SAMPLE = 1 << 16  # elements per tensor sampled for the exact-zero fraction when not counting all


@dataclass
class TensorStat:
    dtype: str
    shape: tuple
    numel: int
    nan: int = 0
    posinf: int = 0
    neginf: int = 0
    first_bad: int | None = None  # flat index of the first non-finite value
    min: float | None = None  # over finite values
    max: float | None = None
    fp16_max_hits: int = 0  # values exactly +-65504 (nan_to_num's Inf replacement in fp16)
    zero_frac: float | None = None  # exact zeros (sampled on large tensors)
    negative: int = 0  # values < 0 (--stats only)
    mean: float | None = None  # --stats only
    std: float | None = None
    scanned: bool = True

    @property
    def nonfinite(self) -> int:
        return self.nan + self.posinf + self.neginf

    @property
    def absmax(self) -> float | None:
        if self.min is None or self.max is None:
            return None
        return max(abs(self.min), abs(self.max))

    def to_dict(self) -> dict:
        d = asdict(self)
        d["shape"] = list(self.shape)
        d["absmax"] = self.absmax
        return d


def scan(ref: TensorRef, *, stats: bool = False) -> TensorStat:
    import numpy as np

    st = TensorStat(dtype=ref.dtype, shape=tuple(ref.shape), numel=ref.numel)
    if ref.kind not in ("float", "bf16", "f8e4m3", "f8e5m2", "complex"):
        st.scanned = ref.kind in ("int", "bool")
        if st.scanned and stats and ref.numel:
            lo, hi = None, None
            for c in ref.chunks():
                cmin, cmax = c.min(), c.max()
                lo = cmin if lo is None else min(lo, cmin)
                hi = cmax if hi is None else max(hi, cmax)
                if cmin < 0:
                    st.negative += int(np.count_nonzero(c < 0))
            if lo is not None and hi is not None:
                st.min, st.max = float(lo), float(hi)
        return st
    fp16 = ref.dtype == "float16"
    n = max(ref.numel, 1)
    sample_every = max(1, n // ZERO_SAMPLE) if not stats else 1
    zeros = sampled = 0
    lo, hi = math.inf, -math.inf
    s1 = s2 = 0.0
    pos = 0
    f32 = None
    for chunk in ref.chunks():
        if fp16:  # numpy's fp16 reductions are slow; widen the chunk (exact) into a reused buffer
            if f32 is None or f32.size < chunk.size:
                f32 = np.empty(chunk.size, dtype=np.float32)
            c = f32[: chunk.size]
            np.copyto(c, chunk)
        else:
            c = chunk
        cmin, cmax = c.min(), c.max()
        if not (math.isfinite(cmin) and math.isfinite(cmax)):
            bad_nan = int(np.count_nonzero(np.isnan(c)))
            bad_pos = int(np.count_nonzero(c == np.inf))
            bad_neg = int(np.count_nonzero(c == -np.inf))
            st.nan += bad_nan
            st.posinf += bad_pos
            st.neginf += bad_neg
            if st.first_bad is None:
                st.first_bad = pos + int(np.argmin(np.isfinite(c)))
            finite = c[np.isfinite(c)]
            if finite.size:
                cmin, cmax = finite.min(), finite.max()
            else:
                cmin, cmax = math.inf, -math.inf
            c = finite
        lo, hi = min(lo, float(cmin)), max(hi, float(cmax))
        if fp16 and (cmax == FP16_MAX or cmin == -FP16_MAX):
            st.fp16_max_hits += int(np.count_nonzero(np.abs(c) == FP16_MAX))
        if stats and cmin < 0:
            st.negative += int(np.count_nonzero(c < 0))
        if sample_every == 1:
            zeros += int(np.count_nonzero(c == 0))
            sampled += c.size
        else:
            start = (-pos) % sample_every
            sub = chunk[start::sample_every]
            zeros += int(np.count_nonzero(sub == 0))
            sampled += sub.size
        if stats and c.size:
            c64 = c.astype(np.float64)
            s1 += float(c64.sum())
            s2 += float(np.dot(c64, c64))
        pos += chunk.size
    if ref.kind == "complex" and st.first_bad is not None:
        st.first_bad //= 2  # complex values are scanned as (real, imag) pairs
    if lo <= hi:
        st.min, st.max = lo, hi
    st.zero_frac = zeros / sampled if sampled else None
    finite_n = pos - st.nonfinite  # elements read: an expanded view is judged on its storage, once each
    if stats and finite_n:
        st.mean = s1 / finite_n
        st.std = math.sqrt(max(s2 / finite_n - st.mean * st.mean, 0.0))  # `**` would raise OverflowError
    return st


def zeros_outside_rows(ref: TensorRef, rows: set[int]) -> tuple[int, int]:
    """(exact zeros in the tensor, exact zeros inside `rows` of its first dimension), in one chunked pass:
    an embedding's padding row is zero by construction, zeros elsewhere are not."""
    import numpy as np

    if not ref.shape:
        return 0, 0
    row_len = max(1, ref.numel // max(1, ref.shape[0]))
    spans = sorted((r * row_len, (r + 1) * row_len) for r in rows if 0 <= r < ref.shape[0])
    total = inside = 0
    pos = 0
    for chunk in ref.chunks():
        total += int(np.count_nonzero(chunk == 0))
        end = pos + chunk.size
        for a, b in spans:
            lo, hi = max(a, pos), min(b, end)
            if lo < hi:
                inside += int(np.count_nonzero(chunk[lo - pos : hi - pos] == 0))
        pos = end
    return total, inside
