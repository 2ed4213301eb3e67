"""nccl-tests tables in, ``ns3-mfs collective`` out, and their comparison."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from conftest import run_cli
from ns3_mfs.analysis.nccl import compare_nccl, read_nccl
from ns3_mfs.config import ConfigError
from ns3_mfs.experiment.collective import bus_factor, transfers

#: A hand-written all_reduce_perf output of 4 ranks (one GPU per server), two sizes.
NCCL = """\
# nThread 1 nGpus 1 minBytes 1048576 maxBytes 4194304 step: 4(factor) warmup iters: 5 iters: 20 agg iters: 1 validation: 1 graph: 0
#
# Using devices
#  Rank  0 Group  0 Pid  41001 on     node0 device  0 [0x1b] NVIDIA GeForce RTX 3090
#  Rank  1 Group  0 Pid  41002 on     node1 device  0 [0x1b] NVIDIA GeForce RTX 3090
#  Rank  2 Group  0 Pid  41003 on     node2 device  0 [0x1b] NVIDIA GeForce RTX 3090
#  Rank  3 Group  0 Pid  41004 on     node3 device  0 [0x1b] NVIDIA GeForce RTX 3090
#
#                                                              out-of-place                       in-place
#       size         count      type   redop    root     time   algbw   busbw #wrong     time   algbw   busbw #wrong
#        (B)    (elements)                               (us)  (GB/s)  (GB/s)            (us)  (GB/s)  (GB/s)
     1048576        262144     float     sum      -1    160.0    6.55    9.83      0    158.0    6.64    9.96      0
     4194304       1048576     float     sum      -1    600.0    6.99   10.49      0    598.0    7.01   10.52      0
# Out of bounds values : 0 OK
# Avg bus bandwidth    : 10.2
#
"""

TB4 = 'kind = "testbed"\nservers = 4\nnics_per_server = 1\ngpus_per_server = 1\n'


def test_reading_a_table(tmp_path):
    f = tmp_path / "all_reduce_perf.txt"
    f.write_text(NCCL)
    df, info = read_nccl(f)
    assert info == {"collective": "all_reduce", "ranks": 4}
    assert df["size_bytes"].tolist() == [1048576, 4194304]
    assert df["time_us"].tolist() == [160.0, 600.0] and df["busbw_gbps"].tolist() == [9.83, 10.49]


def test_older_header_without_redop_and_root(tmp_path):
    f = tmp_path / "alltoall.log"
    f.write_text("# nThread 1 nGpus 8\n#  size  count  type  time  algbw  busbw  error  time  algbw  busbw  error\n"
                 "   65536  16384  float  50.0  1.31  1.15  0  49.0  1.34  1.17  0\n")
    df, info = read_nccl(f)
    assert info["collective"] == "all_to_all" and info["ranks"] == 8 and df["time_us"].tolist() == [50.0]


@pytest.mark.parametrize("text, expect", [
    ("size,time\n1,2\n", "not an nccl-tests result"),
    ("#  size  count  type  time  algbw  busbw\n# Avg bus bandwidth : 0\n", "nccl-tests header but no result rows"),
    ("#  size  count  type  time  algbw  busbw\n 1024 256 float 1.0 x 1\n", "line 2: expected numbers"),
])
def test_bad_tables(tmp_path, text, expect):
    f = tmp_path / "t.txt"
    f.write_text(text)
    with pytest.raises(ConfigError, match=None) as err:
        read_nccl(f)
    assert expect in str(err.value) and len(str(err.value)) < 200


def test_transfers_follow_the_definitions():
    n, size = 4, 4096
    for coll in ("all_reduce", "all_gather", "reduce_scatter", "all_to_all"):
        sent = sum(b for _, _, b in transfers(coll, n, size))
        # bytes a rank puts on the wire = busbw factor x size (nccl-tests' definition of bus bandwidth)
        assert sent / n == pytest.approx(bus_factor(coll, n) * size), coll


@pytest.fixture(scope="module")
def simulated(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("coll")
    (d / "tb4.toml").write_text(TB4)
    res = run_cli("collective", str(d / "tb4.toml"), "--collective", "all_reduce", "--ranks", "4",
                  "--sizes", "1M,4M", "--out", str(d / "sim"))
    assert res.returncode == 0, res.stderr
    assert "all_reduce_perf, 4 ranks" in res.stdout
    return d / "sim"


def test_collective_reaches_the_line_rate_bus_bandwidth(simulated):
    sim = pd.read_csv(simulated / "collective.csv")
    # a non-blocking switch: every rank's NIC sends at line rate; busbw -> payload share of 100 Gbit/s
    line = 100e9 / 8 / 1e9 * 4096 / (4096 + 78)
    big = sim[sim["size_bytes"] == 4194304].iloc[0]
    assert big["busbw_gbps"] == pytest.approx(line, rel=0.05)
    assert big["algbw_gbps"] == pytest.approx(big["size_bytes"] / big["time_us"] / 1e3)


def test_a_measured_table_is_compared_size_by_size(simulated, tmp_path):
    f = tmp_path / "all_reduce_perf.out"
    f.write_text(NCCL)
    res = run_cli("compare-testbed", str(f), str(simulated), "--out", str(tmp_path / "rep"))
    assert res.returncode == 0, res.stderr
    rep = json.loads((tmp_path / "rep" / "nccl_report.json").read_text())
    sim = pd.read_csv(simulated / "collective.csv").set_index("size_bytes")
    assert rep["collective"] == "all_reduce" and rep["sizes"] == 2
    for row, meas_t in zip(rep["rows"], (160.0, 600.0)):
        assert row["time_rel_error"] == pytest.approx((sim.loc[row["size_bytes"], "time_us"] - meas_t) / meas_t)
    other = tmp_path / "all_gather_perf.txt"
    other.write_text(NCCL.replace("nGpus 1", "nGpus 1\n# Collective test starting: all_gather_perf"))
    with pytest.raises(ConfigError, match="an all_gather result, but"):
        compare_nccl(other, simulated)


def test_ranks_from_a_run_configs_layout(tmp_path):
    from conftest import ROOT, TINY_RUN

    cfg = tmp_path / "run.toml"
    cfg.write_text(TINY_RUN.format(topo=ROOT / "topologies/testbed.toml"))
    topo = str(ROOT / "topologies/testbed.toml")
    # instance 0 of the layout is GPUs 0..G-1 on NICs shared by serving.gpus_per_nic = 2 GPUs
    a = run_cli("collective", topo, "--collective", "all_to_all", "--layout", str(cfg), "--sizes", "1M",
                "--out", str(tmp_path / "a"))
    assert a.returncode == 0, a.stderr
    ranks = int(pd.read_csv(tmp_path / "a" / "collective.csv")["ranks"].iloc[0])
    b = run_cli("collective", topo, "--collective", "all_to_all", "--ranks", str(ranks), "--gpus-per-nic", "2",
                "--sizes", "1M", "--out", str(tmp_path / "b"))
    assert b.returncode == 0, b.stderr
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "a" / "collective.csv"),
                                  pd.read_csv(tmp_path / "b" / "collective.csv"))
    bad = run_cli("collective", topo, "--collective", "all_to_all", "--layout", str(cfg), "--instance", "9")
    assert bad.returncode == 2 and "--instance: 9 is not a prefill instance; allowed: 0..1" in bad.stderr
