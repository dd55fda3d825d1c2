#ifndef DOCKET_FAULTVFS_H
#define DOCKET_FAULTVFS_H

/// A test-only SQLite VFS named "faultvfs" that wraps the default VFS and fails on demand.
///
/// After `faultvfs_arm(n, code)`, the first `n` xWrite/xSync/xTruncate calls succeed and every later
/// one returns `code` (SQLITE_IOERR_WRITE, SQLITE_FULL, …) until `faultvfs_disarm()`.
/// `faultvfs_set_readonly(1)` makes every later open of a main database or journal file read-only.

/// Registers the VFS (idempotent). Returns an SQLite result code.
int faultvfs_register(void);
/// Fails every write, sync and truncate after the next `n` succeed, with `code`.
void faultvfs_arm(int n, int code);
/// Stops failing.
void faultvfs_disarm(void);
/// Write/sync/truncate calls made since the last arm (or register).
int faultvfs_calls(void);
/// Faults injected since the last arm.
int faultvfs_faults(void);
/// Opens files read-only when `on` is non-zero.
void faultvfs_set_readonly(int on);

#endif
