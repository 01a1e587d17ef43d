"""The pinned environment (requirements/) agrees with pyproject.toml; `make docs` without Sphinx says what to do."""

import pathlib
import re
import shutil
import subprocess
import tomllib
import venv

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = pathlib.Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements" / "ci-py311.txt"


def _pins() -> dict[str, str]:
    pins = {}
    for line in LOCK.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        match = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([^\s;]+)", line)
        assert match, f"not an exact pin: {line!r}"
        name = canonicalize_name(match.group(1))
        assert name not in pins, f"pinned twice: {name}"
        pins[name] = match.group(2)
    return pins


def test_lock_pins_every_dependency_inside_the_ranges_of_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = [Requirement(r) for r in project["dependencies"]]
    for extra in ("test", "docs"):
        requirements += [Requirement(r) for r in project["optional-dependencies"][extra]]
    pins = _pins()
    assert canonicalize_name("ebm_jax") not in pins  # the project itself is installed from the checkout
    for requirement in requirements:
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is not pinned in {LOCK.name}"
        assert requirement.specifier.contains(pins[name], prereleases=True), \
            f"{name}=={pins[name]} is outside pyproject's {requirement.specifier}"


@pytest.mark.skipif(shutil.which("make") is None, reason="no make")
def test_make_docs_without_the_docs_extra_prints_one_line(tmp_path):
    env_dir = tmp_path / "venv"  # a Python without Sphinx
    venv.EnvBuilder(with_pip=False).create(env_dir)
    assert subprocess.run([env_dir / "bin" / "python", "-c", "import sphinx"], capture_output=True).returncode
    out = subprocess.run(["make", "--no-print-directory", "docs", f"VENV={env_dir}"], cwd=ROOT,
                         capture_output=True, text=True)
    assert out.returncode != 0
    lines = (out.stdout + out.stderr).strip().splitlines()
    assert len(lines) == 1, lines
    assert "docs extra" in lines[0] and "pip install -e '.[docs]'" in lines[0]
