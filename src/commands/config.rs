use crate::config::{self as cfg, Config, KeyInfo, Source};
use crate::context::Context;
use crate::error::{CliError, Result};
use clap::Args;
use serde_json::json;

#[derive(Debug, Args)]
#[command(after_long_help = "Examples:
  gryt config                                  # every key, its value and source
  gryt config gryt_url https://gryt.example.com
  gryt config --global username alice
  printf '%s\\n' \"$TOKEN\" | gryt config --global api_key_secret -
  gryt config team --unset")]
pub struct ConfigArgs {
    /// The key to show or set (omit to list every key with its source).
    pub key: Option<String>,
    /// The value to set (`-` reads a secret from the first line of standard input).
    pub value: Option<String>,
    /// Write to the global config in the user's config dir instead of .gryt/config.
    #[arg(long)]
    pub global: bool,
    /// Remove the key.
    #[arg(long, conflicts_with = "value")]
    pub unset: bool,
}

fn shown(info: Option<&KeyInfo>, value: &str) -> String {
    if info.is_some_and(|k| k.secret) {
        "********".into()
    } else if info.is_some_and(|k| k.name == "gryt_url") {
        cfg::redact_url(value)
    } else {
        value.to_string()
    }
}

/// Reads a secret from the first line of standard input (`gryt config KEY -`).
fn secret_from_stdin(key: &str) -> Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| CliError::io(format!("cannot read {key} from standard input"), e))?;
    let value = line.trim_end_matches(['\n', '\r']).to_string();
    if value.is_empty() {
        return Err(CliError::usage(format!(
            "No {key} given: standard input is empty"
        )));
    }
    Ok(value)
}

pub fn cmd_config(ctx: &Context, a: ConfigArgs) -> Result<()> {
    let repo = ctx.repo().ok();
    let repo_config = repo.as_ref().map(|r| r.config_path());
    let Some(key) = a.key else {
        if a.unset {
            return Err(CliError::usage("--unset needs a KEY"));
        }
        let config = Config::load(&ctx.env, repo_config.as_deref())?;
        config.print_warnings(&ctx.ui);
        if ctx.ui.json {
            let map: serde_json::Map<String, serde_json::Value> = config
                .entries()
                .map(|(k, v, s)| {
                    (
                        k.to_string(),
                        json!({ "value": shown(cfg::key_info(k), v), "source": s }),
                    )
                })
                .collect();
            ctx.ui.json(&json!({ "config": map }));
        } else {
            let mut t = ctx.ui.table(&["Key", "Value", "Source"]);
            for (k, v, s) in config.entries() {
                t.add_row(vec![
                    k.to_string(),
                    shown(cfg::key_info(k), v),
                    format!("{s:?}").to_lowercase(),
                ]);
            }
            ctx.ui.print_table(&t);
        }
        return Ok(());
    };
    let info = cfg::key_info(&key).ok_or_else(|| {
        CliError::usage(format!("Unknown configuration key '{key}'")).hint(format!(
            "known keys: {}",
            cfg::KEYS
                .iter()
                .map(|k| k.name)
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })?;
    if a.value.is_none() && !a.unset {
        let config = Config::load(&ctx.env, repo_config.as_deref())?;
        return match config.get(info.name) {
            Some(v) => {
                if ctx.ui.json {
                    ctx.ui.json(&json!({ "key": info.name, "value": shown(Some(info), v), "source": config.source(info.name) }));
                } else {
                    ctx.ui.data(&shown(Some(info), v));
                }
                Ok(())
            }
            None => Err(CliError::error(format!("{} is not set", info.name))
                .hint(format!("set it with `gryt config {} VALUE`", info.name))),
        };
    }
    if !a.unset && cfg::never_stored(info) {
        // Refused before standard input is read: nothing is consumed, nothing changes.
        let url = Config::load(&ctx.env, repo_config.as_deref())
            .ok()
            .and_then(|c| c.get("gryt_url").map(str::to_string));
        return Err(cfg::store_refused(info, url.as_deref()));
    }
    let value = match a.value {
        Some(v) if v == "-" && info.secret => Some(secret_from_stdin(info.name)?),
        other => other,
    };
    if let Some(v) = &value {
        cfg::validate_value(info, v)?;
    }
    if !info.secret && !a.global && !cfg::SHARED_KEYS.contains(&info.name) {
        // .gryt/config is committed: a name or key id there would make every teammate you.
        return Err(CliError::usage(format!(
            "{} is personal and never goes in the repository's .gryt/config (it is shared with everyone who clones it)",
            info.name
        ))
        .hint(format!(
            "use `gryt config --global {} ...`, or `gryt cloud login`, which records who you are on the server",
            info.name
        )));
    }
    // Secrets always go to the credentials file (0600) in the user's config dir.
    let (path, mode, source) = if info.secret {
        (cfg::credentials_path(&ctx.env)?, 0o600, Source::Credentials)
    } else if a.global {
        (cfg::global_config_path(&ctx.env)?, 0o644, Source::Global)
    } else {
        match &repo_config {
            Some(p) => (p.clone(), 0o644, Source::Repository),
            None => {
                return Err(
                    CliError::error("Not inside a gryt repository").hint(format!(
                        "use `gryt config --global {key} ...` or run `gryt init`"
                    )),
                )
            }
        }
    };
    let value = if a.unset { None } else { value.as_deref() };
    if info.secret {
        cfg::write_secret(&path, info.name, value)?;
    } else {
        cfg::write_key(&path, info.name, value, mode)?;
    }
    let verb = if a.unset { "Removed" } else { "Set" };
    if ctx.ui.json {
        ctx.ui.json(&json!({
            "key": info.name,
            "value": value.map(|v| shown(Some(info), v)),
            "removed": a.unset,
            "path": path,
            "source": source,
        }));
        return Ok(());
    }
    ctx.ui.info(&format!(
        "{verb} {} in {} ({})",
        info.name,
        path.display(),
        format!("{source:?}").to_lowercase()
    ));
    Ok(())
}
