"""Config of the practicum: VAE (or classic AE) on MNIST.

Override any key from the command line, e.g. ``--config.latent_dim=2``.
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict()
    config.model = "vae"              # "vae" | "ae"
    config.latent_dim = 20
    config.hidden_dims = (400,)       # encoder widths; the decoder mirrors them (784-400-20 as in the lecture)
    config.num_epochs = 20
    config.batch_size = 64
    config.learning_rate = 2e-3
    config.lr_schedule = "cosine"     # "cosine" (decay to 0 over the run) | "constant"
    config.seed = 0
    config.prng_impl = "threefry2x32"  # jax.random key implementation: "threefry2x32" | "rbg" | "unsafe_rbg"
    config.binarization = "dynamic"   # training input: "dynamic" (fresh Bernoulli per batch) | "continuous"
    config.iwae_k = 1                 # 1: train on the ELBO; k > 1: on the IWAE bound L_k
    config.eval_importance_samples = 5000  # k for the final importance-sampled test log-likelihood (0: skip)
    config.eval_iwae_k = 0            # also report the IWAE bound L_k on test with this k (0: skip)
    config.compare_with_ae = True     # also train a classic AE with the same trunk, for the comparison figures
    config.checkpoint_every_steps = 0  # 0: once per epoch
    config.log_every_steps = 50
    config.num_train_examples = 0     # 0: all 60,000; else a prefix (quick runs and tests)
    config.num_test_examples = 0      # 0: all 10,000
    config.data_source = "auto"       # "auto" | "cache" | "tfds"
    return config
