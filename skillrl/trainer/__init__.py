"""The GRPO trainer: driver (ray_trainer), validation and skill evolution, checkpoints, task order,
metrics and logging. Importing this package imports nothing heavy; see ``ray_trainer.GRPOTrainer``."""
