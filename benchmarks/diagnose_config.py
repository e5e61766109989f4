"""diagnose-config: a large generic config (every rule walks every key) and the real Ultralytics
default.yaml, each against the floor of loading the same file with PyYAML in a fresh process; and a flat
million-key file, refused from a count of its lines, against the floor of reading it at all."""

import sys
import tempfile
from pathlib import Path

from _util import measure, python, row

ROOT = Path(__file__).resolve().parents[1]


def big_config(path: Path, sections: int = 2000) -> None:
    """A multi-dataset config grown to ~100k lines: nested sections, comments, string numbers."""
    lines = [
        "# generated: one training block and many dataset blocks",
        "training:",
        "  lr: 1e-4  # too high",
        "  mixed_precision: fp16",
        "loss:",
        '  type: "focal"',
        "datasets:",
        "  enable_logits_masking: true",
        "  dataset_configs:",
    ]
    for i in range(sections):
        lines += [
            f"    ds{i}:",
            f"      num_classes: {100 + i % 50}",
            "      eval_ratio: 0.01  # hold-out",
            f"      weight: {1 + i % 3}.0",
            "      augment:",
            "        hsv_h: 0.015",
            "        scale: 0.5",
            f"        seed: {i}",
            "      paths: [train, val]",
        ]
    lines += ["model:", "  num_classes: 5000"]
    path.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / "big.yaml"
        big_config(big, int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
        n = sum(1 for _ in big.open())
        ours = measure(
            python("-m", "nandoctor", "diagnose-config", str(big), "--dry-run", "--format", "json"), repeat=3, cwd=ROOT
        )
        base = measure(python("-c", f"import yaml; yaml.safe_load(open({str(big)!r}))"), repeat=3)
        row(f"diagnose-config ({n} lines, generic)", ours, base, "PyYAML safe_load")
        real = ROOT.parent / "shared" / "formats" / "ultralytics" / "default.yaml"
        if not real.is_file():
            real = ROOT / "sample_configs" / "ultralytics_args_1280.yaml"
        out = Path(tmp) / "fixed.yaml"
        ours = measure(
            python(
                "-m", "nandoctor", "diagnose-config", str(real), "--output", str(out), "--force", "--format", "json"
            ),
            repeat=5,
            cwd=ROOT,
        )
        base = measure(python("-c", f"import yaml; yaml.safe_load(open({str(real)!r}))"), repeat=5)
        row(f"diagnose-config ({real.name}, write fixed file)", ours, base, "PyYAML safe_load")
        flat = Path(tmp) / "flat.yaml"
        flat.write_text("".join(f"k{i}: {i}\n" for i in range(1_000_000)))
        ours = measure(python("-m", "nandoctor", "diagnose-config", str(flat), "--dry-run", "--no-log"), cwd=ROOT)
        base = measure(python("-c", f"open({str(flat)!r}).read().count(chr(10))"))
        row("diagnose-config (flat 1,000,000-key YAML, refused)", ours, base, "reading the file")
