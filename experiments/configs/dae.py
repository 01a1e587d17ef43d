"""Config: denoising autoencoders on MNIST (three corruptions) and on 2-D toy data."""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict()
    config.seed = 0
    # MNIST part (continuous [0, 1] pixels, no binarization)
    config.corruptions = "gaussian:0.5,masking:0.5,salt_and_pepper:0.3"   # kind:level list
    config.hidden = (512,)
    config.latent = 128
    config.num_epochs = 5
    config.batch_size = 128
    config.learning_rate = 1e-3
    config.loss = "bce"
    config.num_train_examples = 0     # 0: all 60,000
    config.num_test_examples = 0      # 0: all 10,000
    config.data_source = "auto"
    config.log_every_steps = 100
    # 2-D toy part: reconstruction-error energy landscape
    config.toy_dataset = "two_moons"
    config.toy_sigmas = "0.1,0.3"     # Gaussian corruption levels, one DAE each
    config.toy_hidden = (128,)
    config.toy_latent = 64
    config.toy_num_data = 4096
    config.toy_num_epochs = 150       # 16 steps per epoch
    config.toy_batch_size = 256
    config.toy_learning_rate = 1e-3
    config.toy_grid_size = 120
    return config
