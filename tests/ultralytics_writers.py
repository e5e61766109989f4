"""Ultralytics-shaped files for the tests, written by the same writer `nandoctor demo` uses (one
writer, so the demo and the tests read the same pickle opcodes), and `stand_in_modules` for pickling
other frameworks' classes (transformers' TrainingArguments) on a machine without them."""

from nandoctor.demo.ultralytics import (  # noqa: F401 (re-exported for the tests)
    RESULTS_COLUMNS,
    save_ultralytics_checkpoint,
    stand_in_modules,
    ultralytics_modules,
)
