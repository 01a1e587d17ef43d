"""Training methods: per method ``create_state(key, ...)`` and ``make_train_step(...)``,
trained by :func:`ebm_jax.train.fit`."""
