/*
 * ns3-mfs: packet-level model of disaggregated MoE serving networks.
 * SPDX-License-Identifier: GPL-2.0-only (as ns-3)
 */
#ifndef NS3_MFS_RECORD_TABLE_H
#define NS3_MFS_RECORD_TABLE_H

#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace ns3
{

/**
 * @ingroup ns3mfs
 * One column of a record table as Python sees it. The type says how Python
 * turns the values into a DataFrame column:
 *  - "f64": floating-point values (float64);
 *  - "i64": unsigned integers (int64);
 *  - "bool": 0/1 (bool);
 *  - "label": codes into @c labels (object column of the labels);
 *  - "derived": no values here; Python computes the column from others
 *    (its derivation is looked up by name on the Python side).
 */
struct RecordColumnSchema
{
    std::string name;                //!< column name (DataFrame column)
    std::string type;                //!< f64, i64, bool, label or derived
    std::vector<std::string> labels; //!< names of the codes of a label column
};

/**
 * @ingroup ns3mfs
 * A table of records with its schema: the columns, in DataFrame order.
 */
class RecordTableBase
{
  public:
    /** Tables are held through this base. */
    virtual ~RecordTableBase() = default;

    /** @return the columns, in order */
    virtual const std::vector<RecordColumnSchema>& GetSchema() const = 0;

    /**
     * The values of one column: @p real for f64 columns, @p count for the others.
     * Throws std::invalid_argument for an unknown or derived column.
     * @param name column name
     * @param real filled with the values of an f64 column
     * @param count filled with the values of an i64, bool or label column
     */
    virtual void GetColumn(const std::string& name, std::vector<double>* real, std::vector<uint64_t>* count) const = 0;

    /** @return the number of rows */
    virtual size_t GetRows() const = 0;
};

/**
 * @ingroup ns3mfs
 * A record table over a container of rows, declared column by column:
 * adding a column to a table is one line where the table is declared.
 * @tparam Rows a container of records (std::vector, std::deque)
 */
template <class Rows>
class RecordTable : public RecordTableBase
{
  public:
    /** The record type. */
    using Row = typename Rows::value_type;

    /**
     * @param name table name (for messages)
     * @param rows the records (must outlive the table)
     */
    RecordTable(std::string name, const Rows* rows)
        : m_name(std::move(name)),
          m_rows(rows)
    {
    }

    /**
     * Declare a floating-point column.
     * @param name column name
     * @param get value of a row
     * @return this table
     */
    RecordTable& Real(const std::string& name, std::function<double(const Row&)> get)
    {
        return Add({name, "f64", {}}, std::move(get), nullptr);
    }

    /**
     * Declare an integer column.
     * @param name column name
     * @param get value of a row
     * @return this table
     */
    RecordTable& Count(const std::string& name, std::function<uint64_t(const Row&)> get)
    {
        return Add({name, "i64", {}}, nullptr, std::move(get));
    }

    /**
     * Declare a boolean column.
     * @param name column name
     * @param get value of a row (0 or 1)
     * @return this table
     */
    RecordTable& Flag(const std::string& name, std::function<uint64_t(const Row&)> get)
    {
        return Add({name, "bool", {}}, nullptr, std::move(get));
    }

    /**
     * Declare a column of named codes.
     * @param name column name
     * @param labels name of each code
     * @param get code of a row
     * @return this table
     */
    RecordTable& Label(const std::string& name,
                       std::vector<std::string> labels,
                       std::function<uint64_t(const Row&)> get)
    {
        return Add({name, "label", std::move(labels)}, nullptr, std::move(get));
    }

    /**
     * Declare a column that Python derives from others.
     * @param name column name
     * @return this table
     */
    RecordTable& Derived(const std::string& name)
    {
        return Add({name, "derived", {}}, nullptr, nullptr);
    }

    /** @return the columns, in declaration order */
    const std::vector<RecordColumnSchema>& GetSchema() const override
    {
        return m_schema;
    }

    /**
     * @param name column name
     * @param real filled with the values of an f64 column
     * @param count filled with the values of an i64, bool or label column
     */
    void GetColumn(const std::string& name, std::vector<double>* real, std::vector<uint64_t>* count) const override
    {
        for (size_t i = 0; i < m_schema.size(); ++i)
        {
            if (m_schema[i].name != name)
            {
                continue;
            }
            if (m_real[i])
            {
                Fill(m_real[i], real);
            }
            else if (m_count[i])
            {
                Fill(m_count[i], count);
            }
            else
            {
                throw std::invalid_argument("column '" + name + "' of the " + m_name +
                                            " table is derived from other columns");
            }
            return;
        }
        throw std::invalid_argument("unknown " + m_name + " column '" + name + "'");
    }

    size_t GetRows() const override
    {
        return m_rows->size();
    }

  private:
    /**
     * @param schema the column
     * @param real getter of an f64 column, or null
     * @param count getter of another column, or null
     * @return this table
     */
    RecordTable& Add(RecordColumnSchema schema,
                     std::function<double(const Row&)> real,
                     std::function<uint64_t(const Row&)> count)
    {
        m_schema.push_back(std::move(schema));
        m_real.push_back(std::move(real));
        m_count.push_back(std::move(count));
        return *this;
    }

    /**
     * @param get getter
     * @param out filled with the getter's value of each row
     */
    template <class T>
    void Fill(const std::function<T(const Row&)>& get, std::vector<T>* out) const
    {
        out->clear();
        out->reserve(m_rows->size());
        for (const auto& r : *m_rows)
        {
            out->push_back(get(r));
        }
    }

    std::string m_name;                                       //!< table name
    const Rows* m_rows;                                       //!< the records
    std::vector<RecordColumnSchema> m_schema;                 //!< the columns
    std::vector<std::function<double(const Row&)>> m_real;    //!< f64 getters
    std::vector<std::function<uint64_t(const Row&)>> m_count; //!< other getters
};

} // namespace ns3

#endif
