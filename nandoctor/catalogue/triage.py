"""triage rules (ND5xx): conclusions that need more than one engine."""

from nandoctor.catalogue import Rule

RULES = [
    Rule(
        code="ND501",
        title="checkpoint saved after the loss went non-finite",
        why="Weights saved after a NaN step were updated with NaN gradients or sanitised with nan_to_num; "
        "even if they scan clean they are not a state of healthy training.",
        fix="Resume from the newest clean checkpoint at or before the last healthy epoch.",
        bad="resume from last.pt saved two epochs after the loss printed nan",
        good="resume from epoch2.pt, saved before the first non-finite epoch",
        check="nandoctor.triage.link:choose",
    ),
    Rule(
        code="ND502",
        title="no clean checkpoint from before the loss broke",
        why="Every checkpoint is poisoned, unreadable or saved after the first non-finite epoch/step, so "
        "resuming from any of them continues a broken state.",
        fix="Restart from scratch (or from the pretrained weights) with the repaired config, and save "
        "checkpoints more often (Ultralytics save_period, HF save_steps) so a clean one exists next time.",
        bad="save_period: -1, so only last.pt exists and it holds NaN weights",
        good="save_period: 5, so epoch125.pt is still clean when epoch 134 breaks",
        check="nandoctor.triage.link:choose",
    ),
    Rule(
        code="ND503",
        title="part of the run not found",
        why="Triage links the log, the checkpoints, the config and the dataset; a missing piece "
        "narrows what it can conclude but is not itself a cause of NaN.",
        fix="Point the matching command at the piece yourself (check-data, inspect-ckpt, analyze-log, "
        "diagnose-config) if it lives elsewhere.",
        bad="args.yaml names data: /mnt/old/coco.yaml, which is not on this machine",
        good="copy or mount the dataset, then rerun `nandoctor triage RUN_DIR`",
        check="nandoctor.triage.engine:triage",
    ),
    Rule(
        code="ND504",
        title="a file of the run could not be analysed",
        why="A truncated, corrupt or unrecognised file cannot vouch for the run; conclusions that depend "
        "on it (which checkpoint is clean, when the loss broke) are missing or weaker. When it is the run's "
        "only log or only config this is an error: without it no checkpoint can be dated or no setting "
        "repaired; when nothing in the run could be read at all, triage exits 2.",
        fix="Run the engine named in the message on that file for details; restore the file from a "
        "backup if it was cut short.",
        bad="results.csv overwritten with binary junk, or cut inside its header, beside readable weights",
        good="a complete results.csv: triage dates the NaN and picks the checkpoint",
        check="nandoctor.triage.engine:_Engines.call",
    ),
    Rule(
        code="ND505",
        title="checkpoint cannot be dated against the log",
        why="Without the epoch or step a checkpoint was saved at, triage cannot tell whether it came "
        "before or after the loss went non-finite, so it never recommends it.",
        fix="Save the epoch/step in the checkpoint (or in its file name, e.g. epoch12.pt) so its place "
        "in the run is known.",
        bad="torch.save(model.state_dict(), 'model.pt') every epoch",
        good="torch.save({'epoch': epoch, 'model_state_dict': ..., 'optimizer_state_dict': ...}, f'epoch{epoch}.pt')",
        check="nandoctor.triage.link:choose",
    ),
    Rule(
        code="ND506",
        title="nandoctor engine unavailable",
        why="This installation lacks one of the engines, so triage skipped that part of the diagnosis.",
        fix="Reinstall nandoctor (`pip install -e .`) so every engine is present.",
        bad="a partial checkout without nandoctor/ckpt/",
        good="a full install: triage runs check-data, inspect-ckpt, analyze-log and diagnose-config",
        check="nandoctor.triage.engine:_Engines._function",
    ),
    Rule(
        code="ND507",
        title="Ultralytics run stopped early with a finite results.csv",
        why="Ultralytics 8.4 keeps a NaN epoch out of results.csv: it reloads last.pt and redoes the epoch, "
        "up to 3 times, then stops with 'RuntimeError: Training failed: NaN persisted'. A log that stops "
        "short of `epochs` while last.pt still holds its optimizer (a finished run strips it) is that "
        "ending, or a crash or kill.",
        fix="Look for 'NaN persisted' in the console; start a new run from the newest clean checkpoint with "
        "the repaired settings rather than resuming the same ones.",
        bad="results.csv ends at epoch 2 of 5, last.pt has its optimizer, the console says NaN persisted",
        good="results.csv reaches epoch 5 of 5 and last.pt is stripped (epoch -1)",
        check="nandoctor.triage.link:ultralytics_ending",
    ),
    Rule(
        code="ND508",
        title="resumed run: the NaN is in a superseded segment",
        why="A resume appends the new segment's rows to results.csv (its time column restarts) and rewrites "
        "epochN.pt from that segment. A NaN in the rows before the resume says nothing about the rewritten "
        "checkpoints; the latest segment is the current truth.",
        fix="Nothing to undo: triage judged the checkpoints against the latest segment. Keep the old rows "
        "for the record.",
        bad="epoch4 NaN, resumed from epoch2.pt; the new epoch3.pt..epoch5.pt distrusted for the old NaN",
        good="a run resumed after a crash with no NaN in the rows the resume replaced: nothing superseded",
        check="nandoctor.triage.engine:_latest_segment",
    ),
]
