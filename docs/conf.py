"""Sphinx configuration for the ndpool documentation.

Build (warnings are errors) and run the examples:

    sphinx-build -W --keep-going -b html docs docs/_build/html
    sphinx-build -W --keep-going -b doctest docs docs/_build/doctest

ndpool must be installed (``pip install ".[docs]"``): the API pages read the docstrings
of the compiled package, and the doctest builder runs every example against it.
"""

import ndpool

project = "ndpool"
author = "the ndpool developers"
copyright = "the ndpool developers"
release = version = ndpool.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.doctest",
    "numpydoc",
    "myst_parser",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
root_doc = "index"

# MyST: `{doctest}` fences and ```{eval-rst}``` blocks are directives; heading anchors let
# pages link to sections (semantics.md#gradients).
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence"]

# API pages: one generated page per function (docs/generated/, not committed).
autosummary_generate = True
autodoc_default_options = {"members": False}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False

# Doctests: every `>>>` example, in these pages and in the docstrings, is run against the
# installed ndpool and its printed output compared exactly.
doctest_global_setup = """
import numpy as np
import ndpool
"""
doctest_test_doctest_blocks = "default"

html_theme = "pydata_sphinx_theme"
html_title = f"ndpool {release}"
html_static_path = ["_static"]
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "header_links_before_dropdown": 4,
}
# The left sidebar only where a section has pages to list (the API reference).
html_sidebars = {"*": [], "api": ["sidebar-nav-bs"], "generated/*": ["sidebar-nav-bs"]}
html_show_sourcelink = False
autodoc_typehints = "none"  # overloads and ArrayLike unions read badly; the docstrings give the types
