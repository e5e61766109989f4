"""diagnose-config rules (ND4xx)."""

from nandoctor.catalogue import Rule
from nandoctor.catalogue.lr_policy import CUT_TEXT

RULES = [
    Rule(
        code="ND401",
        title="fp16 mixed precision",
        why="fp16 overflows above 65504 and flushes values below 6e-8 to zero; a large activation or "
        "gradient becomes Inf, then NaN.",
        fix="bf16 only where it is known to run natively (torch reports an Ampere-or-newer GPU, or the config "
        "already uses one); otherwise fp32 until the run is stable. Version notes: Ultralytics accepts amp: bf16 "
        "from the 2026 releases (8.4.190 checked; older 8.x take only true/false); Lightning >= 2.0 names "
        "'bf16-mixed'/'32-true' (1.x: 'bf16'/32).",
        bad="amp: true / fp16: true / mixed_precision: fp16",
        good="bf16: true, or amp: false",
        check="nandoctor.config.frameworks.ultralytics:_amp",
    ),
    Rule(
        code="ND402",
        title="learning rate high for this setting",
        why="A step size too large for the model (transformers at >= 1e-4, YOLO lr0 0.01 at 1280 px) makes "
        "the loss grow exponentially until it overflows.",
        fix=f"After a NaN, lower the LR to {CUT_TEXT}; the LR that ran is the log's (lr/pg0, learning_rate), "
        "else the config's. Without a NaN, lower an LR that is high for the setting (transformers 1e-4 -> 5e-5; "
        "a YOLO SGD lr0 0.01 at 1280 px -> 0.003). With Ultralytics name the optimizer (SGD, AdamW), or lr0 is "
        "ignored.",
        bad="learning_rate: 1.0e-04 (full fine-tune) / lr0: 0.01 with imgsz: 1280",
        good="learning_rate: 5.0e-05 / lr0: 0.003, optimizer: SGD",
        check="nandoctor.config.frameworks.ultralytics:_explicit_lr0",
    ),
    Rule(
        code="ND403",
        title="Adam epsilon below fp16's smallest subnormal",
        why="fp16's smallest subnormal is 5.96e-8, so eps 1e-8 is 0 in an fp16 optimizer state and the "
        "update m / (sqrt(v) + eps) divides by zero when v is 0. Under AMP (fp16: true, 16-mixed, amp) and "
        "DeepSpeed fp16 the optimizer runs in fp32 and eps 1e-8 is fine: this applies to pure fp16 only.",
        fix="Use eps >= 1e-6 when weights and optimizer state are fp16 (16-true, .half()), or train in bf16/fp32.",
        bad="precision: 16-true with eps: 1e-8",
        good="eps: 1.0e-06 (or precision: bf16-mixed)",
        check="nandoctor.config.frameworks.lightning:_eps",
    ),
    Rule(
        code="ND404",
        title="gradient clipping off",
        why="Without clipping one outlier batch produces a huge update that blows the weights to Inf.",
        fix="Clip the global gradient norm at 1.0 (0.5 if still unstable), or at 2-3x the healthy maximum "
        "grad norm from the log, never looser than the framework's default. Defaults: HF max_grad_norm 1.0; "
        "DeepSpeed gradient_clipping 1.0 in current releases (0.19.8 checked), 0.0 (off) before the mid-2026 "
        "change; Lightning gradient_clip_val None (off); Ultralytics clips at 10 itself.",
        bad="max_grad_norm: 0 / gradient_clipping: 0 / gradient_clip_val: null",
        good="max_grad_norm: 1.0",
        check="nandoctor.config.frameworks.hf:check",
    ),
    Rule(
        code="ND405",
        title="no learning-rate warmup",
        why="In the first steps Adam's second-moment estimates are uncalibrated; full LR then gives huge updates.",
        fix="Warm up linearly over a share of the run: Ultralytics warmup_epochs >= 3; HF transformers >= 5.0 "
        "warmup_steps: 0.05 (below 1 it is a ratio); transformers 4.x and axolotl warmup_ratio: 0.05.",
        bad="warmup_epochs: 0 / warmup_steps: 0",
        good="warmup_epochs: 3.0 / warmup_steps: 0.05 (transformers 5) / warmup_ratio: 0.05 (4.x)",
        check="nandoctor.config.frameworks.ultralytics:check",
    ),
    Rule(
        code="ND406",
        title="logits masking writes -inf",
        why="Masking invalid classes with -inf gives softmax NaN on a row that is all -inf and an inf loss when "
        "the target is masked.",
        fix="Turn masking off, or mask with a large finite value such as -1e9.",
        bad="datasets: {enable_logits_masking: true}",
        good="datasets: {enable_logits_masking: false}",
        check="nandoctor.config.frameworks.generic:check",
    ),
    Rule(
        code="ND407",
        title="exotic loss where cross entropy is the stable choice",
        why="Focal/margin/asymmetric losses add powers and logs of small probabilities that overflow or divide "
        "by ~0 where plain cross entropy stays finite.",
        fix="Use cross entropy (optionally label_smoothing 0.1) until the run is stable.",
        bad='loss: {type: "focal"}',
        good='loss: {type: "cross_entropy"}',
        check="nandoctor.config.frameworks.generic:check",
    ),
    Rule(
        code="ND408",
        title="heavy augmentation",
        why="Extreme hue/saturation shifts and heavy mixup/copy-paste create off-distribution samples whose "
        "losses spike (a 1280 px YOLO run).",
        fix="hsv_h 0.015, hsv_s 0.7, hsv_v 0.4, mixup 0.0, copy_paste 0.0.",
        bad="hsv_h: 0.05, mixup: 0.5, copy_paste: 0.5",
        good="hsv_h: 0.015, mixup: 0.0, copy_paste: 0.0",
        check="nandoctor.config.frameworks.ultralytics:check",
    ),
    Rule(
        code="ND409",
        title="batch size 1 with BatchNorm",
        why="BatchNorm divides by the batch's standard deviation; with one sample it is ~0.",
        fix="Use a larger batch, accumulate gradients, or freeze/replace BatchNorm (GroupNorm).",
        bad="batch: 1 (YOLO, BatchNorm everywhere)",
        good="batch: 16",
        check="nandoctor.config.frameworks.ultralytics:check",
    ),
    Rule(
        code="ND410",
        title="no periodic checkpoints",
        why="If only last.pt is kept, the NaN step poisons it and no clean checkpoint is left to resume from.",
        fix="Save every few epochs (Ultralytics save_period: 5).",
        bad="save_period: -1",
        good="save_period: 5",
        check="nandoctor.config.frameworks.ultralytics:check",
    ),
    Rule(
        code="ND411",
        title="Ultralytics optimizer: auto ignores lr0",
        why="With optimizer: auto Ultralytics picks AdamW at 0.002*5/(4+nc) for short runs, or SGD/MuSGD at 0.01 "
        "over 10k iterations, and ignores lr0, so a lowered lr0 never applies; the LR that ran is the log's lr/pg0.",
        fix="Name the optimizer (SGD, AdamW) whenever lr0 is set.",
        bad="optimizer: auto with lr0: 0.003",
        good="optimizer: SGD with lr0: 0.003",
        check="nandoctor.config.frameworks.ultralytics:_auto",
    ),
    Rule(
        code="ND412",
        title="number PyYAML reads as a string",
        why="PyYAML implements YAML 1.1, where a float needs a dot and a signed exponent: `1e-6` is the string "
        "'1e-6'; scripts then compare or multiply a string.",
        fix="Write 1.0e-06 (or quote it and convert explicitly).",
        bad="lr: 1e-6",
        good="lr: 1.0e-06",
        check="nandoctor.config.issues:string_numbers",
    ),
    Rule(
        code="ND413",
        title="per-dataset num_classes inconsistent with the unified head",
        why="A label id >= the head's num_classes indexes past the logits: cross entropy returns inf or the "
        "kernel fails (food101 label 101 with a 101-class head).",
        fix="Make the head's num_classes cover every dataset's classes (their sum for disjoint label spaces).",
        bad="model.num_classes: 100 with dataset_configs.food101.num_classes: 101",
        good="model.num_classes equal to the union of the datasets' classes",
        check="nandoctor.config.frameworks.generic:_heads",
    ),
    Rule(
        code="ND414",
        title="no training settings found",
        why="Nothing in the file is a setting nandoctor knows, so it cannot say whether training is fragile.",
        fix="Point diagnose-config at the training config (args.yaml, TrainingArguments YAML, accelerate or "
        "DeepSpeed config).",
        bad="data.yaml (dataset paths only)",
        good="args.yaml",
        check="nandoctor.config.engine:diagnose_config",
    ),
    Rule(
        code="ND415",
        title="repaired config already exists",
        why="An earlier run wrote the repaired file; nandoctor never overwrites it without --force.",
        fix="Review it, or rerun `nandoctor diagnose-config CFG --force` to rewrite it.",
        bad="args_fixed.yaml from an older diagnosis silently replaced",
        good="args_fixed.yaml kept; --force to rewrite",
        check="nandoctor.config.engine:_write",
    ),
    Rule(
        code="ND416",
        title="anomaly detection off while the run went NaN",
        why="Without anomaly detection the traceback points at the optimizer step, not the operation that "
        "first produced NaN.",
        fix="For one debugging run pass --trainer.detect_anomaly=true (LightningCLI) or trainer.detect_anomaly=true "
        "(Hydra) on the command line; it is slow, so it is never written into the config you train with.",
        bad="a Lightning run whose log went NaN, debugged without anomaly detection (or with detect_anomaly: true "
        "left in the training config)",
        good="python train.py fit --config cfg.yaml --trainer.detect_anomaly=true (one run)",
        check="nandoctor.config.frameworks.lightning:check",
    ),
    Rule(
        code="ND417",
        title="repair values chosen from the training log",
        why="The log's time-to-NaN and healthy gradient norms say how far to lower the LR and where to clip.",
        fix="Nothing to fix; this records which log diagnosis the repair follows (--no-log judges the config "
        "alone, with the usual defaults).",
        bad="diagnose-config args.yaml with the run's results.csv beside it (or --log results.csv): the record",
        good="diagnose-config args.yaml --no-log: no log, no record, repair values from the usual defaults",
        check="nandoctor.config.engine:_evidence",
    ),
    Rule(
        code="ND418",
        title="key this framework version does not accept",
        why="The framework refuses the whole file at start-up (HfArgumentParser: 'Some keys are not used'), so the "
        "run never starts, or a fix is silently ignored.",
        fix="transformers >= 5.0 removed warmup_ratio: write the ratio as warmup_steps below 1 (warmup_steps: 0.05). "
        "transformers 4.x keeps warmup_ratio.",
        bad="warmup_ratio: 0.1 under transformers 5",
        good="warmup_steps: 0.1",
        check="nandoctor.config.frameworks.hf:_warmup",
    ),
    Rule(
        code="ND419",
        title="non-finite number in the config",
        why="`.nan`, `.inf` or a literal too large for a float (1e400) reaches the script as nan or inf; every value "
        "computed from it is non-finite from the first step.",
        fix="Write a finite value by hand; nandoctor never proposes one in its place.",
        bad="lr0: .nan / lr0: 1e400",
        good="lr0: 0.01",
        check="nandoctor.config.issues:nonfinite_values",
    ),
    Rule(
        code="ND420",
        title="repair refused by the framework's own loader",
        why="The repaired file was loaded the way the framework loads it (Ultralytics get_cfg, HfArgumentParser, "
        "accelerate's config loader, DeepSpeedConfig, Lightning's Trainer signature, Hydra instantiate) and it "
        "refused it, so the file was not written.",
        fix="Apply the listed changes by hand, as the framework's message says.",
        bad="a repaired TrainingArguments YAML that HfArgumentParser rejects",
        good="every repaired file loads in the framework installed",
        check="nandoctor.config.engine:diagnose_config",
    ),
]
