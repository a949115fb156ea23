//! The PostgreSQL side of [`Conn`]: the `postgres` crate (tokio-postgres' blocking wrapper),
//! used only on tokio's blocking threads.

use super::{to_pg_placeholders, Conn, DbError, Dialect, Row, Val};
use postgres::error::SqlState;
use postgres::types::{IsNull, ToSql, Type};
use postgres::{Client, NoTls};
use std::collections::HashMap;

pub struct PgConn {
    client: Option<Client>,
    statements: HashMap<String, postgres::Statement>,
    /// Set once an error showed the connection is lost.
    broken: bool,
}

impl PgConn {
    pub fn connect(url: &str) -> Result<PgConn, DbError> {
        let client = Client::connect(url, NoTls).map_err(|e| {
            let cause = std::error::Error::source(&e)
                .map(|s| format!(": {s}"))
                .unwrap_or_default();
            DbError::Unavailable(format!("cannot connect to PostgreSQL: {e}{cause}"))
        })?;
        Ok(PgConn {
            client: Some(client),
            statements: HashMap::new(),
            broken: false,
        })
    }

    /// Maps an error, remembering when it means the connection is lost (so the pool drops
    /// it and the next request connects anew).
    fn failed(&mut self, e: postgres::Error) -> DbError {
        let mapped = map_err(e);
        if matches!(mapped, DbError::Unavailable(_)) {
            self.broken = true;
        }
        mapped
    }

    fn client(&mut self) -> Result<&mut Client, DbError> {
        self.client
            .as_mut()
            .ok_or_else(|| DbError::Other("the PostgreSQL connection is closed".into()))
    }

    fn prepare(&mut self, sql: &str) -> Result<postgres::Statement, DbError> {
        if let Some(st) = self.statements.get(sql) {
            return Ok(st.clone());
        }
        let pg_sql = to_pg_placeholders(sql);
        let prepared = self.client()?.prepare(&pg_sql);
        let st = prepared.map_err(|e| self.failed(e))?;
        if self.statements.len() > 256 {
            self.statements.clear();
        }
        self.statements.insert(sql.to_string(), st.clone());
        Ok(st)
    }
}

impl Drop for PgConn {
    fn drop(&mut self) {
        // A blocking client owns a small runtime that must not be dropped on an async
        // thread: drop it on a plain thread of its own.
        if let Some(client) = self.client.take() {
            let _ = std::thread::Builder::new()
                .name("gryt-pg-close".into())
                .spawn(move || drop(client));
        }
    }
}

/// Whether an error means the server or the connection is gone: the connection was closed,
/// broke on I/O, or PostgreSQL is shutting down, restarting or refusing connections
/// (SQLSTATE class 08 and 57P01-57P03).
fn is_connection_loss(e: &postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    match e.code() {
        Some(c) => {
            let code = c.code();
            code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03")
        }
        None => {
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                if s.is::<std::io::Error>() {
                    return true;
                }
                source = s.source();
            }
            false
        }
    }
}

fn map_err(e: postgres::Error) -> DbError {
    if is_connection_loss(&e) {
        return DbError::Unavailable(e.to_string());
    }
    let detail = e
        .as_db_error()
        .map(|d| d.message().to_string())
        .unwrap_or_else(|| e.to_string());
    match e.code() {
        Some(c) => by_sqlstate(c.code(), detail),
        None => DbError::Other(detail),
    }
}

/// A PostgreSQL error that is not a lost connection, by its SQLSTATE.
fn by_sqlstate(code: &str, detail: String) -> DbError {
    match code {
        c if c == SqlState::UNIQUE_VIOLATION.code() => DbError::Unique(detail),
        c if c == SqlState::T_R_SERIALIZATION_FAILURE.code()
            || c == SqlState::T_R_DEADLOCK_DETECTED.code() =>
        {
            DbError::Busy(detail)
        }
        // disk_full
        "53100" => DbError::Full(detail),
        // insufficient_resources, out_of_memory, too_many_connections,
        // configuration_limit_exceeded: the server cannot take the work now.
        "53000" | "53200" | "53300" | "53400" => DbError::Unavailable(detail),
        // read_only_sql_transaction (a read-only database or standby)
        "25006" => DbError::ReadOnly(detail),
        // data_corrupted, index_corrupted
        "XX001" | "XX002" => DbError::Corrupt(detail),
        _ => DbError::Other(detail),
    }
}

impl ToSql for Val {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut postgres::types::private::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Val::Null => Ok(IsNull::Yes),
            Val::Int(i) => {
                if *ty == Type::INT4 {
                    i32::try_from(*i)?.to_sql(ty, out)
                } else if *ty == Type::INT2 {
                    i16::try_from(*i)?.to_sql(ty, out)
                } else {
                    i.to_sql(ty, out)
                }
            }
            Val::Text(s) => s.to_sql(ty, out),
        }
    }

    fn accepts(_ty: &Type) -> bool {
        true
    }

    postgres::types::to_sql_checked!();
}

fn read_row(row: &postgres::Row) -> Result<Row, DbError> {
    let mut out = Vec::with_capacity(row.len());
    for (i, col) in row.columns().iter().enumerate() {
        let t = col.type_();
        let v = if *t == Type::INT8 {
            row.try_get::<_, Option<i64>>(i).map(|v| v.map(Val::Int))
        } else if *t == Type::INT4 {
            row.try_get::<_, Option<i32>>(i)
                .map(|v| v.map(|x| Val::Int(i64::from(x))))
        } else if *t == Type::INT2 {
            row.try_get::<_, Option<i16>>(i)
                .map(|v| v.map(|x| Val::Int(i64::from(x))))
        } else if *t == Type::BOOL {
            row.try_get::<_, Option<bool>>(i)
                .map(|v| v.map(|x| Val::Int(i64::from(x))))
        } else {
            row.try_get::<_, Option<String>>(i)
                .map(|v| v.map(Val::Text))
        }
        .map_err(map_err)?;
        out.push(v.unwrap_or(Val::Null));
    }
    Ok(Row(out))
}

fn refs(params: &[Val]) -> Vec<&(dyn ToSql + Sync)> {
    params.iter().map(|p| p as &(dyn ToSql + Sync)).collect()
}

impl Conn for PgConn {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn exec(&mut self, sql: &str, params: &[Val]) -> Result<u64, DbError> {
        let st = self.prepare(sql)?;
        let p = refs(params);
        let r = self.client()?.execute(&st, &p);
        r.map_err(|e| self.failed(e))
    }

    fn query(&mut self, sql: &str, params: &[Val]) -> Result<Vec<Row>, DbError> {
        let st = self.prepare(sql)?;
        let p = refs(params);
        let rows = self.client()?.query(&st, &p);
        let rows = rows.map_err(|e| self.failed(e))?;
        rows.iter().map(read_row).collect()
    }

    fn batch(&mut self, sql: &str) -> Result<(), DbError> {
        let r = self.client()?.batch_execute(sql);
        r.map_err(|e| self.failed(e))
    }

    fn is_healthy(&self) -> bool {
        !self.broken && self.client.as_ref().is_some_and(|c| !c.is_closed())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlstates_map_to_the_documented_answers() {
        let of = |code: &str| by_sqlstate(code, "x".into());
        assert!(matches!(of("23505"), DbError::Unique(_)));
        assert!(matches!(of("40001"), DbError::Busy(_)));
        assert!(matches!(of("40P01"), DbError::Busy(_)));
        assert!(matches!(of("53100"), DbError::Full(_)));
        for c in ["53000", "53200", "53300", "53400"] {
            assert!(matches!(of(c), DbError::Unavailable(_)), "{c}");
        }
        assert!(matches!(of("25006"), DbError::ReadOnly(_)));
        assert!(matches!(of("XX001"), DbError::Corrupt(_)));
        assert!(matches!(of("XX002"), DbError::Corrupt(_)));
        assert!(matches!(of("42P01"), DbError::Other(_)));
    }
}
