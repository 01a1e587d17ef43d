"""Evaluation metrics: import the modules directly (``from ebm_jax.eval import landscape``)."""
