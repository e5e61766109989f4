"""Which framework will read this config: decided by the key sets each framework defines.

Key sets come from the frameworks' own sources: Ultralytics `cfg/default.yaml`, transformers
`TrainingArguments`, accelerate `commands/config/config_args.py` (ClusterConfig), DeepSpeed
`runtime/constants.py`, Lightning `Trainer.__init__`.
"""

from __future__ import annotations

from nandoctor.config.load import Doc

# Keys only an Ultralytics train config has (default.yaml "Hyperparameters"/"Train settings").
ULTRALYTICS = {
    "lr0",
    "lrf",
    "imgsz",
    "amp",
    "warmup_epochs",
    "warmup_bias_lr",
    "box",
    "cls",
    "dfl",
    "hsv_h",
    "hsv_s",
    "hsv_v",
    "mosaic",
    "mixup",
    "copy_paste",
    "close_mosaic",
    "save_period",
    "nbs",
    "fliplr",
    "flipud",
    "overlap_mask",
    "mask_ratio",
}
HF_TRAINER = {
    "learning_rate",
    "fp16",
    "bf16",
    "max_grad_norm",
    "adam_epsilon",
    "adam_beta1",
    "adam_beta2",
    "warmup_ratio",
    "warmup_steps",
    "lr_scheduler_type",
    "gradient_accumulation_steps",
    "label_smoothing_factor",
    "per_device_train_batch_size",
    "per_device_eval_batch_size",
    "num_train_epochs",
    "output_dir",
    "logging_steps",
    "save_steps",
    "save_strategy",
    "eval_strategy",
    "evaluation_strategy",
    "weight_decay",
    "gradient_checkpointing",
    "overwrite_output_dir",
    "report_to",
    "max_steps",
    "optim",
    "do_train",
    "do_eval",
}
# accelerate ClusterConfig (+ BaseConfig) fields; from_yaml_file raises on any other top-level key.
ACCELERATE = {
    "compute_environment",
    "distributed_type",
    "mixed_precision",
    "use_cpu",
    "debug",
    "enable_cpu_affinity",
    "num_processes",
    "machine_rank",
    "num_machines",
    "gpu_ids",
    "main_process_ip",
    "main_process_port",
    "rdzv_backend",
    "same_network",
    "main_training_function",
    "deepspeed_config",
    "fsdp_config",
    "megatron_lm_config",
    "ipex_config",
    "mpirun_config",
    "parallelism_config",
    "fp8_config",
    "dynamo_config",
    "downcast_bf16",
    "tpu_name",
    "tpu_zone",
    "tpu_use_cluster",
    "tpu_use_sudo",
    "command_file",
    "commands",
    "tpu_vm",
    "tpu_env",
    "ec2_instance_type",
    "iam_role_name",
    "region",
    "profile",
    "base_job_name",
    "pytorch_version",
    "transformers_version",
    "py_version",
    "sagemaker_inputs_file",
    "sagemaker_metrics_file",
    "additional_args",
    "num_cpu_threads_per_process",
    "use_ipex",
    "use_xpu",
}
DEEPSPEED_BLOCKS = {"fp16", "bf16", "zero_optimization", "amp"}
DEEPSPEED = {
    "train_batch_size",
    "train_micro_batch_size_per_gpu",
    "gradient_accumulation_steps",
    "gradient_clipping",
    "steps_per_print",
    "zero_allow_untested_optimizer",
    "wall_clock_breakdown",
    "optimizer",
    "scheduler",
    "prescale_gradients",
    "gradient_predivide_factor",
}
LIGHTNING_TRAINER = {
    "precision",
    "gradient_clip_val",
    "gradient_clip_algorithm",
    "detect_anomaly",
    "accumulate_grad_batches",
    "max_epochs",
    "max_steps",
    "accelerator",
    "devices",
    "strategy",
    "callbacks",
    "logger",
    "check_val_every_n_epoch",
    "log_every_n_steps",
}
# axolotl's schema (AxolotlInputConfig): keys no TrainingArguments YAML has.
AXOLOTL = {
    "base_model",
    "base_model_config",
    "adapter",
    "sequence_len",
    "micro_batch_size",
    "sample_packing",
    "lora_r",
    "lora_alpha",
    "lora_target_modules",
    "lora_target_linear",
    "load_in_8bit",
    "load_in_4bit",
    "val_set_size",
    "dataset_prepared_path",
    "pad_to_sequence_len",
    "wandb_project",
    "flash_attention",
    "special_tokens",
    "chat_template",
    "eval_sample_packing",
    "tokenizer_type",
    "model_type",
    "strict",
    "xformers_attention",
    "saves_per_epoch",
    "evals_per_epoch",
    "lora_model_dir",
}
GENERIC_HINTS = {
    "lr",
    "learning_rate",
    "max_grad_norm",
    "mixed_precision",
    "loss",
    "optimizer",
    "training",
    "epochs",
    "batch_size",
    "datasets",
    "enable_logits_masking",
    "num_classes",
    "amp",
    "fp16",
    "scheduler",
    "warmup_epochs",
    "warmup_steps",
    "grad_clip",
    "clip_grad_norm",
}


def detect(doc: Doc) -> str | None:
    """Framework name, or None when nothing in the file is a training setting."""
    top = set(doc.keys())
    if not top or "log_history" in top:  # trainer_state.json is a log, not a config
        return None
    ds_blocks = {k for k in top & DEEPSPEED_BLOCKS if isinstance(doc.get((k,)), dict)}
    if ds_blocks and (len(ds_blocks) + len(top & DEEPSPEED)) >= 2:
        return "deepspeed"
    if ({"distributed_type", "compute_environment"} & top and len(top & ACCELERATE) >= 2) or (
        "mixed_precision" in top and top <= ACCELERATE and len(top) >= 2
    ):  # a short hand-written one
        return "accelerate"
    if len(top & ULTRALYTICS) >= 3:
        return "ultralytics"
    if _lightning(doc):
        return "lightning"
    if len(top & AXOLOTL) >= 3 and "base_model" in top:
        return "axolotl"
    if len(top & HF_TRAINER) >= 3 or {"learning_rate", "per_device_train_batch_size"} <= top:
        return "hf-trainer"
    every = {str(p[-1]) for p in doc.entries}
    return "generic" if every & GENERIC_HINTS else None


def _lightning(doc: Doc) -> bool:
    """LightningCLI (`trainer:` with Trainer arguments) or Hydra (`_target_: lightning.pytorch.Trainer`,
    at the top of configs/trainer/*.yaml or under `trainer:` of a composed config)."""
    from nandoctor.config.frameworks.lightning import TRAINER_TARGET

    if TRAINER_TARGET.match(str(doc.get(("_target_",)) or "")):
        return True
    trainer = doc.get(("trainer",))
    if not isinstance(trainer, dict):
        return False
    return bool(set(trainer) & LIGHTNING_TRAINER) or bool(TRAINER_TARGET.match(str(trainer.get("_target_") or "")))
