"""inspect-ckpt rules (ND2xx)."""

from nandoctor.catalogue import Rule

RULES = [
    Rule(
        code="ND200",
        title="unreadable checkpoint",
        why="A truncated or corrupt checkpoint cannot be resumed from; a loader that half-reads it "
        "may start training from garbage.",
        fix="Resume from an earlier clean checkpoint; keep the broken file for forensics.",
        bad="weights/last.pt cut in half when the job was killed mid-save",
        good="save to a temporary name and rename, so a crash never leaves half a checkpoint",
        check="nandoctor.ckpt.engine:_inspect_one",
    ),
    Rule(
        code="ND201",
        title="non-finite weights",
        why="A NaN or Inf in a parameter or buffer propagates to every activation that touches it; "
        "every later step produces NaN.",
        fix="Do not resume from this checkpoint; resume from the newest clean one with a safer config.",
        bad="model.22.cv3.2.1.conv.weight contains 412 NaN values",
        good="every tensor finite; resume from the newest checkpoint that is",
        check="nandoctor.ckpt.checks:judge",
    ),
    Rule(
        code="ND202",
        title="unsafe pickle",
        why="Opening this checkpoint with torch.load(weights_only=False) or pickle.load would run the "
        "code it names (os.system, subprocess, eval, ...) before any NaN could be looked at.",
        fix="Do not load it with pickle or weights_only=False; get the weights from a trusted source, "
        "preferably as .safetensors.",
        bad="a 'best.pt' from a forum whose pickle calls posix.system('curl ... | sh')",
        good="model.safetensors from the model's official repository, loaded with safetensors",
        check="nandoctor.ckpt.engine:_inspect_one",
    ),
    Rule(
        code="ND203",
        title="non-finite optimizer state",
        why="Adam divides by sqrt(exp_avg_sq) + eps; a NaN/Inf moment makes the first update after "
        "resuming NaN even when the weights are clean.",
        fix="Resume from an older checkpoint whose optimizer state is finite, or load only the weights "
        "and start a fresh optimizer with warmup.",
        bad="optimizer.state.0.exp_avg_sq holds 5 NaN values",
        good="every exp_avg/exp_avg_sq finite; exp_avg_sq >= 0",
        check="nandoctor.ckpt.checks:judge",
    ),
    Rule(
        code="ND204",
        title="negative Adam second moment",
        why="exp_avg_sq is a running mean of squared gradients and can never be negative; sqrt of a "
        "negative value is NaN on the next step. It means memory corruption or a bad conversion.",
        fix="Do not resume with this optimizer state; load weights only and re-create the optimizer.",
        bad="optimizer.state.12.exp_avg_sq min -3.1e-05",
        good="exp_avg_sq >= 0 everywhere",
        check="nandoctor.ckpt.checks:judge",
    ),
    Rule(
        code="ND205",
        title="nan_to_num sanitising signature",
        why="Recent Ultralytics replaces NaN with 0 and Inf with +-65504 before saving, so a poisoned "
        "checkpoint shows no NaN; the model it holds is still broken.",
        fix="Treat the checkpoint as poisoned: back it up, resume from an earlier epoch checkpoint.",
        bad="model.2.bn.running_var[0] == 65504.0 exactly in an fp16 EMA",
        good="no values pinned at the fp16 maximum; no unexplained exact zeros in dense weights",
        check="nandoctor.ckpt.checks:judge",
    ),
    Rule(
        code="ND206",
        title="BatchNorm running_var not positive",
        why="BatchNorm divides by sqrt(running_var + eps); a zero or negative variance gives Inf or NaN "
        "activations in eval mode and a poisoned EMA.",
        fix="Resume from an earlier checkpoint; check batch size (>= 2 per GPU) and AMP overflow.",
        bad="model.3.bn.running_var has 4 values <= 0",
        good="running_var > 0 everywhere",
        check="nandoctor.ckpt.checks:judge",
    ),
    Rule(
        code="ND207",
        title="normalisation weight collapsed to zero",
        why="A BatchNorm/LayerNorm weight of all zeros kills its channel; after an overflow the next "
        "normalisation divides by a near-zero variance.",
        fix="Check for weight decay on norm layers or an earlier overflow; resume from an earlier epoch.",
        bad="model.8.bn.weight is all zeros",
        good="norm weights near 1, excluded from weight decay",
        check="nandoctor.ckpt.checks:judge",
    ),
    Rule(
        code="ND208",
        title="fp16 exp_avg_sq flushed to zero",
        why="Squared gradients below 6e-8 underflow to 0 in fp16; Adam then divides by eps only and the "
        "update explodes (Ultralytics issue #24079).",
        fix="Keep optimizer state in fp32 (do not .half() the optimizer); resume with a fresh optimizer.",
        bad="optimizer.state.3.exp_avg_sq (fp16) is 97% exact zeros",
        good="optimizer moments stored in fp32",
        check="nandoctor.ckpt.checks:judge",
    ),
    Rule(
        code="ND209",
        title="GradScaler scale collapsed",
        why="The AMP loss scale halves on every overflowing step; a scale below 1 or non-finite means "
        "the gradients were overflowing again and again before the save.",
        fix="Resume from an earlier checkpoint with AMP off (or bf16) and a lower learning rate.",
        bad="scaler.scale == 6.1e-05",
        good="scaler.scale in the thousands (65536 at start)",
        check="nandoctor.ckpt.checks:_check_scaler",
    ),
    Rule(
        code="ND210",
        title="NaN in the stored loss history",
        why="The checkpoint's own metrics (Ultralytics train_results / train_metrics) show NaN losses: "
        "it was saved after training had diverged.",
        fix="Resume from a checkpoint saved before the first NaN epoch.",
        bad="train_results['train/box_loss'] is nan from epoch 4",
        good="every stored loss finite",
        check="nandoctor.ckpt.checks:_check_history",
    ),
    Rule(
        code="ND211",
        title="values beyond fp16 range",
        why="Under AMP these fp32 weights are cast to fp16, where anything above 65504 becomes Inf.",
        fix="Check for exploding weights (lower LR, clip gradients); train in bf16 or fp32.",
        bad="model.9.cv2.conv.weight abs-max 1.2e5 with amp: true",
        good="weights well inside +-65504",
        check="nandoctor.ckpt.checks:judge",
    ),
    Rule(
        code="ND212",
        title="no clean checkpoint",
        why="Every checkpoint found is poisoned, suspect, unsafe or unreadable; resuming from any of "
        "them reproduces the NaN.",
        fix="Restart from the pretrained weights with the repaired config; set save_period so clean "
        "checkpoints exist next time.",
        bad="weights/ holds only last.pt, poisoned",
        good="save_period: 5 keeps epochN.pt files to fall back on",
        check="nandoctor.ckpt.engine:_conclude",
    ),
    Rule(
        code="ND213",
        title="tensors not scanned",
        why="Some tensors use a layout nandoctor does not read (quantized, sparse, tensor subclasses); "
        "they could hold NaN unseen.",
        fix="Check those tensors with torch after loading the checkpoint in a sandbox.",
        bad="a quantized model whose int8 weights are stored with _rebuild_qtensor",
        good="dense tensors in a torch zip or safetensors file",
        check="nandoctor.ckpt.checks:judge",
    ),
    Rule(
        code="ND214",
        title="not a model checkpoint",
        why="The file holds no weights: trainer state (rng_state.pth, scheduler.pt), a lone optimizer.pt, "
        "or no tensors at all. There is nothing in it to resume a model from.",
        fix="Point inspect-ckpt at the checkpoint folder or the weights file (model.safetensors, last.pt).",
        bad="nandoctor inspect-ckpt output/checkpoint-500/rng_state.pth",
        good="nandoctor inspect-ckpt output/checkpoint-500",
        check="nandoctor.ckpt.engine:inspect_ckpt",
    ),
    Rule(
        code="ND215",
        title="exploded weights or loss",
        why="Finite is not healthy: weights two orders of magnitude above the run's earlier checkpoints, "
        "or a stored loss far above its earlier values, come from diverged training; resuming from them "
        "continues the divergence.",
        fix="Resume from the newest checkpoint saved before the jump, with a lower learning rate and "
        "gradient clipping.",
        bad="epoch_10.pt: 0.weight abs-max 7028, 3700x epoch_9.pt; val_loss 4.35e6",
        good="weights and stored losses of the same order as the run's earlier checkpoints",
        check="nandoctor.ckpt.checks:compare_run",
    ),
    Rule(
        code="ND216",
        title="non-finite trainer bookkeeping",
        why="Callback, loop and scheduler state is not weights: Lightning's ModelCheckpoint stores its "
        "initial worst score as kth_value = inf. It is reported for completeness and never held against "
        "the checkpoint.",
        fix="Nothing to fix; look at the weights' verdict.",
        bad="callbacks.ModelCheckpoint{...}.kth_value = inf (reported as info)",
        good="the same checkpoint judged clean on its state_dict",
        check="nandoctor.ckpt.checks:judge",
    ),
    Rule(
        code="ND217",
        title="pickle names globals outside the allow-list",
        why="A class or function that real checkpoints do not contain would be imported and called by "
        "torch.load(weights_only=False); nandoctor cannot tell what it does, so the file is not trusted.",
        fix="Pass --trust MODULE.NAME for code you trust (your own model class), or re-export the weights "
        "as safetensors.",
        bad="a best.pt whose pickle names mypkg.models.CustomNet",
        good="a checkpoint holding only tensors, containers and framework data classes",
        check="nandoctor.ckpt.engine:_judge_pickle",
    ),
]
