"""analyze-log: read any training log into one tidy table, name the loss curve's shape, date the break.

readers/ turn each format into a `LogTable` (table.py), with the column names from columns.py and the
loss ranking from series.py; signals.py holds the one spike and surge test; classify.py names the
pattern; evidence.py collects the side evidence (which columns went first, metrics that snapped,
grad-norm signals); advice.py turns the pattern into causes and fixes; engine.py assembles the Report.
Readers never import the judging modules (tests/test_analyze_log_imports.py checks it).
"""
