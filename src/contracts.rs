//! Contract files (`.gryt/generations/vX.Y.Z.yaml`) as the committed view of the database:
//! building the database of a fresh clone from them, and taking in hand edits before a pull
//! may rewrite a file. See docs/cli.md "Contract files" and docs/sync.md.

use crate::error::{CliError, Kind, Result};
use crate::repo::Repo;
use crate::store::{self, GenerationRecord, Store};
use crate::ui::Ui;
use crate::yaml::ContractFile;
use gryt_core::{GenerationSpec, GenerationStatus, Version};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The contract files in `.gryt/generations/` (`*.yaml`, not hidden), sorted by name.
pub fn contract_files(repo: &Repo) -> Result<Vec<PathBuf>> {
    let dir = repo.generations_dir();
    if !dir.exists() {
        return Ok(Vec::new());
    }
    repo.check_generations_dir()?;
    let entries = std::fs::read_dir(&dir)
        .map_err(|e| CliError::io(format!("cannot read {}", dir.display()), e))?;
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".yaml") && !name.starts_with('.') {
            out.push(entry.path());
        }
    }
    out.sort();
    Ok(out)
}

/// The file name's version (`v1.2.0` of `v1.2.0.yaml`).
pub fn stem_of(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
        .trim_end_matches(".yaml")
        .to_string()
}

/// Reads and checks one contract file: it parses, its contract keeps the rules, and the
/// version it declares is the one its name says.
pub fn read_contract(path: &Path, bytes: &[u8]) -> Result<ContractFile> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        CliError::error(format!(
            "{}: the file is not UTF-8 text (invalid byte at offset {})",
            path.display(),
            e.valid_up_to()
        ))
    })?;
    let mut file = crate::yaml::parse_contract(path, text)?;
    let version = file.spec.validate().map_err(|e| {
        let g: CliError = e.into();
        CliError::error(format!("{}: {}", path.display(), g.message))
    })?;
    let stem = stem_of(path);
    if version.to_string() != stem {
        return Err(CliError::error(format!(
            "{}:1:1: the contract declares version {} but its file name says {stem}",
            path.display(),
            file.spec.version
        ))
        .hint(format!(
            "set `version: {stem}` in the file, or name the file {version}.yaml"
        )));
    }
    file.spec.version = version.to_string();
    Ok(file)
}

/// `git -C root ...` that never prompts; `None` when git is missing or fails.
fn git_output(root: &Path, args: &[&str]) -> Option<std::process::Output> {
    Command::new("git")
        .arg("-C")
        .arg(root)
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()
}

/// The path of `path` relative to `root`, for git (`./` + components).
fn rel(root: &Path, path: &Path) -> Option<String> {
    path.strip_prefix(root)
        .ok()
        .map(|p| format!("./{}", p.to_string_lossy()))
}

/// The bytes of `path` as committed in git HEAD, when the repository root is inside a git
/// work tree and HEAD has the file.
pub fn committed_copy(root: &Path, path: &Path) -> Option<Vec<u8>> {
    let rel = rel(root, path)?;
    let out = git_output(root, &["show", &format!("HEAD:{rel}")])?;
    out.status.success().then_some(out.stdout)
}

/// Whether git tracks `path` (its index lists it).
pub fn tracked_by_git(root: &Path, path: &Path) -> bool {
    let Some(rel) = rel(root, path) else {
        return false;
    };
    git_output(root, &["ls-files", "--error-unmatch", "--", &rel])
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// Refuses a database that git tracks: a committed `gryt.db` carries someone else's pending
/// work and sync state, which must never be pushed under this workspace's credentials.
pub fn refuse_committed_database(repo: &Repo) -> Result<()> {
    let db = repo.db_path();
    if tracked_by_git(&repo.root, &db) {
        return Err(CliError::error(format!(
            "{} is tracked by git; a committed database is never trusted, nothing was synced",
            db.display()
        ))
        .hint(
            "untrack it (`git rm --cached .gryt/gryt.db` and commit), then move the file away: \
             gryt rebuilds the database from the committed contracts",
        ));
    }
    Ok(())
}

/// The record a committed contract file becomes in a fresh database, and the base it was
/// committed with (what the last sync wrote into the committed file).
struct Loaded {
    rec: GenerationRecord,
    base: Option<gryt_core::merge::GenerationContent>,
    bytes: Vec<u8>,
}

fn record_of(
    spec: GenerationSpec,
    id: &crate::yaml::Identity,
    now: &str,
    user: &str,
) -> GenerationRecord {
    GenerationRecord {
        generation_id: id
            .generation_id
            .clone()
            .unwrap_or_else(crate::context::new_uuid),
        version: spec.version,
        description: spec.description,
        status: id.status,
        changes: spec.changes,
        pipeline_template: spec.pipeline_template,
        created_at: now.to_string(),
        created_by: Some(user.to_string()),
        promoted_at: id.promoted_at.clone(),
        promoted_by: id.promoted_by.clone(),
        updated_at: now.to_string(),
        remote_id: None,
        sync_status: "not_synced".into(),
        last_synced_at: None,
        sync_error: None,
        rev: 0,
    }
}

/// Loads one committed contract file for a fresh database. A file with a `generation_id`
/// keeps that identity, and its committed copy (git HEAD's, else the file itself) becomes
/// the base its first pull merges from; a working copy that differs from HEAD counts as a
/// local edit. A promoted committed copy is final: the record is HEAD's copy.
fn load_one(repo: &Repo, path: &Path, now: &str, user: &str) -> Result<Loaded> {
    let bytes = std::fs::read(path)
        .map_err(|e| CliError::io(format!("cannot read {}", path.display()), e))?;
    let file = read_contract(path, &bytes)?;
    let head = committed_copy(&repo.root, path)
        .filter(|h| *h != bytes)
        .and_then(|h| read_contract(path, &h).ok());
    let (spec, identity, base_spec) = match head {
        Some(h) if h.identity.status == GenerationStatus::Promoted => {
            (h.spec.clone(), h.identity.clone(), Some(h.spec))
        }
        Some(h) if h.identity.generation_id == file.identity.generation_id => {
            (file.spec, file.identity, Some(h.spec))
        }
        _ => (file.spec.clone(), file.identity, Some(file.spec)),
    };
    let rec = record_of(spec, &identity, now, user);
    let base = match (&identity.generation_id, base_spec) {
        (Some(_), Some(b)) => Some(gryt_core::merge::GenerationContent {
            version: b.version,
            description: b.description,
            pipeline_template: b.pipeline_template,
            status: identity.status,
            changes: b.changes,
        }),
        _ => None,
    };
    Ok(Loaded { rec, base, bytes })
}

/// Creates the database of a workspace whose `.gryt/` exists without one (a fresh clone):
/// one transaction creates the schema and loads every committed contract. A contract file
/// that cannot be loaded is named in a warning and left for `gryt generation update`.
pub fn create_database(repo: &Repo, now: &str, user: &str, ui: &Ui) -> Result<Store> {
    let mut loaded = Vec::new();
    for path in contract_files(repo)? {
        match load_one(repo, &path, now, user) {
            Ok(l) => loaded.push(l),
            Err(e) => ui.warn(&format!(
                "{} (not loaded; fix it and run `gryt generation update {}`)",
                e.message,
                stem_of(&path)
            )),
        }
    }
    let store = Store::create_with(&repo.db_path(), |tx| {
        for l in &loaded {
            if store::get_generation(tx, &l.rec.version)?.is_some() {
                continue;
            }
            let taken = store::generation_id_taken(tx, &l.rec.generation_id)?;
            let mut rec = l.rec.clone();
            if taken {
                // Two files carry the same identity (one was copied): the second is a new
                // draft of its own.
                rec.generation_id = crate::context::new_uuid();
            }
            store::insert_generation(tx, &rec)?;
            if let (Some(base), false) = (&l.base, taken) {
                let base = serde_json::to_string(base).unwrap_or_default();
                store::set_base_json(tx, &rec.generation_id, &base)?;
            }
            store::note_contract_file(tx, &rec.version, &l.bytes, now)?;
        }
        Ok(())
    })?;
    Ok(store)
}

/// Takes in contract files edited by hand since gryt last wrote them, before a pull merges
/// the server's copies: each becomes a local edit of its draft, so the pull's three-way
/// merge keeps both the teammate's edit and this one, and the file is never overwritten
/// with a copy that lacks it. A file that cannot be read, or that edits a promoted
/// contract, stops the pull (exit 3) and is left as it is. Returns the versions taken in.
pub fn absorb_file_edits(repo: &Repo, store: &mut Store, now: &str) -> Result<Vec<String>> {
    let files = contract_files(repo)?;
    if files.is_empty() {
        return Ok(Vec::new());
    }
    let tx = store.write()?;
    let mut absorbed = Vec::new();
    for path in files {
        let stem = stem_of(&path);
        if Version::parse(&stem).map(|v| v.to_string()).ok().as_deref() != Some(stem.as_str()) {
            continue;
        }
        let Some(rec) = store::get_generation(&tx, &stem)? else {
            // Not in the database: `gryt generation update` loads it; a pull leaves it be.
            continue;
        };
        let path = repo.contract_file_for_read(&stem)?;
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        if store::contract_file_hash(&tx, &stem)?.as_deref() == Some(&store::file_hash(&bytes)) {
            continue;
        }
        let stop = |e: CliError| {
            CliError::new(
                Kind::Attention,
                format!(
                    "{} was edited and cannot be taken in: {}; the sync stopped and left the file as it is",
                    path.display(),
                    e.message
                ),
            )
            .hint(format!(
                "fix the file (`gryt check` shows where) and sync again, or restore gryt's copy with `gryt generation export {stem}`"
            ))
        };
        let file = read_contract(&path, &bytes).map_err(stop)?;
        if let Some(id) = &file.identity.generation_id {
            if *id != rec.generation_id {
                return Err(stop(CliError::error(format!(
                    "its generation_id {id} is not the one of {stem} here ({})",
                    rec.generation_id
                ))));
            }
        }
        let same = file.spec == rec.spec();
        if rec.status == GenerationStatus::Promoted {
            if !same {
                return Err(stop(CliError::error(format!(
                    "{stem} is promoted, and a promoted contract never changes"
                ))));
            }
        } else if file.identity.status == GenerationStatus::Promoted {
            return Err(stop(CliError::error(
                "it says `status: promoted`, but only `gryt promote` promotes",
            )));
        } else if !same {
            store::update_generation_spec(&tx, &rec.generation_id, &file.spec, now)?;
            absorbed.push(stem.clone());
        }
        store::note_contract_file(&tx, &stem, &bytes, now)?;
    }
    tx.commit()?;
    Ok(absorbed)
}

/// Whether the contract file of `version` still holds what gryt last wrote (or does not
/// exist): only then may a pull rewrite it.
pub fn file_is_gryts(conn: &rusqlite::Connection, repo: &Repo, version: &str) -> Result<bool> {
    let path = repo.generation_file(version);
    let Ok(bytes) = std::fs::read(&path) else {
        return Ok(true);
    };
    Ok(store::contract_file_hash(conn, version)?.as_deref() == Some(&store::file_hash(&bytes)))
}
