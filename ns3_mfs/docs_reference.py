"""Reference pages of the documentation, generated from the code so they cannot drift.

* :func:`config_reference`: every key of a run config (and of the tables it
  names: topology kinds, ``[fabric]``, ``[serving]``, ``[workload]``, every
  policy's and scheduler's parameters) with its type, default, limits and
  meaning: the rows of :func:`ns3_mfs.config_docs.key_rows` (the same rows
  ``ns3-mfs config docs`` prints), laid out as the site's page.
* :func:`cli_reference`: every ``ns3-mfs`` command and option, read from the
  argparse parser of :mod:`ns3_mfs.cli`.
* :func:`results_reference`: the columns of every result file, from
  :data:`RESULT_FILES` (a test checks it against the files a real run writes).

The documentation build (``docs/hooks/reference.py``) replaces the markers
``<!-- generated: config -->``, ``<!-- generated: cli -->`` and
``<!-- generated: results -->`` with these. Importing this module imports no
simulator.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
from typing import Any, Iterable

from .config_docs import key_rows, markdown_table, md_cell, nested_tables, toml_text

# ----------------------------------------------------------------------------- config keys


def _doc_line(obj: Any) -> str:
    doc = (getattr(obj, "__doc__", None) or "").strip()
    first = doc.split("\n\n")[0]
    return " ".join(first.split())


def _section(title: str, cls: type, table: str, intro: str = "", level: int = 2) -> list[str]:
    """A heading, an introduction and the keys of ``cls`` (whose dotted table name is ``table``)."""
    lines = [f"{'#' * level} {title}", ""]
    text = intro or _doc_line(cls)
    if text:
        lines += [text, ""]
    if not dataclasses.fields(cls):
        return lines + ["No parameters.", ""]
    return lines + markdown_table(key_rows(cls, table)) + [""]


def _nested(prefix: str, cls: type, level: int) -> list[str]:
    """Sections for the tables inside ``cls`` (dataclass fields), recursively."""
    return [line for key, tp in nested_tables(cls, prefix) for line in _section(f"`[{key}]`", tp, key, level=level)]


def _registry_sections(title: str, table: str, registry: Any, selector: str, level: int = 2) -> list[str]:
    """``table``: where the chosen one's parameters go, ``[serving.dispatch_params]`` or ``[policies.<name>]``."""
    takes = any(dataclasses.fields(registry[n].Params) for n in registry)
    where = (f"Its parameters go in `{table}` (only those of the chosen one)." if takes
             else "None of them takes parameters.")
    lines = [f"{'#' * level} {title}", "",
             f"`{selector}` names one of: " + ", ".join(f"`{n}`" for n in sorted(registry)) + ". " + where, ""]
    for name in sorted(registry):
        cls = registry[name]
        lines += _section(f"`{name}`", cls.Params, table.strip("[]").replace("<name>", name), intro=_doc_line(cls),
                          level=level + 1)
    return lines


def config_reference() -> str:
    """Markdown: every run-config key, generated from the config dataclasses and their ``spec`` metadata."""
    from .experiment.run import RunConfig
    from .fabric.cc_profiles import PROFILE_KEYS, PROFILES
    from .fabric.network import FabricConfig
    from .fabric.topology import REGISTRY as KINDS
    from .fabric.topology import Topology
    from .policies import REGISTRY as POLICIES
    from .serving import dispatch, placement, queueing, routing
    from .serving.config import ServingConfig
    from .serving.decode_batching import REGISTRY as DECODE
    from .serving.compute import GpuProfile, list_gpus
    from .serving.models import ModelSpec, list_models
    from .serving.requests import WorkloadConfig

    out = ["A run config is a TOML file (`ns3-mfs run CONFIG`); every table and key is listed below. A key "
           "that is not listed, a value of the wrong type or out of its limits is refused with a one-line "
           "error naming the key path (exit code 2). Limits are inclusive unless written `>`; *unset* means "
           "the key may be left out (the meaning says what happens then).", ""]
    out += _section("Top level", RunConfig, "", intro="Keys outside any table. `topology` is a path to a "
                    "topology TOML (relative to the run config) or an inline `[topology]` table.")
    out += ["## `[topology]`", "",
            "`kind` selects one of: " + ", ".join(f"`{k}`" for k in sorted(KINDS)) + ". The same keys make a "
            "topology file (`ns3-mfs fabric TOPOLOGY FLOWS`).", ""]
    for kind in sorted(KINDS):
        out += _section(f'`kind = "{kind}"`', KINDS[kind], "topology", level=3)
    out += _nested("topology", Topology, 3)  # the tables every kind has ([topology.host])
    out += _section("`[fabric]`", FabricConfig, "fabric", intro="Settings of the lossless RoCE fabric "
                    "(`FabricConfig`; also the `--config` file of `ns3-mfs fabric`). Keys whose default is *profile* take it "
                    "from `dcqcn_profile` (table below) unless given.")
    names = list(PROFILES)
    out += ["### DCQCN profiles", "", "| key | " + " | ".join(f"`{n}`" for n in names) + " |",
            "|---|" + "---|" * len(names)]
    for key in PROFILE_KEYS:
        out.append(f"| `{key}` | " + " | ".join(f"`{toml_text(PROFILES[n][key])}`" for n in names) + " |")
    out.append("")
    out += _section("`[serving]`", ServingConfig, "serving")
    out += _nested("serving", ServingConfig, 3)
    out += _registry_sections("`[serving.decode]` batching policies", "[serving.decode]", DECODE,
                              "serving.decode.policy", level=3)
    for title, table, reg, sel in (
        ("Prefill queue policies", "[serving.queue_params]", queueing.REGISTRY, "serving.queue_policy"),
        ("Dispatchers", "[serving.dispatch_params]", dispatch.REGISTRY, "serving.dispatch"),
        ("Expert routing models", "[serving.routing_params]", routing.REGISTRY, "serving.routing"),
        ("Expert placements", "[serving.placement_params]", placement.REGISTRY, "serving.placement"),
    ):
        out += _registry_sections(f"{title}: `{table}`", table, reg, sel, level=3)
    out += _section("`[workload]`", WorkloadConfig, "workload", intro="Where requests come from "
                    "(`WorkloadConfig`): `poisson` or `gamma` arrivals with `[workload.input]`/`[workload.output]` length "
                    "distributions, generated `sessions`, or a `trace` file.")
    out += _nested("workload", WorkloadConfig, 3)
    out += _registry_sections("Flow-scheduling policies: `[policies.<name>]`", "[policies.<name>]", POLICIES,
                              "policy")
    out += ["## Model and GPU files", "",
            "`serving.model` and `serving.gpu` take a catalogue name or the path of a TOML file with these keys "
            "(catalogue: " + ", ".join(f"`{m}`" for m in list_models()) + "; GPUs: "
            + ", ".join(f"`{g}`" for g in list_gpus()) + ").", ""]
    out += _section("Model file (`ModelSpec`)", ModelSpec, "", level=3)
    out += _section("GPU file (`GpuProfile`)", GpuProfile, "", level=3)
    return "\n".join(out) + "\n"


# ----------------------------------------------------------------------------- command line


def _subcommands(p: argparse.ArgumentParser) -> list[tuple[str, argparse.ArgumentParser, str]]:
    out = []
    for action in p._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help for a in action._choices_actions}
            for name, sub in action.choices.items():
                out.append((name, sub, helps.get(name) or ""))
    return out


def _options(p: argparse.ArgumentParser) -> list[str]:
    rows = []
    for a in p._actions:
        if isinstance(a, (argparse._HelpAction, argparse._SubParsersAction)):
            continue
        name = ", ".join(f"`{s}`" for s in a.option_strings) or f"`{a.dest.upper()}`"
        if a.option_strings and a.nargs != 0:
            name += f" `{a.metavar or a.dest.upper()}`"
        default = "" if a.default in (None, False, argparse.SUPPRESS) or not a.option_strings else f"`{a.default}`"
        if a.required and a.option_strings:
            default = "required"
        choices = ", ".join(f"`{c}`" for c in a.choices) if a.choices else ""
        rows.append(f"| {name} | {md_cell(a.help or '')} | {default} | {choices} |")
    if not rows:
        return []
    return ["| argument | meaning | default | allowed |", "|---|---|---|---|", *rows, ""]


def cli_reference() -> str:
    """Markdown: every ``ns3-mfs`` command with its usage and arguments, from the argparse parser."""
    from .cli import parser

    top = parser()
    out = ["Every command prints one `ns3-mfs: error: ...` line and exits with code 2 on bad input; "
           "exit codes: 0 success, 1 a sweep point failed, 2 bad input, 3 stopped early (partial results), "
           "4 an end-of-run check failed, 130 interrupted.", "", "```text", top.format_usage().strip(), "```", ""]
    out += _options(top)

    def walk(prefix: str, p: argparse.ArgumentParser) -> None:
        for name, sub, help_text in _subcommands(p):
            full = f"{prefix} {name}"
            children = _subcommands(sub)
            out.extend([f"## `{full}`", "", (help_text[:1].upper() + help_text[1:] + ".") if help_text else "", ""])
            if not children:
                out.extend(["```text", " ".join(sub.format_usage().split()).replace("usage: ", ""), "```", ""])
            out.extend(_options(sub))
            walk(full, sub)

    walk("ns3-mfs", top)
    return "\n".join(out) + "\n"


# ----------------------------------------------------------------------------- result files

#: Columns of the fabric's ``flows.parquet`` (``ns3-mfs fabric`` and serving runs).
_FLOW_COLUMNS = {
    "flow_id": "flow number, in start order",
    "src": "sending host (NIC port index)", "dst": "receiving host (NIC port index)",
    "bytes": "payload bytes", "priority": "class the flow started in (0 highest)",
    "start_s": "start time (s)", "end_s": "time the last byte arrived (s; NaN if unfinished)",
    "fct_s": "flow completion time end_s - start_s (s)",
    "ideal_fct_s": "completion time alone on its ECMP path (store and forward of MTU frames with RoCE framing)",
    "slowdown": "fct_s / ideal_fct_s", "final_priority": "class at the end",
    "class_changes": "times a policy changed its class",
    "bytes_sent": "payload bytes sent, resends included", "bytes_received": "payload bytes that reached the receiver",
    "bytes_dropped": "payload bytes dropped by switches", "bytes_delivered": "payload bytes delivered in order",
    "rewinds": "go-back-N rewinds", "cnps_received": "CNPs the sender received",
    "rate_decreases": "DCQCN rate cuts", "completed": "whether the flow finished",
}

#: file -> (one row per, {column: meaning}); ``*`` in a name stands for a number (a family of columns).
RESULT_FILES: dict[str, tuple[str, dict[str, str]]] = {
    "flows.parquet (fabric runs)": ("flow", _FLOW_COLUMNS),
    "flows.parquet (serving runs)": ("transfer: the fabric columns and", {
        "stage": "`kv_fetch`, `dispatch`, `combine`, `allreduce`, `p2d` or `kv_upload`",
        "stage_num": "MFS stage: 1 KV fetch, 2 collectives, 3 P2D", "layer": "model layer",
        "request_id": "request (P2D and fetches)", "batch_id": "prefill batch",
        "collective_id": "collective it belongs to (stage 2)", "src_gpu": "sending GPU", "dst_gpu": "receiving GPU",
        "path": "`network` or `intra_server` (inside a server: bytes / intra-server bandwidth, or with a host "
                "path a flow across the server's own nodes)",
        "route": "with a host path in the topology: the nodes an intra-server flow crosses, `>`-joined",
        "late_p1": "a P2D flow in class 1 after its request's deadline",
        "scavenged": "carried in the scavenger class (a request pruned by MFS)",
    }),
    "requests.parquet": ("request", {
        "request_id": "request number, by arrival", "arrival_s": "arrival time (s)",
        "input_tokens": "prompt tokens", "cached_tokens": "prompt tokens reused from the KV pool",
        "output_tokens": "tokens to generate", "instance": "prefill instance",
        "prefill_start_s": "first chunk started (s)", "prefill_end_s": "last layer computed (s)",
        "p2d_end_s": "last P2D transfer landed (s)", "first_token_s": "first token (s)",
        "ttft_s": "time to first token: first_token_s - arrival_s", "queue_s": "time waiting before prefill",
        "slo_s": "its TTFT SLO (s)", "slo_met": "ttft_s <= slo_s", "completed": "prefill finished",
        "decode_instance": "decode instance (with [serving.decode])", "decode_group": "attention group in it",
        "decode_start_s": "admitted to decode (s)", "decode_end_s": "last token (s)",
        "tokens": "tokens generated", "tpot_s": "time per output token after the first",
        "e2e_s": "last token - arrival (s)", "tpot_slo_s": "its TPOT SLO (s)", "e2e_slo_s": "its end-to-end SLO (s)",
        "tpot_slo_met": "tpot_s <= tpot_slo_s", "e2e_slo_met": "e2e_s <= e2e_slo_s",
        "warmup": "one of the first workload.warmup_requests (left out of every metric)",
    }),
    "collectives.parquet": ("collective (an all-to-all or all-reduce of one layer of one batch)", {
        "collective_id": "collective number", "batch_id": "prefill batch", "instance": "prefill instance",
        "layer": "model layer", "kind": "`dispatch`, `combine` or `allreduce`", "start_s": "start (s)",
        "end_s": "last transfer done (s)", "bytes": "bytes moved", "transfers": "transfers in it",
        "cct_s": "collective completion time (s)",
        "measured": "started within the measured window (after the warm-up requests)",
    }),
    "steps.parquet": ("compute step", {
        "batch_id": "prefill batch", "instance": "prefill instance", "layer": "model layer",
        "kind": "`attention`, `experts` or `dense_ffn`", "start_s": "start (s)", "end_s": "end (s)",
        "tokens": "tokens in the step",
    }),
    "decode_steps.parquet": ("decode step (with [serving.decode])", {
        "instance": "decode instance", "start_s": "start (s)", "end_s": "end (s)", "batch": "requests in the step",
        "total_context": "KV tokens of the batch", "step_s": "step time (s)", "waiting": "requests waiting",
    }),
    "pfc.parquet": ("PFC event", {
        "time_s": "time (s)", "node": "node index", "node_name": "node name", "port": "port of the node",
        "priority": "class", "kind": "`pause`/`resume` sent by a switch port, `pause_rx`/`resume_rx` at the "
        "receiving port",
    }),
    "queues.parquet": ("sample of a non-empty switch egress queue (every queue_sample_interval_us; a missing row "
                       "means 0)", {
        "time_s": "sample time (s)", "node": "switch node index", "node_name": "switch name", "port": "egress port",
        "priority": "class", "bytes": "queued bytes",
    }),
    "anomalies.parquet": ("PFC deadlock cycle member, pause storm or a frame a lossless switch dropped (empty "
                          "for a healthy run)", {
        "time_s": "when it was found (s)", "kind": "`deadlock`, `pause_storm` or `drop`",
        "node": "switch node index", "node_name": "switch name", "port": "port (`drop`: the ingress port)",
        "priority": "class", "paused_since_s": "paused since (s; `drop`: the drop time)",
        "queued_bytes": "bytes held (`drop`: by the ingress queue of that class)",
        "flow": "`drop`: the dropped frame's flow; -1 otherwise",
    }),
    "summary.json (every run)": ("run (one JSON object; a metric that could not be computed is `null`)", {
        "status": "`complete`, `partial` (stopped early) or `invalid` (a check failed)",
        "stop_reason": "why a partial run stopped (`time_limit`, `deadlock`, `pause_storm`, `max_wall`, `stalled`)",
        "checks": "end-of-run checks: name -> {ok, message}", "checks_ok": "every check passed",
        "drops": "frames dropped by switches", "pfc_pause_frames": "PAUSE frames sent",
        "ecn_marks": "CE-marked packets", "packet_hops": "frames forwarded over links",
        "events": "ns-3 events", "sim_s": "simulated time (s)", "wall_s": "wall-clock time (s)",
        "packet_hops_per_s": "packet_hops / wall_s", "longest_pause_s": "longest PFC pause of a class (s)",
        "memory_estimate_mb": "the memory guard's estimate (MB)",
    }),
    "summary.json (fabric runs)": ("run: the keys above and", {
        "flows": "flows in the list", "completed": "flows finished", "bytes_delivered": "payload bytes delivered",
        "drop_bytes": "bytes dropped", "cnps": "CNPs sent", "pfc_resume_frames": "RESUME frames sent",
        "max_queue_bytes": "deepest switch egress queue (bytes)", "data_packet_hops": "data frames forwarded",
        "fct_mean_s": "mean FCT (s)", "slowdown_p99": "99th percentile slowdown",
        "*_log_truncated": "records of a log (pfc, queues, tx_log, deliveries, anomalies) beyond max_log_rows, "
        "counted not kept",
    }),
    "summary.json (serving runs)": ("run: the keys above and", {
        "requests": "measured requests",
        "completed": "measured requests that got their first token",
        "ttft_slo_attainment": "share of requests within their TTFT SLO", "ttft_mean_s": "mean TTFT (s)",
        "ttft_p50_s": "median TTFT (s)", "ttft_p99_s": "99th percentile TTFT (s)",
        "collectives": "measured all-to-all collectives", "cct_mean_s": "mean all-to-all CCT (s)",
        "cct_p99_s": "99th percentile all-to-all CCT (s)", "network_flows": "transfers on the fabric",
        "tpot_slo_attainment": "share within the TPOT SLO (null without decode)",
        "e2e_slo_attainment": "share within the end-to-end SLO (null without decode)",
        "decode_tokens_per_s": "decode throughput (null without decode)", "tpot_mean_s": "mean TPOT (s)",
        "tpot_p99_s": "99th percentile TPOT (s)", "e2e_mean_s": "mean end-to-end latency (s)",
        "e2e_p99_s": "99th percentile end-to-end latency (s)", "warmup_requests": "requests left out as warm-up",
        "stage*_class*_flows": "flows of stage n that ended in class c", "stage*_rewinds": "go-back-N rewinds of stage n",
        "p2d_p1_after_deadline": "P2D flows in class 1 after their deadline",
        "scavenged_requests": "requests moved to the scavenger class", "scavenged_bytes": "their bytes",
        "policy_*": "the policy's own counters (e.g. MFS's scavenged_mlu)",
    }),
    "meta.json": ("run (written last: its presence marks a finished run)", {
        "package": "`ns3-mfs`", "version": "package version", "git_commit": "commit of the checkout (or null)",
        "git_dirty": "uncommitted changes under ns3_mfs/", "ns3_version": "version of the ns3 wheel",
        "python": "Python version", "platform": "operating system", "seed": "run seed",
        "status": "as in summary.json", "wall_s": "wall-clock time (s)", "sim_s": "simulated time (s)",
        "events": "ns-3 events", "packet_hops": "frames forwarded",
        "identity": "SHA-256 of the resolved config, of every input file's content and the code key",
        "kind": "`serving` or `fabric`",
    }),
}


def documented(columns: Iterable[str], schema: dict[str, str]) -> list[str]:
    """The names in ``columns`` that ``schema`` does not describe (``*`` in a schema key matches digits/a word)."""
    patterns = [re.compile("^" + re.escape(k).replace("\\*", "[A-Za-z0-9_]+") + "$") for k in schema]
    return [c for c in columns if not any(p.match(c) for p in patterns)]


def results_reference() -> str:
    """Markdown: the columns of every result file (from :data:`RESULT_FILES`)."""
    out = ["Every file is written to a temporary name and renamed (mode 0644 under the usual umask); "
           "`meta.json` comes last. Times are in seconds, sizes in bytes (SI units in the column names). "
           "JSON files are strict JSON: a number that could not be computed (NaN) is `null`; "
           "`ns3_mfs.load_results` reads it back as NaN. The `config.toml` beside them is the fully resolved run "
           "config (see [Configuration](config.md)).", ""]
    for name, (per, cols) in RESULT_FILES.items():
        out += [f"## `{name.split(' ')[0]}`" + (f" {name.split(' ', 1)[1]}" if " " in name else ""), "",
                f"One row per {per}." if name.endswith(".parquet") or "flows.parquet" in name else f"Per {per}.",
                "", "| column | meaning |", "|---|---|"]
        out += [f"| `{c}` | {md_cell(m).replace('&lt;', '<').replace('&gt;', '>') if '`' in m else md_cell(m)} |"
                for c, m in cols.items()]
        out.append("")
    return "\n".join(out) + "\n"


GENERATORS = {"config": config_reference, "cli": cli_reference, "results": results_reference}


def expand(markdown: str) -> str:
    """``markdown`` with every ``<!-- generated: NAME -->`` marker replaced by that reference."""
    return re.sub(r"<!-- generated: (\w+) -->", lambda m: GENERATORS[m.group(1)](), markdown)
