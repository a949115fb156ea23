use crate::config::{self as cfg, Config, KeyInfo, Source};
use crate::context::Context;
use crate::error::{GrytError, Result};
use clap::Args;
use serde_json::json;

#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// The key to show or set (omit to list every key with its source).
    pub key: Option<String>,
    /// The value to set.
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
    } else {
        value.to_string()
    }
}

pub fn cmd_config(ctx: &Context, a: ConfigArgs) -> Result<i32> {
    let repo = ctx.repo().ok();
    let repo_config = repo.as_ref().map(|r| r.config_path());
    let Some(key) = a.key else {
        if a.unset {
            return Err(GrytError::usage("--unset needs a KEY"));
        }
        let config = Config::load(&ctx.env, repo_config.as_deref())?;
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
        return Ok(0);
    };
    let info = cfg::key_info(&key).ok_or_else(|| {
        GrytError::usage(format!("Unknown configuration key '{key}'")).hint(format!(
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
                Ok(0)
            }
            None => Err(GrytError::error(format!("{} is not set", info.name))
                .hint(format!("set it with `gryt config {} VALUE`", info.name))),
        };
    }
    if let Some(v) = &a.value {
        cfg::validate_value(info, v)?;
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
                    GrytError::error("Not inside a gryt repository").hint(format!(
                        "use `gryt config --global {key} ...` or run `gryt init`"
                    )),
                )
            }
        }
    };
    cfg::write_key(
        &path,
        info.name,
        if a.unset { None } else { a.value.as_deref() },
        mode,
    )?;
    let verb = if a.unset { "Removed" } else { "Set" };
    ctx.ui.info(&format!(
        "{verb} {} in {} ({})",
        info.name,
        path.display(),
        format!("{source:?}").to_lowercase()
    ));
    Ok(0)
}
