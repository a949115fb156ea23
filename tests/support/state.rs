//! What "nothing changed" compares: a workspace's [`State`], read through gryt itself and
//! from disk.
//!
//! - [`Workspace::snapshot`] (local repositories): every generation's and evolution's
//!   `show --json`, both listings, the git tags, and every file under `.gryt/`.
//! - [`Workspace::state`] (synced repositories): the listings and `sync status` read with the
//!   cloud out of reach, every database row but the sync history, and every entry under
//!   `.gryt/`.

use super::files;
use super::workspace::Workspace;
use std::collections::{BTreeMap, BTreeSet};

pub struct State {
    pub views: BTreeMap<String, String>,
    pub rows: BTreeMap<String, Vec<String>>,
    pub files: BTreeMap<String, Vec<u8>>,
}

impl State {
    /// A readable account of what differs between two states, or `None`.
    pub fn diff(&self, after: &State) -> Option<String> {
        let mut d = Vec::new();
        let keys: BTreeSet<&String> = self.views.keys().chain(after.views.keys()).collect();
        for k in keys {
            let (a, b) = (self.views.get(k), after.views.get(k));
            if a != b {
                d.push(format!(
                    "view `{k}` changed:\n--- before:\n{}\n--- after:\n{}",
                    a.map_or("(absent)", |s| s),
                    b.map_or("(absent)", |s| s)
                ));
            }
        }
        // The tables of the state before: a table only the later state has is not a change.
        let empty = Vec::new();
        for (t, old) in &self.rows {
            let new = after.rows.get(t).unwrap_or(&empty);
            for r in old.iter().filter(|r| !new.contains(r)) {
                d.push(format!("table {t}: row gone or changed: {r}"));
            }
            for r in new.iter().filter(|r| !old.contains(r)) {
                d.push(format!("table {t}: row new or changed: {r}"));
            }
        }
        let keys: BTreeSet<&String> = self.files.keys().chain(after.files.keys()).collect();
        for k in keys {
            let (a, b) = (self.files.get(k), after.files.get(k));
            if a != b {
                d.push(format!(
                    "file .gryt/{k} changed:\n--- before:\n{}\n--- after:\n{}",
                    a.map_or("(absent)".into(), |s| String::from_utf8_lossy(s)),
                    b.map_or("(absent)".into(), |s| String::from_utf8_lossy(s))
                ));
            }
        }
        (!d.is_empty()).then(|| d.join("\n"))
    }

    /// Panics with the differences, naming `what` (the command that ran in between).
    #[track_caller]
    pub fn assert_same(&self, after: &State, what: &str) {
        if let Some(d) = self.diff(after) {
            panic!("the workspace changed:\n{d}\nafter:\n{what}");
        }
    }
}

impl Workspace {
    /// Everything a local command could change: the generation and evolution listings,
    /// every generation's and evolution's `show --json` (with its runs), every file under
    /// `.gryt/` but the database, and the git tags.
    pub fn snapshot(&self) -> State {
        let mut views = BTreeMap::new();
        let list = self.run(&["generation", "list", "--json"]);
        list.clean();
        for g in list.json()["generations"].as_array().expect("generations") {
            let v = g["version"].as_str().expect("version").to_string();
            let show = self.run(&["generation", "show", &v, "--json"]);
            show.clean();
            views.insert(format!("generation show {v}"), show.stdout.clone());
        }
        views.insert("generation list".into(), list.stdout.clone());
        let evs = self.run(&["evolution", "list", "--json"]);
        evs.clean();
        for e in evs.json()["evolutions"].as_array().expect("evolutions") {
            let id = e["evolution_id"].as_str().expect("id").to_string();
            let show = self.run(&["evolution", "show", &id, "--json"]);
            show.clean();
            views.insert(format!("evolution show {id}"), show.stdout.clone());
        }
        views.insert("evolution list".into(), evs.stdout.clone());
        if self.root().join(".git").exists() {
            views.insert("git tags".into(), self.git(&["tag", "-l"]));
        }
        State {
            views,
            rows: BTreeMap::new(),
            files: self.files(),
        }
    }

    /// Every file under `.gryt/` except the database and its journals, with its bytes.
    pub fn files(&self) -> BTreeMap<String, Vec<u8>> {
        let mut tree = files::tree_of(&self.gryt_dir());
        tree.retain(|k, _| !k.ends_with('/'));
        tree
    }

    /// Runs `args`, expects the error (see [`super::Out::err`]), and checks with
    /// [`Workspace::snapshot`] that nothing changed.
    #[track_caller]
    pub fn refused(&self, args: &[&str], code: i32, needles: &[&str]) -> super::Out {
        let before = self.snapshot();
        let out = self.run(args);
        out.err(code, needles);
        let after = self.snapshot();
        before.assert_same(&after, &format!("{out:?}"));
        out
    }

    /// What the user can see and what sync keeps: `generation list`, `evolution list` and
    /// `sync status` (minus what depends on the clock or the server), read with the cloud
    /// out of reach; plus the database rows (every table but the sync history) and every
    /// entry under `.gryt/` (but the database files).
    pub fn state(&self) -> State {
        let quiet = [("GRYT_URL", super::DEAD_URL), ("GRYT_HTTP_ATTEMPTS", "1")];
        let mut views = BTreeMap::new();
        for args in [
            &["generation", "list", "--json"][..],
            &["evolution", "list", "--json"],
        ] {
            let out = self.run_env(args, &quiet);
            out.ok();
            views.insert(args.join(" "), out.stdout.clone());
        }
        let out = self.run_env(&["sync", "status", "--json"], &quiet);
        assert!(out.code == 0 || out.code == 3, "sync status\n{out:?}");
        let mut st = out.json();
        if let Some(m) = st.as_object_mut() {
            for k in ["cloud", "head", "offline", "behind", "freshness"] {
                m.remove(k);
            }
        }
        views.insert("sync status".into(), format!("{st:#}"));
        State {
            views,
            rows: self.rows(),
            files: files::tree_of(&self.gryt_dir()),
        }
    }

    /// The database rows and the entries under `.gryt/` only (for cases where the CLI
    /// itself refuses to start).
    pub fn raw_state(&self) -> State {
        State {
            views: BTreeMap::new(),
            rows: self.rows(),
            files: files::tree_of(&self.gryt_dir()),
        }
    }

    /// Every row of every table but the sync history; an unreadable database is recorded
    /// as its error (so a case that breaks the database file still compares).
    fn rows(&self) -> BTreeMap<String, Vec<String>> {
        match self.try_rows() {
            Ok(rows) => rows,
            Err(e) => BTreeMap::from([("(unreadable)".to_string(), vec![e.to_string()])]),
        }
    }

    fn try_rows(&self) -> rusqlite::Result<BTreeMap<String, Vec<String>>> {
        let conn = rusqlite::Connection::open_with_flags(
            self.db(),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )?;
        let tables: Vec<String> = conn
            .prepare(
                "SELECT name FROM sqlite_master WHERE type = 'table' \
                 AND name NOT IN ('sync_log', 'sqlite_sequence') ORDER BY name",
            )?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let mut out = BTreeMap::new();
        for t in tables {
            let mut stmt = conn.prepare(&format!("SELECT * FROM \"{t}\""))?;
            let n = stmt.column_count();
            let mut rows: Vec<String> = stmt
                .query_map([], |r| {
                    let mut cells = Vec::with_capacity(n);
                    for i in 0..n {
                        let v: rusqlite::types::Value = r.get(i)?;
                        cells.push(format!("{v:?}"));
                    }
                    Ok(cells.join(" | "))
                })?
                .collect::<rusqlite::Result<_>>()?;
            rows.sort();
            out.insert(t, rows);
        }
        Ok(out)
    }
}
