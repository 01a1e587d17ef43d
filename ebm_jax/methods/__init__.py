"""Training methods: each is ``create_state(key, ...)`` + ``make_train_step(...)``, trained by ``ebm_jax.train.fit``."""
