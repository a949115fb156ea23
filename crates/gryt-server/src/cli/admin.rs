//! The administration commands of `gryt server` (users, API keys, backups) and their
//! output: plain lines and aligned tables, or JSON with `gryt --json`.

use super::{ApiKeyCommand, ServerCommand, UserCommand};
use crate::accounts::{Changed, KeySummary, UserSummary};
use crate::admin::Backup;
use crate::ServerConfig;
use std::io::{BufRead, Write};

/// Runs one administration command; the exit code (2: a PostgreSQL backup).
pub(super) fn run(
    command: ServerCommand,
    config: &ServerConfig,
    json: bool,
) -> anyhow::Result<i32> {
    let mut out = std::io::stdout().lock();
    match command {
        ServerCommand::User(UserCommand::Add {
            name,
            password_stdin,
        }) => {
            let password = password_from_stdin(password_stdin)?;
            crate::admin::add_user(config, &name, &password)?;
            said(&mut out, json, &format!("added user {name}"), &name)?;
        }
        ServerCommand::User(UserCommand::List) => {
            let users = crate::admin::list_users(config)?;
            if json {
                write_json(&mut out, &serde_json::json!({ "users": users }))?;
            } else {
                write_users(&mut out, &users)?;
            }
        }
        ServerCommand::User(UserCommand::Passwd {
            name,
            password_stdin,
        }) => {
            let password = password_from_stdin(password_stdin)?;
            crate::admin::set_password(config, &name, &password)?;
            said(
                &mut out,
                json,
                &format!("changed the password of {name}"),
                &name,
            )?;
        }
        ServerCommand::User(UserCommand::Disable { name }) => {
            let msg = match crate::admin::set_disabled(config, &name, true)? {
                Changed::Yes => format!(
                    "disabled {name}: their password and API keys are refused until `gryt server user enable {name}`"
                ),
                Changed::AlreadySo => format!("{name} was already disabled"),
            };
            said(&mut out, json, &msg, &name)?;
        }
        ServerCommand::User(UserCommand::Enable { name }) => {
            let msg = match crate::admin::set_disabled(config, &name, false)? {
                Changed::Yes => format!("enabled {name}"),
                Changed::AlreadySo => format!("{name} was not disabled"),
            };
            said(&mut out, json, &msg, &name)?;
        }
        ServerCommand::User(UserCommand::Remove { name }) => {
            let r = crate::admin::remove_user(config, &name)?;
            if json {
                write_json(&mut out, &r)?;
            } else {
                writeln!(out, "removed user {name}")?;
                writeln!(out, "API keys revoked: {}", r.keys_revoked)?;
                if r.teams_left.is_empty() {
                    writeln!(out, "team memberships ended: none")?;
                } else {
                    writeln!(out, "team memberships ended: {}", r.teams_left.join(", "))?;
                }
                writeln!(
                    out,
                    "The records {name} made stay with their teams; the name is not given to a new user."
                )?;
            }
        }
        ServerCommand::ApiKey(ApiKeyCommand::Create {
            user,
            name,
            expires_in_days,
        }) => {
            let k = crate::admin::create_api_key(config, &user, &name, expires_in_days)?;
            if json {
                write_json(&mut out, &k)?;
            } else {
                writeln!(out, "key id: {}", k.key_id)?;
                writeln!(out, "secret: {}", k.secret)?;
                if let Some(e) = &k.expires_at {
                    writeln!(out, "expires: {e}")?;
                }
                writeln!(out, "The secret is shown only now; store it safely.")?;
            }
        }
        ServerCommand::ApiKey(ApiKeyCommand::Revoke { key_id }) => {
            crate::admin::revoke_api_key(config, &key_id)?;
            said(&mut out, json, &format!("revoked {key_id}"), &key_id)?;
        }
        ServerCommand::ApiKey(ApiKeyCommand::List { user }) => {
            let keys = crate::admin::list_api_keys(config, user.as_deref())?;
            if json {
                write_json(&mut out, &serde_json::json!({ "api_keys": keys }))?;
            } else {
                write_keys(&mut out, &keys)?;
            }
        }
        ServerCommand::Backup { file } => match crate::admin::backup(config, &file)? {
            Backup::Written { pages, bytes } => {
                let key = config
                    .default_key_file()
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|| "GRYT_SERVER_KEY".to_string());
                if json {
                    write_json(
                        &mut out,
                        &serde_json::json!({
                            "file": file.display().to_string(),
                            "pages": pages,
                            "bytes": bytes,
                            "server_key": key,
                        }),
                    )?;
                } else {
                    writeln!(
                        out,
                        "backed up the database to {} ({bytes} bytes, {pages} pages)",
                        file.display()
                    )?;
                    writeln!(
                        out,
                        "Keep a copy of the server key too ({key}): it is not in the backup, and without it the API keys in the backup cannot be used."
                    )?;
                }
            }
            Backup::Postgres => {
                drop(out);
                let mut err = std::io::stderr().lock();
                writeln!(
                    err,
                    "Error: gryt server backup copies SQLite databases; this server's database is PostgreSQL."
                )?;
                writeln!(
                    err,
                    "Hint: back it up with pg_dump, e.g. `pg_dump --format=custom --file {} \"$DATABASE_URL\"`, and restore with pg_restore (see docs/operations.md).",
                    file.display()
                )?;
                return Ok(2);
            }
        },
    }
    Ok(0)
}

/// The first line of standard input, without its line ending; `--password-stdin` must be
/// given (a password never comes from the command line).
fn password_from_stdin(password_stdin: bool) -> anyhow::Result<String> {
    if !password_stdin {
        anyhow::bail!("pass --password-stdin and give the password on standard input");
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

fn write_json(out: &mut impl Write, value: &impl serde::Serialize) -> anyhow::Result<()> {
    serde_json::to_writer_pretty(&mut *out, value)?;
    writeln!(out)?;
    Ok(())
}

/// A one-line outcome: the sentence, or `{"message", "name"}` as JSON.
fn said(out: &mut impl Write, json: bool, message: &str, name: &str) -> anyhow::Result<()> {
    if json {
        write_json(
            out,
            &serde_json::json!({ "message": message, "name": name }),
        )
    } else {
        writeln!(out, "{message}")?;
        Ok(())
    }
}

/// Columns padded to their widest cell (by characters), two spaces apart.
fn write_table(out: &mut impl Write, header: &[&str], rows: &[Vec<String>]) -> anyhow::Result<()> {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 == cells.len() {
                s.push_str(cell);
            } else {
                s.push_str(&format!("{cell:<w$}  "));
            }
        }
        s
    };
    writeln!(out, "{}", line(header.to_vec()))?;
    for r in rows {
        writeln!(out, "{}", line(r.iter().map(String::as_str).collect()))?;
    }
    Ok(())
}

fn write_users(out: &mut impl Write, users: &[UserSummary]) -> anyhow::Result<()> {
    if users.is_empty() {
        writeln!(
            out,
            "no users (add one with `gryt server user add NAME --password-stdin`)"
        )?;
        return Ok(());
    }
    let rows: Vec<Vec<String>> = users
        .iter()
        .map(|u| {
            vec![
                u.username.clone(),
                u.created_at.clone(),
                u.disabled_at.clone().unwrap_or_else(|| "-".to_string()),
                u.active_keys.to_string(),
            ]
        })
        .collect();
    write_table(out, &["NAME", "CREATED", "DISABLED", "KEYS"], &rows)
}

fn write_keys(out: &mut impl Write, keys: &[KeySummary]) -> anyhow::Result<()> {
    if keys.is_empty() {
        writeln!(out, "no API keys")?;
        return Ok(());
    }
    let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".to_string());
    let rows: Vec<Vec<String>> = keys
        .iter()
        .map(|k| {
            vec![
                k.key_id.clone(),
                k.name.clone(),
                k.username.clone(),
                k.created_at.clone(),
                k.expires_at.clone().unwrap_or_else(|| "never".to_string()),
                dash(&k.revoked_at),
                k.last_used_at
                    .clone()
                    .unwrap_or_else(|| "never".to_string()),
            ]
        })
        .collect();
    write_table(
        out,
        &[
            "ID",
            "NAME",
            "USER",
            "CREATED",
            "EXPIRES",
            "REVOKED",
            "LAST USED",
        ],
        &rows,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_on_the_widest_cell() {
        let mut buf = Vec::new();
        write_table(
            &mut buf,
            &["NAME", "KEYS"],
            &[
                vec!["alice".into(), "2".into()],
                vec!["bo".into(), "10".into()],
            ],
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(buf).unwrap(),
            "NAME   KEYS\nalice  2\nbo     10\n"
        );
    }
}
