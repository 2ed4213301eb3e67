"""The binding's flat table API and the callbacks handed over at first use.

Python reads the record tables with ``TableSchema`` / ``TableRows`` /
``CopyColumn`` (no cppyy proxy to compile); they must give exactly what the
structured ``TableColumns`` / ``Column`` give. ``Network`` hands its flow-done
and timer callbacks to C++ only at the first flow with a callback and the
first timer; those must still fire at their simulated times.
"""

from __future__ import annotations

import numpy as np
import pytest

from ns3_mfs.fabric import FabricConfig, Network, TestbedTopology
from ns3_mfs.fabric.network import _schema


def _incast(model: str) -> Network:
    net = Network(TestbedTopology(servers=4, nics_per_server=1), FabricConfig(model=model))
    flows = [net.start_flow(h, 0, 300_000, priority=h) for h in (1, 2, 3)]
    if model == "packet":  # rows in a label column (tx_log.type) and in the delivery log
        net.enable_tx_log(0)  # the receiver: ACKs
        net.enable_tx_log(1)  # a sender: data
        net.enable_delivery_log(flows[0])
    net.run()
    return net


@pytest.mark.parametrize("model", ["packet", "flow"])
def test_flat_table_api_equals_the_structured_one(model):
    net = _incast(model)
    f = net._fabric()
    try:
        for table in f.Tables():
            table = str(table)
            structured = [(str(c.name), str(c.type), [str(x) for x in c.labels]) for c in f.TableColumns(table)]
            flat = [(c.name, c.type, list(c.labels)) for c in _schema(f, table)]
            assert flat == structured, table
            rows = int(f.TableRows(table))
            for name, kind, _ in structured:
                if kind == "derived":
                    continue
                data = f.Column(table, name)
                ref = np.array(list(data.real) if kind == "f64" else list(data.count),
                               dtype=np.float64 if kind == "f64" else np.uint64)
                assert ref.size == rows, (table, name)
                real = np.full(rows if kind == "f64" else 1, -1.0)
                count = np.zeros(1 if kind == "f64" else rows, dtype=np.uint64)
                if rows:
                    f.CopyColumn(table, name, real, count)
                got = real if kind == "f64" else count
                np.testing.assert_array_equal(got, ref, err_msg=f"{table}.{name}")
        assert len(net.flows()) == 3
        if model == "packet":
            assert len(net.tx_log()) > 0 and set(net.tx_log()["type"]) >= {"data", "ack"}
            assert len(net.deliveries()) > 0
    finally:
        net.close()


@pytest.mark.parametrize("model", ["packet", "flow"])
def test_callbacks_handed_over_late_still_fire_at_their_times(model):
    net = Network(TestbedTopology(servers=4, nics_per_server=1), FabricConfig(model=model))
    try:
        net.start_flow(1, 0, 100_000)  # no callback: nothing handed to C++ yet
        done: list[tuple[int, float]] = []
        fired: list[float] = []
        flow = net.start_flow(2, 3, 100_000, on_done=lambda fl: done.append((fl.id, net.now)))
        net.schedule(5e-6, lambda: fired.append(net.now))
        net.run()
        flows = net.flows().set_index("flow_id")
        assert done == [(flow.id, pytest.approx(flows.loc[flow.id, "end_s"], abs=1e-12))]
        assert fired == [pytest.approx(5e-6, abs=1e-12)]
        assert flows["completed"].all()
    finally:
        net.close()
