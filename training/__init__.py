"""Training, export and evaluation of kennel's models (needs the `training` extra: torch, timm)."""
