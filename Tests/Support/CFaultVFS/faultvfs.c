#include "faultvfs.h"

#include <sqlite3.h>
#include <stdatomic.h>
#include <string.h>

// Every file of this VFS starts with the wrapped VFS's file, so methods can forward to it.
typedef struct FaultFile {
    sqlite3_file base;
    sqlite3_file *real;
} FaultFile;

static sqlite3_vfs faultVfs;
static sqlite3_vfs *realVfs;
static atomic_int armed;
static atomic_int remaining;
static atomic_int failCode;
static atomic_int calls;
static atomic_int faults;
static atomic_int readonlyOpens;

static int shouldFail(void) {
    atomic_fetch_add(&calls, 1);
    if (!atomic_load(&armed)) return 0;
    if (atomic_fetch_sub(&remaining, 1) > 0) return 0;
    atomic_fetch_add(&faults, 1);
    return 1;
}

#define REAL(f) (((FaultFile *)(f))->real)

static int xClose(sqlite3_file *f) {
    int rc = REAL(f)->pMethods->xClose(REAL(f));
    sqlite3_free(REAL(f));
    return rc;
}
static int xRead(sqlite3_file *f, void *p, int n, sqlite3_int64 o) { return REAL(f)->pMethods->xRead(REAL(f), p, n, o); }
static int xWrite(sqlite3_file *f, const void *p, int n, sqlite3_int64 o) {
    if (shouldFail()) return atomic_load(&failCode);
    return REAL(f)->pMethods->xWrite(REAL(f), p, n, o);
}
static int xTruncate(sqlite3_file *f, sqlite3_int64 size) {
    if (shouldFail()) return atomic_load(&failCode);
    return REAL(f)->pMethods->xTruncate(REAL(f), size);
}
static int xSync(sqlite3_file *f, int flags) {
    if (shouldFail()) return atomic_load(&failCode) == SQLITE_FULL ? SQLITE_IOERR_FSYNC : atomic_load(&failCode);
    return REAL(f)->pMethods->xSync(REAL(f), flags);
}
static int xFileSize(sqlite3_file *f, sqlite3_int64 *s) { return REAL(f)->pMethods->xFileSize(REAL(f), s); }
static int xLock(sqlite3_file *f, int l) { return REAL(f)->pMethods->xLock(REAL(f), l); }
static int xUnlock(sqlite3_file *f, int l) { return REAL(f)->pMethods->xUnlock(REAL(f), l); }
static int xCheckReservedLock(sqlite3_file *f, int *r) { return REAL(f)->pMethods->xCheckReservedLock(REAL(f), r); }
static int xFileControl(sqlite3_file *f, int op, void *a) { return REAL(f)->pMethods->xFileControl(REAL(f), op, a); }
static int xSectorSize(sqlite3_file *f) { return REAL(f)->pMethods->xSectorSize(REAL(f)); }
static int xDeviceCharacteristics(sqlite3_file *f) { return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f)); }
static int xShmMap(sqlite3_file *f, int i, int sz, int w, void volatile **pp) {
    return REAL(f)->pMethods->xShmMap(REAL(f), i, sz, w, pp);
}
static int xShmLock(sqlite3_file *f, int o, int n, int fl) { return REAL(f)->pMethods->xShmLock(REAL(f), o, n, fl); }
static void xShmBarrier(sqlite3_file *f) { REAL(f)->pMethods->xShmBarrier(REAL(f)); }
static int xShmUnmap(sqlite3_file *f, int d) { return REAL(f)->pMethods->xShmUnmap(REAL(f), d); }
static int xFetch(sqlite3_file *f, sqlite3_int64 o, int n, void **pp) { return REAL(f)->pMethods->xFetch(REAL(f), o, n, pp); }
static int xUnfetch(sqlite3_file *f, sqlite3_int64 o, void *p) { return REAL(f)->pMethods->xUnfetch(REAL(f), o, p); }

static const sqlite3_io_methods faultMethods = {
    3, xClose, xRead, xWrite, xTruncate, xSync, xFileSize, xLock, xUnlock, xCheckReservedLock,
    xFileControl, xSectorSize, xDeviceCharacteristics, xShmMap, xShmLock, xShmBarrier, xShmUnmap,
    xFetch, xUnfetch,
};

static int xOpen(sqlite3_vfs *vfs, const char *name, sqlite3_file *file, int flags, int *outFlags) {
    (void)vfs;
    FaultFile *ff = (FaultFile *)file;
    ff->real = sqlite3_malloc(realVfs->szOsFile);
    if (!ff->real) return SQLITE_NOMEM;
    memset(ff->real, 0, realVfs->szOsFile);
    if (atomic_load(&readonlyOpens) && (flags & (SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_WAL | SQLITE_OPEN_MAIN_JOURNAL))) {
        flags = (flags & ~(SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)) | SQLITE_OPEN_READONLY;
    }
    int rc = realVfs->xOpen(realVfs, name, ff->real, flags, outFlags);
    if (rc != SQLITE_OK) {
        sqlite3_free(ff->real);
        ff->real = 0;
        file->pMethods = 0;
        return rc;
    }
    file->pMethods = &faultMethods;
    return SQLITE_OK;
}
static int xDelete(sqlite3_vfs *v, const char *n, int s) { (void)v; return realVfs->xDelete(realVfs, n, s); }
static int xAccess(sqlite3_vfs *v, const char *n, int f, int *r) { (void)v; return realVfs->xAccess(realVfs, n, f, r); }
static int xFullPathname(sqlite3_vfs *v, const char *n, int sz, char *out) {
    (void)v;
    return realVfs->xFullPathname(realVfs, n, sz, out);
}
static void *xDlOpen(sqlite3_vfs *v, const char *n) { (void)v; return realVfs->xDlOpen(realVfs, n); }
static void xDlError(sqlite3_vfs *v, int n, char *m) { (void)v; realVfs->xDlError(realVfs, n, m); }
static void (*xDlSym(sqlite3_vfs *v, void *h, const char *s))(void) { (void)v; return realVfs->xDlSym(realVfs, h, s); }
static void xDlClose(sqlite3_vfs *v, void *h) { (void)v; realVfs->xDlClose(realVfs, h); }
static int xRandomness(sqlite3_vfs *v, int n, char *out) { (void)v; return realVfs->xRandomness(realVfs, n, out); }
static int xSleep(sqlite3_vfs *v, int us) { (void)v; return realVfs->xSleep(realVfs, us); }
static int xCurrentTime(sqlite3_vfs *v, double *t) { (void)v; return realVfs->xCurrentTime(realVfs, t); }
static int xGetLastError(sqlite3_vfs *v, int n, char *m) { (void)v; return realVfs->xGetLastError(realVfs, n, m); }
static int xCurrentTimeInt64(sqlite3_vfs *v, sqlite3_int64 *t) { (void)v; return realVfs->xCurrentTimeInt64(realVfs, t); }

int faultvfs_register(void) {
    if (realVfs) return SQLITE_OK;
    realVfs = sqlite3_vfs_find(0);
    if (!realVfs) return SQLITE_ERROR;
    faultVfs.iVersion = 2;
    faultVfs.szOsFile = (int)sizeof(FaultFile);
    faultVfs.mxPathname = realVfs->mxPathname;
    faultVfs.zName = "faultvfs";
    faultVfs.xOpen = xOpen;
    faultVfs.xDelete = xDelete;
    faultVfs.xAccess = xAccess;
    faultVfs.xFullPathname = xFullPathname;
    faultVfs.xDlOpen = xDlOpen;
    faultVfs.xDlError = xDlError;
    faultVfs.xDlSym = xDlSym;
    faultVfs.xDlClose = xDlClose;
    faultVfs.xRandomness = xRandomness;
    faultVfs.xSleep = xSleep;
    faultVfs.xCurrentTime = xCurrentTime;
    faultVfs.xGetLastError = xGetLastError;
    faultVfs.xCurrentTimeInt64 = xCurrentTimeInt64;
    return sqlite3_vfs_register(&faultVfs, 0);
}

void faultvfs_arm(int n, int code) {
    atomic_store(&calls, 0);
    atomic_store(&faults, 0);
    atomic_store(&failCode, code);
    atomic_store(&remaining, n);
    atomic_store(&armed, 1);
}

void faultvfs_disarm(void) { atomic_store(&armed, 0); }
int faultvfs_calls(void) { return atomic_load(&calls); }
int faultvfs_faults(void) { return atomic_load(&faults); }
void faultvfs_set_readonly(int on) { atomic_store(&readonlyOpens, on); }
