"""Training methods: each is ``create_state(key, ...)`` + ``make_train_step(...)``, trained by ``ebm_jax.train.fit``.

``make_train_step`` returns ``step_fn(state, batch, key) -> (state, metrics)``
with ``metrics["loss"]``; the parameters are ``state.params`` (a plain pytree).
Import the method modules directly (``from ebm_jax.methods import rbm``).
"""
