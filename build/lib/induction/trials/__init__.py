"""Trials: repeated random tokens (`rrt`), random words of several pieces (`words`) and the one reader of
the offline corpora (`corpus`). Pure numpy, seeded by (seed, t)."""
