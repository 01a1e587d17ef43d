"""Sphinx configuration: the API reference (autodoc + napoleon) and the lecture pages (MyST).

Build with ``make docs`` (HTML in ``docs/_build/html``); warnings are errors.
The API pages under ``docs/api/`` are generated here, one per subpackage of
``ebm_jax``, so that a new module appears without editing the docs.
"""

from __future__ import annotations

import os
import pathlib
import pkgutil
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("JAX_PLATFORMS", "cpu")  # importing the modules for autodoc needs no accelerator

project = "ebm_jax"
author = "ebm_jax authors"
extensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.mathjax", "myst_parser"]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
exclude_patterns = ["_build"]
myst_enable_extensions = ["dollarmath"]
myst_heading_anchors = 3

autodoc_default_options = {"members": True, "show-inheritance": False}
autodoc_member_order = "bysource"
autodoc_typehints = "none"  # the docstrings say shapes and types; annotations name jax/numpy types with no docs here
napoleon_google_docstring = True
napoleon_numpy_docstring = False

# Every cross-reference must resolve (a broken docstring reference fails the build), except to
# libraries whose docs are not here (no network at build time: no intersphinx).
nitpicky = True
nitpick_ignore_regex = [
    ("py:.*", r"(jax|jaxlib|flax|optax|chex|orbax|numpy|np|jnp|ml_collections|absl|tqdm|matplotlib|sklearn|tensorboardX)"
              r"(\..*)?"),
    ("py:meth", r"(init|init_with_output|init_and_output|apply|compact|setup|bind|__setattr__|__call__)"),  # flax's
]

html_theme = "alabaster"
html_title = "ebm_jax"
html_theme_options = {"page_width": "1100px", "sidebar_width": "240px"}


def _api_pages(app) -> None:
    """``docs/api/<subpackage>.md``: one ``automodule`` per module, and ``docs/api/index.md``."""
    import ebm_jax

    out = pathlib.Path(app.srcdir) / "api"
    out.mkdir(exist_ok=True)
    modules = ["ebm_jax"] + sorted(m.name for m in pkgutil.walk_packages(ebm_jax.__path__, "ebm_jax."))
    groups: dict[str, list[str]] = {}
    for name in modules:
        parts = name.split(".")
        groups.setdefault(".".join(parts[:2]), []).append(name)
    pages = []
    for group, names in sorted(groups.items()):
        text = [f"# `{group}`", ""]
        for name in names:
            if name != group:
                text += [f"## `{name}`", ""]
            # a package's page shows its docstring; its members are documented in the modules that define them
            options = ["   :no-members:"] if name == group and len(names) > 1 else []
            text += ["```{eval-rst}", f".. automodule:: {name}", *options, "```", ""]
        _write_if_changed(out / f"{group}.md", "\n".join(text))
        pages.append(group)
    _write_if_changed(out / "index.md", "\n".join(
        ["# API reference", "", "```{toctree}", ":maxdepth: 1", "", *pages, "```", ""]))


_MISSING = object()


def _lookup(target: str, module: str | None):
    """The object ``target`` names, in ``module`` or as a full path; ``_MISSING`` if there is none."""
    import importlib

    for prefix in ([module] if module else []) + [""]:
        path = f"{prefix}.{target}" if prefix else target
        parts = path.split(".")
        for i in range(len(parts), 0, -1):
            try:
                obj = importlib.import_module(".".join(parts[:i]))
            except ImportError:
                continue
            try:
                for attr in parts[i:]:
                    obj = getattr(obj, attr)
            except AttributeError:
                break
            return obj
    return _MISSING


def _load_reproduce_all():
    """``scripts/reproduce_all.py``, whose :data:`TOPICS` the lecture pages share with REPORT.md."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("reproduce_all", ROOT / "scripts" / "reproduce_all.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _write_if_changed(path: pathlib.Path, text: str) -> None:
    if not path.exists() or path.read_text() != text:  # unchanged pages keep their time: no rebuild
        path.write_text(text)


def _results_pages(app) -> list[str]:
    """``docs/results/<name>.md`` for every ``results/<name>/``: its README, figures resolved."""
    out = pathlib.Path(app.srcdir) / "results"
    out.mkdir(exist_ok=True)
    names = []
    for directory in sorted(p for p in (ROOT / "results").iterdir() if p.is_dir()):
        name = directory.name
        if (directory / "README.md").exists():
            text = ["```{include} ../../results/" + name + "/README.md", ":relative-images:", "```", ""]
        else:
            text = [f"# `{name}`", ""]
            if (directory / "COMMAND").exists():
                text += ["```bash", (directory / "COMMAND").read_text().strip(), "```", ""]
            text += [f"![{png.name}](../../results/{name}/{png.name})" for png in sorted(directory.glob("*.png"))]
            text.append("")
        _write_if_changed(out / f"{name}.md", "\n".join(text))
        names.append(name)
    return names


def _slug(title: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in title.lower().split(":")[0]).strip("_")


def _topic_pages(app) -> list[str]:
    """``docs/topics/<slug>.md``: per lecture topic, the REPORT's table, figures, results pages and API."""
    report = _load_reproduce_all()
    out = pathlib.Path(app.srcdir) / "topics"
    out.mkdir(exist_ok=True)
    slugs = []
    for topic in report.TOPICS:
        table = "\n".join(report.topic_table(topic, link_prefix="../../"))
        text = [f"# {topic.title}", "", topic.summary, "", table, ""]
        if topic.command:
            text += ["```bash", topic.command, "```", ""]
        text += [f"![{fig}](../../results/{fig})" for fig in topic.figures] + [""]
        text += ["## Results", ""] + [f"- {{doc}}`../results/{name}`" for name in topic.pages] + [""]
        text += ["## API", ""] + [f"- {{py:mod}}`{module}`" for module in topic.api] + [""]
        slug = _slug(topic.title)
        _write_if_changed(out / f"{slug}.md", "\n".join(text))
        slugs.append(slug)
    return slugs


def _generated_pages(app) -> None:
    _api_pages(app)
    topics = _topic_pages(app)
    results = _results_pages(app)
    src = pathlib.Path(app.srcdir)
    _write_if_changed(src / "topics" / "index.md", "\n".join(
        ["# Lecture topics", "", "```{toctree}", ":maxdepth: 1", "", *topics, "```", ""]))
    _write_if_changed(src / "results" / "index.md", "\n".join(
        ["# Results pages", "", "One page per reference run: its command, numbers and figures.", "",
         "```{toctree}", ":maxdepth: 1", "", *results, "```", ""]))


def _canonical(target: str, module: str | None) -> str | None:
    """The defining module's path of ``target`` (``ebm_jax.train.fit`` -> ``ebm_jax.train.loop.fit``)."""
    obj = _lookup(target, module)
    qualname, owner = getattr(obj, "__qualname__", None), getattr(obj, "__module__", None)
    if qualname and owner and owner.startswith("ebm_jax"):
        return f"{owner}.{qualname}"
    return None


def _resolve_reexports(app, env, node, contnode):
    """Resolve names that a package re-exports, and short names that match one documented object."""
    if node.get("refdomain") != "py":
        return None
    domain = env.get_domain("py")
    target = node["reftarget"]
    canonical = _canonical(target, node.get("py:module"))
    if canonical is None:
        matches = [name for name in domain.objects if name.endswith("." + target)]
        if len(matches) != 1:
            # a module constant without a docstring of its own: it exists, so show its name unlinked
            if node["reftype"] in ("data", "const", "obj") and _lookup(target, node.get("py:module")) is not _MISSING:
                return contnode
            return None
        canonical = matches[0]
    if canonical == target:
        return None
    return domain.resolve_xref(env, node["refdoc"], app.builder, node["reftype"], canonical, node, contnode)


def setup(app):
    app.connect("builder-inited", _generated_pages)
    app.connect("missing-reference", _resolve_reexports)
