"""Models trained here, from scratch, in which induction heads form: recipes, their data and the training loop.

Why in the package: every strong head the project shows offline was otherwise set by hand (toy, toy-gpt). The
shipped series `trained-gpt` and `trained-bert` (checkpoints in `induction/toys/assets/`) are regenerated bit for
bit by `induction train <recipe>`; `recipes.py` says what each one is and what it measured.
"""
