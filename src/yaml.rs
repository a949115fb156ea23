//! Every YAML call of the CLI lives here (one module keeps the library swappable). The
//! library is serde_yaml_ng, the maintained fork of the deprecated serde_yaml: it writes
//! contract files byte for byte as serde_yaml did (tests/cli/contract_bytes.rs), which
//! serde-saphyr does not (it double-quotes and folds where serde_yaml did not). Errors name
//! the file, line and column.

use crate::error::{CliError, Result};
use gryt_core::{Change, ChangeId, ChangeType, GenerationSpec, GenerationStatus};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

fn located(path: &Path, e: &serde_yaml_ng::Error) -> CliError {
    let msg = e.to_string();
    // serde_yaml_ng appends " at line L column C"; we put the location first instead.
    let msg = match msg.find(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg,
    };
    match e.location() {
        Some(loc) => CliError::error(format!(
            "{}:{}:{}: {msg}",
            path.display(),
            loc.line(),
            loc.column()
        )),
        None => CliError::error(format!("{}: {msg}", path.display())),
    }
}

/// A change as written in a contract file. The reference tool's per-change `status`,
/// `pipeline` and `pipelines` keys are accepted and ignored so its contracts load.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangeFile {
    id: ChangeId,
    #[serde(rename = "type")]
    change_type: ChangeType,
    title: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    assignee: Option<String>,
    #[serde(default, rename = "status")]
    _status: Option<serde_yaml_ng::Value>,
    #[serde(default, rename = "pipeline")]
    _pipeline: Option<serde_yaml_ng::Value>,
    #[serde(default, rename = "pipelines")]
    _pipelines: Option<serde_yaml_ng::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GenerationFile {
    version: String,
    #[serde(default)]
    generation_id: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    promoted_at: Option<String>,
    #[serde(default)]
    promoted_by: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    changes: Option<Vec<ChangeFile>>,
    #[serde(default)]
    pipeline_template: Option<String>,
}

/// The largest contract or config file gryt reads, and the deepest flow nesting it parses:
/// the YAML parser's time grows with the square of the nesting depth, so a 20 KB file of
/// nested brackets would otherwise take seconds to refuse.
const MAX_FILE_BYTES: usize = 1024 * 1024;
const MAX_NESTING: usize = 64;

fn check_shape(path: &Path, text: &str) -> Result<()> {
    if text.len() > MAX_FILE_BYTES {
        return Err(CliError::error(format!(
            "{}: the file is larger than 1 MiB",
            path.display()
        )));
    }
    let mut depth = 0usize;
    for b in text.bytes() {
        match b {
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(CliError::error(format!(
                        "{}: nested more than {MAX_NESTING} levels deep",
                        path.display()
                    )));
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// What a contract file says besides the contract itself: the record it belongs to (the
/// generation's UUID, the same in every clone) and, once promoted, that it is final.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub generation_id: Option<String>,
    pub status: GenerationStatus,
    pub promoted_at: Option<String>,
    pub promoted_by: Option<String>,
}

impl Default for Identity {
    fn default() -> Self {
        Identity {
            generation_id: None,
            status: GenerationStatus::Draft,
            promoted_at: None,
            promoted_by: None,
        }
    }
}

/// A parsed contract file.
#[derive(Debug, Clone)]
pub struct ContractFile {
    pub spec: GenerationSpec,
    pub identity: Identity,
}

/// Where `key:` first appears at the start of a line (1-based line, column), for errors
/// about a value serde accepted but the rules refuse.
fn line_of(text: &str, key: &str) -> Option<(usize, usize)> {
    text.lines().enumerate().find_map(|(i, l)| {
        let t = l.trim_start();
        t.strip_prefix(key)
            .filter(|rest| rest.starts_with(':'))
            .map(|_| (i + 1, l.len() - t.len() + 1))
    })
}

fn at(path: &Path, text: &str, key: &str, msg: String) -> CliError {
    match line_of(text, key) {
        Some((l, c)) => CliError::error(format!("{}:{l}:{c}: {msg}", path.display())),
        None => CliError::error(format!("{}: {msg}", path.display())),
    }
}

/// Parses a generation contract. Validation of the rules is the caller's (core's) job.
pub fn parse_generation(path: &Path, text: &str) -> Result<GenerationSpec> {
    Ok(parse_contract(path, text)?.spec)
}

/// Parses a contract file with its identity fields. A leading UTF-8 byte order mark (which
/// some editors write) is skipped.
pub fn parse_contract(path: &Path, text: &str) -> Result<ContractFile> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    check_shape(path, text)?;
    if text.trim().is_empty() {
        return Err(
            CliError::error(format!("{}: the file is empty", path.display()))
                .hint("a contract needs at least `version: vX.Y.Z`"),
        );
    }
    let file: GenerationFile = serde_yaml_ng::from_str(text).map_err(|e| located(path, &e))?;
    if let Some(id) = &file.generation_id {
        if uuid::Uuid::parse_str(id).is_err() || id.len() != 36 {
            return Err(at(
                path,
                text,
                "generation_id",
                format!(
                    "generation_id '{}' is not a UUID",
                    id.chars().take(64).collect::<String>()
                ),
            )
            .hint("leave generation_id as gryt wrote it, or remove the line"));
        }
    }
    let status = match file.status.as_deref() {
        None => GenerationStatus::Draft,
        Some(s) => GenerationStatus::parse(s).map_err(|e| at(path, text, "status", e.message))?,
    };
    if status == GenerationStatus::Draft
        && (file.promoted_at.is_some() || file.promoted_by.is_some())
    {
        return Err(at(
            path,
            text,
            if file.promoted_at.is_some() {
                "promoted_at"
            } else {
                "promoted_by"
            },
            "promoted_at and promoted_by belong to a promoted contract (status: promoted)".into(),
        ));
    }
    let identity = Identity {
        generation_id: file.generation_id.map(|s| s.to_ascii_lowercase()),
        status,
        promoted_at: file.promoted_at,
        promoted_by: file.promoted_by,
    };
    let spec = GenerationSpec {
        version: file.version,
        description: file.description,
        changes: file
            .changes
            .unwrap_or_default()
            .into_iter()
            .map(|c| Change {
                id: c.id,
                change_type: c.change_type,
                title: c.title,
                description: c.description,
                assignee: c.assignee,
            })
            .collect(),
        pipeline_template: file.pipeline_template,
    };
    Ok(ContractFile { spec, identity })
}

#[derive(Serialize)]
struct ChangeOut<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    change_type: &'a str,
    title: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    assignee: Option<&'a str>,
}

#[derive(Serialize)]
struct GenerationOut<'a> {
    version: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    generation_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    promoted_at: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    promoted_by: Option<&'a str>,
    description: Option<&'a str>,
    changes: Vec<ChangeOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pipeline_template: Option<&'a str>,
}

/// Renders a contract in the reference tool's layout.
pub fn render_generation(spec: &GenerationSpec) -> Result<String> {
    render_contract(spec, &Identity::default())
}

/// Renders a contract with its identity: `generation_id` always when known, `status`,
/// `promoted_at` and `promoted_by` only once promoted (a draft's file stays as the
/// reference tool writes it, plus the id).
pub fn render_contract(spec: &GenerationSpec, id: &Identity) -> Result<String> {
    let promoted = id.status == GenerationStatus::Promoted;
    let out = GenerationOut {
        version: &spec.version,
        generation_id: id.generation_id.as_deref(),
        status: promoted.then_some("promoted"),
        promoted_at: id.promoted_at.as_deref().filter(|_| promoted),
        promoted_by: id.promoted_by.as_deref().filter(|_| promoted),
        description: spec.description.as_deref(),
        changes: spec
            .changes
            .iter()
            .map(|c| ChangeOut {
                id: c.id.as_str(),
                change_type: c.change_type.as_str(),
                title: &c.title,
                description: c.description.as_deref(),
                assignee: c.assignee.as_deref(),
            })
            .collect(),
        pipeline_template: spec.pipeline_template.as_deref(),
    };
    serde_yaml_ng::to_string(&out).map_err(|e| CliError::error(format!("cannot render YAML: {e}")))
}

/// Config files: a mapping of key to scalar (strings, numbers and booleans accepted).
pub fn parse_config(path: &Path, text: &str) -> Result<BTreeMap<String, String>> {
    check_shape(path, text)?;
    if text.trim().is_empty() {
        return Ok(BTreeMap::new());
    }
    let value: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(text).map_err(|e| located(path, &e))?;
    let map = match value {
        serde_yaml_ng::Value::Null => return Ok(BTreeMap::new()),
        serde_yaml_ng::Value::Mapping(m) => m,
        _ => {
            return Err(CliError::error(format!(
                "{}: a config file must be a mapping of `key: value` lines",
                path.display()
            )))
        }
    };
    scalar_map(path, map)
}

/// A mapping of string keys to scalars (strings, numbers, booleans; null entries skipped).
fn scalar_map(path: &Path, map: serde_yaml_ng::Mapping) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for (k, v) in map {
        let key = match k {
            serde_yaml_ng::Value::String(s) => s,
            _ => {
                return Err(CliError::error(format!(
                    "{}: config keys must be strings",
                    path.display()
                )))
            }
        };
        let value = match v {
            serde_yaml_ng::Value::String(s) => s,
            serde_yaml_ng::Value::Number(n) => n.to_string(),
            serde_yaml_ng::Value::Bool(b) => b.to_string(),
            serde_yaml_ng::Value::Null => continue,
            _ => {
                return Err(CliError::error(format!(
                    "{}: the value of '{key}' must be a single value",
                    path.display()
                )))
            }
        };
        out.insert(key, value);
    }
    Ok(out)
}

/// The credentials file: legacy top-level `key: value` secrets, and `servers:`, a mapping
/// of server (normalised origin and base path) to that server's `key: value` credentials.
pub type Credentials = (
    BTreeMap<String, String>,
    BTreeMap<String, BTreeMap<String, String>>,
);

pub fn parse_credentials(path: &Path, text: &str) -> Result<Credentials> {
    check_shape(path, text)?;
    if text.trim().is_empty() {
        return Ok(Default::default());
    }
    let value: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(text).map_err(|e| located(path, &e))?;
    let map = match value {
        serde_yaml_ng::Value::Null => return Ok(Default::default()),
        serde_yaml_ng::Value::Mapping(m) => m,
        _ => {
            return Err(CliError::error(format!(
                "{}: the credentials file must be a mapping of `key: value` lines",
                path.display()
            )))
        }
    };
    let mut flat = serde_yaml_ng::Mapping::new();
    let mut servers = BTreeMap::new();
    for (k, v) in map {
        if k.as_str() != Some("servers") {
            flat.insert(k, v);
            continue;
        }
        let entries = match v {
            serde_yaml_ng::Value::Mapping(m) => m,
            serde_yaml_ng::Value::Null => continue,
            _ => {
                return Err(CliError::error(format!(
                    "{}: `servers` must map each server URL to its credentials",
                    path.display()
                )))
            }
        };
        for (server, creds) in entries {
            let (Some(server), serde_yaml_ng::Value::Mapping(creds)) = (server.as_str(), creds)
            else {
                return Err(CliError::error(format!(
                    "{}: `servers` must map each server URL to its credentials",
                    path.display()
                )));
            };
            servers.insert(server.to_string(), scalar_map(path, creds)?);
        }
    }
    Ok((scalar_map(path, flat)?, servers))
}

pub fn render_credentials(creds: &Credentials) -> Result<String> {
    let (flat, servers) = creds;
    let mut map = serde_yaml_ng::Mapping::new();
    for (k, v) in flat {
        map.insert(k.as_str().into(), v.as_str().into());
    }
    if !servers.is_empty() {
        let mut s = serde_yaml_ng::Mapping::new();
        for (server, creds) in servers {
            let mut c = serde_yaml_ng::Mapping::new();
            for (k, v) in creds {
                c.insert(k.as_str().into(), v.as_str().into());
            }
            s.insert(server.as_str().into(), serde_yaml_ng::Value::Mapping(c));
        }
        map.insert("servers".into(), serde_yaml_ng::Value::Mapping(s));
    }
    if map.is_empty() {
        return Ok(String::new());
    }
    serde_yaml_ng::to_string(&map).map_err(|e| CliError::error(format!("cannot render YAML: {e}")))
}

pub fn render_config(map: &BTreeMap<String, String>) -> Result<String> {
    if map.is_empty() {
        return Ok(String::new());
    }
    serde_yaml_ng::to_string(map).map_err(|e| CliError::error(format!("cannot render YAML: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_contract_loads() {
        let text = r#"
version: v2.0.0
description: "Q1 Major Release"
changes:
  - type: add
    id: FEAT-101
    title: "OAuth2 login"
    assignee: developer-a
  - type: fix
    id: BUG-50
    title: "Session timeout"
    description: null
    status: pending
    pipelines: []
"#;
        let spec = parse_generation(Path::new("v2.0.0.yaml"), text).unwrap();
        assert_eq!(spec.version, "v2.0.0");
        assert_eq!(spec.changes.len(), 2);
        assert_eq!(spec.changes[0].assignee.as_deref(), Some("developer-a"));
        let again = parse_generation(Path::new("x"), &render_generation(&spec).unwrap()).unwrap();
        assert_eq!(again, spec);
    }

    #[test]
    fn a_byte_order_mark_is_skipped_and_identity_fields_load() {
        let text = "\u{feff}version: v1.0.0\ngeneration_id: 04CC1257-9DD6-4FCB-93EE-3FB4B0767542\n\
                    status: promoted\npromoted_at: '2026-01-02T03:04:05Z'\npromoted_by: alice\n";
        let f = parse_contract(Path::new("v1.0.0.yaml"), text).unwrap();
        assert_eq!(f.spec.version, "v1.0.0");
        assert_eq!(
            f.identity.generation_id.as_deref(),
            Some("04cc1257-9dd6-4fcb-93ee-3fb4b0767542")
        );
        assert_eq!(f.identity.status, GenerationStatus::Promoted);
        let again = render_contract(&f.spec, &f.identity).unwrap();
        let back = parse_contract(Path::new("v1.0.0.yaml"), &again).unwrap();
        assert_eq!(back.identity, f.identity);
        assert_eq!(back.spec, f.spec);
        let cases = [
            (
                "version: v1.0.0\ngeneration_id: nope\n",
                "x.yaml:2:1:",
                "not a UUID",
            ),
            ("version: v1.0.0\nstatus: shipped\n", "x.yaml:2:1:", ""),
            (
                "version: v1.0.0\npromoted_by: bob\n",
                "x.yaml:2:1:",
                "promoted contract",
            ),
        ];
        for (text, prefix, needle) in cases {
            let e = parse_contract(Path::new("x.yaml"), text).unwrap_err();
            assert!(e.message.starts_with(prefix), "{text}: {}", e.message);
            assert!(e.message.contains(needle), "{text}: {}", e.message);
        }
    }

    #[test]
    fn deep_or_huge_files_are_refused_quickly() {
        let deep = format!(
            "version: v1.0.0\ndescription: {}{}\n",
            "[".repeat(20_000),
            "]".repeat(20_000)
        );
        let e = parse_generation(Path::new("x.yaml"), &deep).unwrap_err();
        assert!(e.message.contains("nested more than 64"), "{}", e.message);
        let huge = format!(
            "version: v1.0.0\ndescription: {}\n",
            "x".repeat(MAX_FILE_BYTES)
        );
        let e = parse_generation(Path::new("x.yaml"), &huge).unwrap_err();
        assert!(e.message.contains("larger than 1 MiB"), "{}", e.message);
        assert!(parse_config(Path::new("c"), &deep).is_err());
        // Brackets in ordinary text are fine.
        let ok = "version: v1.0.0\ndescription: \"[beta] {draft}\"\n";
        assert!(parse_generation(Path::new("x.yaml"), ok).is_ok());
    }

    #[test]
    fn errors_carry_location() {
        let cases = [
            (
                "version: v1.0.0\nchanges:\n  - id: feat-1\n    type: add\n    title: t\n",
                "x.yaml:3:",
                "Invalid change id",
            ),
            (
                "version: v1.0.0\nchanges:\n  - id: FEAT-1\n    type: feature\n    title: t\n",
                "x.yaml:4:",
                "Unknown change type",
            ),
            ("version: v1.0.0\nchanges: [\n", "x.yaml:", ""),
            (
                "version: v1.0.0\ncolour: red\n",
                "x.yaml:2:",
                "unknown field",
            ),
            ("changes: []\n", "x.yaml", "missing field `version`"),
        ];
        for (text, prefix, needle) in cases {
            let e = parse_generation(Path::new("x.yaml"), text).unwrap_err();
            assert!(e.message.starts_with(prefix), "{text}: {}", e.message);
            assert!(e.message.contains(needle), "{text}: {}", e.message);
        }
    }
}
