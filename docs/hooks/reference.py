"""MkDocs hook: fill the ``<!-- generated: NAME -->`` markers from the code (ns3_mfs.docs_reference).

The reference pages (every config key, every command, every result column)
are generated at build time from the config dataclasses, the argparse parser
and the result-file schema, so they cannot drift from the code. The package
is imported from the checkout that holds this ``mkdocs.yml``.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def on_config(config, **kwargs):
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    return config


def on_page_markdown(markdown, page, config, files, **kwargs):
    if "<!-- generated:" not in markdown:
        return markdown
    from ns3_mfs.docs_reference import expand

    return expand(markdown)


_ROLE = re.compile(r":(?:py:)?(?:func|class|meth|mod|data|attr|exc|obj):(?=<code>)")


def on_page_content(html, page, config, files, **kwargs):
    """Docstrings use Sphinx roles (``:class:`X```); show them as plain code (``X``)."""
    return _ROLE.sub("", html) if ":<code>" in html else html
