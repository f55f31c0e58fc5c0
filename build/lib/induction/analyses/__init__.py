"""The studies built on maps: ablation, per-head effects, in-context learning, natural-text maps, several
masks, one head on one trial, training dynamics, the mosaic, head roles."""
