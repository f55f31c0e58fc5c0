"""Models: the registry of named models, kinds (encoder or causal), the Hub, family quirks, and `loading`
(describe a model from its config once, then load it ready for capture)."""
