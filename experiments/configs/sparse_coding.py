"""Config: dictionary learning on MNIST digits and on natural-image patches."""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict()
    config.seed = 0
    config.datasets = "mnist,patches"     # which parts to run
    config.dict_update = "bcd"                # "bcd" (Mairal online BCD) or "pgd"
    config.batch_size = 256
    config.inference_iters = 50           # FISTA iterations per minibatch (with restart)
    config.forget = 0.5                   # forgetting factor of the BCD statistics
    config.eval_tol = 1e-4                # relative duality gap of the evaluation codes
    # MNIST digits, pixels in [0, 1]; non-negative codes and atoms give stroke-like parts
    config.mnist = ml_collections.ConfigDict()
    config.mnist.num_train = 20000
    config.mnist.num_test = 2000
    config.mnist.num_atoms = 256
    config.mnist.lam = 0.2
    config.mnist.num_epochs = 8
    config.mnist.nonneg = True
    config.mnist.init = "gaussian"
    # natural-image patches (scikit-learn sample images), contrast-normalised + ZCA-whitened
    config.patches = ml_collections.ConfigDict()
    config.patches.patch_size = 8
    config.patches.num_train = 40000
    config.patches.num_test = 5000
    config.patches.num_atoms = 128
    config.patches.lam = 0.5
    config.patches.num_epochs = 6
    config.patches.whiten = True
    config.patches.nonneg = False
    config.patches.init = "gaussian"
    return config
