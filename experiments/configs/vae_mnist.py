"""Config of the practicum: VAE (or classic AE) on MNIST.

Override any key from the command line, e.g. ``--config.latent_dim=2``;
``--config=experiments/configs/vae_mnist.py:smoke`` is the seconds-long variant
the tests run; ``:course`` is the course notebook's recipe (NYU DLSP20,
``11-VAE.ipynb``): grey-level MNIST in [0, 1], Bernoulli cross-entropy summed
over pixels and over the batch, batch 256, constant Adam 1e-3, 10 epochs, and
its test loss (cross-entropy + KL at z = μ, per test image).

``protocol`` picks the training reduction and the test numbers:

* ``"likelihood"`` (default): batch-mean loss; test −ELBO with sampled z on the
  fixed-seed binarized test set, and the importance-sampled −log p(x);
* ``"course"``: batch-sum loss; test loss with z = μ (the notebook's
  ``model.eval()``), on grey levels, per test image; its figures.
"""

import ml_collections

from ebm_jax import checks, precision


def get_config(variant: str | None = None) -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict()
    config.protocol = "likelihood"    # "likelihood" | "course" (see the module docstring)
    config.model = "vae"              # "vae" | "ae"
    config.latent_dim = 20
    config.hidden_dims = (400,)       # encoder widths; the decoder mirrors them (784-400-20 as in the lecture)
    config.num_epochs = 20
    config.batch_size = 64
    config.learning_rate = 2e-3
    config.lr_schedule = "cosine"     # "cosine" (decay to 0 over the run) | "constant"
    config.seed = 0
    config.matmul_precision = "default"  # training matmuls: "default" (the backend's fast one) | "high" | "highest"
    config.compute_dtype = "float32"   # the layers' computation: "float32" | "bfloat16" (parameters and losses stay float32)
    config.num_seeds = 1              # S > 1: train seeds seed..seed+S-1 at once (vmap in one program); results per seed + mean/std
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
    if variant == "smoke":
        config.update(num_epochs=1, num_train_examples=1024, num_test_examples=200, hidden_dims=(64,),
                      eval_importance_samples=50, log_every_steps=4)
    elif variant == "gpu":
        # One GPU: the default recipe for 8 seeds at once (one vmapped program, results per seed and their
        # mean and spread), where one run of this small model leaves the GPU mostly idle.
        config.update(num_seeds=8)
    elif variant == "course":
        config.update(protocol="course", num_epochs=10, batch_size=256, learning_rate=1e-3, lr_schedule="constant",
                      binarization="continuous", eval_importance_samples=0, compare_with_ae=False,
                      log_every_steps=1)  # every step logged: the epoch's mean training loss, as the notebook prints
    elif variant is not None:
        raise ValueError(f"unknown config variant {variant!r} (known: 'smoke', 'gpu', 'course')")
    return config


PROTOCOLS = ("likelihood", "course")

RULES = {
    "protocol": checks.OneOf(*PROTOCOLS),
    "model": checks.OneOf("vae", "ae"),
    "latent_dim": checks.Int(ge=1),
    "hidden_dims": checks.TupleOf(checks.Int(ge=1)),
    "num_epochs": checks.Int(ge=1),
    "batch_size": checks.Int(ge=1),
    "learning_rate": checks.Float(gt=0),
    "lr_schedule": checks.OneOf("constant", "cosine"),
    "seed": checks.Int(ge=0),
    "matmul_precision": checks.OneOf(*precision.TRAINING_CHOICES),
    "compute_dtype": checks.OneOf(*precision.COMPUTE_DTYPES),
    "num_seeds": checks.Int(ge=1),
    "prng_impl": checks.OneOf("threefry2x32", "rbg", "unsafe_rbg"),
    "binarization": checks.OneOf("dynamic", "continuous"),
    "iwae_k": checks.Int(ge=1),
    "eval_importance_samples": checks.Int(ge=0),
    "eval_iwae_k": checks.Int(ge=0),
    "compare_with_ae": checks.Bool(),
    "checkpoint_every_steps": checks.Int(ge=0),
    "log_every_steps": checks.Int(ge=1),
    "num_train_examples": checks.Int(ge=0),
    "num_test_examples": checks.Int(ge=0),
    "data_source": checks.OneOf("auto", "cache", "tfds"),
}


def _iwae_needs_vae(config):
    if config.model == "ae" and config.iwae_k != 1:
        raise checks.ConfigError("config.iwae_k > 1 needs config.model='vae'")


def _likelihoods_need_binary_data(config):
    if config.binarization == "continuous" and (config.eval_importance_samples or config.eval_iwae_k):
        raise checks.ConfigError(
            "config.eval_importance_samples and config.eval_iwae_k estimate a Bernoulli likelihood, which needs "
            "binarized data: with config.binarization='continuous' set both to 0")


def _course_protocol_is_grey_level(config):
    if config.protocol != "course":
        return
    if config.binarization != "continuous":
        raise checks.ConfigError(
            "config.protocol='course' trains and tests on grey levels in [0, 1]: set config.binarization='continuous'")
    if config.iwae_k != 1:
        raise checks.ConfigError("config.protocol='course' trains on the single-sample ELBO: set config.iwae_k=1")


def validate(config) -> None:
    """Every rule above, then the cross checks; raises :class:`ebm_jax.checks.ConfigError`."""
    checks.validate_config(config, RULES, cross_checks=[_iwae_needs_vae, _likelihoods_need_binary_data,
                                                        _course_protocol_is_grey_level])
