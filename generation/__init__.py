"""Task-conditioned architecture generation: score-based graph diffusion guided by a
noise-aware performance predictor (DiffusionNAG, section 3 of the methods)."""
