"""Evaluation of frozen self-supervised representations: :mod:`ebm_jax.ssl.probe`.

The methods themselves (SimCLR, MoCo v2, PIRL: ``create_state`` + ``make_train_step``)
are :mod:`ebm_jax.methods.ssl`.
"""
