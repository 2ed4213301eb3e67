"""The serving layer on the fabric: byte accounting, the per-layer DAG, layouts, the run contract."""

import json

import numpy as np
import pandas as pd
import pytest

from conftest import TINY_MOE, TRACES, run_cli
from ns3_mfs.config import ConfigError, from_dict
from ns3_mfs.experiment.run import RunConfig, ServingConfig, RunSetup, result_tables, run, run_config_from_dict
from ns3_mfs.fabric import TestbedTopology
from ns3_mfs.serving.models import load_model
from ns3_mfs.serving.requests import Request, WorkloadConfig

WL = {"kind": "poisson", "rate_per_s": 50.0, "num_requests": 3,
      "input": {"kind": "fixed", "value": 300}, "output": {"kind": "fixed", "value": 10}}


def config(**serving) -> RunConfig:
    """A dedicated KV store and new-token P2D: these tests check those mechanisms' formulas (the default KV
    pool on the prefill instances and full-history P2D are tested in test_engine_fake.py)."""
    base = dict(model="mixtral-8x7b", gpu="rtx3090", tp=1, ep=8, prefill_gpus=8, decode_gpus=4, ttft_slo_s=1.0,
                kv_pool="dedicated", p2d_history="new")
    base.update(serving)
    return RunConfig(topology=TestbedTopology(servers=4), workload=from_dict(WorkloadConfig, WL, "workload"),
                     serving=ServingConfig(**base), seed=1)


def simulate(cfg: RunConfig, requests):
    setup = RunSetup(cfg)
    net, eng = setup.simulate(requests)
    tables = result_tables(net, eng, cfg.serving.ttft_slo_s)
    net.close()
    return setup, tables


def test_bytes_per_stage_match_the_model_formulas():
    cfg = config()
    m = load_model("mixtral-8x7b")
    # Request 1 arrives after request 0 finished and shares its first two 512-token blocks.
    reqs = [Request(0, 0.0, 1500, 10, block_hashes=(1, 2, 3)), Request(1, 0.5, 1400, 10, block_hashes=(1, 2, 9))]
    setup, t = simulate(cfg, reqs)
    flows, req = t["flows"], t["requests"]
    assert req["completed"].all()
    assert list(req["cached_tokens"]) == [0, 1024]
    G, L = 8, m.layers
    new_tokens = np.array([1500, 1400 - 1024])
    by_stage = flows.groupby("stage")["bytes"].sum()
    # Every request sits alone in its batch, on one GPU of an EP8 instance: 1/8 of its
    # expert inputs stay local, 7/8 go to the 7 other GPUs (and come back).
    expected_a2a = sum(7 * round(n * m.dispatch_bytes_per_token() / G) for n in new_tokens) * L
    assert by_stage["dispatch"] == expected_a2a
    assert by_stage["combine"] == expected_a2a
    assert by_stage["p2d"] == new_tokens.sum() * m.kv_bytes_per_token_per_layer() * L
    assert by_stage["kv_fetch"] == 1024 * m.kv_bytes_per_token_per_layer() * L
    # Per-request attribution of stage 1 and 3 flows.
    p2d = flows[flows.stage == "p2d"].groupby("request_id")["bytes"].sum()
    assert p2d[0] == 1500 * m.kv_bytes_per_token_per_layer() * L
    assert set(flows[flows.stage == "kv_fetch"]["request_id"]) == {1}
    # Transfers between GPUs of one server stay off the network.
    intra = flows[flows.path == "intra_server"]
    assert len(intra) and (intra["src_gpu"] // 4 == intra["dst_gpu"] // 4).all()
    net_flows = flows[flows.path == "network"]
    assert (net_flows["src_gpu"].fillna(-1) // 4 != net_flows["dst_gpu"] // 4).all()


def test_dag_order_of_compute_collectives_and_p2d():
    cfg = config(prefill_gpus=16, decode_gpus=4)
    cfg = RunConfig(topology=TestbedTopology(servers=6), workload=cfg.workload, serving=cfg.serving, seed=1)
    rng = np.random.default_rng(5)
    reqs = [Request(i, float(t), int(n), 10) for i, (t, n) in
            enumerate(zip(np.sort(rng.uniform(0, 0.05, 8)), rng.integers(100, 3000, 8)))]
    _, t = simulate(cfg, reqs)
    steps, coll, flows, req = t["steps"], t["collectives"], t["flows"], t["requests"]
    eps = 1e-12
    for (batch, layer), s in steps.groupby(["batch_id", "layer"]):
        att = s[s.kind == "attention"].iloc[0]
        exp = s[s.kind == "experts"].iloc[0]
        c = coll[(coll.batch_id == batch) & (coll.layer == layer)].set_index("kind")
        assert c.loc["dispatch", "start_s"] >= att.end_s - eps
        assert exp.start_s >= c.loc["dispatch", "end_s"] - eps
        assert c.loc["combine", "start_s"] >= exp.end_s - eps
        nxt = steps[(steps.batch_id == batch) & (steps.layer == layer + 1) & (steps.kind == "attention")]
        if len(nxt):  # the next layer's compute waits for this layer's combine
            assert nxt.iloc[0].start_s >= c.loc["combine", "end_s"] - eps
        p2d = flows[(flows.stage == "p2d") & (flows.batch_id == batch) & (flows.layer == layer)]
        assert (p2d["start_s"] >= att.end_s - eps).all()
    assert req["completed"].all()
    last_p2d = flows[flows.stage == "p2d"].groupby("request_id")["end_s"].max()
    assert (req.set_index("request_id")["first_token_s"] >= last_p2d - eps).all()
    assert (req["first_token_s"] >= req["prefill_end_s"] - eps).all()
    assert (req["ttft_s"] > 0).all()
    # Batches of one instance never overlap (one iteration at a time).
    span = steps.groupby(["instance", "batch_id"]).agg(start=("start_s", "min"), end=("end_s", "max"))
    for _, g in span.groupby(level=0):
        g = g.sort_values("start")
        assert (g["start"].to_numpy()[1:] >= g["end"].to_numpy()[:-1] - eps).all()


@pytest.mark.parametrize(
    "serving,needle",
    [
        (dict(ep=64, prefill_gpus=64), "ep: 64 is more than the 8 experts of Mixtral-8x7B"),
        (dict(model="mixtral-8x22b"), "model Mixtral-8x22B needs"),
        (dict(model="no-such-model"), "unknown"),
        (dict(prefill_gpus=12), "prefill_gpus: 12 is not a multiple of max(tp, ep) = 8"),
        (dict(prefill_gpus=32, decode_gpus=4), "the layout needs 10 servers"),
        (dict(gpu="tpu-v9"), "unknown GPU"),
    ],
)
def test_impossible_layouts_fail_before_simulating(serving, needle):
    with pytest.raises(ConfigError, match=None) as exc:
        RunSetup(config(**serving))
    assert needle in str(exc.value)


def test_run_command_writes_the_contract(tmp_path, root):
    cfg = tmp_path / "run.toml"
    cfg.write_text(
        'seed = 3\ntopology = "%s"\n[serving]\nprefill_gpus = 16\ndecode_gpus = 4\n'
        '[workload]\nkind = "poisson"\nrate_per_s = 20.0\nnum_requests = 4\n'
        '[workload.input]\nkind = "uniform"\nlow = 100\nhigh = 600\n'
        '[workload.output]\nkind = "fixed"\nvalue = 8\n' % (root / "topologies/testbed.toml")
    )
    out = tmp_path / "out"
    res = run_cli("run", str(cfg), "--out", str(out))
    assert res.returncode == 0, res.stderr
    names = {p.name for p in out.iterdir()}
    assert names == {"config.toml", "meta.json", "summary.json", "requests.parquet", "flows.parquet",
                     "collectives.parquet", "steps.parquet", "pfc.parquet", "queues.parquet", "anomalies.parquet"}
    s = json.loads((out / "summary.json").read_text())
    for key in ("requests", "completed", "ttft_slo_attainment", "ttft_mean_s", "ttft_p50_s", "ttft_p99_s",
                "cct_mean_s", "cct_p99_s", "pfc_pause_frames", "drops", "packet_hops", "wall_s", "sim_s"):
        assert key in s
    assert s["requests"] == 4 and s["completed"] == 4 and 0 <= s["ttft_slo_attainment"] <= 1
    req = pd.read_parquet(out / "requests.parquet")
    # Default SLO: 3x the unloaded TTFT measured by the simulator (interpolated by prompt length).
    assert (req["slo_s"] > 0).all() and (req["slo_s"] <= 3 * req["ttft_s"].max() * 10).all()
    flows = pd.read_parquet(out / "flows.parquet")
    assert {"stage", "layer", "request_id", "stage_num"} <= set(flows.columns)
    assert set(flows["stage_num"].dropna()) <= {1, 2, 3}


def test_unloaded_requests_meet_the_default_slo(tmp_path):
    wl = dict(WL, rate_per_s=0.5, num_requests=3)
    cfg = RunConfig(topology=TestbedTopology(servers=4), workload=from_dict(WorkloadConfig, wl, "workload"),
                    serving=ServingConfig(prefill_gpus=8, decode_gpus=4), seed=1)
    s = run(cfg)
    assert s["ttft_slo_attainment"] == 1.0  # far apart: each request is unloaded, 3x is met


def test_run_config_errors_name_the_key(tmp_path):
    base = {"topology": {"kind": "testbed"}, "workload": WL}
    with pytest.raises(ConfigError, match="serving.tp: expected an integer, got 'two'"):
        run_config_from_dict({**base, "serving": {"tp": "two"}})
    with pytest.raises(ConfigError, match="serving.batch_tokens: unknown key"):
        run_config_from_dict({**base, "serving": {"batch_tokens": 10}})
    with pytest.raises(ConfigError, match="topology: missing"):
        run_config_from_dict({"workload": WL})
    with pytest.raises(ConfigError, match="workload.rate_per_s: required"):
        run_config_from_dict({**base, "workload": {**WL, "rate_per_s": None}})



@pytest.mark.skipif(not (TRACES / "mooncake_conversation.jsonl").exists(), reason="shared traces not present")
def test_mooncake_prefix_reuse_becomes_kv_fetch(tmp_path):
    from ns3_mfs.serving.requests import load_mooncake

    model = tmp_path / "tiny.toml"
    model.write_text(TINY_MOE)
    rows = load_mooncake(TRACES / "mooncake_conversation.jsonl", limit=2000)

    def shared(a, b):  # leading blocks of b that a computed
        k = 0
        while k < len(b.block_hashes) and b.block_hashes[k] in set(a.block_hashes):
            k += 1
        return min(k, (b.input_tokens - 1) // 512)

    first, later = next((a, b) for i, a in enumerate(rows) for b in rows[i + 1:i + 200]
                        if shared(a, b) >= 4 and a.input_tokens < 12000 and b.input_tokens < 12000)
    n = shared(first, later)
    reqs = [Request(0, 0.0, first.input_tokens, 10, first.block_hashes),
            Request(1, 1.0, later.input_tokens, 10, later.block_hashes)]
    _, t = simulate(config(model=str(model)), reqs)
    req = t["requests"].set_index("request_id")
    assert req.loc[0, "cached_tokens"] == 0
    assert req.loc[1, "cached_tokens"] == n * 512
    m = load_model(model)
    fetch = t["flows"][t["flows"].stage == "kv_fetch"]
    assert fetch["bytes"].sum() == n * 512 * m.kv_bytes_per_token_per_layer() * m.layers
    assert req["completed"].all()


def test_kv_store_capacity_evicts_and_placement_groups_sessions():
    reqs = [Request(0, 0.0, 1600, 10, block_hashes=(1, 2, 3)),
            Request(1, 0.4, 1600, 10, block_hashes=(4, 5, 6)),
            Request(2, 0.8, 1600, 10, block_hashes=(1, 2, 3, 7))]
    # Unlimited store: request 2 reuses request 0's three blocks.
    _, t = simulate(config(), reqs)
    assert t["requests"].set_index("request_id").loc[2, "cached_tokens"] == 3 * 512
    # Room for 3 blocks only: request 1's blocks evict request 0's.
    _, t = simulate(config(kv_store_capacity_blocks=3), reqs)
    assert t["requests"].set_index("request_id").loc[2, "cached_tokens"] == 0
    assert "kv_fetch" not in set(t["flows"]["stage"])


def test_session_placement_fetches_from_one_server():
    topo = TestbedTopology(servers=6)
    reqs = [Request(0, 0.0, 3000, 10, block_hashes=(10, 11, 12, 13, 14)),
            Request(1, 3.0, 3000, 10, block_hashes=(10, 11, 12, 13, 14, 15))]
    fetch_hosts = {}
    for placement in ("block_hash", "session"):
        cfg = config(kv_placement=placement, kv_store_servers=2)
        cfg = RunConfig(topology=topo, workload=cfg.workload, serving=cfg.serving, seed=1)
        _, t = simulate(cfg, reqs)
        f = t["flows"]
        fetch_hosts[placement] = f[(f.stage == "kv_fetch") & (f.layer == 0)]["src"].nunique()
    assert fetch_hosts == {"block_hash": 4, "session": 1}  # 2 servers x 2 NICs hold the blocks


def test_routing_models_are_pluggable(monkeypatch):
    from ns3_mfs.serving import routing

    monkeypatch.setattr(routing.REGISTRY, "classes", dict(routing.REGISTRY.classes))  # the model stays in the test

    @routing.register
    class AllToFirst(routing.GpuRouting):
        name = "all_to_first"

        def shares(self, gpus, layer):
            m = np.zeros((gpus, gpus))
            m[:, 0] = 1.0
            return m

    _, t = simulate(config(routing="all_to_first"), [Request(0, 0.0, 800, 10)])
    d = t["flows"][t["flows"].stage == "dispatch"]
    # The request sits on GPU 0, whose inputs all stay local: nothing is dispatched.
    assert len(d) == 0
    with pytest.raises(ConfigError, match="serving.routing: 'zipf9' is not a routing model; allowed:"):
        RunSetup(config(routing="zipf9"))


def test_calibration_csv_drives_the_compute_model(tmp_path):
    from ns3_mfs.serving.compute import ComputeModel, Utilization

    truth = ComputeModel("mixtral-8x7b", "rtx3090", tp=1, ep=8, utilization=Utilization(mfu=0.3, mbu=0.5))
    csv = tmp_path / "layers.csv"
    csv.write_text("tokens,layer_time_s\n" + "".join(
        f"{n},{truth.layer_time_s(n, n / 2)}\n" for n in (16, 64, 256, 1024, 4096, 8192)))
    setup = RunSetup(config(calibration_csv=str(csv)))
    assert setup.compute.mfu == pytest.approx(0.3, rel=0.02)
    # In a config file, the CSV may be named relative to that file.
    from ns3_mfs.experiment.run import load_run_config

    (tmp_path / "run.toml").write_text(
        'topology = {kind = "testbed", servers = 4}\n[serving]\nprefill_gpus = 8\ncalibration_csv = "layers.csv"\n'
        '[workload]\nkind = "poisson"\nrate_per_s = 1.0\nnum_requests = 1\n'
        '[workload.input]\nkind = "fixed"\nvalue = 10\n[workload.output]\nkind = "fixed"\nvalue = 1\n')
    assert RunSetup(load_run_config(tmp_path / "run.toml")).compute.mfu == pytest.approx(0.3, rel=0.02)
    with pytest.raises(ConfigError, match="calibration_csv: give a calibration CSV or mfu/mbu, not both"):
        RunSetup(config(calibration_csv=str(csv), mfu=0.4))
