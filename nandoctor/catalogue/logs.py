"""analyze-log rules (ND3xx). The pattern rules (ND303-ND307) define the curve shapes that
`nandoctor.logs.classify` names; keep the two in step."""

from nandoctor.catalogue import Rule
from nandoctor.catalogue.lr_policy import CUT_TEXT

RULES = [
    Rule(
        code="ND301",
        title="loss became non-finite",
        why="Once the loss is NaN/Inf the gradients are too, and the optimizer writes NaN into every weight.",
        fix="Resume from the last healthy epoch's checkpoint with a lower learning rate, clipping and fp32; a log "
        "that is non-finite from its first line started mid-run: analyze the whole log from the start of "
        "training to date the break.",
        bad="epoch 134: train/box_loss nan",
        good="a finite loss at every step, with clipping and warmup on",
        check="nandoctor.logs.engine:_loss_findings",
    ),
    Rule(
        code="ND302",
        title="recovered loss spike",
        why="A spike that recovered shows the run sits on the edge of instability; the next one may not recover.",
        fix="Lower the learning rate or tighten gradient clipping; look for outlier batches at the spike.",
        bad="loss 2.1, 2.0, 8734.5, 1.9",
        good="a smooth curve with no point beyond 7 sigma of its rolling mean",
        check="nandoctor.logs.engine:_loss_findings",
    ),
    Rule(
        code="ND303",
        title="non-finite from the first value (pattern nonfinite_from_start)",
        why="The very first logged loss is NaN/Inf, so nothing ever trained: the forward pass itself is broken, "
        "typically a label equal to num_classes, logits masked with float('-inf'), or log(0) in the loss.",
        fix="Check label ranges against num_classes (`nandoctor check-data`), mask logits with -1e9 instead of -inf, "
        "add eps inside log, lower the learning rate.",
        bad="food101: Loss: inf, Accuracy: 0.0097 (0.97%)",
        good="food101: Loss: 4.61, Accuracy: 0.0097 at the first evaluation, falling from there",
        check="nandoctor.logs.engine:_loss_findings",
    ),
    Rule(
        code="ND304",
        title="sudden spike (pattern sudden_spike)",
        why="A healthy curve whose last finite value jumps at least 3x above the window before it (and over "
        "7 robust sigma) in one step: one abnormal sample, an overflow, log(0) or a division by zero.",
        fix="Find the batch at the spike (bad labels, empty targets, extreme inputs), add eps to log and "
        "divisions, clip gradients (max_norm 1.0).",
        bad="loss 2.1 -> 2.0 -> 1.9 -> 8734.5 -> NaN",
        good="loss 2.1 -> 2.0 -> 1.9 -> 1.85 with the outlier batch removed and clipping on",
        check="nandoctor.logs.engine:_loss_findings",
    ),
    Rule(
        code="ND305",
        title="exponential growth (pattern exponential_growth)",
        why="After its calmest point the loss rises steadily until even its lower envelope is 2.5x the calm "
        "level: the update step is too large (LR too high, accumulated gradients not divided, bad momentum).",
        fix=f"Lower the learning rate to {CUT_TEXT}; divide the loss by the accumulation steps, add warmup and "
        "clipping.",
        bad="loss 2.1 -> 2.3 -> 2.8 -> 4.5 -> 12.3 -> 89.7 -> NaN",
        good="lr 1e-4 -> 5e-5 with warmup: loss 2.1 -> 2.0 -> 1.9 -> 1.8",
        check="nandoctor.logs.engine:_loss_findings",
    ),
    Rule(
        code="ND306",
        title="oscillating divergence (pattern oscillating_divergence)",
        why="After its calmest point the loss swings up and down with growing amplitude (upper envelope 2x, "
        "swing 3x) while the lows stay down: corrupted optimizer state, batch distribution shift, or a "
        "misconfigured scheduler.",
        fix="Reset or re-create the optimizer state, shuffle the data, check the LR schedule (warmup then "
        "cosine), lower the learning rate.",
        bad="loss 2.1 -> 1.8 -> 2.5 -> 1.6 -> 3.2 -> 1.4 -> 5.8 -> NaN",
        good="loss 2.1 -> 1.9 -> 1.8 -> 1.7 after re-creating the optimizer and shuffling",
        check="nandoctor.logs.engine:_loss_findings",
    ),
    Rule(
        code="ND307",
        title="NaN out of a healthy run (pattern abrupt_nonfinite)",
        why="The loss was finite and steady right up to the first NaN/Inf, with no growth before it: the "
        "classic fp16/AMP overflow (fp16 max 65504) or a gradient explosion after a change (image size).",
        fix="Disable fp16 (bf16 or fp32), keep dynamic loss scaling, clip gradients, resume from the last "
        "healthy checkpoint.",
        bad="134/200 24.6G 1.88 4.06 1.659 316 1280 then 134/200 24.6G nan nan nan 294 1280 (amp: true)",
        good="amp: false (or bf16) and clipping, resumed from the epoch checkpoint before the NaN",
        check="nandoctor.logs.engine:_loss_findings",
    ),
    Rule(
        code="ND308",
        title="validation went non-finite",
        why="Validation NaN/Inf means the model already outputs non-finite values on some inputs; validation "
        "going first is itself evidence (training follows).",
        fix="Treat it as the break: resume from before it, check the validation data and the eval dtype "
        "(fp16 eval overflows first).",
        bad="Epoch 2/50 | Train Loss: 0.7663 | Val Loss: nan | Val Acc: 1.0000",
        good="Epoch 2/50 | Train Loss: 0.4511 | Val Loss: 0.6120 | Val Acc: 0.8125",
        check="nandoctor.logs.engine:_validation_findings",
    ),
    Rule(
        code="ND309",
        title="metric snapped to exactly 0 or 1 at the NaN",
        why="Accuracy computed from NaN logits is meaningless (argmax over NaN), and detection metrics drop to "
        "0 when the losses are NaN: a metric snapping to 0 or 1 at the break is a symptom, not success.",
        fix="Ignore these metric values; fix the NaN (see the loss findings) and re-evaluate.",
        bad="Val Loss: nan | Val Acc: 1.0000",
        good="Val Loss: 0.61 | Val Acc: 0.81",
        check="nandoctor.logs.engine:_validation_findings",
    ),
    Rule(
        code="ND310",
        title="grad_norm non-finite while the logged loss looks finite",
        why="HF Trainer's logging_nan_inf_filter (on by default) logs a running average instead of a NaN/Inf "
        "loss, so the loss looks fine while grad_norm shows the real break.",
        fix="Treat the first non-finite grad_norm as the break; set logging_nan_inf_filter=False to see it "
        "in the loss; lower the LR and clip (max_grad_norm 1.0).",
        bad='{"loss": 2.31, "grad_norm": NaN, "step": 420}',
        good='{"loss": 2.31, "grad_norm": 1.7, "step": 420}',
        check="nandoctor.logs.engine:_loss_findings",
    ),
    Rule(
        code="ND311",
        title="gradient-norm early warning",
        why="A gradient norm growing 5x within a short window, or above 1000, precedes most explosions "
        "(playbook early-warning signals).",
        fix="Clip gradients at the suggested threshold and lower the learning rate before it turns into NaN.",
        bad="grad_norm 1.1, 1.3, 1.2, 9.8, 48.0",
        good="grad_norm 1.1, 1.3, 1.2, 1.4 with max_grad_norm 1.0",
        check="nandoctor.logs.engine:_grad_findings",
    ),
    Rule(
        code="ND312",
        title="data-driven clipping threshold",
        why="Clipping at 2-3x the normal gradient norm stops outlier steps without slowing healthy ones.",
        fix="Set max_norm (max_grad_norm, gradient_clipping) to the suggested value.",
        bad="no gradient clipping (DeepSpeed gradient_clipping 0)",
        good="max_grad_norm 5.0 when grad_norm normally runs 0.5-2.0",
        check="nandoctor.logs.engine:_grad_findings",
    ),
    Rule(
        code="ND313",
        title="loss not decreasing",
        why="A loss that ends no lower than it started, with metrics stuck at 0, is not learning (LR zero or "
        "too low, frozen weights, wrong labels); it is not a NaN yet but a broken run.",
        fix="Check the learning rate schedule (lr 0 in the first epoch), labels and data pairing "
        "(`nandoctor check-data`).",
        bad="train loss 13.4 -> 14.1 over 10 epochs, mAP 0 throughout",
        good="train loss 13.4 -> 6.2 over 10 epochs, mAP rising",
        check="nandoctor.logs.engine:_run_findings",
    ),
    Rule(
        code="ND314",
        title="time column reset (resumed run)",
        why="The elapsed-time column went backwards, so the run was resumed; a resume from a poisoned "
        "last.pt carries NaN weights forward.",
        fix="Make sure the resume started from a clean checkpoint (`nandoctor inspect-ckpt`).",
        bad="time 3030.1 then 12.4",
        good="time increasing throughout, or a resume from a checkpoint inspect-ckpt calls clean",
        check="nandoctor.logs.engine:_run_findings",
    ),
    Rule(
        code="ND315",
        title="loss missing in a dense log",
        why="pandas' to_csv writes NaN as an empty cell, so a NaN loss can look like a value that was simply not "
        "logged; in a log where every row has the loss, an empty cell is a missing (likely NaN) value.",
        fix="Check that epoch in the training script's own output; write the CSV with na_rep='nan' so NaN stays "
        "visible.",
        bad="epoch,train_loss,val_acc / 7,,0.91 (train_loss empty, the rest logged)",
        good="epoch,train_loss,val_acc / 7,0.412,0.91",
        check="nandoctor.logs.engine:_missing_findings",
    ),
    Rule(
        code="ND316",
        title="no loss in the log: a witness was judged",
        why="Some consoles print no loss (Megatron with a loss scale and grad norm only); the gradient norm, "
        "then the evaluation loss, are the honest witnesses of a break, never a scale, time or count.",
        fix="Log the training loss too (Megatron: `lm loss`); meanwhile treat a non-finite grad norm as the break.",
        bad="| loss scale: 1.0 | grad norm: nan |",
        good="| lm loss: 2.31 | loss scale: 1.0 | grad norm: 1.7 |",
        check="nandoctor.logs.engine:analyze_table",
    ),
    Rule(
        code="ND317",
        title="log cut mid-row",
        why="The trainer was killed while it wrote its log (out of memory, preemption, Ctrl-C, an abort on "
        "NaN): the last row is incomplete, so the verdict reads only the rows before it and the moment the "
        "run stopped is not in the log.",
        fix="Read the end of the console output for what stopped the run, and judge it with its checkpoints "
        "too (`nandoctor triage RUN`); do not resume from a checkpoint saved after the last complete row "
        "before inspecting it (`nandoctor inspect-ckpt`).",
        bad="results.csv ending in `6,1.0` with no line end",
        good="every row complete and ended by a line end",
        check="nandoctor.logs.engine:_cut_row_finding",
    ),
]
