"""Training methods: per method, ``create_state(key, ...)`` and ``make_train_step(...)``.

``create_state`` returns a train state whose parameters are ``state.params`` (a
plain pytree); ``make_train_step`` returns ``step_fn(state, batch, key) ->
(state, metrics)`` with ``metrics["loss"]``, trained by :func:`ebm_jax.train.fit`.
"""
