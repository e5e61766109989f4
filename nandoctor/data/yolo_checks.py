"""Row checks for YOLO labels: every check is a numpy mask over all rows with the same column count;
Python runs only for the rows that fail (to word their findings)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # yolo imports this module, not the reverse
    from nandoctor.data.yolo import Scan, Spec

TOL = 0.01  # Ultralytics accepts coordinates in [-0.01, 1.01]
EPS = 1e-6  # float rounding slack of 6-decimal label writers


@dataclass
class Ctx:
    """Where a batch's rows come from, so a failing row becomes a finding at its file and line."""

    spec: Spec
    scan: Scan  # findings are appended to scan.hits
    paths: list[str]
    unit_of_line: Any  # numpy arrays: the batch's unit (file block) of each line,
    line_no: Any  # each line's 1-based number in its file,
    polygon_unit: Any  # and whether a unit holds a polygon row

    def hit(self, li: int, code: str, severity: str, message: str, **data: Any) -> None:
        self.scan.add((code, severity, message, self.paths[self.unit_of_line[li]], int(self.line_no[li]), data))


def _fmt(x: float) -> str:
    return f"{x:.6g}"


def check_rows(ctx: Ctx, sel, m, k: int) -> None:
    """Vectorised checks of all rows with k columns; findings only for the rows that fail."""
    import numpy as np

    spec = ctx.spec
    mixed = ctx.polygon_unit[ctx.unit_of_line[sel]]  # files with a polygon row (Ultralytics' own test)
    # --task segment/obb: every row is a polygon row, so a file of 5-column boxes is caught too (ND110,
    # ND103); Ultralytics 8.4 refuses a segment or OBB dataset whose label files hold boxes.
    poly = np.ones(len(sel), dtype=bool) if spec.task in ("segment", "obb") else mixed.copy()
    ndim = None  # keypoint dims when rows are pose rows
    if spec.task == "pose":
        ndim = spec.kpt[1] if spec.kpt else (3 if (k - 5) % 3 == 0 else 2)
    elif spec.task is None and spec.guess_pose and k > 6 and (k - 1) % 2 and (k - 5) % 3 == 0:
        poly[:], ndim = False, 3  # an odd coordinate count is no polygon: pose rows (x, y, visibility)

    # Non-finite tokens (nan/inf) are reported once per row; other checks skip those rows.
    finite = np.isfinite(m)
    nonfin = ~finite.all(1)
    for i in np.flatnonzero(nonfin):
        col = int(np.flatnonzero(~finite[i])[0])
        ctx.hit(sel[i], "ND105", "error", f"column {col + 1} is {_fmt(m[i, col])}", column=col + 1)

    # Column count for the task.
    expected = _expected_columns(spec, k) if ndim is None or spec.task == "pose" else k
    ok_cols = np.ones(len(sel), dtype=bool)
    if poly.any():
        if (k - 1) % 2 or k < 3:
            why = f"{k} columns: polygon rows are `cls x1 y1 ... xn yn` (pairs of coordinates)"
            ok_cols[poly] = False
            _hits(ctx, sel, poly & ~nonfin, "ND103", "error", why, columns=k)
        elif spec.task == "obb" and k != 9:
            ok_cols[poly] = False
            _hits(
                ctx,
                sel,
                poly & ~nonfin,
                "ND103",
                "error",
                f"{k} columns: obb rows are `cls x1 y1 ... x4 y4` (9 columns)",
                columns=k,
            )
        elif k == 5:
            _hits(
                ctx,
                sel,
                poly & mixed & ~nonfin,
                "ND110",
                "error",
                "a box row in a polygon file, read as a "
                "2-point polygon: Ultralytics drops the image (labels mix segment and detection rows)",
                points=2,
            )
            _hits(
                ctx,
                sel,
                poly & ~mixed & ~nonfin,
                "ND110",
                "error",
                "a box row (5 columns) in a segment label, "
                "a 2-point polygon: Ultralytics 8.4 refuses a segment dataset whose labels are boxes",
                points=2,
            )
        elif k == 3:
            _hits(
                ctx,
                sel,
                poly & ~nonfin,
                "ND110",
                "error",
                "a 1-point polygon: no area (Ultralytics keeps it as a zero-size box)",
                points=1,
            )
    box = ~poly
    if box.any() and expected is not None and k != expected:
        ok_cols[box] = False
        what = "pose rows" if spec.task == "pose" else "boxes"
        _hits(
            ctx,
            sel,
            box & ~nonfin,
            "ND103",
            "error",
            f"{k} columns, {what} need {expected}",
            columns=k,
            expected=expected,
        )

    live = ~nonfin
    cls = m[:, 0].astype(np.float32).astype(np.float64)  # Ultralytics compares class ids in float32
    _check_class(ctx, sel, cls, finite[:, 0])  # a NaN coordinate does not hide a bad class id

    good = live & ok_cols
    if (good & box).any() and k >= 5:
        _check_boxes(ctx, sel, m, good & box, ndim)
    if (good & poly).any():
        _check_polygons(ctx, sel, m, good & poly, k)
    _check_duplicates(ctx, sel, m)


def _expected_columns(spec, k: int) -> int | None:
    if spec.task == "pose":
        if spec.kpt:
            return 5 + spec.kpt[0] * spec.kpt[1]
        return k if k >= 5 and ((k - 5) % 3 == 0 or (k - 5) % 2 == 0) else 5
    return 5


def _hits(ctx, sel, mask, code, severity, message, **data) -> None:
    import numpy as np

    idx = np.flatnonzero(mask)
    room = max(0, ctx.scan.room(code))
    ctx.scan.drop(code, len(idx) - room)  # past the cap only the count matters: no per-row Python
    for i in idx[:room]:
        ctx.hit(sel[i], code, severity, message, **data)


def _check_class(ctx, sel, cls, live) -> None:
    import numpy as np

    nc = ctx.spec.nc
    neg = live & (cls < 0)
    high = live & ~np.isfinite(cls)  # beyond float32 range
    if nc is not None:
        high |= live & (cls >= nc)
    frac = live & ~neg & ~high & (cls != np.floor(cls))
    for i in np.flatnonzero(neg | high):
        c = _fmt(cls[i])
        msg = (
            f"class {c} is negative"
            if cls[i] < 0
            else f"class {c} >= nc {nc} (valid ids 0..{nc - 1})"
            if nc is not None
            else f"class {c} is beyond the float32 range"
        )
        ctx.hit(sel[i], "ND101", "error", msg, cls=float(cls[i]), nc=nc)
    for i in np.flatnonzero(frac):
        ctx.hit(
            sel[i],
            "ND102",
            "error",
            f"class {_fmt(cls[i])} is not an integer (Ultralytics drops the image)",
            cls=float(cls[i]),
        )
    valid = live & ~neg & ~high & ~frac
    ids, counts = np.unique(cls[valid].astype(np.int64), return_counts=True)
    for c, n in zip(ids.tolist(), counts.tolist(), strict=True):
        ctx.scan.classes[c] = ctx.scan.classes.get(c, 0) + n


def _far(values):
    """Outside Ultralytics' tolerance, compared as it compares them: float32 labels against float32 bounds
    (a vertex at -0.07 whose box centre rounds to -0.01 is accepted)."""
    import numpy as np

    v = values.astype(np.float32)
    return (v > np.float32(1 + TOL)) | (v < np.float32(-TOL))


def _range_hits(ctx, sel, values, names, rows, what: str) -> None:
    """ND106 (outside Ultralytics' tolerance) per row; ND107 (accepted) aggregated per file."""
    import numpy as np

    far = _far(values)
    near = ((values > 1 + EPS) | (values < -EPS)) & ~far
    for i in np.flatnonzero(rows & far.any(1)):
        j = int(np.flatnonzero(far[i])[0])
        ctx.hit(
            sel[i],
            "ND106",
            "error",
            f"{names[j]} = {_fmt(values[i, j])} is outside [0, 1] "
            f"(beyond Ultralytics' 1% tolerance: it drops this image){what}",
            column=names[j],
            value=float(values[i, j]),
        )
    _aggregate_near(
        ctx,
        sel,
        values,
        near & rows[:, None] & ~far.any(1)[:, None],
        "within Ultralytics' 1% tolerance (accepted, clipped)",
    )


def _aggregate_near(ctx, sel, values, near, why: str) -> None:
    """One info per file for accepted out-of-range coordinates, at the first line, listing all lines."""
    import numpy as np

    rows = np.flatnonzero(near.any(1))
    if not len(rows):
        return
    units = ctx.unit_of_line[sel[rows]]
    for u in np.unique(units):
        r = rows[units == u]
        v = values[r][near[r]]
        lines = [int(x) for x in ctx.line_no[sel[r]]]
        ctx.hit(
            sel[r[0]],
            "ND107",
            "info",
            f"{len(v)} coordinate(s) slightly outside [0, 1] (min {_fmt(v.min())}, "
            f"max {_fmt(v.max())}) on {len(lines)} line(s), {why}",
            lines=lines[:100],
            count=int(len(v)),
        )


def _check_boxes(ctx, sel, m, rows, ndim: int | None) -> None:
    import numpy as np

    xywh = m[:, 1:5]
    names = ["cx", "cy", "w", "h"]
    if ndim and m.shape[1] > 5 and (m.shape[1] - 5) % ndim == 0:
        kp = m[:, 5:].reshape(len(m), -1, ndim)
        xy = kp[..., :2].reshape(len(m), -1)
        coords = np.concatenate([xywh, xy], 1)
        names = names + [f"kpt{p + 1}.{a}" for p in range(kp.shape[1]) for a in "xy"]
        if ndim == 3:
            vis = kp[..., 2]
            badv = ~np.isin(vis, (0.0, 1.0, 2.0))
            for i in np.flatnonzero(rows & badv.any(1)):
                p = int(np.flatnonzero(badv[i])[0])
                v = vis[i, p]
                sev = "error" if v < -TOL else "warning"
                ctx.hit(
                    sel[i], "ND111", sev, f"keypoint {p + 1} visibility is {_fmt(v)}", keypoint=p + 1, value=float(v)
                )
    else:
        coords = xywh
    _range_hits(ctx, sel, coords, names, rows, "")

    w, h = xywh[:, 2], xywh[:, 3]
    degenerate = rows & ((w <= 0) | (h <= 0))
    for i in np.flatnonzero(degenerate):
        which = "width" if w[i] <= 0 else "height"
        val = w[i] if w[i] <= 0 else h[i]
        ctx.hit(sel[i], "ND108", "error", f"{which} is {_fmt(val)}: a zero-area box", value=float(val))

    inside = ((coords <= 1 + TOL) & (coords >= -TOL)).all(1)
    x1, x2 = xywh[:, 0] - w / 2, xywh[:, 0] + w / 2
    y1, y2 = xywh[:, 1] - h / 2, xywh[:, 1] + h / 2
    past = rows & inside & ~degenerate & ((x1 < -EPS) | (y1 < -EPS) | (x2 > 1 + EPS) | (y2 > 1 + EPS))
    for i in np.flatnonzero(past):
        edges = [
            f"{n} = {_fmt(v)}"
            for n, v, out in (
                ("x1", x1[i], x1[i] < -EPS),
                ("y1", y1[i], y1[i] < -EPS),
                ("x2", x2[i], x2[i] > 1 + EPS),
                ("y2", y2[i], y2[i] > 1 + EPS),
            )
            if out
        ]
        ctx.hit(sel[i], "ND109", "warning", f"box extends past the image edge ({', '.join(edges)})")


def _check_polygons(ctx, sel, m, rows, k: int) -> None:
    """Ultralytics range-checks the polygon's enclosing box, so vertices just past the edge are fine."""
    import numpy as np

    pts = m[:, 1:].reshape(len(m), -1, 2)
    lo, hi = pts.min(1).astype(np.float32), pts.max(1).astype(np.float32)
    box = np.concatenate([(lo + hi) / 2, hi - lo], 1)  # cx, cy, w, h as segments2boxes makes them (float32)
    far = _far(box)
    for i in np.flatnonzero(rows & far.any(1)):
        vx = pts[i].reshape(-1)
        j = int(np.argmax(np.maximum(vx - 1, -vx)))
        ctx.hit(
            sel[i],
            "ND106",
            "error",
            f"polygon vertex {'xy'[j % 2]}{j // 2 + 1} = {_fmt(vx[j])}: its "
            "enclosing box is outside Ultralytics' 1% tolerance (it drops this image)",
            value=float(vx[j]),
        )
    coords = m[:, 1:]
    near = ((coords > 1 + EPS) | (coords < -EPS)) & rows[:, None] & ~far.any(1)[:, None]
    _aggregate_near(
        ctx, sel, coords, near, "polygon vertices past the edge; Ultralytics accepts them (it checks the enclosing box)"
    )
    flat = rows & ~far.any(1) & ((box[:, 2] <= 0) | (box[:, 3] <= 0))
    _hits(ctx, sel, flat, "ND108", "error", "polygon has zero width or height (all points on a line)")


def _check_duplicates(ctx, sel, m) -> None:
    """Identical rows in one file: hash each row's bits, sort the hashes, confirm equal neighbours exactly."""
    import numpy as np

    if len(sel) < 2:
        return
    bits = np.ascontiguousarray(m).view(np.uint64)
    h = ctx.unit_of_line[sel].astype(np.uint64)
    for j in range(bits.shape[1]):
        h = (h * np.uint64(1_000_003)) ^ bits[:, j]
    order = np.argsort(h, kind="stable")
    hs = h[order]
    run_start = np.ones(len(hs), dtype=bool)
    run_start[1:] = hs[1:] != hs[:-1]
    if run_start.all():
        return
    leader = order[np.maximum.accumulate(np.where(run_start, np.arange(len(hs)), 0))]
    cand = np.flatnonzero(~run_start)
    rows, firsts = order[cand], leader[cand]
    same = (bits[rows] == bits[firsts]).all(1) & (ctx.unit_of_line[sel[rows]] == ctx.unit_of_line[sel[firsts]])
    for i, f in zip(rows[same], firsts[same], strict=True):
        first = int(ctx.line_no[sel[f]])
        ctx.hit(sel[i], "ND112", "info", f"duplicate of line {first}", first_line=first)
