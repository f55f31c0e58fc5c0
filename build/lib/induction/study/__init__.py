"""The reference study (C. Chen, "Exploring Induction Heads in BERT"): its reported numbers with their
sources (`reported`), and the one-call reproduction (`reproduce`)."""
