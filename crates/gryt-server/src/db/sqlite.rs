//! The SQLite side of [`Conn`]: rusqlite, WAL, a busy timeout, cached statements.

use super::{Conn, DbError, Dialect, Row, Val};
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, ErrorCode, OpenFlags};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

pub struct SqliteConn {
    conn: Connection,
}

/// Checks the database's place and creates a missing file, then switches it to WAL (a
/// persistent setting).
///
/// - the folder must exist: the server never creates folders it was not asked to (a typo in
///   `--database` is an error, not a new empty database somewhere);
/// - a new file is created with mode 0600 whatever the umask; SQLite gives its `-wal` and
///   `-shm` files the mode of the database file, so they are 0600 too;
/// - an existing file of zero bytes is refused: a server database is never empty, so it is
///   a failed copy or restore, and treating it as new would start the server with nothing.
pub fn prepare_file(path: &str) -> anyhow::Result<()> {
    // `file:` URIs are SQLite's to interpret.
    if !path.starts_with("file:") {
        check_place(Path::new(path))?;
    }
    let conn = Connection::open(path)
        .map_err(|e| anyhow::anyhow!("cannot open the SQLite database {path}: {e}"))?;
    conn.busy_timeout(Duration::from_secs(30))?;
    conn.query_row("PRAGMA journal_mode=WAL", [], |_| Ok(()))
        .map_err(|e| anyhow::anyhow!("cannot switch {path} to WAL: {e}"))?;
    Ok(())
}

fn check_place(path: &Path) -> anyhow::Result<()> {
    let shown = path.display();
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    match std::fs::metadata(folder) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => anyhow::bail!(
            "cannot use the SQLite database {shown}: {} is not a folder",
            folder.display()
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => anyhow::bail!(
            "cannot use the SQLite database {shown}: the folder {} does not exist \
             (create it first; the server does not create folders)",
            folder.display()
        ),
        Err(e) => anyhow::bail!(
            "cannot use the SQLite database {shown}: cannot read the folder {}: {e}",
            folder.display()
        ),
    }
    match std::fs::metadata(path) {
        Ok(m) if !m.is_file() => {
            anyhow::bail!("cannot use the SQLite database {shown}: it is not a regular file")
        }
        Ok(m) if m.len() == 0 => anyhow::bail!(
            "the SQLite database {shown} is an empty file (0 bytes): a server database is \
             never empty, so this is a failed copy or restore; restore the file from a \
             backup, or remove it to start a new, empty database"
        ),
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => create_private(path),
        Err(e) => anyhow::bail!("cannot use the SQLite database {shown}: {e}"),
    }
}

/// Creates an empty file readable and writable by its owner only (0600, whatever the
/// umask); a file another process created meanwhile is left as it is.
#[cfg(unix)]
fn create_private(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        // The mode given to open(2) is reduced by the umask (0277 would leave 0400): it
        // is set again explicitly.
        Ok(f) => f
            .set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(|e| anyhow::anyhow!("cannot set the mode of {}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => anyhow::bail!("cannot create the SQLite database {}: {e}", path.display()),
    }
}

#[cfg(not(unix))]
fn create_private(path: &Path) -> anyhow::Result<()> {
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => anyhow::bail!("cannot create the SQLite database {}: {e}", path.display()),
    }
}

/// Copies the server database at `src` into the new file `dest` with SQLite's online backup
/// API, while servers may be using it: every page is copied in one step, under one read
/// transaction, so the copy is the database at one moment (in WAL mode the servers keep
/// writing meanwhile). `dest` must not exist (it is never overwritten) and its folder must;
/// it is created 0600 and removed again if the copy fails. The copy is checked (`PRAGMA
/// quick_check`) before it is reported. Returns its size in pages and bytes.
pub fn backup(src: &str, dest: &Path) -> anyhow::Result<(u64, u64)> {
    if !src.starts_with("file:") {
        match std::fs::metadata(src) {
            Ok(m) if m.is_file() && m.len() > 0 => {}
            Ok(_) => anyhow::bail!("{src} is not a SQLite database file"),
            Err(e) => anyhow::bail!("cannot back up {src}: {e}"),
        }
    }
    // No SQLITE_OPEN_CREATE: a mistyped path is an error, not a new empty database.
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    let from = Connection::open_with_flags(src, flags)
        .map_err(|e| anyhow::anyhow!("cannot open the database {src}: {e}"))?;
    from.busy_timeout(LOCK_WAIT)?;
    let version: Option<i64> = from
        .query_row("SELECT MAX(version) FROM schema_migrations", [], |r| {
            r.get(0)
        })
        .map_err(|e| anyhow::anyhow!("{src} is not a gryt server database: {e}"))?;
    if version.is_none() {
        anyhow::bail!("{src} is not a gryt server database (no schema version)");
    }
    create_new_private(dest)?;
    let result = copy_into(&from, dest);
    if result.is_err() {
        let _ = std::fs::remove_file(dest);
        for suffix in ["-wal", "-shm", "-journal"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", dest.display()));
        }
    }
    result
}

fn copy_into(from: &Connection, dest: &Path) -> anyhow::Result<(u64, u64)> {
    let shown = dest.display();
    {
        let mut to = Connection::open(dest)
            .map_err(|e| anyhow::anyhow!("cannot open the new file {shown}: {e}"))?;
        let b = rusqlite::backup::Backup::new(from, &mut to)
            .map_err(|e| anyhow::anyhow!("cannot start the backup: {e}"))?;
        // A writer committing at the very moment can make a step answer busy: try again
        // for the same time a request would wait for the lock.
        let mut attempt = 0usize;
        loop {
            match b.step(-1) {
                Ok(rusqlite::backup::StepResult::Done) => break,
                Ok(rusqlite::backup::StepResult::More) => continue,
                Ok(_) => match lock_pause_ms(attempt) {
                    Some(ms) => {
                        std::thread::sleep(Duration::from_millis(ms));
                        attempt += 1;
                    }
                    None => anyhow::bail!(
                        "the database stayed locked for {} s; try the backup again",
                        LOCK_WAIT.as_secs()
                    ),
                },
                Err(e) => anyhow::bail!("the backup failed: {e}"),
            }
        }
    }
    // Check the copy as the server would at start, then close it (its WAL is folded in).
    let check = Connection::open_with_flags(dest, OpenFlags::SQLITE_OPEN_READ_WRITE)
        .map_err(|e| anyhow::anyhow!("cannot reopen the copy {shown}: {e}"))?;
    let verdict: String = check
        .query_row("PRAGMA quick_check", [], |r| r.get(0))
        .map_err(|e| anyhow::anyhow!("cannot check the copy {shown}: {e}"))?;
    if verdict != "ok" {
        anyhow::bail!("the copy {shown} failed PRAGMA quick_check: {verdict}");
    }
    let pages: i64 = check.query_row("PRAGMA page_count", [], |r| r.get(0))?;
    let size: i64 = check.query_row("PRAGMA page_size", [], |r| r.get(0))?;
    check
        .close()
        .map_err(|(_, e)| anyhow::anyhow!("cannot close the copy {shown}: {e}"))?;
    let pages = u64::try_from(pages).unwrap_or(0);
    Ok((
        pages,
        pages.saturating_mul(u64::try_from(size).unwrap_or(0)),
    ))
}

/// Creates `path` empty with mode 0600 (whatever the umask); an existing file is an error.
fn create_new_private(path: &Path) -> anyhow::Result<()> {
    let shown = path.display();
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    match o.open(path) {
        Ok(f) => {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                f.set_permissions(std::fs::Permissions::from_mode(0o600))
                    .map_err(|e| anyhow::anyhow!("cannot set the mode of {shown}: {e}"))?;
            }
            drop(f);
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => anyhow::bail!(
            "{shown} already exists: a backup never overwrites a file (choose a new name, or \
             remove it first)"
        ),
        Err(e) => anyhow::bail!("cannot create the backup file {shown}: {e}"),
    }
}

/// `PRAGMA quick_check` (every page and record, not the indexes' contents): a database
/// with damaged pages is refused with what the check found.
pub fn quick_check(c: &mut dyn Conn) -> anyhow::Result<()> {
    let rows = c.query("PRAGMA quick_check", &[]).map_err(|e| {
        anyhow::anyhow!(
            "the SQLite database is damaged ({e}); restore it from a backup (PRAGMA quick_check failed)"
        )
    })?;
    let found: Vec<String> = rows
        .iter()
        .filter_map(|r| r.text(0).ok())
        .filter(|t| t != "ok")
        .collect();
    if found.is_empty() && !rows.is_empty() {
        return Ok(());
    }
    let shown: Vec<String> = found
        .iter()
        .take(3)
        .map(|t| t.chars().take(200).collect())
        .collect();
    anyhow::bail!(
        "the SQLite database is damaged: PRAGMA quick_check found {} problem(s), first: {}; \
         restore it from a backup",
        found.len(),
        shown.join("; ")
    )
}

/// How long a connection waits for the database's lock before answering "busy".
const LOCK_WAIT: Duration = Duration::from_secs(30);

/// Pauses between attempts to take a lock, in milliseconds (then 100 ms each).
const LOCK_PAUSES_MS: [u64; 12] = [1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100];

/// Times a connection found each database's lock held and started to wait for it, by the
/// database's path as opened.
static LOCK_WAITS: std::sync::OnceLock<Mutex<HashMap<String, u64>>> = std::sync::OnceLock::new();

/// How many times the server's connections to `path` have had to wait for its lock (held by
/// another connection or process): a test sees by this outcome that a request is waiting.
pub fn lock_waits(path: &str) -> u64 {
    LOCK_WAITS
        .get()
        .and_then(|m| m.lock().ok().and_then(|m| m.get(path).copied()))
        .unwrap_or(0)
}

/// The busy handler of the pool's connections: as SQLite's busy timeout (short pauses, then
/// 100 ms ones, up to [`LOCK_WAIT`] in all), counting each wait in [`lock_waits`]. `attempt`
/// counts from 0 for each statement that meets the held lock.
fn wait_for_lock(path: &str, attempt: i32) -> bool {
    if attempt == 0 {
        if let Ok(mut m) = LOCK_WAITS.get_or_init(Default::default).lock() {
            *m.entry(path.to_string()).or_insert(0) += 1;
        }
    }
    match lock_pause_ms(usize::try_from(attempt).unwrap_or(0)) {
        Some(ms) => {
            std::thread::sleep(Duration::from_millis(ms));
            true
        }
        None => false,
    }
}

/// The pause before attempt `n + 1` to take a held lock, or `None` once [`LOCK_WAIT`] is
/// spent.
fn lock_pause_ms(n: usize) -> Option<u64> {
    let last = LOCK_PAUSES_MS.len() - 1;
    let waited: u64 = if n <= last {
        LOCK_PAUSES_MS[..n].iter().sum()
    } else {
        let extra = u64::try_from(n - last - 1).unwrap_or(u64::MAX);
        LOCK_PAUSES_MS
            .iter()
            .sum::<u64>()
            .saturating_add(extra.saturating_mul(LOCK_PAUSES_MS[last]))
    };
    let limit = u64::try_from(LOCK_WAIT.as_millis()).unwrap_or(u64::MAX);
    let pause = LOCK_PAUSES_MS[n.min(last)].min(limit.saturating_sub(waited));
    (pause > 0).then_some(pause)
}

impl SqliteConn {
    /// Opens a connection to an existing database; `max_pages` caps its size in pages.
    pub fn open(path: &str, max_pages: Option<u64>) -> Result<SqliteConn, DbError> {
        // No SQLITE_OPEN_CREATE: the file exists (see [`prepare_file`]); one removed while
        // the server runs makes requests fail (503) instead of starting an empty database.
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI;
        let mut conn = Connection::open_with_flags(path, flags).map_err(map_err)?;
        let waits = path.to_string();
        conn.busy_handler(Some(move |n: i32| wait_for_lock(&waits, n)))
            .map_err(map_err)?;
        conn.execute_batch(
            "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY;",
        )
        .map_err(map_err)?;
        if let Some(n) = max_pages {
            conn.query_row(&format!("PRAGMA max_page_count = {n}"), [], |_| Ok(()))
                .map_err(map_err)?;
        }
        conn.set_prepared_statement_cache_capacity(128);
        Ok(SqliteConn { conn })
    }
}

fn map_err(e: rusqlite::Error) -> DbError {
    match &e {
        rusqlite::Error::SqliteFailure(f, _) => match f.code {
            ErrorCode::ConstraintViolation
                if f.extended_code == 2067 || f.extended_code == 1555 =>
            {
                DbError::Unique(e.to_string())
            }
            ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => DbError::Busy(e.to_string()),
            ErrorCode::DiskFull => DbError::Full(e.to_string()),
            ErrorCode::ReadOnly => DbError::ReadOnly(e.to_string()),
            ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase => DbError::Corrupt(e.to_string()),
            ErrorCode::SystemIoFailure | ErrorCode::CannotOpen => {
                DbError::Unavailable(e.to_string())
            }
            _ => DbError::Other(e.to_string()),
        },
        _ => DbError::Other(e.to_string()),
    }
}

impl rusqlite::ToSql for Val {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Val::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Val::Int(i) => ToSqlOutput::Borrowed(ValueRef::Integer(*i)),
            Val::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
        })
    }
}

fn read_row(row: &rusqlite::Row<'_>, n: usize) -> rusqlite::Result<Row> {
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        out.push(match row.get_ref(i)? {
            ValueRef::Null => Val::Null,
            ValueRef::Integer(v) => Val::Int(v),
            ValueRef::Real(v) => Val::Int(v as i64),
            ValueRef::Text(t) | ValueRef::Blob(t) => {
                Val::Text(String::from_utf8_lossy(t).into_owned())
            }
        });
    }
    Ok(Row(out))
}

impl Conn for SqliteConn {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn exec(&mut self, sql: &str, params: &[Val]) -> Result<u64, DbError> {
        let mut st = self.conn.prepare_cached(sql).map_err(map_err)?;
        let n = st
            .execute(rusqlite::params_from_iter(params.iter()))
            .map_err(map_err)?;
        Ok(n as u64)
    }

    fn query(&mut self, sql: &str, params: &[Val]) -> Result<Vec<Row>, DbError> {
        let mut st = self.conn.prepare_cached(sql).map_err(map_err)?;
        let n = st.column_count();
        let rows = st
            .query_map(rusqlite::params_from_iter(params.iter()), |r| {
                read_row(r, n)
            })
            .map_err(map_err)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(map_err)
    }

    fn batch(&mut self, sql: &str) -> Result<(), DbError> {
        self.conn.execute_batch(sql).map_err(map_err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_lock_is_waited_for_thirty_seconds_in_all() {
        let pauses: Vec<u64> = (0..).map_while(lock_pause_ms).collect();
        assert_eq!(pauses[..3], [1, 2, 5]);
        assert_eq!(pauses.iter().sum::<u64>(), 30_000);
        assert!(pauses.iter().all(|p| *p <= 100));
    }
}
