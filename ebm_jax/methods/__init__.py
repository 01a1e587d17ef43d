"""Training methods: per method, ``create_state(key, ...)`` and ``make_train_step(...)``.

``make_train_step`` returns ``step_fn(state, batch, key) -> (state, metrics)``
with ``metrics["loss"]``, trained by :func:`ebm_jax.train.fit`; the parameters
are ``state.params`` (a plain pytree). Import the method modules directly
(``from ebm_jax.methods import rbm``).
"""
