"""Config: Bernoulli RBM on binarized MNIST with CD-1, CD-k and PCD.

Override any key from the command line, e.g. ``--config.methods=cd1,pcd1 --config.num_epochs=2``.
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict()
    config.methods = "cd1,cd3,pcd1,cd25"  # comma list of cd<k> / pcd<k>; each trains in WORKDIR/<method>
    config.num_hidden = 500
    config.num_epochs = 10
    config.batch_size = 100
    config.learning_rate = 0.05
    config.momentum = 0.5
    config.weight_decay = 1e-4        # L2 on W only
    config.lr_decay = True            # linear decay of the learning rate to 0 over the run
    config.pcd_num_chains = 100       # persistent chains (kept in the train state)
    config.seed = 0
    config.ais_num_betas = 14500      # Salakhutdinov & Murray 2008's schedule length
    config.ais_num_runs = 100
    config.ais_schedule = "sm08"      # "sm08" | "linear" | "sigmoid"
    config.ais_check_hidden = 20      # also train a PCD RBM this small and compare AIS with exact log Z (0: skip)
    config.ais_check_epochs = 2
    config.long_chain_steps = 10000   # Gibbs sweeps for the long-chain samples figure
    config.long_chain_num = 100
    config.eval_chain_steps = 500     # per-epoch: free energy of samples after this many sweeps from noise
    config.eval_num_examples = 1000   # test examples for the per-epoch free energy
    config.num_train_examples = 0     # 0: all 60,000
    config.num_test_examples = 0      # 0: all 10,000
    config.checkpoint_every_steps = 0  # 0: once per epoch
    config.log_every_steps = 100
    config.data_source = "auto"
    return config
