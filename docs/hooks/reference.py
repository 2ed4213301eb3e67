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


_LINK = re.compile(r"(?<!!)\[([^\]]+)\]\(([^)\s#]+)\)")


def repo_links(markdown: str, page_path: Path, docs_dir: Path) -> str:
    """Links from a page to a file of the repository outside ``docs/`` (``[x](../../scratch/a.py)``, which
    work on a code host) become the file's repository path as code: the site has no copy of the file.
    A link to a file that does not exist is left alone, so the strict build still reports it."""
    def fix(m: re.Match) -> str:
        target = m.group(2)
        if "://" in target or target.startswith(("/", "mailto:")):
            return m.group(0)
        path = (page_path.parent / target).resolve()
        try:
            path.relative_to(docs_dir.resolve())
            return m.group(0)  # a page or file of the site: mkdocs checks it
        except ValueError:
            pass
        try:
            rel = path.relative_to(ROOT)
        except ValueError:
            return m.group(0)
        if not path.exists():
            return m.group(0)
        text = m.group(1)
        shown = f"`{rel.as_posix()}`"
        return shown if text.strip("`") == rel.as_posix() else f"{text} ({shown})"
    return _LINK.sub(fix, markdown)


def on_page_markdown(markdown, page, config, files, **kwargs):
    docs_dir = Path(config["docs_dir"])
    markdown = repo_links(markdown, docs_dir / page.file.src_path, docs_dir)
    if "<!-- generated:" not in markdown:
        return markdown
    from ns3_mfs.docs_reference import expand

    return expand(markdown)


_ROLE = re.compile(r":(?:py:)?(?:func|class|meth|mod|data|attr|exc|obj):(?=<code>)")


def on_page_content(html, page, config, files, **kwargs):
    """Docstrings use Sphinx roles (``:class:`X```); show them as plain code (``X``)."""
    return _ROLE.sub("", html) if ":<code>" in html else html
