"""triage: run every engine on a run folder and link their answers into one diagnosis.

Modules: `discover` (find the log, checkpoints, config and dataset where each framework writes them),
`link` (place checkpoints on the log's timeline, decide which to trust), `fixed` (make the repaired
config safe to paste), `steps` (the numbered next steps), `engine` (the command), `view` (text summary).
The other engines' results arrive as typed verdicts (`logs.verdict`, `ckpt.verdict`, `config.repair`).
"""
