"""Training methods, one contract: ``create_state`` + ``make_train_step``, trained by ``ebm_jax.train.fit``.

* ``create_state(key, ...)`` takes the PRNG key first and returns the train state:
  a pytree with an integer ``step``. It is a flax ``TrainState`` (parameters in
  ``state.params``), or a subclass carrying what the method keeps between steps
  (``energy_mlp.EBMTrainState``'s persistent chains; ``ssl``'s MoCo queue and
  momentum encoder, PIRL's memory bank); the RBM's ``RBMTrainState`` (params,
  optimizer state, chains) and the dictionary's ``DictState`` (atoms ``D`` and the
  running statistics, no optimizer) are their own small pytrees. ``lista`` ignores
  the key (its initialisation, ISTA's, is deterministic).
* ``make_train_step(...)`` returns ``step_fn(state, batch, key) -> (state, metrics)``:
  pure and traceable, ``state.step`` incremented by one, ``metrics["loss"]`` a scalar.
* :func:`ebm_jax.train.fit` trains it (:func:`ebm_jax.train.fit_seeds` for one or
  several seeds); ``conv_sparse.learn_conv_dictionary``, ``dictionary.learn_dictionary``
  and ``lista.train_lista`` / ``train_layerwise`` are such calls of ``fit`` with the
  method's defaults.

``tests/test_method_contract.py`` checks every module of this package against it.
Import the method modules directly (``from ebm_jax.methods import rbm``).
"""
