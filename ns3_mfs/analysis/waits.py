"""Where a request's TTFT goes: waiting for the network, per stage (from a run's result tables).

A request's prefill runs in the consecutive batches of its instance between
its ``prefill_start_s`` and ``prefill_end_s`` (a started request keeps going
first), and it waits for every stall of those batches:

* **stage 1** (``stage1_wait_s``): a layer's attention starts later than its
  batch was ready for it (the previous layer's last step and collective
  ended, or the batch started) because the layer's KV fetch had not landed;
* **stage 2** (``stage2_wait_s``): the collectives of its batches (dispatch,
  combine, all-reduces), which the next compute step waits for;
* **stage 3** (``stage3_wait_s``): the first token after the prefill ended,
  waiting for the last P2D to land.

Each also as a share of the request's TTFT (``stage<k>_share``); the rest is
queueing and compute.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def _batch_stalls(steps: pd.DataFrame, collectives: pd.DataFrame) -> pd.DataFrame:
    """Per batch: instance, start, its fetch stalls and its collectives' time (s)."""
    rows = []
    coll_by_batch = dict(iter(collectives.groupby("batch_id"))) if len(collectives) else {}
    for b, st in steps.groupby("batch_id"):
        coll = coll_by_batch.get(b)
        # Layer 0 is ready when the batch starts; the steps table starts with its attention, so a layer-0
        # fetch wait before it is not seen here (it is short: the first layer's fetch alone).
        ready = st["start_s"].min()
        stall = 0.0
        for layer, lst in st.groupby("layer", sort=True):
            att = lst.loc[lst["kind"] == "attention", "start_s"]
            if len(att):
                stall += max(0.0, float(att.min()) - ready)
            ready = float(lst["end_s"].max())
            if coll is not None:
                c = coll.loc[coll["layer"] == layer, "end_s"]
                ready = max(ready, float(c.max())) if len(c) else ready
        rows.append(dict(batch_id=b, instance=int(st["instance"].iloc[0]), start_s=float(st["start_s"].min()),
                         stage1_s=stall, stage2_s=float(coll["cct_s"].sum()) if coll is not None else 0.0))
    return pd.DataFrame(rows, columns=["batch_id", "instance", "start_s", "stage1_s", "stage2_s"])


def network_waits(requests: pd.DataFrame, steps: pd.DataFrame, collectives: pd.DataFrame) -> pd.DataFrame:
    """One row per completed request: TTFT, the three stages' waits and their shares of TTFT."""
    batches = _batch_stalls(steps, collectives)
    rows = []
    for r in requests.itertuples():
        if np.isnan(r.first_token_s):
            continue
        mine = batches[(batches["instance"] == r.instance) & (batches["start_s"] >= r.prefill_start_s - 1e-12)
                       & (batches["start_s"] <= r.prefill_end_s)]
        rows.append(dict(request_id=r.request_id, ttft_s=r.ttft_s, stage1_wait_s=float(mine["stage1_s"].sum()),
                         stage2_wait_s=float(mine["stage2_s"].sum()),
                         stage3_wait_s=max(0.0, r.first_token_s - r.prefill_end_s)))
    out = pd.DataFrame(rows, columns=["request_id", "ttft_s", "stage1_wait_s", "stage2_wait_s", "stage3_wait_s"])
    for k in (1, 2, 3):
        out[f"stage{k}_share"] = out[f"stage{k}_wait_s"] / out["ttft_s"]
    return out
