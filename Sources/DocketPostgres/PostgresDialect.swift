#if Postgres
    import Docket

    /// PostgreSQL's SQL dialect: `$1, $2, …` parameters, `IS NOT DISTINCT FROM` as the NULL-safe
    /// comparison, and the wire protocol's limit of 65,535 parameters per statement. The unit of
    /// work's statements come from Docket's ``SQLDialect`` extension, written once for every backend.
    public struct PostgresDialect: SQLDialect {
        public init() {}
        public func parameter(_ position: Int) -> String { "$\(position)" }
        public var nullSafeEquals: String { "IS NOT DISTINCT FROM" }
        public var maximumParameters: Int { 65_535 }
    }
#endif
