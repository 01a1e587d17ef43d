"""``python -m experiments <name> --workdir DIR [--config.key=value ...]``: run any experiment by name."""

import importlib
import pathlib
import sys

from ebm_jax import cli


def _names() -> list[str]:
    here = pathlib.Path(__file__).parent
    return sorted(p.stem for p in here.glob("*.py") if not p.stem.startswith("_") and (here / "configs" / p.name).exists())


if __name__ == "__main__":
    names = _names()
    if len(sys.argv) < 2 or sys.argv[1] not in names:
        got = sys.argv[1] if len(sys.argv) > 1 else "nothing"
        print(f"usage: python -m experiments <name> --workdir DIR [--config.key=value ...]\n"
              f"  name is one of: {', '.join(names)} (got {got})", file=sys.stderr)
        sys.exit(2)
    name = sys.argv.pop(1)
    module = importlib.import_module(f"experiments.{name}")
    cli.main(module.train_and_evaluate, module.__file__, argv=[f"experiments.{name}", *sys.argv[1:]])
