import Docket
import DocketMigrations

/// Feeds arbitrary bytes to the migration file parser as a file's contents. The parser must either
/// return a migration or throw a `MigrationError` naming the file; it must never crash, hang or
/// accept a file without an up section.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzMigrationParser(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let contents = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    do {
        let migration = try Migration.parse(fileName: "20261123120000_fuzz.sql", contents: contents)
        precondition(!migration.up.statements.isEmpty, "a migration without up statements was accepted")
        _ = migration.checksum
    } catch let error as MigrationError {
        precondition(!error.description.isEmpty)
    } catch {
        preconditionFailure("the parser threw something other than MigrationError: \(error)")
    }
    return 0
}
