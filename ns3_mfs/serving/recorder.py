"""What a serving run records, and its tidy result tables (docs/reference/results.md).

A flow is one :class:`FlowRecord` from its start to its row in
``flows.parquet``: a network flow (its fabric columns come from the
fabric's flows table, joined by ``flow_id``) or a copy between GPUs of one
server (``path = "intra_server"``, timed by the engine). Collectives and
compute steps are recorded as rows too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..policies.base import STAGE_OF
from .decode import DecodeSide, add_decode_columns, steps_table

if TYPE_CHECKING:  # pragma: no cover
    from ..fabric.result import FabricResult

#: Stage number (docs/explanation/policies.md) of each flow stage.
STAGES = STAGE_OF

NETWORK, INTRA_SERVER = "network", "intra_server"
META_COLUMNS = ["stage", "layer", "request_id", "batch_id", "collective_id", "src_gpu", "dst_gpu"]
COLLECTIVE_COLUMNS = ["collective_id", "batch_id", "instance", "layer", "kind", "start_s", "end_s", "bytes",
                      "transfers", "cct_s"]
#: Columns of a copy timed off the fabric, in their order in the flows table.
COPY_COLUMNS = ["stage", "layer", "request_id", "batch_id", "collective_id", "bytes", "start_s", "end_s",
                "src_gpu", "dst_gpu"]
STEP_COLUMNS = ["batch_id", "instance", "layer", "kind", "start_s", "end_s", "tokens"]


@dataclass(slots=True)
class FlowRecord:
    """One transfer of the serving engine, from its start to its row in the flows table."""

    stage: str                  #: kv_fetch, dispatch, combine, allreduce, p2d, kv_upload
    layer: int
    request_id: int             #: -1 for collectives
    batch_id: int
    collective_id: int          #: -1 outside collectives
    src_gpu: int                #: -1 when the source is a KV-store host
    dst_gpu: int
    bytes: int
    start_s: float
    path: str = NETWORK         #: network, or intra_server (a copy inside a server)
    flow_id: int = -1           #: the transport's flow id (fabric flows; -1: a copy timed off the fabric)
    end_s: float = float("nan")  #: copies off the fabric (fabric flows: from the fabric's table)
    route: str = ""             #: with a host path: the nodes an intra-server flow crosses, ">"-joined

    def meta(self) -> tuple:
        return (self.stage, self.layer, self.request_id, self.batch_id, self.collective_id, self.src_gpu,
                self.dst_gpu)


class Recorder:
    """Flow records, collectives and compute steps of a run."""

    def __init__(self) -> None:
        self.flows: list[FlowRecord] = []
        self.collectives: list[dict] = []
        self.steps: list[dict] = []

    def flow(self, rec: FlowRecord) -> FlowRecord:
        self.flows.append(rec)
        return rec

    def collective(self, batch_id: int, instance: int, layer: int, kind: str, start_s: float, nbytes: int,
                   transfers: int) -> dict:
        """A collective's row (``end_s`` is set when it finishes)."""
        rec = dict(collective_id=len(self.collectives), batch_id=batch_id, instance=instance, layer=layer,
                   kind=kind, start_s=start_s, end_s=float("nan"), bytes=nbytes, transfers=transfers)
        self.collectives.append(rec)
        return rec

    def step(self, batch_id: int, instance: int, layer: int, kind: str, start_s: float, end_s: float,
             tokens: int) -> None:
        self.steps.append(dict(batch_id=batch_id, instance=instance, layer=layer, kind=kind, start_s=start_s,
                               end_s=end_s, tokens=tokens))

    # ----------------------------------------------------------------- tables
    def flow_meta(self) -> dict[int, tuple]:
        """Serving columns of the fabric's flows, by flow id."""
        return {r.flow_id: r.meta() for r in self.flows if r.flow_id >= 0}

    def flows_table(self, fabric_flows: pd.DataFrame) -> pd.DataFrame:
        """The fabric's flows with their serving columns, then the copies timed off the fabric.

        ``path`` is ``network``, or ``intra_server`` for a transfer inside a server: a copy off the fabric,
        or with a host path a fabric flow whose ``route`` names the nodes it crosses. Columns are built
        one at a time from the records (a large run has millions: no per-flow dict or tuple is made)."""
        fabric = [r for r in self.flows if r.flow_id >= 0]
        meta = _columns(fabric, META_COLUMNS + ["path"], {"stage", "path"})
        meta.index = np.fromiter((r.flow_id for r in fabric), dtype=np.int64, count=len(fabric))
        flows = fabric_flows.join(meta, on="flow_id")
        if any(r.route for r in fabric):
            route = pd.Series([r.route or np.nan for r in fabric], index=meta.index, dtype=object)
            flows["route"] = flows["flow_id"].map(route)
        del fabric, meta
        copies = [r for r in self.flows if r.flow_id < 0]
        if copies:
            intra = _columns(copies, COPY_COLUMNS, {"stage"})
            intra["fct_s"] = intra["end_s"] - intra["start_s"]
            intra["path"] = INTRA_SERVER
            intra["completed"] = True
            flows = pd.concat([flows, intra], ignore_index=True)
        flows["stage_num"] = flows["stage"].map(STAGES).astype("Int64")
        return flows

    def collectives_table(self) -> pd.DataFrame:
        coll = pd.DataFrame(self.collectives)
        if len(coll):
            coll["cct_s"] = coll["end_s"] - coll["start_s"]
            return coll
        return pd.DataFrame(columns=COLLECTIVE_COLUMNS)

    def steps_table(self) -> pd.DataFrame:
        return pd.DataFrame(self.steps, columns=STEP_COLUMNS)

    def tables(self, fab: "FabricResult", states: dict, decode: DecodeSide,
               slo_of: np.ndarray | float) -> dict[str, pd.DataFrame]:
        """requests, flows, collectives, steps, pfc, queues (and decode_steps with decode on)."""
        tables = {"requests": requests_table(states, decode, slo_of), "flows": self.flows_table(fab.flows),
                  "collectives": self.collectives_table(), "steps": self.steps_table(), "pfc": fab.pfc,
                  "queues": fab.queues}
        if decode.setup.enabled:
            tables["decode_steps"] = steps_table(decode)
        return tables


def _columns(records: list[FlowRecord], names: list[str], text: set[str]) -> pd.DataFrame:
    """A frame of the records' fields ``names``, one column at a time (``text`` fields as object arrays, the
    others as numpy types them: int64 or float64)."""
    cols: dict[str, Any] = {}
    for name in names:
        values = [getattr(r, name) for r in records]
        cols[name] = np.array(values, dtype=object) if name in text or not records else np.array(values)
    return pd.DataFrame(cols)


def requests_table(states: dict, decode: DecodeSide, slo_of: np.ndarray | float) -> pd.DataFrame:
    """One row per request: times of its prefill, P2D and first token, TTFT and its SLO (and decode columns)."""
    rows = []
    for rid, st in sorted(states.items()):
        rows.append(dict(
            request_id=rid, arrival_s=st.req.arrival_s, input_tokens=st.req.input_tokens,
            cached_tokens=st.cached_tokens, output_tokens=st.req.output_tokens, instance=st.instance,
            prefill_start_s=st.prefill_start_s, prefill_end_s=st.prefill_end_s,
            p2d_end_s=st.p2d_end_s, first_token_s=st.first_token_s,
        ))
    req = pd.DataFrame(rows)
    req["ttft_s"] = req["first_token_s"] - req["arrival_s"]
    req["queue_s"] = (req["prefill_start_s"] - req["arrival_s"]).clip(lower=0.0)  # arrival is ps-rounded
    req["slo_s"] = slo_of if np.isscalar(slo_of) else slo_of[: len(req)]
    req["slo_met"] = req["ttft_s"] <= req["slo_s"]
    req["completed"] = req["first_token_s"].notna()
    return add_decode_columns(req, decode)
