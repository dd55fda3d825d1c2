#if Postgres
    import Docket

    extension PostgresBackend {
        /// A table's metadata from `pg_catalog`, in the form Docket's planner reads on every backend:
        /// columns (type, NOT NULL, default or identity, place in the primary key), foreign keys
        /// (with whether each is `DEFERRABLE`), unique indexes on plain columns (not the primary key,
        /// not partial or expression indexes), the columns other tables' foreign keys reference, the
        /// CHECK constraints' text, and whether user triggers exist.
        ///
        /// `table` is a name as a model spells it (quoted: case and spaces kept). A table that does not
        /// exist is a ``DatabaseError`` naming it (SQLSTATE 42P01).
        public func tableInfo(_ table: String) async throws -> TableInfo {
            let name: [DatabaseValue] = [.text(dialect.quote(table))]
            let columns = try await fetchAll(
                """
                SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
                       a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> '',
                       COALESCE((SELECT k.o FROM pg_index x
                                 CROSS JOIN LATERAL unnest(x.indkey::int2[]) WITH ORDINALITY AS k(attnum, o)
                                 WHERE x.indrelid = a.attrelid AND x.indisprimary AND k.attnum = a.attnum), 0)
                FROM pg_attribute a
                WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped
                ORDER BY a.attnum
                """, name
            ).map { row in
                TableInfo.Column(
                    name: row[0].textValue ?? "", declaredType: row[1].textValue ?? "", notNull: row[2] == .integer(1),
                    hasDefault: row[3] == .integer(1), primaryKeyIndex: Int(row[4].integerValue ?? 0))
            }
            // One row per column of each foreign key, in key order.
            let keyColumns = try await fetchAll(
                """
                SELECT con.conname, parent.relname, child_column.attname, parent_column.attname, con.condeferrable
                FROM pg_constraint con
                JOIN pg_class parent ON parent.oid = con.confrelid
                CROSS JOIN LATERAL unnest(con.conkey, con.confkey) WITH ORDINALITY AS k(child, parent, o)
                JOIN pg_attribute child_column ON child_column.attrelid = con.conrelid AND child_column.attnum = k.child
                JOIN pg_attribute parent_column ON parent_column.attrelid = con.confrelid AND parent_column.attnum = k.parent
                WHERE con.conrelid = $1::regclass AND con.contype = 'f'
                ORDER BY con.conname, k.o
                """, name)
            var foreignKeys: [TableInfo.ForeignKey] = []
            for group in grouped(keyColumns) {
                foreignKeys.append(
                    TableInfo.ForeignKey(
                        parentTable: group[0][1].textValue ?? "", columns: group.map { $0[2].textValue ?? "" },
                        parentColumns: group.map { $0[3].textValue ?? "" }, isDeferrable: group[0][4] == .integer(1)))
            }
            let indexColumns = try await fetchAll(
                """
                SELECT i.relname, a.attname
                FROM pg_index x
                JOIN pg_class i ON i.oid = x.indexrelid
                CROSS JOIN LATERAL unnest(x.indkey::int2[]) WITH ORDINALITY AS k(attnum, o)
                JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum
                WHERE x.indrelid = $1::regclass AND x.indisunique AND NOT x.indisprimary
                  AND x.indexprs IS NULL AND x.indpred IS NULL
                ORDER BY i.relname, k.o
                """, name)
            let uniqueIndexes = grouped(indexColumns).map { group in
                TableInfo.UniqueIndex(name: group[0][0].textValue ?? "", columns: group.map { $0[1].textValue ?? "" })
            }
            let referenced = try await fetchAll(
                """
                SELECT DISTINCT a.attname FROM pg_constraint con
                CROSS JOIN LATERAL unnest(con.confkey) AS k(attnum)
                JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum
                WHERE con.confrelid = $1::regclass AND con.contype = 'f'
                """, name
            ).compactMap { $0[0].textValue }
            let checks = try await scalar(
                """
                SELECT string_agg(pg_get_constraintdef(oid), ' ' ORDER BY conname) FROM pg_constraint
                WHERE conrelid = $1::regclass AND contype = 'c'
                """, name)
            let triggers = try await scalar(
                "SELECT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = $1::regclass AND NOT tgisinternal)", name)
            return TableInfo(
                name: table, columns: columns, foreignKeys: foreignKeys, uniqueIndexes: uniqueIndexes,
                referencedColumns: Set(referenced), checks: checks.textValue ?? "", hasTriggers: triggers == .integer(1)
            )
        }

        /// The tables named and the tables their foreign keys reference, as the planner takes them.
        public func tablesWithParents(_ names: [String]) async throws -> [String: TableInfo] {
            var result: [String: TableInfo] = [:]
            for name in names where result[name] == nil {
                let info = try await tableInfo(name)
                result[name] = info
                for fk in info.foreignKeys where result[fk.parentTable] == nil {
                    result[fk.parentTable] = try await tableInfo(fk.parentTable)
                }
            }
            return result
        }

        /// Rows grouped by their first column, keeping order (the queries sort by it).
        private func grouped(_ rows: [Row]) -> [[Row]] {
            var groups: [[Row]] = []
            for row in rows {
                if let last = groups.last?.last, last[0] == row[0] {
                    groups[groups.count - 1].append(row)
                } else {
                    groups.append([row])
                }
            }
            return groups
        }
    }
#endif
