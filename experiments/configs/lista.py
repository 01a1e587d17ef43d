"""Config: LISTA vs ISTA vs FISTA on MNIST digits (Gregor & LeCun 2010 style)."""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict()
    config.seed = 0
    config.num_train = 10000            # MNIST training digits (pixels in [0, 1]) for LISTA
    config.num_test = 2000              # held-out MNIST test digits for every curve
    # dictionary: learned on the training digits with ebm_jax.sparse.learn_dictionary
    config.num_atoms = 256
    config.lam = 0.5
    config.dict_epochs = 3
    config.dict_batch_size = 256
    config.target_tol = 2e-6            # relative duality gap of z* (float32 certifies ~1e-6 at best)
    config.working_set_size = 64        # of the working-set solver for z* (> largest support)
    # LISTA
    config.layers = "1,2,5,10,20"
    config.tied = True                  # shared (S, theta) across layers, as in the paper's LISTA
    config.objectives = "supervised,unsupervised"
    config.num_epochs = 60
    config.batch_size = 128
    config.learning_rate = 1e-3
    # ISTA / FISTA curves
    config.max_iters = 1000
    return config
