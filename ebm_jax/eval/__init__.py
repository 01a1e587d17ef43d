"""Evaluations of trained models: likelihood estimates (``likelihood``), energy landscapes and
samples (``landscape``, ``samples``), image quality (``images``), denoising (``denoising``) and
learned filters (``filters``), probes of frozen self-supervised representations (``probe``). Import the
modules directly (``from ebm_jax.eval import landscape``)."""
