"""Bad inputs to the public API: every one must be a clear error naming the argument.

The table lives in ``scripts/misuse_table.py`` and the ``scripts/misuse_table_*.py`` files
it loads (one valid call per public function and a kind per argument; the bad inputs
derive from the kinds; ``MODULES`` names the surveyed modules); ``scripts/misuse_survey.py``
counts the same cases. A public function of a surveyed module joins the table by being
exported: ``test_every_public_function_is_in_the_table`` fails until it has a spec or a
reason in ``EXEMPT``.
"""

from __future__ import annotations

import importlib
import inspect
import sys
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scripts.misuse_survey import cases_of, classify  # noqa: E402
from scripts.misuse_table import EXEMPT, MODULES, SPECS, UNSURVEYED_MODULES  # noqa: E402

def _public(module):
    for name, obj in vars(module).items():
        if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
            continue
        if inspect.isfunction(obj) or inspect.isclass(obj):
            yield name, obj


@pytest.mark.parametrize("module_name", [m for mods in MODULES.values() for m in mods])
def test_every_public_function_is_in_the_table(module_name):
    module = importlib.import_module(module_name)
    covered = {spec.fn for spec in SPECS}
    exempt = EXEMPT.get(module_name, {})
    missing = [name for name, obj in _public(module) if obj not in covered and name not in exempt]
    assert not missing, f"{module_name}: public functions without a misuse spec: {missing}"
    stale = [name for name in exempt if not hasattr(module, name)]
    assert not stale, f"{module_name}: EXEMPT names that no longer exist: {stale}"


def test_every_module_with_a_public_function_is_surveyed():
    import pkgutil

    import ebm_jax

    surveyed = {m for mods in MODULES.values() for m in mods}
    missing = []
    for info in pkgutil.walk_packages(ebm_jax.__path__, "ebm_jax."):
        module = importlib.import_module(info.name)
        if any(True for _ in _public(module)) and info.name not in surveyed | set(UNSURVEYED_MODULES):
            missing.append(info.name)
    assert not missing, f"modules with public functions outside the misuse table (scripts/misuse_table*.py): {missing}"


CASES = [case for spec in SPECS for case in cases_of(spec)]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_a_bad_input_is_a_clear_error(case):
    outcome, detail = classify(case, timeout=120)
    assert outcome == "clear", f"{case.id}: {outcome}: {detail}"


from scripts.misuse_survey import classify_cli, cli_cases  # noqa: E402

CLI_CASES = cli_cases(ROOT)


@pytest.mark.parametrize("case", CLI_CASES, ids=[c[0] for c in CLI_CASES])
def test_every_command_line_refuses_a_config_that_does_not_load_in_one_line(case):
    case_id, argv, experiment_file, expect = case
    outcome, detail = classify_cli(argv, experiment_file, expect)
    assert outcome == "clear", f"{case_id}: {outcome}: {detail}"


def test_value_checks_are_skipped_inside_jit_and_leave_no_host_callback():
    import jax
    import jax.numpy as jnp
    import numpy as np

    from ebm_jax import losses
    from ebm_jax.methods import vae as mvae
    from ebm_jax.models import rbm, vae as vae_models

    nan = jnp.full((4, 3), jnp.nan)
    # the same inputs are refused eagerly (test_a_bad_input_is_a_clear_error); traced, they pass through
    assert np.isnan(float(jax.jit(losses.nt_xent)(nan, nan)))
    params = rbm.init_rbm(jax.random.PRNGKey(0), 3, 2)
    grey = jnp.full((4, 3), 0.5)
    assert np.isfinite(np.asarray(jax.jit(rbm.free_energy)(params, grey))).all()
    with pytest.raises(ValueError, match="v must be binary"):
        rbm.free_energy(params, grey)
    # a training step traces its checks away: no callbacks (host syncs) in the compiled program
    model = vae_models.Autoencoder(latent_dim=2, hidden_dims=(4,), output_dim=3)
    state = mvae.create_state(jax.random.PRNGKey(0), model, 1e-3)
    jaxpr = str(jax.make_jaxpr(mvae.make_train_step(model))(state, jnp.full((4, 3), 0.5), jax.random.PRNGKey(1)))
    assert "callback" not in jaxpr and "debug" not in jaxpr
