"""Image headers: what Ultralytics' image verification rejects, found without decoding pixels."""

from __future__ import annotations

# Ultralytics' IMG_FORMATS (ultralytics/data/utils.py).
IMG_FORMATS = {"bmp", "dng", "jpeg", "jpg", "mpo", "png", "tif", "tiff", "webp", "pfm", "heic"}
MIN_SIDE = 10  # Ultralytics: assert (h > 9) & (w > 9)


def check_images(paths: list[str]) -> list[tuple]:
    """Open each image lazily (header only) and check format, size and the JPEG end marker.

    Never writes: Ultralytics re-saves truncated JPEGs in place, nandoctor only reports them.
    """
    import warnings

    from PIL import Image

    hits: list[tuple] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # DecompressionBombWarning etc.: we only read headers
        for path in paths:
            try:
                with Image.open(path) as im:
                    w, h = im.size
                    fmt = (im.format or "").lower()
            except Exception as exc:  # PIL raises many types for corrupt files
                hits.append(("ND116", "error", f"PIL cannot open it: {type(exc).__name__}: {exc}", path, None, {}))
                continue
            if fmt not in IMG_FORMATS:
                hits.append(
                    (
                        "ND116",
                        "error",
                        f"format {fmt or '?'} is not one Ultralytics trains on",
                        path,
                        None,
                        {"format": fmt},
                    )
                )
            elif w < MIN_SIDE or h < MIN_SIDE:
                hits.append(
                    (
                        "ND116",
                        "error",
                        f"{w}x{h} px: smaller than {MIN_SIDE} px on a side",
                        path,
                        None,
                        {"width": w, "height": h},
                    )
                )
            elif fmt in ("jpeg", "jpg", "mpo"):
                try:
                    with open(path, "rb") as f:
                        f.seek(-2, 2)
                        end = f.read(2)
                except OSError:
                    end = b""
                if end != b"\xff\xd9":
                    hits.append(
                        (
                            "ND117",
                            "warning",
                            "JPEG has no end marker (truncated); Ultralytics would rewrite this file in place",
                            path,
                            None,
                            {},
                        )
                    )
    return hits
