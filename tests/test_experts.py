"""Expert-level routing (Zipf, files), placement (contiguous, balanced, affinity) and their traffic."""

import numpy as np
import pytest

from ns3_mfs.config import ConfigError, from_dict
from ns3_mfs.experiment.run import RunConfig, RunSetup, ServingConfig, result_tables, run_config_from_dict
from ns3_mfs.fabric import TestbedTopology
from ns3_mfs.serving import routing
from ns3_mfs.serving.placement import ExpertMap, check_params, place
from ns3_mfs.serving.requests import Request, WorkloadConfig

from test_queue_policies import WL

ZIPF = {"exponent": 1.2, "seed": 3}


def config(**serving) -> RunConfig:
    base = dict(model="mixtral-8x7b", gpu="rtx3090", tp=1, ep=8, prefill_gpus=8, decode_gpus=4, ttft_slo_s=1.0)
    base.update(serving)
    return RunConfig(topology=TestbedTopology(servers=4), workload=from_dict(WorkloadConfig, WL, "workload"),
                     serving=ServingConfig(**base), seed=1)


def simulate(cfg, requests):
    setup = RunSetup(cfg)
    net, eng = setup.simulate(requests)
    tables = result_tables(net, eng, cfg.serving.ttft_slo_s)
    net.close()
    return eng, tables


def test_zipf_popularity_and_affinity_coactivation():
    z = routing.make("zipf", {"exponent": 1.0, "seed": 0, "affinity": 0.5}, 8, 4)
    w = 1 / np.arange(1, 9)
    assert sorted(z.popularity(0)) == pytest.approx(sorted(w / w.sum()))
    assert not np.array_equal(z.popularity(0), z.popularity(1))  # a different hot expert per layer
    C = z.coactivation(0)
    assert C.sum() == pytest.approx(1.0)
    assert C.sum(axis=1) == pytest.approx(z.popularity(0)) and C.sum(axis=0) == pytest.approx(z.popularity(1))
    assert z.coactivation(3) is None  # no layer after the last
    u = routing.make("zipf", {"exponent": 0.0}, 8, 2)
    assert u.popularity(1) == pytest.approx(np.full(8, 1 / 8))


def test_routing_files(tmp_path):
    L, E = 32, 8
    freq = np.random.default_rng(1).integers(1, 100, (L, E)).astype(float)
    np.save(tmp_path / "freq.npy", freq)
    m = routing.make("file", {"path": str(tmp_path / "freq.npy")}, E, L)
    assert m.popularity(5) == pytest.approx(freq[5] / freq[5].sum()) and m.coactivation(0) is None
    co = np.eye(E) * 10 + 1
    (tmp_path / "co.csv").write_text("# expert at layer l (rows) x expert at layer l+1\n"
                                     + "\n".join(",".join(str(v) for v in row) for row in co))
    m = routing.make("file", {"path": str(tmp_path / "co.csv")}, E, L)
    assert m.coactivation(4) == pytest.approx(co / co.sum()) and m.popularity(0) == pytest.approx(np.full(E, 1 / E))
    np.save(tmp_path / "bad.npy", np.ones((3, 5)))
    with pytest.raises(ConfigError, match=r"serving.routing_params.path: .*shape \(3, 5\) fits none"):
        routing.make("file", {"path": str(tmp_path / "bad.npy")}, E, L)
    with pytest.raises(ConfigError, match="serving.routing_params.path: .*no such file"):
        routing.make("file", {"path": str(tmp_path / "none.npy")}, E, L)


def test_balanced_placement_spreads_hot_experts_over_nics():
    z = routing.make("zipf", {"exponent": 1.5, "seed": 0}, 8, 32)
    gpu_nic = [g // 2 for g in range(8)]  # two GPUs per NIC
    groups = [(g,) for g in range(8)]
    peak = {}
    for name in ("contiguous", "balanced"):
        pl = place(name, check_params(name, {}), z, 8, groups, gpu_nic)
        assert all(sorted(row) == list(range(8)) for row in pl)  # one expert per GPU, every layer
        loads = [np.bincount(np.array(gpu_nic)[pl[layer]], weights=z.popularity(layer)).max() for layer in range(32)]
        peak[name] = np.array(loads)
    assert (peak["balanced"] <= peak["contiguous"] + 1e-12).all() and peak["balanced"].mean() < peak["contiguous"].mean()
    # The hottest expert's NIC partner is the coldest one.
    w = z.weights
    assert peak["balanced"].max() == pytest.approx(w[0] + w[-1])


def test_affinity_placement_keeps_followed_tokens_local():
    z = routing.make("zipf", {"exponent": 1.0, "seed": 0, "affinity": 1.0}, 8, 4)
    groups = [(g,) for g in range(8)]
    nic = [g // 2 for g in range(8)]
    local = {}
    for name in ("contiguous", "affinity"):
        m = ExpertMap(z, place(name, check_params(name, {}), z, 8, groups, nic), 8, 8)
        s = m.shares(2)
        assert s.sum(axis=1) == pytest.approx(np.ones(8))
        local[name] = float(np.trace(s)) / 8
        # Layer 0 has no previous layer: every row is the popularity held by each GPU.
        held = np.bincount(m.groups[0], weights=z.popularity(0), minlength=8)
        assert m.shares(0) == pytest.approx(np.broadcast_to(held, (8, 8)))
    # Every token follows its partner expert: affinity co-locates the partners, so nothing leaves the GPU.
    assert local["affinity"] == pytest.approx(1.0) and local["contiguous"] < 0.5


def dispatch_bytes(t):
    f = t["flows"]
    return f[f.stage == "dispatch"]


def test_zipf_bytes_to_hot_expert_nics_follow_the_routing_model():
    req = [Request(0, 0.0, 2000, 10)]
    _, tu = simulate(config(), req)
    eng, tz = simulate(config(routing="zipf", routing_params=ZIPF), req)
    du, dz = dispatch_bytes(tu), dispatch_bytes(tz)
    src = int(du["src_gpu"].iloc[0])
    assert set(dz["src_gpu"]) == {src}
    bu = du.groupby(["layer", "dst_gpu"])["bytes"].sum()
    bz = dz.groupby(["layer", "dst_gpu"])["bytes"].sum()
    checked = 0
    for layer in range(0, 32, 3):
        pop = eng.expert_maps[0].shares(layer)[src]  # = expert popularity on each GPU (one expert each)
        for gpu in range(8):
            if gpu == src:
                continue
            # Uniform sends 1/8 of the expert inputs to each GPU; Zipf sends p_gpu: factor 8 p_gpu.
            assert bz[(layer, gpu)] / bu[(layer, gpu)] == pytest.approx(8 * pop[gpu], rel=1e-3)
            checked += 1
    assert checked == 11 * 7
    # Per NIC on the network (GPUs of other servers): the hottest NIC of each layer gets more than uniform
    # by the factor the routing model predicts.
    net_u = du[du.path == "network"].groupby(["layer", "dst"])["bytes"].sum()
    net_z = dz[dz.path == "network"].groupby(["layer", "dst"])["bytes"].sum()
    nic_of = RunSetup(config()).layout.gpu_nic
    for layer in range(32):
        pop = eng.expert_maps[0].shares(layer)[src]
        nics = {n: sum(pop[g] for g in range(8) if nic_of[g] == n and g // 4 != src // 4) for n in set(net_z.index.get_level_values(1))}
        hot = max(nics, key=nics.get)
        n_gpus = sum(1 for g in range(8) if nic_of[g] == hot)
        assert net_z[(layer, hot)] / net_u[(layer, hot)] == pytest.approx(8 * nics[hot] / n_gpus, rel=1e-3)
    # Expert compute waits for the hottest GPU: slower than the uniform mean.
    st_u, st_z = tu["steps"], tz["steps"]
    assert st_z[st_z.kind == "experts"]["end_s"].sub(st_z["start_s"]).sum() > \
        st_u[st_u.kind == "experts"]["end_s"].sub(st_u["start_s"]).sum()


def test_balanced_placement_lowers_the_maximum_nic_load():
    rng = np.random.default_rng(2)
    reqs = [Request(i, float(t), int(n), 10) for i, (t, n) in
            enumerate(zip(np.sort(rng.uniform(0, 0.02, 6)), rng.integers(300, 1500, 6)))]
    peak = {}
    for name in ("contiguous", "balanced"):
        _, t = simulate(config(routing="zipf", routing_params=ZIPF, placement=name), reqs)
        d = dispatch_bytes(t)
        d = d[d.path == "network"]
        peak[name] = d.groupby(["layer", "dst"])["bytes"].sum().groupby("layer").max().sum()
    assert peak["balanced"] < 0.95 * peak["contiguous"]


def test_routing_and_placement_config_errors():
    base = {"topology": {"kind": "testbed"}, "workload": WL}
    cases = [
        ({"routing": "zipf", "routing_params": {"exponent": -1.0}}, "serving.routing_params.exponent: must be >= 0.0"),
        ({"routing": "zipf", "routing_params": {"alpha": 1.0}}, "serving.routing_params.alpha: unknown key"),
        ({"routing": "uniform", "routing_params": {"exponent": 1.0}},
         "serving.routing_params.exponent: unknown key; routing 'uniform' takes no parameters"),
        ({"routing": "file"}, "serving.routing_params.path: missing"),
        ({"placement": "random"}, "serving.placement: 'random' is not a placement; allowed: affinity, balanced, contiguous"),
        ({"placement": "affinity", "placement_params": {"file": "x"}}, "serving.placement_params.file: unknown key"),
        ({"routing": "zipf9"}, "serving.routing: 'zipf9' is not a routing model; allowed: file, uniform, zipf"),
    ]
    for serving, needle in cases:
        with pytest.raises(ConfigError) as exc:
            run_config_from_dict({**base, "serving": serving})
        assert needle in str(exc.value), str(exc.value)
