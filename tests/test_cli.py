"""The command line helps: ``--set``, defaults in ``--help``, "did you mean", ``config docs``, one rate
unit per key, paths relative to the file that names them, missing files, progress bars on demand."""

from __future__ import annotations

import dataclasses
import re
import tomllib
from pathlib import Path

import pytest

from conftest import ROOT, TINY_MOE, TINY_RUN, run_cli
from ns3_mfs.config import ConfigError, parse_assignments


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("cli")
    (d / "tiny.toml").write_text(TINY_RUN.format(topo=ROOT / "topologies/testbed.toml"))
    return d / "tiny.toml"


def test_set_overrides_reach_the_run(tiny, tmp_path):
    out = tmp_path / "run"
    res = run_cli("run", str(tiny), "--out", str(out), "--set", "fabric.mtu=2048", "--set", "policy=fair",
                  "--set", "workload.rate_per_gpu=0.5", "--set", "serving.ttft_slo_s=1.0",
                  env={"NS3_MFS_PROGRESS": "1"})
    assert res.returncode == 0, res.stderr
    cfg = tomllib.loads((out / "config.toml").read_text())
    assert cfg["fabric"]["mtu"] == 2048 and cfg["policy"] == "fair" and cfg["serving"]["ttft_slo_s"] == 1.0
    assert cfg["workload"]["rate_per_s"] == 8.0 and "rate_per_gpu" not in cfg["workload"]  # 0.5 x 16 GPUs
    assert "run: simulated" in res.stderr and "/3 requests" in res.stderr  # the progress bar, forced on


def test_no_progress_bar_when_not_a_terminal(tiny, tmp_path):
    res = run_cli("run", str(tiny), "--out", str(tmp_path / "r"), "--set", "serving.ttft_slo_s=1.0")
    assert res.returncode == 0, res.stderr
    assert "run: simulated" not in res.stderr and "\r" not in res.stderr


@pytest.mark.parametrize("item, expect", [
    ("fabric.mtuu=1024", "fabric.mtuu: unknown key; allowed keys:"),
    ("fabric.mtuu=1024", "did you mean 'mtu'?"),
    ("polcy=fair", "polcy: unknown key; allowed keys:"),
    ("polcy=fair", "did you mean 'policy'?"),
    ("workload.rate_per_sec=2", "did you mean 'rate_per_s'?"),
    ("fabric.mtu=1500", "fabric.mtu: 1500 is not allowed; allowed: 1024, 2048, 4096"),
    ("fabric.mtu", "--set: expected KEY=VALUE with a dotted config key"),
    ("seed.x=1", "seed: expected an integer"),
])
def test_mistyped_set_is_one_line_with_a_suggestion(tiny, item, expect):
    res = run_cli("config", "show", str(tiny), "--set", item)
    assert res.returncode == 2 and expect in res.stderr, res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_set_values_are_toml_or_text():
    assert parse_assignments(["a=1", "b=2.5", "c=true", 'd="x y"', "e=mfs", "f=[1, 2]", "g={E = 4.0}", "h=a=b"]) == {
        "a": 1, "b": 2.5, "c": True, "d": "x y", "e": "mfs", "f": [1, 2], "g": {"E": 4.0}, "h": "a=b"}
    with pytest.raises(ConfigError, match="--set: expected KEY=VALUE"):
        parse_assignments(["=1"])


def test_relative_paths_are_relative_to_the_file_and_written_absolute(tmp_path):
    d = tmp_path / "configs"
    (d / "models").mkdir(parents=True)
    (d / "models" / "tiny.toml").write_text(TINY_MOE)
    (tmp_path / "topo.toml").write_text((ROOT / "topologies/testbed.toml").read_text())
    run = TINY_RUN.format(topo="../topo.toml").replace("[serving]", '[serving]\nmodel = "models/tiny.toml"')
    (d / "run.toml").write_text(run)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    res = run_cli("config", "show", str(d / "run.toml"), cwd=elsewhere)
    assert res.returncode == 0, res.stderr
    shown = tomllib.loads(res.stdout)
    assert shown["serving"]["model"] == str((d / "models" / "tiny.toml").resolve())
    # --set paths are relative to the working directory (the command line names them).
    res = run_cli("config", "show", str(d / "run.toml"), "--set", "serving.model=configs/models/tiny.toml",
                  cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert tomllib.loads(res.stdout)["serving"]["model"] == str((d / "models" / "tiny.toml").resolve())


def test_config_show_fails_on_a_missing_file_as_run_does(tmp_path):
    cfg = tmp_path / "trace.toml"
    cfg.write_text(f'topology = "{ROOT / "topologies/testbed.toml"}"\n'
                   '[workload]\nkind = "trace"\ntrace = "no-such-trace.csv"\nnum_requests = 3\n')
    # Relative to the config file, not to the working directory (here the repository).
    want = f"workload.trace: {str(tmp_path / 'no-such-trace.csv')!r}: no such file"
    show = run_cli("config", "show", str(cfg))
    assert show.returncode == 2 and want in show.stderr, show.stderr
    run = run_cli("run", str(cfg), "--out", str(tmp_path / "o"))
    assert run.returncode == 2 and str(tmp_path / "no-such-trace.csv") in run.stderr, run.stderr
    assert not (tmp_path / "o").exists()


def test_config_docs_lists_every_key_of_a_section():
    from ns3_mfs.config_docs import section_docs, sections
    from ns3_mfs.fabric.network import FabricConfig

    res = run_cli("config", "docs", "fabric")
    assert res.returncode == 0, res.stderr
    for f in dataclasses.fields(FabricConfig):
        assert f"\n  {f.name} " in res.stdout, f.name
    assert "\n  mtu " in res.stdout and "int, default 4096; one of 1024, 2048, 4096\n" in res.stdout
    md = run_cli("config", "docs", "workload", "--format", "markdown").stdout
    assert "| `rate_per_gpu` | float | *unset* | > 0 |" in md
    bad = run_cli("config", "docs", "fabrc")
    assert bad.returncode == 2 and "did you mean 'fabric'?" in bad.stderr
    assert {"run", "fabric", "serving", "workload", "workload.input", "policies.mfs", "topology.testbed",
            "topology.host"} <= set(sections())
    assert all(section_docs(s) for s in sections())


def test_config_docs_text_and_markdown_say_the_same():
    """One row model, two renderers: every key's type, default and limits read the same in both."""
    from ns3_mfs.config_docs import key_rows, section_docs, sections

    for name, cls in sections().items():
        text, md = section_docs(name), section_docs(name, "markdown")
        for r in key_rows(cls, "" if name == "run" else name):
            limits = (["one of " + ", ".join(r.choices)] if r.choices else []) + list(r.bounds)
            line = f"{r.type}, default {r.default}" + (f"; {', '.join(limits)}" if limits else "")
            assert re.search(rf"^  {re.escape(r.key)} +{re.escape(line)}$", text, re.M), (name, r.key)
            default = f"`{r.default}`" if r.default_is_value else f"*{r.default}*"
            assert f"| `{r.key}` | {r.type} | {default} |" in md, (name, r.key)
            assert "`" not in r.type and "typing." not in r.type and "e+" not in "".join(r.bounds), (name, r)


def test_help_shows_defaults():
    text = " ".join(run_cli("sweep", "--help").stdout.split())  # unwrapped
    assert "(default: local)" in text and "--set KEY=VALUE" in text
    assert "(default: None)" not in text and "(default: False)" not in text
    assert "(default: mfs,fair,sjf,edf,karuna)" in " ".join(run_cli("compare", "--help").stdout.split())


def test_request_rate_has_two_named_keys(tiny):
    from ns3_mfs.experiment.run import load_run_config

    cfg = load_run_config(tiny, {"workload.rate_per_gpu": 0.25})
    assert cfg.workload.rate_per_s == 4.0 and cfg.workload.rate_per_gpu is None  # x 16 prefill GPUs
    bad = tiny.parent / "both.toml"
    bad.write_text(tiny.read_text().replace("rate_per_s = 1.0", "rate_per_s = 1.0\nrate_per_gpu = 0.5"))
    res = run_cli("config", "show", str(bad))
    assert res.returncode == 2 and "workload.rate_per_gpu: give rate_per_s (whole cluster) or rate_per_gpu" \
        in res.stderr
    res = run_cli("compare", str(tiny), "--rates", "1.0", "--out", str(tiny.parent / "c"))
    assert res.returncode == 2 and "--rates: renamed; give --rates-per-gpu" in res.stderr


def test_workload_seed_defaults_to_the_run_seed_and_can_hold_the_requests(tiny):
    from ns3_mfs.experiment.run import load_run_config, workload_requests

    def arrivals(**sets):
        return [r.arrival_s for r in workload_requests(load_run_config(tiny, sets))]

    assert arrivals(seed=1) != arrivals(seed=2)  # replications over seeds vary the workload
    assert arrivals(seed=1, **{"workload.seed": 7}) == arrivals(seed=2, **{"workload.seed": 7})
    assert arrivals(seed=7) == arrivals(seed=1, **{"workload.seed": 7})


def test_sweep_paths_are_relative_to_the_file_that_names_them(tmp_path):
    from ns3_mfs.experiment.sweep import load_sweep

    (tmp_path / "base").mkdir()
    (tmp_path / "sweeps" / "models").mkdir(parents=True)
    (tmp_path / "sweeps" / "models" / "tiny.toml").write_text(TINY_MOE)
    (tmp_path / "base" / "run.toml").write_text(TINY_RUN.format(topo="../topo.toml"))
    (tmp_path / "topo.toml").write_text((ROOT / "topologies/testbed.toml").read_text())
    sw = tmp_path / "sweeps" / "sweep.toml"
    sw.write_text('base = "../base/run.toml"\n[grid]\n"serving.model" = ["models/tiny.toml", "mixtral-8x7b"]\n')
    models = [p.config["serving"]["model"] for p in load_sweep(sw).points]
    assert models == [str(tmp_path / "sweeps" / "models" / "tiny.toml"), "mixtral-8x7b"]
