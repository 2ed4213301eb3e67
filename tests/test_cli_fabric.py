"""The ``ns3-mfs fabric`` command: result contract and clear errors on bad input."""

import json
import tomllib

import pandas as pd
import pytest

from conftest import run_cli

FLOW_COLUMNS = ["flow_id", "src", "dst", "bytes", "priority", "start_s", "end_s", "fct_s", "ideal_fct_s", "slowdown"]


def write(path, text):
    path.write_text(text)
    return path


def test_fabric_run_writes_the_result_contract(tmp_path, root):
    out = tmp_path / "run"
    res = run_cli("fabric", str(root / "topologies/testbed.toml"), str(root / "scratch/incast.csv"), "--out", str(out))
    assert res.returncode == 0, res.stderr
    assert {p.name for p in out.iterdir()} == {
        "config.toml", "meta.json", "summary.json", "flows.parquet", "pfc.parquet", "queues.parquet",
        "anomalies.parquet",
    }
    flows = pd.read_parquet(out / "flows.parquet")
    assert list(flows.columns[: len(FLOW_COLUMNS)]) == FLOW_COLUMNS
    assert len(flows) == 9 and flows["end_s"].notna().all()
    summary = json.loads((out / "summary.json").read_text())
    for key in ("flows", "completed", "drops", "pfc_pause_frames", "packet_hops", "events", "sim_s", "wall_s", "max_queue_bytes"):
        assert key in summary
    assert summary["completed"] == 9 and summary["drops"] == 0
    meta = json.loads((out / "meta.json").read_text())
    assert meta["seed"] == 1 and meta["packet_hops"] == summary["packet_hops"] and meta["ns3_version"] == "3.44.post0"
    config = tomllib.loads((out / "config.toml").read_text())
    assert config["topology"]["kind"] == "testbed" and config["fabric"]["pfc"] is True
    assert config["fabric"]["buffer_bytes"] == 32 * 2**20  # defaults are filled in
    pfc = pd.read_parquet(out / "pfc.parquet")
    assert list(pfc.columns) == ["time_s", "node", "node_name", "port", "priority", "kind"]
    queues = pd.read_parquet(out / "queues.parquet")
    assert list(queues.columns) == ["time_s", "node", "node_name", "port", "priority", "bytes"]
    assert len(queues) > 0 and (queues["bytes"] > 0).all()


def test_pfc_off_and_mtu_switches(tmp_path, root):
    out = tmp_path / "run"
    res = run_cli(
        "fabric", str(root / "topologies/testbed.toml"), str(root / "scratch/incast.csv"),
        "--out", str(out), "--pfc", "off", "--mtu", "1024",
    )
    assert res.returncode == 0, res.stderr
    config = tomllib.loads((out / "config.toml").read_text())
    assert config["fabric"]["pfc"] is False and config["fabric"]["mtu"] == 1024
    assert json.loads((out / "summary.json").read_text())["pfc_pause_frames"] == 0


TOPO_OK = 'kind = "testbed"\nservers = 2\n'
FLOWS_OK = "src,dst,bytes,start_s,priority\n0,1,1000,0,0\n"


@pytest.mark.parametrize(
    "topo,flows,needle",
    [
        (TOPO_OK, "src,dst,bytes,start_s,priority\n0,9,1000,0,0\n", "line 2: dst: 9 is out of range; allowed: 0..3"),
        (TOPO_OK, "src,dst,bytes,start_s,priority\n0,1,-5,0,0\n", "line 2: bytes: -5 is out of range"),
        (TOPO_OK, "src,dst,bytes,start_s,priority\n0,1,ten,0,0\n", "bytes: expected an integer, got 'ten'"),
        (TOPO_OK, "src,dst,bytes,start_s,priority\n0,1,10,-1,0\n", "line 2: start_s: -1 is out of range; allowed: 0..1e+06"),
        (TOPO_OK, "src,dst,bytes,start_s,priority\n0,1,10,0,9\n", "line 2: priority: 9 is out of range; allowed: 0..7"),
        (TOPO_OK, "src,dst,bytes\n0,1,10\n", "must name exactly the columns src, dst, bytes, start_s, priority"),
        (TOPO_OK, "src,dst,bytes,start_s,priority\n1,1,10,0,0\n", "flow 1: dst equals src"),
        ('kind = "testbed"\nservers = "two"\n', FLOWS_OK, "servers: expected an integer, got 'two'"),
        ('kind = "testbed"\nserverz = 2\n', FLOWS_OK, "serverz: unknown key; allowed keys:"),
        ('kind = "torus"\n', FLOWS_OK, "kind: 'torus'; allowed: testbed, leaf_spine, fat_tree"),
        ("servers = 2\n", FLOWS_OK, "kind: missing; allowed: testbed, leaf_spine, fat_tree"),
        ('kind = "testbed"\nservers = 0\n', FLOWS_OK, "servers: must be >= 1, got 0"),
        ('kind = "fat_tree"\nk = 3\n', FLOWS_OK, "k: must be even, got 3"),
        ('kind = "testbed"\nservers = [\n', FLOWS_OK, "invalid TOML"),
    ],
)
def test_bad_input_is_refused_clearly_without_output(tmp_path, topo, flows, needle):
    t = write(tmp_path / "topo.toml", topo)
    f = write(tmp_path / "flows.csv", flows)
    out = tmp_path / "out"
    res = run_cli("fabric", str(t), str(f), "--out", str(out))
    assert res.returncode == 2
    assert needle in res.stderr, res.stderr
    assert "Traceback" not in res.stderr
    assert not out.exists()


def test_unreadable_and_binary_files(tmp_path):
    t = write(tmp_path / "topo.toml", TOPO_OK)
    res = run_cli("fabric", str(tmp_path / "missing.toml"), str(tmp_path / "f.csv"), "--out", str(tmp_path / "o"))
    assert res.returncode == 2 and "missing.toml: cannot read file" in res.stderr
    binary = tmp_path / "flows.csv"
    binary.write_bytes(b"\x00\x01\xff\xfe" * 10)
    res = run_cli("fabric", str(t), str(binary), "--out", str(tmp_path / "o"))
    assert res.returncode == 2 and "flows.csv line 1: not a text CSV file (contains NUL bytes)" in res.stderr
    assert not (tmp_path / "o").exists()


def test_impossible_buffer_is_refused_before_running(tmp_path, root):
    cfg = write(tmp_path / "fabric.toml", "[fabric]\nbuffer_bytes = 100000\n")
    res = run_cli(
        "fabric", str(root / "topologies/testbed.toml"), str(root / "scratch/incast.csv"),
        "--out", str(tmp_path / "o"), "--config", str(cfg),
    )
    assert res.returncode == 2
    assert "switch buffer of 100000 bytes is too small" in res.stderr
    assert not (tmp_path / "o").exists()


def test_fabric_config_errors_name_the_key(tmp_path, root):
    cfg = write(tmp_path / "fabric.toml", '[fabric]\nmtu = 1500\n')
    res = run_cli(
        "fabric", str(root / "topologies/testbed.toml"), str(root / "scratch/incast.csv"),
        "--out", str(tmp_path / "o"), "--config", str(cfg),
    )
    assert res.returncode == 2 and "fabric.mtu: 1500 is not allowed; allowed: 1024, 2048, 4096" in res.stderr
