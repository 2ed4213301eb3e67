"""Every field of a run config refuses a wrong type and an out-of-range value, naming its key path.

The cases are generated from ``dataclasses.fields`` of every config class
(serving, workload and its length distributions, fabric, each topology kind,
each policy's parameters, the top-level keys), so a new field is covered
without editing this file. Pure Python: no simulation.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

import pytest

from ns3_mfs.config import ConfigError
from ns3_mfs.experiment.run import RunConfig, RunSetup, ServingConfig, run_config_from_dict
from ns3_mfs.experiment.sweep import apply_overrides
from ns3_mfs.fabric.network import FabricConfig
from ns3_mfs.fabric.topology import REGISTRY as KINDS
from ns3_mfs.policies import REGISTRY
from ns3_mfs.serving.requests import LengthDist, WorkloadConfig

BASE: dict[str, Any] = {
    "topology": {"kind": "testbed"},
    "workload": {"kind": "poisson", "rate_per_s": 1.0, "num_requests": 2,
                 "input": {"kind": "fixed", "value": 10}, "output": {"kind": "fixed", "value": 1}},
}


def _inner(tp: Any) -> Any:
    """``Optional[X]`` -> ``X``."""
    if get_origin(tp) in (Union, types.UnionType):
        return next(a for a in get_args(tp) if a is not type(None))
    return tp


def wrong_type(tp: Any) -> Any:
    """A TOML value of the wrong type for a field of type ``tp``."""
    tp = _inner(tp)
    origin = get_origin(tp)
    if origin is Literal or tp in (int, float, bool) or origin in (list, tuple):
        return "not-a-value"
    if tp is str:
        return 5
    return 7  # tables (dataclasses, dict) and Any


def wrong_value(tp: Any, meta: typing.Mapping[str, Any]) -> Any:
    """A value of the right type but outside the field's range or allowed set (or None if unconstrained)."""
    tp = _inner(tp)
    origin = get_origin(tp)
    if origin is Literal:
        return "nonsense"
    item = get_args(tp)[0] if origin in (list, tuple) else tp
    bad = None
    if "choices" in meta:
        bad = max(meta["choices"]) + 1
    elif "min" in meta:
        bad = meta["min"] - (1 if item is int else 0.5)
    elif "gt" in meta:
        bad = item(meta["gt"])
    elif "max" in meta:
        bad = meta["max"] + 1
    if bad is None:
        return None
    return [bad] if origin in (list, tuple) else bad


def _table_cases(prefix: str, cls: type, base_table: dict[str, Any]) -> list[tuple[str, dict, str, Any]]:
    """(key path, table to put at prefix, field name, type) for every field of ``cls``."""
    hints = get_type_hints(cls)
    return [(f"{prefix}.{f.name}", base_table, f.name, hints[f.name], f.metadata)
            for f in dataclasses.fields(cls) if f.init]


def all_cases() -> list[tuple[str, dict, str, Any, Any]]:
    cases = []
    cases += _table_cases("serving", ServingConfig, {})
    cases += _table_cases("fabric", FabricConfig, {})
    cases += _table_cases("workload", WorkloadConfig, dict(BASE["workload"]))
    for side in ("input", "output"):
        cases += _table_cases(f"workload.{side}", LengthDist, {"kind": "fixed", "value": 10})
    for kind, cls in KINDS.items():
        cases += _table_cases(f"topology[{kind}]", cls, {"kind": kind})
    for name, pol in sorted(REGISTRY.items()):
        cases += _table_cases(f"policies.{name}", pol.Params, {})
    hints = get_type_hints(RunConfig)
    cases += [(f.name, {}, f.name, hints[f.name], f.metadata) for f in dataclasses.fields(RunConfig)]
    return cases


CASES = all_cases()
IDS = [c[0] for c in CASES]


def build(path: str, table: dict, name: str, value: Any) -> dict[str, Any]:
    """The base run config with ``value`` at the field (``topology[kind].x`` -> topology of that kind)."""
    if "." not in path:
        return {**BASE, name: value}
    prefix = path.rsplit(".", 1)[0]
    key = prefix.split("[")[0]
    return apply_overrides(BASE, {key: {**table, name: value}})


def refused(data: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as exc:
        run_config_from_dict(data)
    return str(exc.value)


@pytest.mark.parametrize("path, table, name, tp, meta", CASES, ids=IDS)
def test_wrong_type_is_refused_naming_the_key(path, table, name, tp, meta):
    bad = wrong_type(tp)
    msg = refused(build(path, table, name, bad))
    expected_path = path.split("[")[0] + "." + name if "[" in path else path
    assert expected_path in msg, msg
    assert repr(bad) in msg or "expected a table" in msg or "allowed" in msg, msg


VALUE_CASES = [c for c in CASES if wrong_value(c[3], c[4]) is not None]


@pytest.mark.parametrize("path, table, name, tp, meta", VALUE_CASES, ids=[c[0] for c in VALUE_CASES])
def test_out_of_range_value_is_refused_naming_the_key(path, table, name, tp, meta):
    bad = wrong_value(tp, meta)
    msg = refused(build(path, table, name, bad))
    expected_path = path.split("[")[0] + "." + name if "[" in path else path
    assert expected_path in msg, msg
    shown = bad[0] if isinstance(bad, list) else bad
    assert repr(shown) in msg or str(shown) in msg, msg
    assert any(w in msg for w in ("allowed", "must be", "expected")), msg


def test_every_config_class_is_covered():
    covered = {p.split(".")[0].split("[")[0] for p in IDS}
    assert {"serving", "fabric", "workload", "topology", "policies", "seed", "policy", "scenario"} <= covered
    assert len(VALUE_CASES) > 60 and len(CASES) > 120


UNKNOWN = [
    ("", {}),
    ("serving", {}), ("fabric", {}), ("workload", dict(BASE["workload"])),
    ("workload.input", {"kind": "fixed", "value": 10}), ("workload.output", {"kind": "fixed", "value": 1}),
    *[(f"topology[{k}]", {"kind": k}) for k in KINDS],
    *[(f"policies.{name}", {}) for name in sorted(REGISTRY)],
]


@pytest.mark.parametrize("prefix, table", UNKNOWN, ids=[p or "top" for p, _ in UNKNOWN])
def test_unknown_key_is_refused_at_every_level(prefix, table):
    if not prefix:
        msg = refused({**BASE, "bogus_key": 1})
        assert "bogus_key: unknown key" in msg and "allowed keys" in msg
        return
    key = prefix.split("[")[0]
    msg = refused(apply_overrides(BASE, {key: {**table, "bogus_key": 1}}))
    assert f"{key}.bogus_key: unknown key" in msg and "allowed keys" in msg, msg


def test_unknown_policy_table_names_its_key():
    msg = refused({**BASE, "policies": {"lstf": {}}})
    assert msg.startswith("policies.lstf: 'lstf' is not a policy; allowed:")


@pytest.mark.parametrize("key, value, expect", [
    ("serving.model", "no-such-model", "serving.model 'no-such-model': unknown model; available:"),
    ("serving.gpu", "no-such-gpu", "serving.gpu 'no-such-gpu': unknown GPU; available:"),
    ("serving.routing", "no-such-routing", "serving.routing: 'no-such-routing' is not a routing model; allowed:"),
    ("serving.tp", 3, "serving.tp: 3 does not divide"),
    ("serving.prefill_gpus", 12, "serving.prefill_gpus: 12 is not a multiple of"),
    ("policy", "lstf", "policy: 'lstf' is not a policy; allowed:"),
])
def test_catalogue_names_are_checked_before_simulating(key, value, expect):
    with pytest.raises(ConfigError) as exc:
        RunSetup(run_config_from_dict(apply_overrides(BASE, {key: value})))
    assert expect in str(exc.value)
