"""The project's own models: the hand-set known-answer circuits (`toy_bert`, `toy_gpt`) and their assets."""
