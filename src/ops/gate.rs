//! The promotion gate as the CLI evaluates it: proofs from evolutions, the work tree
//! state and the commit the gate is checked at.

use super::*;

pub fn proofs(evolutions: &[EvolutionRecord]) -> Vec<Proof> {
    evolutions
        .iter()
        .map(|e| Proof {
            evolution_id: e.evolution_id.clone(),
            change_id: e.change_id.clone(),
            rc: e.rc,
            owner: e.owner.clone(),
            status: e.status,
            commit: e.commit.clone(),
            dirty: e.dirty,
            fingerprint: e.fingerprint.clone(),
        })
        .collect()
}

/// Where the work tree stands: the commit checked out (`None` outside git or before the first
/// commit) and whether it has uncommitted changes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TreeState {
    pub commit: Option<String>,
    pub dirty: bool,
}

/// gryt's own directory does not make a tree dirty: gryt rewrites its contracts itself (a
/// promotion, a pull), and its database and local files are git-ignored anyway.
pub(super) const NOT_DIRT: [&str; 1] = [".gryt"];

/// The state of the work tree holding `repo`.
pub fn tree_state(repo: &Repo) -> Result<TreeState> {
    let Some(commit) = crate::git::head_commit(&repo.root) else {
        return Ok(TreeState::default());
    };
    let dirty = crate::git::is_dirty(&repo.root, &NOT_DIRT)
        .map_err(|e| CliError::git(format!("{e:#}"), e))?;
    Ok(TreeState {
        commit: Some(commit),
        dirty,
    })
}

/// What the gate checks against for `commit`: which of the proofs' commits are it or its
/// ancestors (asked of git once per distinct commit).
pub fn target_of(repo: &Repo, commit: Option<&str>, evs: &[EvolutionRecord]) -> Target {
    let Some(head) = commit else {
        return Target::none();
    };
    let mut reachable = std::collections::BTreeSet::new();
    let mut seen = std::collections::BTreeSet::new();
    for c in evs.iter().filter_map(|e| e.commit.as_deref()) {
        if seen.insert(c) && crate::git::is_ancestor(&repo.root, c, head) {
            reachable.insert(c.to_string());
        }
    }
    Target {
        commit: Some(head.to_string()),
        reachable,
    }
}

/// The gate of a generation against the commit checked out now (inside git) or under the
/// newest-proof rule (outside git). An evolution the server refused (sync status `conflict`)
/// is no proof: it is left out until `gryt sync resolve` settles it.
pub fn gate_of(
    repo: &Repo,
    conn: &Connection,
    rec: &GenerationRecord,
) -> Result<(Vec<EvolutionRecord>, GateReport)> {
    let head = crate::git::head_commit(&repo.root);
    gate_at(repo, conn, rec, head.as_deref())
}

/// The gate of a generation against `commit` (`None`: the newest-proof rule).
pub fn gate_at(
    repo: &Repo,
    conn: &Connection,
    rec: &GenerationRecord,
    commit: Option<&str>,
) -> Result<(Vec<EvolutionRecord>, GateReport)> {
    let evs = store::list_evolutions(conn, Some(&rec.generation_id))?;
    let counted: Vec<EvolutionRecord> = evs
        .iter()
        .filter(|e| !refused_by_server(e))
        .cloned()
        .collect();
    let target = target_of(repo, commit, &counted);
    let report = core_gate(&rec.spec(), &proofs(&counted), &target);
    Ok((evs, report))
}

/// Whether the server refused this evolution (it is then no proof).
pub fn refused_by_server(e: &EvolutionRecord) -> bool {
    e.sync_status == "conflict"
}

/// `report.check()`, with the real cause in the hint when an unproven change has an
/// evolution that passed here but was refused by the server.
pub fn check_gate(evs: &[EvolutionRecord], report: &GateReport) -> Result<()> {
    let Err(e) = report.check() else {
        return Ok(());
    };
    let unproven = report.unproven();
    let refused: Vec<&EvolutionRecord> = evs
        .iter()
        .filter(|e| refused_by_server(e) && unproven.contains(&e.change_id.as_str()))
        .collect();
    let err: CliError = e.into();
    match refused.first() {
        None => Err(err),
        Some(first) => Err(err.hint(format!(
            "{} of {} is recorded as {} here, but the server refused it, so it is no proof (`gryt sync status` shows why); \
             settle it with `gryt sync resolve {} --theirs`, then prove {} with `gryt evolution start {} --change {}`",
            first.tag,
            first.change_id,
            first.status,
            first.version,
            first.change_id,
            first.version,
            first.change_id
        ))),
    }
}
