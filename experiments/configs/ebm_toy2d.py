"""Config: MLP energy on 2-D toy data trained by CD-k and PCD on random-walk MH chains."""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict()
    config.datasets = "rings,two_moons,gaussians"
    config.methods = "cd1,cd10,pcd10"   # cd<k> / pcd<k>; bare "cd" / "pcd" use config.k
    config.num_data = 8192
    config.batch_size = 256
    config.num_epochs = 60            # 32 steps per epoch
    config.learning_rate = 1e-3
    config.hidden = (128, 128)
    config.prior_scale = 0.0          # E += |x|^2 / (2 s^2); 0 disables (a confining prior hides CD's failure)
    config.alpha = 0.01               # energy-magnitude regulariser
    config.k = 10                     # MH steps per update (CD: from the data batch; PCD: on persistent chains)
    config.step_size = 0.05           # MH proposal std (small: CD's chains stay near the data)
    config.pcd_num_chains = 1024
    config.snapshot_epochs = "1,5,20"  # the last epoch is always added
    config.grid_size = 100
    config.far_distance = 0.3         # grid points this far from every data point count as "far"
    config.offdata_distance = 0.3     # a long-chain sample this far from every data point is "off-data"
    config.long_chain_steps = 2000
    config.long_chain_num = 1000
    config.seed = 0
    config.log_every_steps = 64
    return config
