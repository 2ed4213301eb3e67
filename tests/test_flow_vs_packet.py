"""The flow model against the packet model (cc = none, PFC on), on the same flows.

W1 (32 hosts on a 4 x 8 leaf-spine, each sends 10 MB to a host on another
leaf) and W2 (31-to-1 incast of 2 MB): the median per-flow FCT within 3 %
and the p99 within 10 % of the packet model's (README "Speed" workloads).
Small serving runs of every policy: mean TTFT and mean all-to-all CCT within
10 %, and the policies in the same order by TTFT SLO attainment (no pair inverted; ties allowed). The
measured errors are printed (``pytest -s``) for docs/explanation/flow-model.md.
"""

from __future__ import annotations

import numpy as np
import pytest

from conftest import ROOT, TINY_MOE, TRACES
from ns3_mfs.fabric import FabricConfig, LeafSpineTopology, Network, TestbedTopology

POLICIES = ("fair", "sjf", "edf", "karuna", "pias", "mfs")
TRACE = TRACES / "mooncake_conversation.jsonl"


def _fcts(model: str, workload: str, mtu: int = 4096):
    cfg = FabricConfig(model=model, cc="none", pfc=True, mtu=mtu)
    if workload == "W1":
        net = Network(LeafSpineTopology(leaves=4, spines=8, hosts_per_leaf=8), cfg)
        for h in range(32):
            net.start_flow(h, (h + 8) % 32, 10_000_000)
    else:
        net = Network(TestbedTopology(servers=32, nics_per_server=1), cfg)
        for h in range(1, 32):
            net.start_flow(h, 0, 2_000_000)
    net.run()
    df = net.flows()
    wall = net.wall_s
    net.close()
    return df.set_index("flow_id")["fct_s"], wall


@pytest.mark.parametrize("workload", ["W1", "W2"])
def test_fct_distribution_matches_packet_level(workload):
    packet, wall_p = _fcts("packet", workload)
    flow, wall_f = _fcts("flow", workload)
    paired = (flow - packet) / packet
    med = np.median(flow) / np.median(packet) - 1
    p99 = np.quantile(flow, 0.99) / np.quantile(packet, 0.99) - 1
    print(f"\n{workload}: median FCT packet {np.median(packet) * 1e3:.4f} ms flow {np.median(flow) * 1e3:.4f} ms "
          f"({med:+.2%}); p99 packet {np.quantile(packet, 0.99) * 1e3:.4f} ms flow "
          f"{np.quantile(flow, 0.99) * 1e3:.4f} ms ({p99:+.2%}); paired |err| median "
          f"{paired.abs().median():.2%} p99 {paired.abs().quantile(0.99):.2%}; wall packet {wall_p:.3f} s "
          f"flow {wall_f:.4f} s ({wall_p / wall_f:.0f}x)")
    assert abs(med) <= 0.03
    assert abs(p99) <= 0.10


def _serving(tmp_path, policy: str, model: str):
    from ns3_mfs.experiment.run import load_run_config, run

    m = tmp_path / "tiny.toml"
    m.write_text(TINY_MOE)
    cfg = tmp_path / f"{policy}-{model}.toml"
    cfg.write_text(f"""
topology = "{ROOT / 'topologies' / 'testbed.toml'}"
policy = "{policy}"
seed = 3
[serving]
model = "{m}"
prefill_gpus = 16
decode_gpus = 4
[workload]
kind = "trace"
trace = "{TRACE}"
num_requests = 12
rate_per_s = 40.0
[fabric]
cc = "none"
model = "{model}"
""")
    return run(load_run_config(cfg), out=tmp_path / f"{policy}-{model}")


@pytest.mark.slow
@pytest.mark.skipif(not TRACE.exists(), reason="shared traces not present")
def test_serving_runs_of_every_policy_match_packet_level(tmp_path):
    rows = {}
    for policy in POLICIES:
        p = _serving(tmp_path, policy, "packet")
        f = _serving(tmp_path, policy, "flow")
        rows[policy] = (p, f)
        print(f"\n{policy}: TTFT mean packet {p['ttft_mean_s'] * 1e3:.3f} ms flow {f['ttft_mean_s'] * 1e3:.3f} ms "
              f"({f['ttft_mean_s'] / p['ttft_mean_s'] - 1:+.2%}); CCT mean packet {p['cct_mean_s'] * 1e3:.4f} ms "
              f"flow {f['cct_mean_s'] * 1e3:.4f} ms ({f['cct_mean_s'] / p['cct_mean_s'] - 1:+.2%}); attainment "
              f"packet {p['ttft_slo_attainment']:.3f} flow {f['ttft_slo_attainment']:.3f}; wall packet "
              f"{p['wall_s']:.2f} s flow {f['wall_s']:.2f} s")
    for policy, (p, f) in rows.items():
        assert f["ttft_mean_s"] == pytest.approx(p["ttft_mean_s"], rel=0.10), policy
        assert f["cct_mean_s"] == pytest.approx(p["cct_mean_s"], rel=0.10), policy
    # Same order: no pair of policies ranked strictly one way by one model and strictly the other way by
    # the other. Ties are not inversions: with 12 requests attainment moves in steps of 1/12, and one request
    # within 0.3 % of its SLO can land on either side (measured: karuna's request 5, TTFT 30.274 ms vs SLO
    # 30.177 ms at packet level, 30.028 vs 30.063 ms at flow level: 0.583 vs 0.667 attainment).
    att = {q: (rows[q][0]["ttft_slo_attainment"], rows[q][1]["ttft_slo_attainment"]) for q in POLICIES}
    inversions = [(a, b) for a in POLICIES for b in POLICIES
                  if att[a][0] > att[b][0] and att[a][1] < att[b][1]]
    assert inversions == []
    assert max(abs(f - p) for p, f in att.values()) <= 1 / 12 + 1e-9  # at most one request flips


def test_pfc_head_of_line_blocking_is_what_the_flow_model_misses():
    """Where no bound holds: a 14-to-1 incast under PFC pauses the senders' NICs, so a flow from one of
    them to an idle host is held back at packet level (head-of-line blocking) while the flow model gives
    it the rest of its NIC's link. The incast flows themselves stay close; the victim's error is measured
    and documented (docs/explanation/flow-model.md), not bounded."""
    res = {}
    for model in ("packet", "flow"):
        net = Network(TestbedTopology(servers=16, nics_per_server=1), FabricConfig(model=model, cc="none"))
        for h in range(1, 15):
            net.start_flow(h, 0, 4_000_000, priority=3)
        victim = net.start_flow(1, 15, 4_000_000, priority=3)
        net.run()
        df = net.flows().set_index("flow_id")
        res[model] = (df.loc[victim.id, "fct_s"], df.drop(index=victim.id)["fct_s"].median(),
                      net.summary()["pfc_pause_frames"])
        net.close()
    (vp, ip, pauses), (vf, i_f, _) = res["packet"], res["flow"]
    print(f"\nHOL: victim FCT packet {vp * 1e3:.3f} ms flow {vf * 1e3:.3f} ms ({vf / vp - 1:+.1%}); incast median "
          f"packet {ip * 1e3:.3f} ms flow {i_f * 1e3:.3f} ms ({i_f / ip - 1:+.1%}); {pauses} PAUSE frames")
    assert pauses > 0
    assert i_f == pytest.approx(ip, rel=0.05)   # the incast itself is still right
    assert vf < 0.8 * vp                        # the victim is blocked at packet level only


def test_host_path_same_paths_and_fcts():
    """The flow model on the host path (GPUs, PCIe switches and host memory as fabric nodes): the same
    paths as the packet model and FCTs within a few percent, on GPU-to-GPU flows across servers."""
    from ns3_mfs.fabric.topology import load_topology

    topo = load_topology(ROOT / "topologies" / "testbed_host.toml")
    g = topo.graph()
    gpus = list(g.gpu_host)
    res = {}
    for model in ("packet", "flow"):
        net = Network(g, FabricConfig(model=model, cc="none"))
        flows = [net.start_flow(gpus[i], gpus[(i + 16) % len(gpus)], 4_000_000) for i in range(16)]
        flows += [net.start_flow(gpus[i], gpus[0], 1_000_000) for i in range(4, 8)]  # into one GPU
        paths = [net.flow_path(f) for f in flows]
        net.run()
        res[model] = (paths, net.flows().set_index("flow_id")["fct_s"])
        net.close()
    assert res["flow"][0] == res["packet"][0]
    p, f = res["packet"][1], res["flow"][1]
    err = (f - p) / p
    print(f"\nhost path: paired |err| median {err.abs().median():.2%} max {err.abs().max():.2%}; median FCT packet "
          f"{p.median() * 1e3:.4f} ms flow {f.median() * 1e3:.4f} ms")
    assert abs(f.median() / p.median() - 1) <= 0.03
    assert abs(np.quantile(f, 0.99) / np.quantile(p, 0.99) - 1) <= 0.10
