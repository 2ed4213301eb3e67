/*
 * ns3-mfs: packet-level model of disaggregated MoE serving networks.
 * SPDX-License-Identifier: GPL-2.0-only (as ns-3)
 */
#ifndef NS3_MFS_FABRIC_RECORDER_H
#define NS3_MFS_FABRIC_RECORDER_H

#include "pfc-monitor.h"
#include "queue-sampler.h"
#include "record-table.h"
#include "roce-fabric-helper.h"

#include "ns3/object.h"

#include <memory>
#include <unordered_map>
#include <vector>

namespace ns3
{

/**
 * @ingroup ns3mfs
 * Turns the trace sources of a fabric's models and monitors into record
 * tables: flows, pfc, queues, tx_log, deliveries and anomalies. Each table
 * is declared once, column by column (RecordTable), and that declaration is
 * the schema Python builds its DataFrames from.
 *
 * Listens to: RoceNetDevice PfcTx/PfcRx (pfc), RoceSwitch Drop (bytes
 * dropped per flow), RoceNetDevice PhyTxBegin of chosen ports (tx_log),
 * RdmaNic Delivery of chosen flows (deliveries), QueueSampler Sample
 * (queues) and PfcMonitor Anomaly (anomalies). The flows table reads the
 * flow table and the routing (ideal FCT).
 */
class FabricRecorder : public Object
{
  public:
    /**
     * @brief Get the type ID.
     * @return the object TypeId
     */
    static TypeId GetTypeId();
    /** Create an empty recorder. */
    FabricRecorder();

    /** One PFC event at a port. */
    struct PfcRecord
    {
        int64_t timePs; //!< simulated time (ps)
        uint32_t node;  //!< node index
        uint32_t port;  //!< port index
        uint8_t cls;    //!< class
        uint8_t kind;   //!< 0 PAUSE sent, 1 RESUME sent, 2 PAUSE received, 3 RESUME received
    };

    /** One frame that started on a logged port. */
    struct TxRecord
    {
        int64_t timePs; //!< simulated time (ps)
        uint32_t node;  //!< node index
        uint32_t port;  //!< port index
        uint8_t cls;    //!< class
        uint8_t type;   //!< RoceFrameType
        uint32_t bytes; //!< frame bytes
        uint32_t flow;  //!< flow id
    };

    /** One in-order delivery of a logged flow. */
    struct DeliveryRecord
    {
        int64_t timePs;     //!< simulated time (ps)
        uint32_t flow;      //!< flow id
        uint64_t delivered; //!< bytes delivered in order so far
    };

    /**
     * Listen to the models of a built fabric and declare the flows table.
     * @param fabric the fabric (must outlive the recorder)
     * @param flows its flow table (must outlive the recorder)
     */
    void Install(const RoceFabricHelper& fabric, const RdmaFlowTable* flows);

    /** @param monitor record its anomalies */
    void Connect(Ptr<PfcMonitor> monitor);

    /** @param sampler record its samples */
    void Connect(Ptr<QueueSampler> sampler);

    /** @param on keep every PFC event (default on) */
    void SetPfcLog(bool on);

    /**
     * Bound the logs: each of the pfc, queues, tx_log, deliveries and
     * anomalies tables keeps at most @p rows rows; later records are counted
     * (GetRowsDropped) but not kept.
     * @param rows rows per table (0 = no bound)
     */
    void SetMaxRows(uint64_t rows);

    /**
     * @param table a table name (the flows table is never bounded)
     * @return records not kept because the table was full
     */
    uint64_t GetRowsDropped(const std::string& table) const;

    /**
     * Record every frame that starts on a port.
     * @param node node index
     * @param port port index
     * @param dev the port
     */
    void EnableTxLog(uint32_t node, uint32_t port, Ptr<RoceNetDevice> dev);

    /**
     * Record every in-order delivery of a flow.
     * @param flow the flow
     * @param receiver the NIC of its destination host
     */
    void EnableDeliveryLog(const RdmaFlow& flow, Ptr<RdmaNic> receiver);

    /**
     * @param flow flow id
     * @return payload bytes of the flow dropped by switch buffers
     */
    uint64_t GetFlowBytesDropped(uint32_t flow) const;

    /** @return the table names, in declaration order */
    std::vector<std::string> GetTableNames() const;

    /**
     * @param name table name (throws std::invalid_argument if unknown)
     * @return the table
     */
    const RecordTableBase& GetTable(const std::string& name) const;

  protected:
    void DoDispose() override;

  private:
    /**
     * @param name table name
     * @param rows the records
     * @return the new table, to declare its columns
     */
    template <class Rows>
    RecordTable<Rows>& AddTable(const std::string& name, const Rows* rows);

    /** Declare every table but flows (those need no fabric). */
    void DeclareTables();

    /**
     * A switch dropped a frame: count its payload against its flow and, on a lossless switch, record a
     * ``drop`` anomaly (node, ingress port, class, flow).
     * @param node the switch's node index
     * @param mmu the switch's buffer manager
     * @param item the frame
     */
    void Dropped(uint32_t node, Ptr<SwitchBufferManager> mmu, Ptr<const QueueDiscItem> item);

    /**
     * Keep a record unless its table is full.
     * @param rows the table's records
     * @param row the record
     */
    template <class Row>
    void Append(std::vector<Row>& rows, const Row& row);

    uint64_t m_maxRows{0};                        //!< rows kept per log table (0 = no bound)
    std::unordered_map<const void*, uint64_t> m_rowsDropped; //!< records not kept, by table rows

    bool m_logPfc{true};                          //!< keep PFC events
    const RdmaFlowTable* m_flows{nullptr};        //!< the flow table
    const RoceRouting* m_routing{nullptr};        //!< paths of the flows
    std::vector<PfcRecord> m_pfc;                 //!< pfc table
    std::vector<QueueSample> m_queues;            //!< queues table
    std::vector<TxRecord> m_txLog;                //!< tx_log table
    std::vector<DeliveryRecord> m_deliveries;     //!< deliveries table
    std::vector<PfcAnomaly> m_anomalies;          //!< anomalies table
    std::unordered_map<uint32_t, uint64_t> m_dropPayload; //!< payload bytes dropped, per flow
    std::vector<bool> m_logDelivery;              //!< per flow: deliveries recorded
    std::vector<bool> m_deliveryConnected;        //!< per host: Delivery trace connected
    std::vector<std::pair<std::string, std::unique_ptr<RecordTableBase>>> m_tables; //!< by name
};

} // namespace ns3

#endif
