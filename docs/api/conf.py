"""Sphinx configuration of the API reference (``make docs``): autodoc reads the numpydoc docstrings."""

import re

import layerwise

project = "layerwise"
author = "the layerwise developers"
copyright = "2026, the layerwise developers"
release = layerwise.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",  # the API from the docstrings
    "sphinx.ext.napoleon",  # numpydoc sections (Parameters, Returns, Raises, Examples)
    "sphinx.ext.viewcode",  # a link to the source of every object
]
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
# "Attributes" sections as field lists: an attribute named in several classes (``shape``) is then not
# a cross-reference target that every "ndarray of shape (n, d)" type would find more than once
napoleon_use_ivar = True
# scikit-learn adds set_*_request methods to every estimator; their docstrings point into sklearn's own docs
_SKLEARN_GENERATED = ",".join(f"set_{m}_request" for m in (
    "fit", "partial_fit", "predict", "predict_proba", "predict_log_proba", "score", "transform", "inverse_transform",
    "decision_function", "split"))
autodoc_default_options = {"members": True, "show-inheritance": True, "member-order": "bysource",
                           "exclude-members": _SKLEARN_GENERATED}
autodoc_typehints = "signature"
autodoc_member_order = "bysource"
# no intersphinx: CI reaches package registries only, and the build must not need the network
html_theme = "alabaster"
html_title = f"layerwise {release}"
exclude_patterns = ["_build"]


# Shapes in this codebase's docstrings are written "Tensor, shape (n, *in_shape)"; reStructuredText would read the
# "*" as the start of an emphasis. Escape it inside "shape (...)" phrases only.
_SHAPE = re.compile(r"shape \([^)]*\)")


def _escape_starred_shapes(app, what, name, obj, options, lines):
    for i, line in enumerate(lines):
        lines[i] = _SHAPE.sub(lambda m: re.sub(r"(?<!\\)\*", r"\\*", m.group(0)), line)


# numpydoc needs a heading ("Notes") before prose that follows the Parameters section; without one the prose is
# read as more parameters. Give such prose its heading (a docstring lapse, not a reason to fail the build).
_PARAM_LINE = re.compile(r"^\*{0,2}\w[\w, *]*( : .*)?$")


def _notes_after_parameters(app, what, name, obj, options, lines):
    in_params = False
    for i, line in enumerate(list(lines)):
        if i + 1 < len(lines) and set(lines[i + 1].strip()) == {"-"}:
            in_params = line.strip() in ("Parameters", "Other Parameters")
            continue
        if (in_params and line and not line[0].isspace() and i > 0 and not lines[i - 1].strip()
                and not set(line.strip()) <= {"-"} and not _PARAM_LINE.match(line)):
            lines[i:i] = ["Notes", "-----"]
            return


def setup(app):
    app.connect("autodoc-process-docstring", _notes_after_parameters, priority=400)  # before napoleon (500)
    app.connect("autodoc-process-docstring", _escape_starred_shapes)
