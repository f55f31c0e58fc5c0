"""Reading attention: `interface` (the registered AttentionInterface function, [MASK] rows only), `eager`
(families that bypass the interface: output_attentions), and `layer_suffix` (re-running the layers above one
head, the engine of per-head effects)."""
