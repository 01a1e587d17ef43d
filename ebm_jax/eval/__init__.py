"""Evaluations of trained models: likelihood estimates, probes of frozen representations, energy
landscapes and samples (``landscape``, ``samples``), image quality (``images``). Import the modules
directly (``from ebm_jax.eval import landscape``)."""
