"""ECN marking, CNPs, DCQCN and class changes on the fabric."""

import subprocess
import tomllib

import numpy as np
import pytest

from ns3_mfs import _build
from ns3_mfs.config import from_dict
from ns3_mfs.fabric import FabricConfig, Network, TestbedTopology


def paper_dcqcn() -> FabricConfig:
    data = tomllib.loads((pytest.ROOT / "configs/dcqcn_paper.toml").read_text())
    return from_dict(FabricConfig, data["fabric"], "fabric")


@pytest.fixture(autouse=True)
def _root(root):
    pytest.ROOT = root


@pytest.fixture(scope="module")
def rmlq_report() -> str:
    """Verbose report of the C++ RmlqQueueDisc suite (native/test/rmlq-queue-disc-test.cc)."""
    res = subprocess.run(
        [str(_build.ensure_test_built()), "--suite=rmlq-queue-disc", "--verbose"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    return res.stdout + res.stderr


@pytest.mark.parametrize("queue_kb", [300, 400, 700, 1000, 1300, 1550, 2000])
def test_ecn_marking_follows_the_red_line(rmlq_report, queue_kb):
    # The C++ case holds one band at the standing queue (4158-byte frames, Kmin 400 kB,
    # Kmax 1.6 MB, Pmax 0.2), counts CE marks over 20000 dequeues and checks them
    # against the RED line within 4 sigma.
    case = f"RED ECN marking law at a standing queue of {queue_kb * 1000} bytes"
    assert f"PASS {case}" in rmlq_report, rmlq_report


def rates(net, flows, t0, t1, step):
    d = net.deliveries()
    edges = np.arange(t0, t1 + 1e-12, step)
    out = []
    for f in flows:
        x = d[d["flow"] == f.id]
        cum = np.interp(edges, x["time_s"], x["delivered_bytes"], left=0)
        out.append(np.diff(cum) * 8 / step)
    return out


def test_two_dcqcn_flows_converge_to_fair_share():
    T = 0.06
    net = Network(TestbedTopology(servers=3, nics_per_server=1), paper_dcqcn())
    size = int(T * 100e9 / 8)
    a = net.start_flow(1, 0, size, priority=3)
    b = net.start_flow(2, 0, size, priority=3, at=2e-3)  # b joins late, a has the whole link
    net.enable_delivery_log(a)
    net.enable_delivery_log(b)
    net.run(until=T)
    ra, rb = rates(net, [a, b], 0.04, T, 0.005)
    fair = 50e9
    assert np.all(np.abs(ra - rb) <= 0.1 * fair), (ra, rb)
    assert np.all(ra + rb >= 0.9 * 100e9)
    assert net.counter("cnps") > 0 and net.counter("ecn_marks") > 0
    flows = net.flows()
    assert (flows["rate_decreases"] > 0).all()


def test_dcqcn_cuts_pause_frames_in_a_16_to_1_incast():
    results = {}
    for cc in ("none", "dcqcn"):
        net = Network(TestbedTopology(servers=17, nics_per_server=1), FabricConfig(cc=cc))
        for s in range(1, 17):
            net.start_flow(s, 0, 8_000_000, priority=3)
        net.run()
        s = net.summary()
        assert s["drops"] == 0 and s["completed"] == 16
        results[cc] = s
    assert results["dcqcn"]["pfc_pause_frames"] <= 0.5 * results["none"]["pfc_pause_frames"]
    assert results["dcqcn"]["cnps"] > 0 and results["none"]["pfc_pause_frames"] > 0


def test_raised_flow_overtakes_and_delivers_every_byte_once():
    net = Network(TestbedTopology(servers=3, nics_per_server=1), FabricConfig(cc="none"))
    low = net.start_flow(1, 0, 6_000_000, priority=5)
    other = net.start_flow(2, 0, 12_000_000, priority=3)
    net.enable_delivery_log(low)
    net.enable_delivery_log(other)
    t_raise = 300e-6
    net.schedule(t_raise, lambda: net.set_priority(low, 1))
    net.run()
    flows = net.flows().set_index("flow_id")
    lo, ot = flows.loc[low.id], flows.loc[other.id]
    assert lo["completed"] and lo["bytes_delivered"] == 6_000_000
    assert lo["final_priority"] == 1 and lo["class_changes"] == 1
    d = net.deliveries()

    def delivered(flow, t):
        x = d[d["flow"] == flow.id]
        return float(np.interp(t, x["time_s"], x["delivered_bytes"], left=0))

    # Before the raise, class 3 starves class 5.
    assert delivered(low, t_raise) < 0.02 * 6_000_000
    # From the raise on, the raised flow takes the link: it finishes first, at about line rate.
    assert lo["end_s"] < ot["end_s"]
    assert lo["end_s"] - t_raise <= 1.1 * lo["ideal_fct_s"] + 20e-6
    mid = t_raise + 0.5 * (lo["end_s"] - t_raise)
    assert delivered(other, mid) - delivered(other, t_raise + 20e-6) < 0.02 * 12_000_000
    # Packets queued in the old class were overtaken: go-back-N resent them in the new class.
    assert lo["rewinds"] >= 1 and lo["bytes_sent"] > lo["bytes"]
    assert net.counter("drops") == 0


def test_class_change_before_start_and_lowering():
    net = Network(TestbedTopology(servers=2), FabricConfig(cc="none"))
    f = net.start_flow(0, 1, 1_000_000, priority=2, at=10e-6)
    net.set_priority(f, 6)  # before it starts: no reordering possible
    net.run()
    row = net.flows().iloc[0]
    assert row["final_priority"] == 6 and row["class_changes"] == 1
    assert row["rewinds"] == 0 and row["bytes_sent"] == 1_000_000


def test_ecn_config_is_validated():
    from ns3_mfs.config import ConfigError

    with pytest.raises(ConfigError, match="fabric.ecn_kmax_bytes: must be > ecn_kmin_bytes"):
        from_dict(FabricConfig, {"ecn_kmin_bytes": 10, "ecn_kmax_bytes": 5}, "fabric")
    with pytest.raises(ConfigError, match="fabric.cc: expected one of 'dcqcn', 'none', got 'cubic'"):
        from_dict(FabricConfig, {"cc": "cubic"}, "fabric")
    with pytest.raises(ConfigError, match=r"fabric.ecn_classes\[1\]: must be <= 7, got 9"):
        from_dict(FabricConfig, {"ecn_classes": [1, 9]}, "fabric")


# ------------------------------------------------------------ DCQCN profiles

#: configs/dcqcn_paper.toml before it named the "paper" profile.
PAPER_TOML_BEFORE = {"cc": "dcqcn", "ecn_kmin_bytes": 12500, "ecn_kmax_bytes": 500000, "ecn_pmax": 0.01,
                     "dcqcn_g": 0.00390625, "dcqcn_alpha_update_us": 55.0, "dcqcn_increase_timer_us": 55.0,
                     "dcqcn_rai_mbps": 40.0, "dcqcn_byte_counter_bytes": 10485760}


def test_default_profile_is_connectx_with_nvidia_firmware_defaults():
    c = FabricConfig()
    assert c.dcqcn_profile == "connectx"
    assert (c.dcqcn_g, c.dcqcn_initial_alpha) == (5 / 1024, 1023 / 1024)  # dce_tcp_g 1019, initial_alpha 1023
    assert (c.dcqcn_alpha_update_us, c.dcqcn_rate_decrease_interval_us) == (1.0, 4.0)
    assert (c.dcqcn_rai_mbps, c.dcqcn_rhai_mbps, c.dcqcn_min_rate_mbps) == (5.0, 50.0, 1.0)
    assert (c.dcqcn_increase_timer_us, c.dcqcn_byte_counter_bytes, c.dcqcn_fast_recovery_stages) == (300.0, 32767, 1)
    assert c.dcqcn_min_decrease_factor == 0.5 and c.cnp_interval_us == 4.0
    assert c.dcqcn_alpha_per_window and not c.dcqcn_clamp_target_rate and c.dcqcn_clamp_target_after_timer
    assert c.dcqcn_alpha_at_first_cnp and not FabricConfig(dcqcn_profile="hpcc").dcqcn_alpha_at_first_cnp
    attrs = {name: value for obj, name, value in c.attributes() if obj == "RdmaNic"}
    assert attrs["MinDecreaseFactor"] == "0.5" and attrs["AlphaPerWindow"] == "true"
    assert attrs["InitialAlphaAtFirstCnp"] == "true"
    assert attrs["ClampTargetRate"] == "false" and attrs["CnpInterval"] == "4000000ps"


def test_explicit_keys_win_over_the_profile_and_with_profile_keeps_them():
    p = from_dict(FabricConfig, {"dcqcn_profile": "paper", "dcqcn_rai_mbps": 10.0}, "fabric")
    assert p.dcqcn_rai_mbps == 10.0 and p.dcqcn_alpha_update_us == 55.0 and p.ecn_kmin_bytes == 12500
    from ns3_mfs.config import to_dict

    assert from_dict(FabricConfig, to_dict(p), "fabric") == p  # resolved values round-trip
    h = p.with_profile("hpcc")
    assert h.dcqcn_rai_mbps == 10.0 and h.dcqcn_alpha_update_us == 1.0 and h.ecn_kmin_bytes == 400_000
    assert h.with_profile("paper") == p
    from ns3_mfs.config import ConfigError

    with pytest.raises(ConfigError, match="fabric.dcqcn_profile: expected one of 'connectx', 'hpcc', 'paper'"):
        from_dict(FabricConfig, {"dcqcn_profile": "cx7"}, "fabric")


def test_paper_and_hpcc_profiles_are_the_settings_they_replace():
    old_paper = from_dict(FabricConfig, {**PAPER_TOML_BEFORE, "dcqcn_profile": "hpcc"}, "fabric")
    assert FabricConfig(dcqcn_profile="paper").attributes() == old_paper.attributes()
    assert paper_dcqcn().attributes() == old_paper.attributes()
    hpcc = {name: value for obj, name, value in FabricConfig(dcqcn_profile="hpcc").attributes() if obj == "RdmaNic"}
    # the NIC's own attribute defaults are the steps the package had before profiles
    assert hpcc["InitialAlpha"] == "1.0" and hpcc["MinDecreaseFactor"] == "0.0"
    assert hpcc["AlphaPerWindow"] == "false" and hpcc["ClampTargetRate"] == "true"
    assert hpcc["CnpInterval"] == "50000000ps" and hpcc["DcqcnG"] == repr(1 / 256)


def test_config_show_prints_the_resolved_profile_values():
    import dataclasses

    from ns3_mfs.demo import demo_config
    from ns3_mfs.experiment.run import resolved

    cfg = demo_config()
    fabric = from_dict(FabricConfig, {"dcqcn_profile": "paper", "dcqcn_g": 0.01}, "fabric")
    shown = resolved(dataclasses.replace(cfg, fabric=fabric))["fabric"]
    assert shown["dcqcn_profile"] == "paper" and shown["dcqcn_g"] == 0.01
    assert shown["dcqcn_alpha_update_us"] == 55.0 and shown["ecn_kmin_bytes"] == 12500
    assert shown["dcqcn_clamp_target_rate"] is True and shown["cnp_interval_us"] == 50.0


def run_workload(workload: str, cfg: FabricConfig) -> dict:
    """A workload of the README table (ns3_mfs.fabric.cc_bench); every byte delivered, nothing dropped."""
    from ns3_mfs.fabric.cc_bench import run_cc_workload

    r = run_cc_workload(workload, cfg)
    assert r["completed"] and r["drops"] == 0, r
    return r


def test_connectx_profile_beats_the_hpcc_profile_on_incasts_and_permutation():
    # Measured (docs/explanation/dcqcn.md table): 2-to-1 82 % vs 77 %, 7-to-1 77 % vs 41 %, permutation 1.30x
    # vs 3.03x of cc=none.
    for workload in ("incast2", "incast7", "perm32"):
        cx = run_workload(workload, FabricConfig())
        hp = run_workload(workload, FabricConfig(dcqcn_profile="hpcc"))
        assert cx["makespan_s"] < 0.97 * hp["makespan_s"], (workload, cx, hp)
    none = run_workload("perm32", FabricConfig(cc="none"))
    assert cx["makespan_s"] <= 1.5 * none["makespan_s"], (cx, none)


NOT_MET = ("issue 14 item 8 target not met by the ConnectX firmware defaults as modelled, with the switch's "
           "ECN thresholds of the hpcc profile (docs/explanation/dcqcn.md): measured 2-to-1 82.4 % with FCT ratio "
           "1.15, 7-to-1 77.2 %")


@pytest.mark.xfail(strict=True, reason=NOT_MET)
def test_default_dcqcn_two_flows_into_one_host_fair_and_90_percent_busy():
    # Measured: utilisation 82.4 %, FCT ratio 1.15.
    r = run_workload("incast2", FabricConfig())
    assert r["fct_ratio"] <= 1.1, r
    assert r["utilisation"] >= 0.9, r


@pytest.mark.xfail(strict=True, reason=NOT_MET)
def test_default_dcqcn_7_to_1_incast_90_percent_busy():
    # Measured: utilisation 77.2 %.
    r = run_workload("incast7", FabricConfig())
    assert r["utilisation"] >= 0.9, r


def test_default_dcqcn_permutation_within_1_3x_of_no_congestion_control():
    # Measured: 3.200 ms against cc=none's 2.470 ms, 1.296x (1.39x before alpha started at the first CNP).
    cx = run_workload("perm32", FabricConfig())
    none = run_workload("perm32", FabricConfig(cc="none"))
    assert cx["makespan_s"] <= 1.3 * none["makespan_s"], (cx, none)


def test_default_dcqcn_cuts_every_pause_frame_of_the_incasts():
    # The connectx profile keeps every queue below the PFC threshold (cc=none: 416 and 3115 PAUSE frames).
    for workload in ("incast2", "incast7"):
        assert run_workload(workload, FabricConfig())["pause_frames"] == 0, workload
