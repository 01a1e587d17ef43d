"""Evaluations of trained models: likelihood estimates (``likelihood``), energy landscapes and
samples (``landscape``, ``samples``), image quality (``images``), denoising (``denoising``) and
learned filters (``filters``). Import the modules directly (``from ebm_jax.eval import landscape``).
Probes of frozen self-supervised representations are :mod:`ebm_jax.ssl.probe`."""
