"""Every example of the README and the tutorial runs, and shows what it prints; the docs site builds strictly.

Conventions of the example blocks (fenced code in README.md and docs/tutorial*.md):

* ```` ```console ````: lines starting with ``$ `` are commands, run with bash
  in order in one scratch directory (the repository's ``topologies/``,
  ``scratch/`` and ``configs/`` are linked into it; ``ns3-mfs`` and
  ``python`` are this checkout's); the lines after a command are its expected
  output (stdout and stderr together). A command must succeed unless its
  expected output holds ``error:``.
* ```` ```bash ````: commands run as they are (must succeed); output not shown.
* ```` ```python ````: run with this Python in the same directory; a
  ```` ```text ```` block right after it is its expected output.
* a block with ``title="NAME"`` (```` ```toml title="tiny.toml" ````) is
  written to the file NAME before the blocks after it run.
* ```` ```sh ````: set-up commands the test does not run (``make demo``);
  each ``make`` target must exist and each ``ns3-mfs`` command must parse.

Expected output matches when every line matches: numbers within
:data:`REL_TOL` (relative) or :data:`ABS_TOL`, ``...`` inside a line stands
for any text, and a line that is only ``...`` for any number of lines.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import ROOT

REL_TOL = 0.02
ABS_TOL = 1e-9
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("tutorial*.md"))]

_FENCE = re.compile(r"^```(\w*)([^\n]*)\n(.*?)^```[ \t]*$", re.S | re.M)
_NUMBER = r"(?<![\w.])[-+]?(?:\d+(?:,\d{3})*(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?(?![\w])"
_TOKEN = re.compile(rf"(?P<ell>\.\.\.)|(?P<num>{_NUMBER})|(?P<ws>[ \t]+)")


@dataclass
class Block:
    lang: str
    title: str | None
    body: str
    line: int
    output: str | None = None  # python: the text block after it


def blocks(path: Path) -> list[Block]:
    text = path.read_text()
    out: list[Block] = []
    prev_end = None
    for m in _FENCE.finditer(text):
        lang, info, body = m.group(1), m.group(2), m.group(3)
        title = re.search(r'title="([^"]+)"', info)
        line = text.count("\n", 0, m.start()) + 1
        if lang == "text" and out and out[-1].lang == "python" and out[-1].output is None \
                and text[prev_end:m.start()].strip() == "":
            out[-1].output = body
        else:
            out.append(Block(lang, title.group(1) if title else None, body, line))
        prev_end = m.end()
    return out


def _pattern(expected: str) -> tuple[re.Pattern, list[float]]:
    """A regex for the expected output and its numbers (groups of the regex, compared with a tolerance)."""
    parts: list[str] = []
    numbers: list[float] = []
    for line in expected.rstrip("\n").split("\n"):
        if line.strip() == "...":
            parts.append(r"(?:[^\n]*\n)*?")
            continue
        piece, pos, line = "", 0, line.rstrip()
        for m in _TOKEN.finditer(line):
            piece += re.escape(line[pos:m.start()])
            pos = m.end()
            if m.group("ell"):
                piece += r"[^\n]*?"
            elif m.group("ws"):
                piece += r"[ \t]*" if m.start() == 0 else r"[ \t]+"
            else:
                piece += "(" + _NUMBER + ")"
                numbers.append(_number(m.group("num")))
        piece += re.escape(line[pos:])
        parts.append(r"[ \t]*" + piece + r"[ \t]*\n")
    return re.compile("".join(parts)), numbers


def _number(text: str) -> float:
    return float(text.replace(",", ""))


def matches(expected: str, actual: str) -> str | None:
    """None if ``actual`` shows ``expected`` (see the module docstring), else why not."""
    actual = "\n".join(line.rstrip() for line in actual.rstrip().split("\n")) + "\n"
    pattern, want = _pattern(expected)
    m = pattern.fullmatch(actual)
    if m is None:
        return "the text differs"
    got = [_number(g) for g in m.groups()]
    for w, g in zip(want, got):
        if abs(g - w) > max(REL_TOL * abs(w), ABS_TOL):
            return f"{g!r} is not within {REL_TOL:.0%} of the documented {w!r}"
    return None


def _env(tmp: Path) -> dict[str, str]:
    bin_dir = tmp / ".bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "ns3-mfs").write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m ns3_mfs "$@"\n')
    (bin_dir / "python").write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} "$@"\n')
    for exe in bin_dir.iterdir():
        exe.chmod(0o755)
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
               PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""), PYTHONUNBUFFERED="1",
               COLUMNS="200", NO_COLOR="1")
    return env


def _shell(command: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", command], cwd=cwd, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=600)


def _console(body: str) -> list[tuple[str, str]]:
    """(command, expected output) pairs of a console block."""
    steps: list[tuple[str, list[str]]] = []
    for line in body.rstrip("\n").split("\n"):
        if line.startswith("$ "):
            steps.append((line[2:], []))
        elif steps:
            steps[-1][1].append(line)
        else:
            raise AssertionError(f"console block must start with '$ ': {line!r}")
    return [(cmd, "\n".join(out)) for cmd, out in steps]


def _check_sh(body: str, where: str) -> None:
    """Set-up commands: make targets exist, ns3-mfs commands parse (not run)."""
    makefile = (ROOT / "Makefile").read_text()
    for raw in body.split("\n"):
        line = raw.split("#")[0].strip()
        if line.startswith("make "):
            for target in line.split()[1:]:
                assert re.search(rf"^{re.escape(target)}:", makefile, re.M), f"{where}: no make target {target!r}"
        elif line.startswith("ns3-mfs "):
            words = shlex.split(line)[1:]
            cmd = words[:2] if words[:1] == ["config"] else words[:1]  # the (sub)command, then --help
            res = subprocess.run([sys.executable, "-m", "ns3_mfs", *cmd, "--help"], capture_output=True,
                                 text=True, env=_env_min(), timeout=120)
            assert res.returncode == 0, f"{where}: {line!r}: {res.stderr.strip()}"


def _env_min() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))


def run_examples(doc: Path, tmp: Path) -> list[str]:
    """Run every example of ``doc`` in ``tmp``; the problems found (empty: all good)."""
    for name in ("topologies", "scratch", "configs"):
        (tmp / name).symlink_to(ROOT / name)
    env = _env(tmp)
    problems = []
    for b in blocks(doc):
        where = f"{doc.name}:{b.line}"
        if b.title:
            (tmp / b.title).write_text(b.body)
        if b.lang == "sh":
            _check_sh(b.body, where)
        elif b.lang == "bash":
            res = _shell(b.body, tmp, env)
            if res.returncode != 0:
                problems.append(f"{where}: exit {res.returncode}\n{res.stdout[-2000:]}")
        elif b.lang == "console":
            for cmd, expected in _console(b.body):
                res = _shell(cmd, tmp, env)
                if res.returncode != 0 and "error:" not in expected:
                    problems.append(f"{where}: $ {cmd}: exit {res.returncode}\n{res.stdout[-2000:]}")
                    continue
                why = matches(expected, res.stdout)
                if why:
                    problems.append(f"{where}: $ {cmd}: {why}\n--- shown:\n{expected}\n--- printed:\n{res.stdout}")
        elif b.lang == "python":
            res = subprocess.run([sys.executable, "-c", b.body], cwd=tmp, env=env, stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, text=True, timeout=600)
            if res.returncode != 0:
                problems.append(f"{where}: python block failed\n{res.stdout[-2000:]}")
            elif b.output is not None:
                why = matches(b.output, res.stdout)
                if why:
                    problems.append(f"{where}: python: {why}\n--- shown:\n{b.output}\n--- printed:\n{res.stdout}")
    return problems


# ----------------------------------------------------------------------------- the matcher itself


def test_matcher_tolerates_small_number_changes_and_ellipses():
    assert matches("ttft 0.2437 s\n", "ttft 0.24369298 s\n") is None
    assert matches("a 1,000 b\n...\nend\n", "a 1000 b\nx\ny\nend\n") is None
    assert matches("wall_s: ...,\n", "wall_s: 12.5,\n") is None
    assert matches("ns3-mfs 0.1.0\n", "ns3-mfs 0.1.0\n") is None
    assert matches("id ea1e9b72 x\n", "id ea1e9b72 x\n") is None


def test_matcher_refuses_other_numbers_and_text():
    assert "not within" in matches("ttft 0.2437 s\n", "ttft 0.26 s\n")
    assert matches("status complete\n", "status partial\n") == "the text differs"
    assert matches("a\nb\n", "a\nb\nc\n") == "the text differs"  # an extra line needs '...'


def test_blocks_are_parsed_with_titles_and_outputs(tmp_path):
    doc = tmp_path / "d.md"
    doc.write_text('x\n\n```toml title="a.toml"\nk = 1\n```\n\n```python\nprint(2)\n```\n\n```text\n2\n```\n'
                   "\n```console\n$ echo hi\nhi\n```\n")
    got = blocks(doc)
    assert [(b.lang, b.title) for b in got] == [("toml", "a.toml"), ("python", None), ("console", None)]
    assert got[1].output == "2\n"
    (tmp_path / "w").mkdir()
    assert run_examples(doc, tmp_path / "w") == []
    assert (tmp_path / "w" / "a.toml").read_text() == "k = 1\n"
    doc.write_text("```console\n$ echo 41\n42\n```\n")
    (tmp_path / "v").mkdir()
    assert "not within" in run_examples(doc, tmp_path / "v")[0]


# ----------------------------------------------------------------------------- the documents


@pytest.mark.slow
@pytest.mark.parametrize("doc", DOCS, ids=[d.name for d in DOCS])
def test_every_example_runs_and_shows_its_output(doc, tmp_path):
    t0 = time.monotonic()
    problems = run_examples(doc, tmp_path)
    assert not problems, "\n\n".join(problems)
    assert any(b.lang in ("console", "python", "bash") for b in blocks(doc)), f"{doc.name} has no runnable example"
    print(f"{doc.name}: examples ran in {time.monotonic() - t0:.1f} s")


def test_readme_is_short_and_points_to_the_docs():
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 260
    assert "docs/" in text and "mkdocs" in text


def test_docs_build_strictly(tmp_path):
    """``mkdocs build --strict``: every page, every link and anchor, the generated reference, the API pages."""
    t0 = time.monotonic()
    res = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                         cwd=ROOT, env=dict(_env_min(), NO_MKDOCS_2_WARNING="1"), capture_output=True, text=True,
                         timeout=600)
    assert res.returncode == 0, res.stderr[-5000:]
    print(f"mkdocs build --strict: {time.monotonic() - t0:.1f} s")
    page = (tmp_path / "site" / "reference" / "config" / "index.html").read_text()
    from ns3_mfs.fabric.network import FabricConfig

    import dataclasses

    for f in dataclasses.fields(FabricConfig):  # the generated reference lists every key
        assert f"<code>{f.name}</code>" in page, f.name
    assert "generated:" not in page


def test_the_generated_references_name_every_key_command_and_option():
    import argparse
    import dataclasses

    from ns3_mfs import docs_reference as ref
    from ns3_mfs.cli import parser
    from ns3_mfs.experiment.run import RunConfig
    from ns3_mfs.fabric.network import FabricConfig
    from ns3_mfs.fabric.topology import REGISTRY as KINDS
    from ns3_mfs.fabric.topology.host_path import HostPath
    from ns3_mfs.policies import REGISTRY as POLICIES
    from ns3_mfs.serving import dispatch, placement, queueing, routing
    from ns3_mfs.serving.config import ServingConfig
    from ns3_mfs.serving.decode import DecodeConfig
    from ns3_mfs.serving.requests import LengthDist, WorkloadConfig
    from ns3_mfs.serving.sessions import SessionConfig

    config = ref.config_reference()
    classes = [RunConfig, FabricConfig, ServingConfig, DecodeConfig, WorkloadConfig, LengthDist, SessionConfig,
               HostPath, *KINDS.classes.values()]
    for reg in (POLICIES, dispatch.REGISTRY, placement.REGISTRY, queueing.REGISTRY, routing.REGISTRY):
        classes += [cls.Params for cls in reg.classes.values()]
    for cls in classes:
        for f in dataclasses.fields(cls):
            if f.init:
                assert f"| `{f.name}` |" in config, f"{cls.__name__}.{f.name} is not in the config reference"
    for name in POLICIES:
        assert f"### `{name}`" in config
    assert "| `mtu` | int | `4096` | one of `1024`, `2048`, `4096` | RoCE payload MTU (bytes) |" in config

    cli = ref.cli_reference()
    for action in parser()._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                assert f"## `ns3-mfs {name}`" in cli, name
                for a in sub._actions:
                    if isinstance(a, argparse._HelpAction):
                        continue
                    for opt in a.option_strings:
                        assert f"`{opt}`" in cli, f"ns3-mfs {name} {opt}"
    assert "`--version`" in cli


def test_links_to_repository_files_become_their_paths():
    import importlib.util

    spec = importlib.util.spec_from_file_location("docs_hook", ROOT / "docs" / "hooks" / "reference.py")
    hook = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hook)
    page, docs = ROOT / "docs" / "how-to" / "x.md", ROOT / "docs"
    text = ("[the Makefile](../../Makefile), [scratch/incast.csv](../../scratch/incast.csv), "
            "[gone](../../no_such_file.py), [a page](../tutorial.md), [web](https://ns3.org/a.md)")
    assert hook.repo_links(text, page, docs) == (
        "the Makefile (`Makefile`), `scratch/incast.csv`, [gone](../../no_such_file.py), "
        "[a page](../tutorial.md), [web](https://ns3.org/a.md)")
