"""Config: convolutional sparse coding (+ a one-pass encoder) vs patch-based sparse coding on natural
images, for K = 1 ... 64 filters, and Gaussian denoising against BM3D.

``--config=experiments/configs/conv_sparse_coding.py:smoke`` is the seconds-long variant the tests run:
scikit-learn's two sample images (always installed), two small K, one noise level, and BM3D only if
the ``bm3d`` package is there (the results then say it was skipped).
"""

import ml_collections

from ebm_jax import checks, precision

DENOISERS = ("conv", "encoder", "patch", "bm3d")
IMAGE_NAME = checks.Str()


def get_config(variant: str | None = None) -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict()
    config.seed = 0
    config.matmul_precision = "default"  # training matmuls: "default" (the backend's fast one) | "high" | "highest"
    # images: "<source>:<name>", source skimage (scikit-image's data), sporco (SPORCO's bundled images)
    # or sklearn (scikit-learn's sample images); grey in [0, 1]
    config.train_images = ("skimage:astronaut", "skimage:coffee", "skimage:chelsea", "skimage:rocket",
                           "sporco:kodim23", "sporco:sail", "sporco:tulips")
    config.test_images = ("skimage:camera", "sporco:barbara", "sporco:monarch")  # held out: recon + denoising
    config.test_crop = 192                 # the central test_crop x test_crop square of each test image
    config.lowpass_sigma = 4.0             # Gaussian low-pass (pixels); models see image - lowpass
    config.boundary = "zero"               # convolution boundary ("zero" or "circular")
    config.filter_size = 9                 # 9x9 kernels, as Kavukcuoglu et al. 2010
    config.num_filters = (1, 2, 4, 8, 16, 32, 64)
    config.lam = 0.1                       # λ of training and of the recon/sparsity numbers (both models)
    # convolutional dictionary + one-pass encoder (PSD), trained by ebm_jax.train.fit on random tiles
    config.num_crops = 800                 # training tiles of the high-pass training images
    config.crop_size = 32
    config.batch_size = 8
    config.num_epochs = 2                  # 200 steps
    config.learning_rate = 0.02            # Adam
    config.lr_schedule = "cosine"          # decays to 0 over the run
    config.inference_iters = 20            # FISTA iterations per step, warm-started at the encoder's codes
    config.encoder_layers = 1              # 1: conv -> shrink -> gain, one pass
    config.encoder_weight = 1.0
    # each encoder parameter's step scaled to its own size (its RMS over the filters' RMS); off, the
    # filters' learning rate wipes out the encoder, whose parameters start ~1/L smaller (one ISTA step)
    config.encoder_lr_scaling = True
    # patch-based dictionary on patch_size x patch_size patches of the same high-pass images
    config.patch = ml_collections.ConfigDict()
    config.patch.num_patches = 20000
    config.patch.num_epochs = 4
    config.patch.batch_size = 256
    config.patch.inference_iters = 50
    # evaluation: codes of the clean high-pass test images by the solver to this relative duality gap
    config.eval_tol = 1e-3
    config.eval_max_iters = 200
    # denoising of the test crops with the K = denoise.num_filters models
    config.denoise = ml_collections.ConfigDict()
    config.denoise.sigmas = (15, 25, 50)   # of 255
    config.denoise.methods = DENOISERS
    config.denoise.num_filters = 64        # which K's models denoise (must be in num_filters)
    config.denoise.lam_factors = (0.5, 1.0, 2.0, 4.0)  # λ = c σ/255 (encoder: thresholds x c σ/255 / lam)
    config.denoise.tune_images = 1         # c picked per σ and method on this many training tiles...
    config.denoise.tune_crop = 96          # ... of this size (never on the test images)
    config.denoise.tol = 1e-3
    config.denoise.max_iters = 100
    config.denoise.skip_missing = False    # True: skip BM3D when the bm3d package is absent (smoke only)
    if variant == "smoke":
        config.update(train_images=("sklearn:china",), test_images=("sklearn:flower",), test_crop=40,
                      filter_size=5, num_filters=(4,), num_crops=16, crop_size=24, batch_size=4, num_epochs=1,
                      inference_iters=5, eval_max_iters=30)
        config.patch.update(num_patches=256, num_epochs=1, batch_size=64, inference_iters=10)
        config.denoise.update(sigmas=(25,), num_filters=4, lam_factors=(1.0, 2.0), tune_images=1, tune_crop=24,
                              max_iters=20, skip_missing=True)
    elif variant == "gpu":
        # Sized for one GPU: 10x the training tiles, 8x the batch, 10x the epochs (2,500 steps of 64 tiles
        # against the default's 200 of 8). Not yet run to a reference result.
        config.update(num_crops=8000, batch_size=64, num_epochs=20)
    elif variant is not None:
        raise ValueError(f"unknown config variant {variant!r} (known: 'smoke', 'gpu')")
    return config


RULES = {
    "seed": checks.Int(ge=0),
    "matmul_precision": checks.OneOf(*precision.TRAINING_CHOICES),
    "train_images": checks.TupleOf(IMAGE_NAME),
    "test_images": checks.TupleOf(IMAGE_NAME),
    "test_crop": checks.Int(ge=8),
    "lowpass_sigma": checks.Float(gt=0),
    "boundary": checks.OneOf("zero", "circular"),
    "filter_size": checks.Int(ge=2),
    "num_filters": checks.TupleOf(checks.Int(ge=1)),
    "lam": checks.Float(gt=0),
    "num_crops": checks.Int(ge=1),
    "crop_size": checks.Int(ge=4),
    "batch_size": checks.Int(ge=1),
    "num_epochs": checks.Int(ge=1),
    "learning_rate": checks.Float(gt=0),
    "lr_schedule": checks.OneOf("constant", "cosine", "linear"),
    "inference_iters": checks.Int(ge=1),
    "encoder_layers": checks.Int(ge=1),
    "encoder_weight": checks.Float(ge=0),
    "encoder_lr_scaling": checks.Bool(),
    "patch.num_patches": checks.Int(ge=1),
    "patch.num_epochs": checks.Int(ge=1),
    "patch.batch_size": checks.Int(ge=1),
    "patch.inference_iters": checks.Int(ge=1),
    "eval_tol": checks.Float(gt=0),
    "eval_max_iters": checks.Int(ge=1),
    "denoise.sigmas": checks.TupleOf(checks.Float(gt=0, le=255)),
    "denoise.methods": checks.TupleOf(checks.OneOf(*DENOISERS), min_len=0),
    "denoise.num_filters": checks.Int(ge=1),
    "denoise.lam_factors": checks.TupleOf(checks.Float(gt=0)),
    "denoise.tune_images": checks.Int(ge=1),
    "denoise.tune_crop": checks.Int(ge=8),
    "denoise.tol": checks.Float(gt=0),
    "denoise.max_iters": checks.Int(ge=1),
    "denoise.skip_missing": checks.Bool(),
}


def _sizes_fit(config):
    if config.filter_size > config.crop_size:
        raise checks.ConfigError(f"config.filter_size ({config.filter_size}) exceeds config.crop_size "
                                 f"({config.crop_size})")
    for key in ("test_crop", "denoise.tune_crop"):
        value = config.test_crop if key == "test_crop" else config.denoise.tune_crop
        if value < config.filter_size:
            raise checks.ConfigError(f"config.{key} ({value}) is smaller than config.filter_size "
                                     f"({config.filter_size})")
    if config.patch.num_patches < max(config.num_filters):
        raise checks.ConfigError(f"config.patch.num_patches ({config.patch.num_patches}) is fewer than the "
                                 f"largest K ({max(config.num_filters)})")


def _denoise_model_trained(config):
    if config.denoise.methods and {"conv", "encoder", "patch"} & set(config.denoise.methods) \
            and config.denoise.num_filters not in config.num_filters:
        raise checks.ConfigError(f"config.denoise.num_filters ({config.denoise.num_filters}) is not one of "
                                 f"config.num_filters {tuple(config.num_filters)}")


def validate(config) -> None:
    """Every rule above, then the cross checks; raises :class:`ebm_jax.checks.ConfigError`."""
    checks.validate_config(config, RULES, cross_checks=[_sizes_fit, _denoise_model_trained,
                                                        checks.at_most("batch_size", "num_crops")])
