"""Evaluations of trained models: likelihood estimates, probes of frozen representations."""
