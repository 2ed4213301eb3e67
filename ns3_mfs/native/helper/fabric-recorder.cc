/*
 * ns3-mfs: packet-level model of disaggregated MoE serving networks.
 * SPDX-License-Identifier: GPL-2.0-only (as ns-3)
 */
#include "fabric-recorder.h"

#include "mfs-time.h"

#include "ns3/log.h"
#include "ns3/simulator.h"

#include <stdexcept>

namespace ns3
{

NS_LOG_COMPONENT_DEFINE("FabricRecorder");
NS_OBJECT_ENSURE_REGISTERED(FabricRecorder);

namespace
{

/** The time_s column every record has. */
template <class R>
double
TimeS(const R& r)
{
    return SecondsFromPs(r.timePs);
}

} // namespace

TypeId
FabricRecorder::GetTypeId()
{
    static TypeId tid = TypeId("ns3::FabricRecorder")
                            .SetParent<Object>()
                            .SetGroupName("Mfs")
                            .AddConstructor<FabricRecorder>();
    return tid;
}

FabricRecorder::FabricRecorder()
{
    DeclareTables();
}

void
FabricRecorder::DoDispose()
{
    m_tables.clear();
    m_flows = nullptr;
    m_routing = nullptr;
    Object::DoDispose();
}

template <class Rows>
RecordTable<Rows>&
FabricRecorder::AddTable(const std::string& name, const Rows* rows)
{
    auto table = std::make_unique<RecordTable<Rows>>(name, rows);
    RecordTable<Rows>& ref = *table;
    m_tables.emplace_back(name, std::move(table));
    return ref;
}

void
FabricRecorder::DeclareTables()
{
    using P = PfcRecord;
    AddTable("pfc", &m_pfc)
        .Real("time_s", TimeS<P>)
        .Count("node", [](const P& r) { return r.node; })
        .Derived("node_name")
        .Count("port", [](const P& r) { return r.port; })
        .Count("priority", [](const P& r) { return r.cls; })
        .Label("kind", {"pause", "resume", "pause_rx", "resume_rx"}, [](const P& r) { return r.kind; });

    using Q = QueueSample;
    AddTable("queues", &m_queues)
        .Real("time_s", TimeS<Q>)
        .Count("node", [](const Q& r) { return r.node; })
        .Derived("node_name")
        .Count("port", [](const Q& r) { return r.port; })
        .Count("priority", [](const Q& r) { return r.band; })
        .Count("bytes", [](const Q& r) { return r.bytes; });

    using T = TxRecord;
    AddTable("tx_log", &m_txLog)
        .Real("time_s", TimeS<T>)
        .Count("node", [](const T& r) { return r.node; })
        .Count("port", [](const T& r) { return r.port; })
        .Count("priority", [](const T& r) { return r.cls; })
        .Label("type", {"data", "ack", "nack", "cnp", "pause"}, [](const T& r) { return r.type; })
        .Count("bytes", [](const T& r) { return r.bytes; })
        .Count("flow", [](const T& r) { return r.flow; });

    using D = DeliveryRecord;
    AddTable("deliveries", &m_deliveries)
        .Real("time_s", TimeS<D>)
        .Count("flow", [](const D& r) { return r.flow; })
        .Count("delivered_bytes", [](const D& r) { return r.delivered; });

    using A = PfcAnomaly;
    AddTable("anomalies", &m_anomalies)
        .Real("time_s", TimeS<A>)
        .Label("kind", {"deadlock", "pause_storm", "drop"}, [](const A& r) { return r.kind; })
        .Count("node", [](const A& r) { return r.node; })
        .Derived("node_name")
        .Count("port", [](const A& r) { return r.port; })
        .Count("priority", [](const A& r) { return r.cls; })
        .Real("paused_since_s", [](const A& r) { return SecondsFromPs(r.sincePs); })
        .Count("queued_bytes", [](const A& r) { return r.bytes; })
        .Count("flow", [](const A& r) { return static_cast<uint64_t>(r.flow); }); // -1: not a drop
}

void
FabricRecorder::Install(const RoceFabricHelper& fabric, const RdmaFlowTable* flows)
{
    m_flows = flows;
    m_routing = &fabric.GetRouting();
    using F = RdmaFlow;
    AddTable("flows", flows)
        .Count("flow_id", [](const F& f) { return f.id; })
        .Count("src", [](const F& f) { return f.src; })
        .Count("dst", [](const F& f) { return f.dst; })
        .Count("bytes", [](const F& f) { return f.size; })
        .Count("priority", [](const F& f) { return f.initialCls; })
        .Real("start_s", [](const F& f) { return SecondsFromPs(f.startPs); })
        .Real("end_s", [](const F& f) { return SecondsFromPs(f.endPs); })
        .Derived("fct_s")
        .Real("ideal_fct_s", [this](const F& f) { return m_routing->IdealFct(f); })
        .Derived("slowdown")
        .Count("final_priority", [](const F& f) { return f.cls; })
        .Count("class_changes", [](const F& f) { return f.classChanges; })
        .Count("bytes_sent", [](const F& f) { return f.bytesSent; })
        .Count("bytes_received", [](const F& f) { return f.bytesReceived; })
        .Count("bytes_dropped", [this](const F& f) { return GetFlowBytesDropped(f.id); })
        .Count("bytes_delivered", [](const F& f) { return f.rcvNxt; })
        .Count("rewinds", [](const F& f) { return f.rewinds; })
        .Count("cnps_received", [](const F& f) { return f.cnpsReceived; })
        .Count("rate_decreases", [](const F& f) { return f.rateDecreases; })
        .Flag("completed", [](const F& f) { return uint64_t(f.endPs >= 0); });

    const FabricNodes& nodes = fabric.GetNodes();
    for (uint32_t x = 0; x < nodes.size(); ++x)
    {
        for (uint32_t p = 0; p < nodes[x].ports.size(); ++p)
        {
            auto log = [this, x, p](uint8_t cls, uint8_t kind) {
                if (m_logPfc)
                {
                    Append(m_pfc, PfcRecord{Simulator::Now().GetPicoSeconds(), x, p, cls, kind});
                }
            };
            Ptr<RoceNetDevice> dev = nodes[x].ports[p];
            dev->TraceConnectWithoutContext(
                "PfcTx",
                Callback<void, uint8_t, uint16_t>([log](uint8_t c, uint16_t q) { log(c, q ? 0 : 1); }));
            dev->TraceConnectWithoutContext(
                "PfcRx",
                Callback<void, uint8_t, uint16_t>([log](uint8_t c, uint16_t q) { log(c, q ? 2 : 3); }));
        }
        if (nodes[x].sw)
        {
            Ptr<SwitchBufferManager> mmu = nodes[x].sw->GetBufferManager();
            nodes[x].sw->TraceConnectWithoutContext(
                "Drop",
                Callback<void, Ptr<const QueueDiscItem>>(
                    [this, x, mmu](Ptr<const QueueDiscItem> item) { Dropped(x, mmu, item); }));
        }
    }
    m_deliveryConnected.assign(fabric.GetHostNodes().size(), false);
}

void
FabricRecorder::Dropped(uint32_t node, Ptr<SwitchBufferManager> mmu, Ptr<const QueueDiscItem> item)
{
    Ptr<const RoceQueueItem> frame = StaticCast<const RoceQueueItem>(item);
    const RoceHeader& h = frame->Hdr();
    if (h.type == RoceFrameType::DATA)
    {
        m_dropPayload[h.flow] += h.payload;
    }
    if (mmu->IsLossless())
    {
        // A lossless fabric must not drop: say where it happened (a lossy run's drops are its normal behaviour).
        int64_t now = Simulator::Now().GetPicoSeconds();
        PfcAnomaly a{now, now, node, frame->m_inPort, h.cls, PfcAnomaly::DROP,
                     mmu->GetQueueBytes(frame->m_inPort, h.cls)};
        a.flow = h.flow;
        Append(m_anomalies, a);
    }
}

void
FabricRecorder::Connect(Ptr<PfcMonitor> monitor)
{
    monitor->TraceConnectWithoutContext(
        "Anomaly",
        Callback<void, const PfcAnomaly&>([this](const PfcAnomaly& a) { Append(m_anomalies, a); }));
}

void
FabricRecorder::Connect(Ptr<QueueSampler> sampler)
{
    sampler->TraceConnectWithoutContext(
        "Sample",
        Callback<void, const QueueSample&>([this](const QueueSample& s) { Append(m_queues, s); }));
}

void
FabricRecorder::SetPfcLog(bool on)
{
    m_logPfc = on;
}

void
FabricRecorder::SetMaxRows(uint64_t rows)
{
    m_maxRows = rows;
}

template <class Row>
void
FabricRecorder::Append(std::vector<Row>& rows, const Row& row)
{
    if (m_maxRows == 0 || rows.size() < m_maxRows)
    {
        rows.push_back(row);
    }
    else
    {
        m_rowsDropped[&rows]++;
    }
}

uint64_t
FabricRecorder::GetRowsDropped(const std::string& table) const
{
    const void* rows = nullptr;
    if (table == "pfc")
    {
        rows = &m_pfc;
    }
    else if (table == "queues")
    {
        rows = &m_queues;
    }
    else if (table == "tx_log")
    {
        rows = &m_txLog;
    }
    else if (table == "deliveries")
    {
        rows = &m_deliveries;
    }
    else if (table == "anomalies")
    {
        rows = &m_anomalies;
    }
    else
    {
        GetTable(table); // throws for an unknown name
        return 0;
    }
    auto it = m_rowsDropped.find(rows);
    return it == m_rowsDropped.end() ? 0 : it->second;
}

void
FabricRecorder::EnableTxLog(uint32_t node, uint32_t port, Ptr<RoceNetDevice> dev)
{
    dev->TraceConnectWithoutContext(
        "PhyTxBegin",
        Callback<void, Ptr<const QueueDiscItem>>([this, node, port](Ptr<const QueueDiscItem> item) {
            const RoceHeader& h = StaticCast<const RoceQueueItem>(item)->Hdr();
            Append(m_txLog,
                   TxRecord{Simulator::Now().GetPicoSeconds(),
                            node,
                            port,
                            h.cls,
                            static_cast<uint8_t>(h.type),
                            item->GetSize(),
                            h.flow});
        }));
}

void
FabricRecorder::EnableDeliveryLog(const RdmaFlow& flow, Ptr<RdmaNic> receiver)
{
    if (m_logDelivery.size() <= flow.id)
    {
        m_logDelivery.resize(flow.id + 1, false);
    }
    m_logDelivery[flow.id] = true;
    if (m_deliveryConnected.size() <= flow.dst)
    {
        m_deliveryConnected.resize(flow.dst + 1, false);
    }
    if (!m_deliveryConnected[flow.dst])
    {
        m_deliveryConnected[flow.dst] = true;
        receiver->TraceConnectWithoutContext(
            "Delivery",
            Callback<void, uint32_t, uint64_t>([this](uint32_t id, uint64_t delivered) {
                if (id < m_logDelivery.size() && m_logDelivery[id])
                {
                    Append(m_deliveries, DeliveryRecord{Simulator::Now().GetPicoSeconds(), id, delivered});
                }
            }));
    }
}

uint64_t
FabricRecorder::GetFlowBytesDropped(uint32_t flow) const
{
    auto it = m_dropPayload.find(flow);
    return it == m_dropPayload.end() ? 0 : it->second;
}

std::vector<std::string>
FabricRecorder::GetTableNames() const
{
    std::vector<std::string> names;
    for (const auto& [name, table] : m_tables)
    {
        names.push_back(name);
    }
    return names;
}

const RecordTableBase&
FabricRecorder::GetTable(const std::string& name) const
{
    for (const auto& [n, table] : m_tables)
    {
        if (n == name)
        {
            return *table;
        }
    }
    std::string allowed;
    for (const auto& n : GetTableNames())
    {
        allowed += (allowed.empty() ? "" : ", ") + n;
    }
    throw std::invalid_argument("unknown table '" + name + "'; allowed: " + allowed);
}

} // namespace ns3
