//! The model-based test: a seeded generator drives 2 to 4 client workspaces (the real
//! `gryt` binary, hybrid mode, one team) against one real server, with random edits,
//! evolutions, promotions, deletions, pulls and pushes, plus faults: `kill -9` of a pull
//! (or push) mid-way and answers lost after the server committed. A three-way model is
//! kept: the server (read over HTTP), each client (its database and `--json` outputs) and
//! the expectations (which edits are alive, what was promoted). Invariants are checked
//! after every step; at the end everyone syncs until quiet and all must agree.
//!
//! Edits are tracked as tokens: every added change has a fresh id and every description a
//! fresh text. A token dies only by a user's explicit act that saw it (remove-change, a
//! new description over it, deleting its generation, `sync resolve --ours/--theirs`); a
//! live token must always be on the server or in some workspace's pending or conflicting
//! copy of its generation.

use super::rig::{integrity, kill9, start_cloud, Cloud, Dev, LocalGen, LocalView, ServerView};
use super::rng::Rng;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

const NAMES: [&str; 4] = ["alice", "bob", "carol", "dave"];
const VERSIONS: u64 = 4;
const VERSION_TAKEN: &str = "version exists in the cloud";

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Token {
    Change(String),
    Desc(String),
}

#[derive(Debug, Clone)]
struct Tok {
    gen: String,
    /// The workspaces whose users removed or replaced it (having seen it).
    killers: BTreeSet<usize>,
}

impl Tok {
    fn alive(&self) -> bool {
        self.killers.is_empty()
    }
}

#[derive(Debug, Clone)]
struct Evo {
    owner: usize,
    gen: String,
    status: String,
    killed: bool,
}

/// What a promoted record looked like when first seen; it must never change.
#[derive(Debug, Clone, PartialEq)]
struct Frozen {
    version: String,
    description: Option<String>,
    changes: Vec<String>,
    promoted_by: Option<String>,
    evolutions: Vec<(String, i64, String)>,
}

/// A promoted record as one workspace holds it: version, description, change ids.
type LocalFrozen = (String, Option<String>, Vec<String>);

#[derive(Debug, Default, Clone, Copy)]
pub struct Stats {
    pub cases: u64,
    pub steps: u64,
    pub commands: u64,
    pub kills: u64,
    pub crashes: u64,
    pub lost: u64,
    pub conflicts_resolved: u64,
    pub promotions: u64,
    pub orphans: u64,
}

impl Stats {
    pub fn add(&mut self, o: &Stats) {
        self.cases += o.cases;
        self.steps += o.steps;
        self.commands += o.commands;
        self.kills += o.kills;
        self.crashes += o.crashes;
        self.lost += o.lost;
        self.conflicts_resolved += o.conflicts_resolved;
        self.promotions += o.promotions;
        self.orphans += o.orphans;
    }
}

struct Model<'a> {
    rng: Rng,
    cloud: &'a Cloud,
    devs: &'a [Dev],
    tokens: BTreeMap<Token, Tok>,
    evos: BTreeMap<String, Evo>,
    frozen_server: BTreeMap<String, Frozen>,
    frozen_local: BTreeMap<(usize, String), LocalFrozen>,
    counter: u64,
    log: Vec<String>,
    stats: Stats,
}

type Check = Result<(), String>;

fn tokens_of_local(g: &LocalGen) -> BTreeSet<Token> {
    let mut s: BTreeSet<Token> = g.changes.iter().map(|c| Token::Change(c.clone())).collect();
    if let Some(d) = &g.description {
        s.insert(Token::Desc(d.clone()));
    }
    s
}

fn tokens_of_wire(g: &gryt_core::api::Generation) -> BTreeSet<Token> {
    let mut s: BTreeSet<Token> = g
        .changes
        .iter()
        .map(|c| Token::Change(c.id.clone()))
        .collect();
    if let Some(d) = &g.description {
        s.insert(Token::Desc(d.clone()));
    }
    s
}

fn wire_changes(g: &gryt_core::api::Generation) -> Vec<String> {
    let mut v: Vec<String> = g.changes.iter().map(|c| c.id.clone()).collect();
    v.sort();
    v
}

impl<'a> Model<'a> {
    fn note(&mut self, line: String) {
        self.log.push(line);
    }

    fn fresh(&mut self) -> u64 {
        self.counter += 1;
        self.counter
    }

    fn run(&mut self, c: usize, args: &[&str]) -> super::rig::Out {
        self.stats.commands += 1;
        let out = self.devs[c].run(args);
        let first_err = out
            .stderr
            .lines()
            .find(|l| l.starts_with("Error"))
            .unwrap_or("")
            .to_string();
        self.note(format!(
            "  {}$ gryt {} -> {} {}",
            self.devs[c].name,
            args.join(" "),
            out.code,
            first_err
        ));
        out
    }

    fn fail(&self, seed: u64, what: &str) -> String {
        let keep = if std::env::var_os("GRYT_MODEL_FULL_LOG").is_some() {
            usize::MAX
        } else {
            60
        };
        let tail: Vec<&String> = self
            .log
            .iter()
            .rev()
            .take(keep)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        format!(
            "model seed {seed}: {what}\n--- last steps:\n{}",
            tail.iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join("\n")
        )
    }

    fn kill_tokens(&mut self, c: usize, gen: &str, which: &BTreeSet<Token>) {
        for t in which {
            if let Some(tok) = self.tokens.get_mut(t) {
                if tok.gen == gen {
                    tok.killers.insert(c);
                }
            }
        }
    }

    /// Workspace `c` keeps `which`: its own removals of them are undone; with `all`
    /// (keeping its copy over the server's), everyone's are.
    fn revive_tokens(&mut self, c: usize, gen: &str, which: &BTreeSet<Token>, all: bool) {
        for t in which {
            if let Some(tok) = self.tokens.get_mut(t) {
                if tok.gen == gen {
                    if all {
                        tok.killers.clear();
                    } else {
                        tok.killers.remove(&c);
                    }
                }
            }
        }
    }

    fn drafts(&self, v: &LocalView) -> Vec<LocalGen> {
        v.gens
            .values()
            .filter(|g| g.status == "draft")
            .cloned()
            .collect()
    }

    // ------------------------------------------------------------------ actions

    fn step(&mut self, c: usize) -> Result<(), String> {
        let view = self.devs[c].view();
        let drafts = self.drafts(&view);
        let conflicts: Vec<LocalGen> = view
            .gens
            .values()
            .filter(|g| g.sync_status == "conflict")
            .cloned()
            .collect();
        //            new add rem desc start compl prove prom del pull push resolve rename crash lost crashpush
        let me = &self.devs[c].name;
        let free =
            (0..VERSIONS).any(|i| !view.gens.values().any(|g| g.version == format!("v1.{i}.0")));
        let d = !drafts.is_empty();
        let ch = drafts.iter().any(|g| !g.changes.is_empty());
        let open = view.evos.values().any(|e| {
            &e.owner == me
                && (e.status == "pending" || e.status == "running")
                && view
                    .gens
                    .get(&e.generation_id)
                    .is_some_and(|g| g.status == "draft")
        });
        let on = |cond: bool, w: u64| if cond { w } else { 0 };
        let weights = [
            on(free, 7),
            on(d, 12),
            on(ch, 4),
            on(d, 6),
            on(ch, 4),
            on(open, 5),
            on(ch, 5),
            on(d, 9),
            on(d, 3),
            11,
            11,
            on(!conflicts.is_empty(), 8),
            on(d && free, 2),
            5,
            5,
            2,
        ];
        match self.rng.weighted(&weights) {
            0 => self.act_new(c, &view),
            1 => self.act_add_change(c, &view),
            2 => self.act_remove_change(c, &drafts),
            3 => self.act_edit_description(c, &drafts),
            4 => self.act_start(c, &drafts).map(|_| ()),
            5 => self.act_complete(c, &view, None),
            6 => {
                // Prove: start an evolution and pass it at once.
                match self.act_start(c, &drafts)? {
                    Some(id) => {
                        let v = self.devs[c].view();
                        self.act_complete(c, &v, Some(id))
                    }
                    None => Ok(()),
                }
            }
            7 => self.act_promote(c, &view, false),
            8 => self.act_delete(c, &drafts),
            9 => {
                let out = self.run(c, &["sync", "pull"]);
                expect_code(&out, &[0, 3])
            }
            10 => {
                let out = self.run(c, &["sync", "push"]);
                expect_push(&out)
            }
            11 => self.act_resolve(c, &conflicts),
            12 => self.act_rename(c, &drafts, &view),
            13 => self.act_crash(c, "pull"),
            14 => self.act_lost(c, &view),
            _ => self.act_crash(c, "push"),
        }
    }

    fn pool_version(&mut self, view: &LocalView) -> Option<String> {
        let free: Vec<String> = (0..VERSIONS)
            .map(|i| format!("v1.{i}.0"))
            .filter(|v| !view.gens.values().any(|g| &g.version == v))
            .collect();
        self.rng.pick(&free).cloned()
    }

    fn act_new(&mut self, c: usize, view: &LocalView) -> Check {
        let Some(v) = self.pool_version(view) else {
            return Ok(());
        };
        let d = format!("D{}", self.fresh());
        let out = self.run(c, &["generation", "new", &v, "-d", &d, "--json"]);
        expect_code(&out, &[0])?;
        let json = out
            .try_json()
            .ok_or("generation new --json printed no JSON")?;
        let id = json["generation"]["generation_id"]
            .as_str()
            .ok_or("no generation_id")?
            .to_string();
        self.tokens.insert(
            Token::Desc(d),
            Tok {
                gen: id,
                killers: BTreeSet::new(),
            },
        );
        Ok(())
    }

    fn act_add_change(&mut self, c: usize, view: &LocalView) -> Check {
        let all: Vec<&LocalGen> = view.gens.values().collect();
        let promoted: Vec<&LocalGen> = all
            .iter()
            .copied()
            .filter(|g| g.status == "promoted")
            .collect();
        let target = if !promoted.is_empty() && self.rng.chance(1, 8) {
            self.rng.pick(&promoted).copied().cloned()
        } else {
            let d: Vec<&LocalGen> = all
                .iter()
                .copied()
                .filter(|g| g.status == "draft")
                .collect();
            self.rng.pick(&d).copied().cloned()
        };
        let Some(g) = target else { return Ok(()) };
        let id = format!("FEAT-{}", self.fresh());
        let out = self.run(
            c,
            &[
                "generation",
                "add-change",
                &g.version,
                "--id",
                &id,
                "--type",
                "add",
                "--title",
                "Model change",
            ],
        );
        if g.status == "promoted" {
            expect_code(&out, &[1])?;
            let after = self.devs[c].view();
            if after.gens.get(&g.generation_id) != Some(&g) {
                return Err(format!(
                    "add-change on promoted {} changed it locally",
                    g.version
                ));
            }
            return Ok(());
        }
        expect_code(&out, &[0])?;
        self.tokens.insert(
            Token::Change(id),
            Tok {
                gen: g.generation_id,
                killers: BTreeSet::new(),
            },
        );
        Ok(())
    }

    fn act_remove_change(&mut self, c: usize, drafts: &[LocalGen]) -> Check {
        let with: Vec<&LocalGen> = drafts.iter().filter(|g| !g.changes.is_empty()).collect();
        let Some(g) = self.rng.pick(&with).copied().cloned() else {
            return Ok(());
        };
        let Some(ch) = self.rng.pick(&g.changes).cloned() else {
            return Ok(());
        };
        let out = self.run(c, &["generation", "remove-change", &g.version, &ch]);
        expect_code(&out, &[0])?;
        self.kill_tokens(c, &g.generation_id, &BTreeSet::from([Token::Change(ch)]));
        Ok(())
    }

    fn act_edit_description(&mut self, c: usize, drafts: &[LocalGen]) -> Check {
        let Some(g) = self.rng.pick(drafts).cloned() else {
            return Ok(());
        };
        let out = self.run(c, &["generation", "export", &g.version]);
        expect_code(&out, &[0])?;
        let path = self.devs[c].contract(&g.version);
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("read {}: {e}", path.display()))?;
        let mut y: serde_yaml_ng::Value =
            serde_yaml_ng::from_str(&text).map_err(|e| format!("contract YAML: {e}"))?;
        let d = format!("D{}", self.fresh());
        y["description"] = serde_yaml_ng::Value::String(d.clone());
        std::fs::write(
            &path,
            serde_yaml_ng::to_string(&y).map_err(|e| e.to_string())?,
        )
        .map_err(|e| e.to_string())?;
        let out = self.run(c, &["generation", "update", &g.version]);
        expect_code(&out, &[0])?;
        if let Some(old) = &g.description {
            self.kill_tokens(
                c,
                &g.generation_id,
                &BTreeSet::from([Token::Desc(old.clone())]),
            );
        }
        self.tokens.insert(
            Token::Desc(d),
            Tok {
                gen: g.generation_id,
                killers: BTreeSet::new(),
            },
        );
        Ok(())
    }

    fn act_start(&mut self, c: usize, drafts: &[LocalGen]) -> Result<Option<String>, String> {
        let with: Vec<&LocalGen> = drafts.iter().filter(|g| !g.changes.is_empty()).collect();
        let Some(g) = self.rng.pick(&with).copied().cloned() else {
            return Ok(None);
        };
        let Some(ch) = self.rng.pick(&g.changes).cloned() else {
            return Ok(None);
        };
        let out = self.run(
            c,
            &["evolution", "start", &g.version, "--change", &ch, "--json"],
        );
        expect_code(&out, &[0])?;
        let json = out
            .try_json()
            .ok_or("evolution start --json printed no JSON")?;
        let id = json["evolution"]["evolution_id"]
            .as_str()
            .ok_or("no evolution_id")?
            .to_string();
        self.evos.insert(
            id.clone(),
            Evo {
                owner: c,
                gen: g.generation_id,
                status: "pending".into(),
                killed: false,
            },
        );
        Ok(Some(id))
    }

    fn act_complete(&mut self, c: usize, view: &LocalView, which: Option<String>) -> Check {
        let me = &self.devs[c].name;
        let open: Vec<String> = view
            .evos
            .values()
            .filter(|e| &e.owner == me && (e.status == "pending" || e.status == "running"))
            .filter(|e| {
                view.gens
                    .get(&e.generation_id)
                    .is_some_and(|g| g.status == "draft")
            })
            .map(|e| e.evolution_id.clone())
            .collect();
        let Some(id) = which.or_else(|| self.rng.pick(&open).cloned()) else {
            return Ok(());
        };
        let status = if self.rng.chance(5, 6) {
            "pass"
        } else {
            "fail"
        };
        let out = self.run(c, &["evolution", "complete", &id, "--status", status]);
        // Recorded locally first; the automatic send may be refused (1), conflict (3) or
        // find the server unreachable (4) without undoing it.
        expect_code(&out, &[0, 1, 3, 4])?;
        let after = self.devs[c].view();
        let got = after.evos.get(&id).map(|e| e.status.clone());
        if got.as_deref() != Some(status) {
            return Err(format!(
                "evolution complete {id} --status {status} left it {got:?}\n{out:?}"
            ));
        }
        if let Some(e) = self.evos.get_mut(&id) {
            e.status = status.into();
        }
        Ok(())
    }

    /// Promotion; `lose` when the proxy is set to lose answers.
    fn act_promote(&mut self, c: usize, view: &LocalView, lose: bool) -> Check {
        // Prefer generations whose gate passes here.
        let ready: Vec<LocalGen> = self
            .drafts(view)
            .into_iter()
            .filter(|g| !g.changes.is_empty() && g.changes.iter().all(|ch| proven(view, g, ch)))
            .collect();
        let pick = if !ready.is_empty() && self.rng.chance(5, 6) {
            self.rng.pick(&ready).cloned()
        } else {
            let d = self.drafts(view);
            self.rng.pick(&d).cloned()
        };
        let Some(g) = pick else { return Ok(()) };
        if !lose && self.rng.chance(1, 2) {
            // A release: prove every change not yet proven here, then promote.
            for ch in g.changes.clone() {
                let v = self.devs[c].view();
                let here = v.gens.get(&g.generation_id).cloned().unwrap_or(g.clone());
                if proven(&v, &here, &ch) {
                    continue;
                }
                let out = self.run(
                    c,
                    &["evolution", "start", &g.version, "--change", &ch, "--json"],
                );
                expect_code(&out, &[0])?;
                let id = out
                    .try_json()
                    .and_then(|j| j["evolution"]["evolution_id"].as_str().map(String::from))
                    .ok_or("no evolution_id")?;
                self.evos.insert(
                    id.clone(),
                    Evo {
                        owner: c,
                        gen: g.generation_id.clone(),
                        status: "pending".into(),
                        killed: false,
                    },
                );
                let v = self.devs[c].view();
                self.act_complete(c, &v, Some(id))?;
            }
        }
        let out = self.run(c, &["promote", &g.version, "--no-tag"]);
        expect_code(&out, if lose { &[0, 1, 3, 4] } else { &[0, 1, 3] })?;
        if out.code == 0 {
            self.stats.promotions += 1;
            let after = self.devs[c].view();
            let local = after
                .gens
                .values()
                .find(|x| x.version == g.version)
                .ok_or("promoted generation vanished locally")?;
            if local.status != "promoted" {
                return Err(format!(
                    "promote exited 0 but {} is {} locally",
                    g.version, local.status
                ));
            }
            let server = self.cloud.view();
            let s = server.live_gen(&local.generation_id).ok_or_else(|| {
                format!("promote exited 0 but the server has no live {}", g.version)
            })?;
            if s.status != "promoted" {
                return Err(format!(
                    "promote exited 0 but the server's {} is {}",
                    g.version, s.status
                ));
            }
        }
        Ok(())
    }

    fn act_delete(&mut self, c: usize, drafts: &[LocalGen]) -> Check {
        let Some(g) = self.rng.pick(drafts).cloned() else {
            return Ok(());
        };
        let view = self.devs[c].view();
        let out = self.run(c, &["generation", "delete", &g.version]);
        expect_code(&out, &[0])?;
        self.kill_tokens(c, &g.generation_id, &tokens_of_local(&g));
        self.kill_own_evolutions(c, &view, &g.generation_id);
        Ok(())
    }

    fn kill_own_evolutions(&mut self, c: usize, view: &LocalView, gen: &str) {
        for e in view.evos.values().filter(|e| e.generation_id == gen) {
            if let Some(m) = self.evos.get_mut(&e.evolution_id) {
                if m.owner == c {
                    m.killed = true;
                }
            }
        }
    }

    fn act_rename(&mut self, c: usize, drafts: &[LocalGen], view: &LocalView) -> Check {
        let Some(g) = self.rng.pick(drafts).cloned() else {
            return Ok(());
        };
        let Some(v) = self.pool_version(view) else {
            return Ok(());
        };
        let out = self.run(c, &["generation", "rename", &g.version, &v]);
        expect_code(&out, &[0])
    }

    /// Settles one conflict with --ours or --theirs; returns whether it was settled.
    fn resolve(&mut self, c: usize, g: &LocalGen, theirs: bool) -> Result<bool, String> {
        let before = self.devs[c].view();
        let remote: Option<gryt_core::api::Generation> = g
            .conflict_json
            .as_deref()
            .and_then(|j| serde_json::from_str(j).ok());
        let side = if theirs { "--theirs" } else { "--ours" };
        let out = self.run(c, &["sync", "resolve", &g.version, side]);
        expect_code(&out, &[0, 1])?;
        let after = self.devs[c].view();
        if out.code != 0 {
            if after.gens.get(&g.generation_id) != before.gens.get(&g.generation_id) {
                return Err(format!(
                    "a refused `sync resolve {} {side}` changed the record",
                    g.version
                ));
            }
            return Ok(false);
        }
        self.stats.conflicts_resolved += 1;
        let local = tokens_of_local(g);
        let version_taken = g
            .conflict_kinds
            .as_deref()
            .is_some_and(|k| k.contains(VERSION_TAKEN));
        let remote_tokens = match (&remote, version_taken) {
            (Some(r), false) if !r.deleted => tokens_of_wire(r),
            _ => BTreeSet::new(),
        };
        if theirs {
            // A record the server has, renamed here onto a taken version: `--theirs` puts
            // it back to its last synced copy, keeping its evolutions, and the next pull
            // brings the server's copy.
            let comes_back = version_taken && g.remote_id.is_some();
            let kept = if comes_back {
                self.cloud
                    .view()
                    .live_gen(&g.generation_id)
                    .map(tokens_of_wire)
                    .unwrap_or_default()
            } else {
                after
                    .gens
                    .get(&g.generation_id)
                    .map(tokens_of_local)
                    .unwrap_or_default()
            };
            let gone: BTreeSet<Token> = local.difference(&kept).cloned().collect();
            self.kill_tokens(c, &g.generation_id, &gone);
            self.revive_tokens(c, &g.generation_id, &kept, false);
            if !after.gens.contains_key(&g.generation_id) && !comes_back {
                self.kill_own_evolutions(c, &before, &g.generation_id);
            }
            // `--theirs` also drops this record's proofs the server refused and never took:
            // orphans (their change removed, or the record promoted meanwhile), and proofs
            // refused before this workspace knew why (a proof sent for a draft the server
            // had promoted elsewhere, refused while the promotion was not pulled here).
            let refused_here = before
                .evos
                .values()
                .filter(|e| e.sync_status == "conflict")
                .map(|e| e.evolution_id.clone());
            let dropped: Vec<String> = orphans(&before)
                .into_iter()
                .chain(refused_here)
                .filter(|id| {
                    before.evos.get(id).is_some_and(|e| {
                        e.generation_id == g.generation_id && e.remote_id.is_none()
                    }) && !after.evos.contains_key(id)
                })
                .collect();
            for id in dropped {
                if let Some(m) = self.evos.get_mut(&id) {
                    if m.owner == c {
                        m.killed = true;
                    }
                }
            }
        } else {
            let gone: BTreeSet<Token> = remote_tokens.difference(&local).cloned().collect();
            self.kill_tokens(c, &g.generation_id, &gone);
            // Keeping ours reinstates what only ours has, over anyone's removal; what both
            // copies hold stays as others left it (a teammate's pending replacement of it,
            // made having seen it, still applies).
            let only_ours: BTreeSet<Token> = local.difference(&remote_tokens).cloned().collect();
            let both: BTreeSet<Token> = local.intersection(&remote_tokens).cloned().collect();
            self.revive_tokens(c, &g.generation_id, &only_ours, true);
            self.revive_tokens(c, &g.generation_id, &both, false);
        }
        Ok(true)
    }

    fn act_resolve(&mut self, c: usize, conflicts: &[LocalGen]) -> Check {
        let Some(g) = self.rng.pick(conflicts).cloned() else {
            return Ok(());
        };
        let theirs = self.rng.chance(1, 2);
        self.resolve(c, &g, theirs).map(|_| ())
    }

    /// `kill -9` of `gryt sync pull|push` mid-way: stalled by the proxy at a random request
    /// (before or after the server saw it), or at a random moment.
    fn act_crash(&mut self, c: usize, what: &str) -> Check {
        let dev = &self.devs[c];
        // Kills at a random time make outcomes depend on timing: only the long profile
        // uses them (GRYT_MODEL_TIMED_KILLS); CI kills while the proxy holds a request.
        let timed = std::env::var_os("GRYT_MODEL_TIMED_KILLS").is_some();
        let coin = self.rng.chance(1, 2);
        let stall = !timed || coin;
        let budget = self.rng.below(4) as i64;
        let before = self.rng.chance(1, 2);
        let delay = Duration::from_micros(self.rng.below(40_000));
        let stalls = dev.proxy.stalls();
        if stall {
            dev.proxy.stall_after(budget, before);
        }
        let mut child = dev.spawn(&["sync", what]);
        if stall {
            dev.proxy
                .wait_stalled(stalls, Duration::from_secs(20), &mut || {
                    matches!(child.try_wait(), Ok(Some(_)))
                });
        } else {
            std::thread::sleep(delay);
        }
        let crashed = kill9(&mut child);
        dev.proxy.heal();
        self.stats.kills += 1;
        self.stats.commands += 1;
        if crashed {
            self.stats.crashes += 1;
        }
        self.note(format!(
            "  {}$ gryt sync {what} (kill -9 {}; {})",
            dev.name,
            if stall {
                format!("stalled after {budget} answers, before={before}")
            } else {
                format!("after {delay:?}")
            },
            if crashed {
                "killed mid-way"
            } else {
                "had finished"
            }
        ));
        let ic = integrity(&dev.open_db());
        if ic != "ok" {
            return Err(format!("integrity_check after kill -9: {ic}"));
        }
        Ok(())
    }

    fn act_lost(&mut self, c: usize, view: &LocalView) -> Check {
        let n = self.rng.range(1, 3) as usize;
        let lost_before = self.devs[c].proxy.lost();
        self.devs[c].proxy.lose_post_answers(n);
        self.note(format!(
            "  (losing the next {n} POST answers of {})",
            self.devs[c].name
        ));
        let r = if self.rng.chance(1, 3) {
            self.act_promote(c, view, true)
        } else {
            let out = self.run(c, &["sync", "push"]);
            expect_code(&out, &[0, 1, 3, 4]).and_then(|()| {
                if out.code == 1 {
                    expect_push(&out)
                } else {
                    Ok(())
                }
            })
        };
        self.devs[c].proxy.heal();
        self.stats.lost += (self.devs[c].proxy.lost() - lost_before) as u64;
        r
    }

    // ------------------------------------------------------------------ invariants

    fn check(&mut self) -> Check {
        let server = self.cloud.view();
        let locals: Vec<LocalView> = self.devs.iter().map(|d| d.view()).collect();
        self.check_server(&server)?;
        self.check_promoted(&server, &locals)?;
        self.check_tokens(&server, &locals)?;
        self.check_evolutions(&server, &locals)?;
        for (i, l) in locals.iter().enumerate() {
            check_cursor(&self.devs[i].name, &server, l)?;
            check_local_rcs(&self.devs[i].name, l)?;
        }
        Ok(())
    }

    fn check_server(&self, s: &ServerView) -> Check {
        let mut uuids = BTreeSet::new();
        let mut ids = BTreeSet::new();
        let mut versions = BTreeSet::new();
        let mut promoted = BTreeSet::new();
        for g in &s.gens {
            if !uuids.insert(&g.generation_id) || !ids.insert(g.id) {
                return Err(format!(
                    "the server holds generation {} twice",
                    g.generation_id
                ));
            }
            if !g.deleted && !versions.insert(&g.version) {
                return Err(format!("the server holds version {} twice", g.version));
            }
            if g.status == "promoted" && !promoted.insert(&g.version) {
                return Err(format!(
                    "version {} promoted twice on the server",
                    g.version
                ));
            }
            if g.status == "promoted" && g.deleted {
                return Err(format!("promoted {} was deleted on the server", g.version));
            }
        }
        let mut evo_ids = BTreeSet::new();
        let mut rcs = BTreeSet::new();
        for e in &s.evos {
            if !evo_ids.insert(&e.evolution_id) {
                return Err(format!(
                    "the server holds evolution {} twice",
                    e.evolution_id
                ));
            }
            if !rcs.insert((&e.generation_id, e.rc)) {
                return Err(format!(
                    "rc.{} of generation {} given twice on the server",
                    e.rc, e.version
                ));
            }
        }
        Ok(())
    }

    fn check_promoted(&mut self, s: &ServerView, locals: &[LocalView]) -> Check {
        for g in s.gens.iter().filter(|g| g.status == "promoted") {
            let mut evolutions: Vec<(String, i64, String)> = s
                .evos
                .iter()
                .filter(|e| e.generation_uuid == g.generation_id)
                .map(|e| {
                    (
                        e.evolution_id.clone(),
                        e.rc,
                        format!("{}{}", e.status, if e.deleted { " deleted" } else { "" }),
                    )
                })
                .collect();
            evolutions.sort();
            let now = Frozen {
                version: g.version.clone(),
                description: g.description.clone(),
                changes: wire_changes(g),
                promoted_by: g.promoted_by.clone(),
                evolutions,
            };
            match self.frozen_server.get(&g.generation_id) {
                None => {
                    self.frozen_server.insert(g.generation_id.clone(), now);
                }
                Some(f) if *f != now => {
                    return Err(format!(
                        "promoted {} changed on the server: {f:?} became {now:?}",
                        g.version
                    ));
                }
                _ => {}
            }
        }
        for (uuid, _) in self.frozen_server.iter() {
            if s.live_gen(uuid).is_none_or(|g| g.status != "promoted") {
                return Err(format!(
                    "promoted generation {uuid} is no longer promoted on the server"
                ));
            }
        }
        for (i, l) in locals.iter().enumerate() {
            for g in l.gens.values().filter(|g| g.status == "promoted") {
                let now = (g.version.clone(), g.description.clone(), g.changes.clone());
                let key = (i, g.generation_id.clone());
                match self.frozen_local.get(&key) {
                    None => {
                        self.frozen_local.insert(key, now.clone());
                    }
                    Some(f) if *f != now => {
                        return Err(format!(
                            "promoted {} changed at {}: {f:?} became {now:?}",
                            g.version, self.devs[i].name
                        ));
                    }
                    _ => {}
                }
                let server = s
                    .live_gen(&g.generation_id)
                    .filter(|x| x.status == "promoted");
                let Some(server) = server else {
                    return Err(format!(
                        "{} holds {} as promoted but the server does not",
                        self.devs[i].name, g.version
                    ));
                };
                if (
                    server.version.clone(),
                    server.description.clone(),
                    wire_changes(server),
                ) != now
                {
                    return Err(format!(
                        "{}'s promoted {} differs from the server's",
                        self.devs[i].name, g.version
                    ));
                }
            }
            for ((who, uuid), f) in &self.frozen_local {
                if *who == i && l.gens.get(uuid).is_none_or(|g| g.status != "promoted") {
                    return Err(format!(
                        "promoted {} vanished or changed status at {}",
                        f.0, self.devs[i].name
                    ));
                }
            }
        }
        Ok(())
    }

    fn check_tokens(&self, s: &ServerView, locals: &[LocalView]) -> Check {
        for (t, tok) in self
            .tokens
            .iter()
            .filter(|(_, t)| t.alive() && !self.frozen_server.contains_key(&t.gen))
        {
            let on_server = s
                .live_gen(&tok.gen)
                .is_some_and(|g| tokens_of_wire(g).contains(t));
            let pending = locals.iter().any(|l| {
                l.gens
                    .get(&tok.gen)
                    .is_some_and(|g| g.sync_status != "synced" && tokens_of_local(g).contains(t))
            });
            if !on_server && !pending {
                let where_: Vec<String> = locals
                    .iter()
                    .zip(self.devs)
                    .map(|(l, d)| format!("{}: {:?}", d.name, l.gens.get(&tok.gen)))
                    .collect();
                return Err(format!(
                    "edit lost: {t:?} of generation {} is neither on the server ({:?}) nor pending or in conflict anywhere ({})",
                    tok.gen,
                    s.gen(&tok.gen),
                    where_.join("; ")
                ));
            }
        }
        Ok(())
    }

    fn check_evolutions(&self, s: &ServerView, locals: &[LocalView]) -> Check {
        for (id, e) in self.evos.iter().filter(|(_, e)| !e.killed) {
            let name = &self.devs[e.owner].name;
            match locals[e.owner].evos.get(id) {
                Some(l) => {
                    if l.status != e.status {
                        return Err(format!(
                            "{name}'s evolution {id} is {} but was set to {}",
                            l.status, e.status
                        ));
                    }
                    if l.sync_status == "synced" {
                        match s.evo(id) {
                            Some(r) if r.deleted => {}
                            Some(r) if r.status == l.status => {}
                            other => {
                                return Err(format!(
                                    "{name}'s evolution {id} is synced as {} but the server holds {other:?}",
                                    l.status
                                ))
                            }
                        }
                    }
                }
                None => {
                    let server_dropped = s.evo(id).is_some_and(|r| r.deleted)
                        || s.gen(&e.gen).is_some_and(|g| g.deleted);
                    if !server_dropped {
                        return Err(format!(
                            "evolution {id} of {name} vanished locally (server: {:?})",
                            s.evo(id)
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    // ------------------------------------------------------------------ convergence

    fn converge(&mut self, seed: u64) -> Check {
        let mut quiet = false;
        for _round in 0..8 {
            let head_before = self.cloud.view().head;
            quiet = true;
            for c in 0..self.devs.len() {
                let out = self.run(c, &["sync", "push"]);
                expect_code(&out, &[0, 1, 3])?;
                // Exit 3 for refused orphaned proofs only (see `orphans`) is quiet.
                let refused_orphans_only = out.stderr.contains("The server refused")
                    && !orphans(&self.devs[c].view()).is_empty();
                if (out.code == 3 && !refused_orphans_only)
                    || (out.code == 1 && orphans(&self.devs[c].view()).is_empty())
                {
                    quiet = false;
                }
                let view = self.devs[c].view();
                for g in view.gens.values().filter(|g| g.sync_status == "conflict") {
                    quiet = false;
                    if g.conflict_kinds
                        .as_deref()
                        .is_some_and(|k| k.contains(VERSION_TAKEN))
                    {
                        let v = format!("v9.{}.0", self.fresh());
                        let out = self.run(c, &["generation", "rename", &g.version, &v]);
                        if out.code != 0 {
                            self.resolve(c, g, true)?;
                        }
                    } else if !self.resolve(c, g, true)? {
                        // Refused with a way out (the server's copy is named after a version
                        // another local record holds, itself renamed in this round): the
                        // next round tries again; never settling fails below.
                        continue;
                    }
                }
                let st = self.run(c, &["sync", "status", "--json"]);
                expect_code(&st, &[0, 3])?;
                let j = st.try_json().ok_or("sync status --json printed no JSON")?;
                // Orphans the server refused are listed as refused, not pending.
                let view = self.devs[c].view();
                let orphans = orphans(&view)
                    .iter()
                    .filter(|id| {
                        view.evos
                            .get(*id)
                            .is_some_and(|e| e.sync_status != "conflict")
                    })
                    .count() as i64;
                let busy = j["pending"].as_array().is_some_and(|a| !a.is_empty())
                    || j["pending_evolutions"].as_i64().unwrap_or(0) > orphans
                    || j["pending_deletes"]
                        .as_array()
                        .is_some_and(|a| !a.is_empty())
                    || j["conflicts"].as_array().is_some_and(|a| !a.is_empty());
                if busy {
                    quiet = false;
                }
                self.check()
                    .map_err(|e| self.fail(seed, &format!("during convergence: {e}")))?;
            }
            if quiet && self.cloud.view().head == head_before {
                break;
            }
            quiet = false;
        }
        if !quiet {
            let mut st = String::new();
            for c in 0..self.devs.len() {
                let o = self.devs[c].run(&["sync", "status", "--json"]);
                st.push_str(&format!("{}: {}\n", self.devs[c].name, o.stdout));
            }
            return Err(format!(
                "no quiet state after 8 rounds of push/resolve:\n{st}"
            ));
        }
        for c in 0..self.devs.len() {
            let out = self.run(c, &["sync", "pull"]);
            expect_code(&out, &[0])?;
        }
        self.check()?;
        self.compare_all()
    }

    /// Every client holds what the server holds (through `--json` outputs), and the server
    /// holds exactly the live edits.
    fn compare_all(&mut self) -> Check {
        let s = self.cloud.view();
        let mut want_gens: BTreeMap<String, (String, String, Option<String>, Vec<String>)> =
            BTreeMap::new();
        for g in s.gens.iter().filter(|g| !g.deleted) {
            want_gens.insert(
                g.generation_id.clone(),
                (
                    g.version.clone(),
                    g.status.clone(),
                    g.description.clone(),
                    wire_changes(g),
                ),
            );
        }
        let mut want_evos: BTreeMap<String, (String, String, i64, String, String)> =
            BTreeMap::new();
        for e in s.evos.iter().filter(|e| !e.deleted) {
            want_evos.insert(
                e.evolution_id.clone(),
                (
                    e.generation_uuid.clone(),
                    e.change_id.clone(),
                    e.rc,
                    e.status.clone(),
                    e.created_by.clone(),
                ),
            );
        }
        for c in 0..self.devs.len() {
            let name = self.devs[c].name.clone();
            let list = self.run(c, &["generation", "list", "--json"]);
            expect_code(&list, &[0])?;
            let list = list.try_json().ok_or("generation list --json")?;
            let mut got = BTreeMap::new();
            for g in list["generations"].as_array().ok_or("generations")? {
                let v = g["version"].as_str().unwrap_or("").to_string();
                let show = self.run(c, &["generation", "show", &v, "--json"]);
                expect_code(&show, &[0])?;
                let show = show.try_json().ok_or("generation show --json")?;
                let mut ch: Vec<String> = show["generation"]["changes"]
                    .as_array()
                    .ok_or("changes")?
                    .iter()
                    .map(|c| c["id"].as_str().unwrap_or("").to_string())
                    .collect();
                ch.sort();
                got.insert(
                    g["generation_id"].as_str().unwrap_or("").to_string(),
                    (
                        v,
                        g["status"].as_str().unwrap_or("").to_string(),
                        g["description"].as_str().map(String::from),
                        ch,
                    ),
                );
            }
            if got != want_gens {
                return Err(format!("after convergence {name} holds generations\n{got:#?}\nbut the server\n{want_gens:#?}"));
            }
            let orphaned = orphans(&self.devs[c].view());
            self.stats.orphans += orphaned.len() as u64;
            let evs = self.run(c, &["evolution", "list", "--json"]);
            expect_code(&evs, &[0])?;
            let evs = evs.try_json().ok_or("evolution list --json")?;
            let mut got = BTreeMap::new();
            for e in evs["evolutions"].as_array().ok_or("evolutions")? {
                if orphaned.contains(e["evolution_id"].as_str().unwrap_or("")) {
                    continue;
                }
                got.insert(
                    e["evolution_id"].as_str().unwrap_or("").to_string(),
                    (
                        e["generation_id"].as_str().unwrap_or("").to_string(),
                        e["change_id"].as_str().unwrap_or("").to_string(),
                        e["rc"].as_i64().unwrap_or(-1),
                        e["status"].as_str().unwrap_or("").to_string(),
                        e["owner"].as_str().unwrap_or("").to_string(),
                    ),
                );
            }
            // An orphaned proof the server holds in an earlier state (its last update was
            // refused: the generation was promoted meanwhile) differs here by design.
            let want: BTreeMap<String, (String, String, i64, String, String)> = want_evos
                .iter()
                .filter(|(id, _)| !orphaned.contains(*id))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            if got != want {
                return Err(format!("after convergence {name} holds evolutions\n{got:#?}\nbut the server\n{want:#?}"));
            }
        }
        // The server holds exactly the live edits (a promoted record is final instead: what
        // it held when promoted, checked by `check_promoted`; edits racing its promotion
        // cannot land, by the rules).
        for g in s
            .gens
            .iter()
            .filter(|g| !g.deleted && g.status != "promoted")
        {
            let alive: BTreeSet<Token> = self
                .tokens
                .iter()
                .filter(|(_, t)| t.alive() && t.gen == g.generation_id)
                .map(|(k, _)| k.clone())
                .collect();
            let held = tokens_of_wire(g);
            if alive != held {
                return Err(format!(
                    "after convergence the server's {} holds {held:?} but the live edits are {alive:?}",
                    g.version
                ));
            }
        }
        for (t, tok) in self.tokens.iter().filter(|(_, t)| t.alive()) {
            if s.live_gen(&tok.gen).is_none() && !self.frozen_server.contains_key(&tok.gen) {
                return Err(format!(
                    "after convergence live edit {t:?} has no generation on the server"
                ));
            }
        }
        Ok(())
    }
}

/// The gate's rule (no git here, so the newest proof decides): among the completed evolutions
/// of `ch` that proved its current definition, the one with the highest rc passed.
fn proven(view: &LocalView, g: &LocalGen, ch: &str) -> bool {
    let current = g.fingerprints.get(ch);
    view.evos
        .values()
        .filter(|e| e.generation_id == g.generation_id && e.change_id == ch)
        .filter(|e| e.status == "pass" || e.status == "fail")
        .filter(|e| e.fingerprint.is_none() || e.fingerprint.as_ref() == current)
        .max_by_key(|e| e.rc)
        .is_some_and(|e| e.status == "pass")
}

fn expect_code(out: &super::rig::Out, codes: &[i32]) -> Check {
    if codes.contains(&out.code) {
        Ok(())
    } else {
        Err(format!(
            "unexpected exit code (wanted one of {codes:?})\n{out:?}"
        ))
    }
}

/// A push exits 0, 3 (conflict, taken version) or 1 only when the server refused records.
fn expect_push(out: &super::rig::Out) -> Check {
    expect_code(out, &[0, 1, 3])?;
    if out.code == 1 && !out.stderr.contains("refused by the server") {
        return Err(format!("push failed\n{out:?}"));
    }
    Ok(())
}

/// The cursor never points past applied data: every record the feed lists at or below
/// the cursor is here as the server holds it (unless edited here, or the workspace will
/// start over from the beginning anyway).
fn check_cursor(name: &str, s: &ServerView, l: &LocalView) -> Check {
    if l.resync {
        return Ok(());
    }
    for g in s.gens.iter().filter(|g| g.seq <= l.cursor) {
        let local = l.gens.get(&g.generation_id);
        let rid = g.id.to_string();
        if g.deleted {
            if local.is_some_and(|x| x.sync_status == "synced" && x.rev < g.rev) {
                return Err(format!(
                    "{name}'s cursor {} is past the deletion of {} (seq {}) but it still holds it as synced",
                    l.cursor, g.version, g.seq
                ));
            }
            continue;
        }
        match local {
            None if l.pending_deletes.contains(&rid) => {}
            None => {
                return Err(format!(
                    "{name}'s cursor {} is past {} (seq {}) which it does not hold",
                    l.cursor, g.version, g.seq
                ))
            }
            Some(x) if x.sync_status == "synced" => {
                if x.rev != g.rev
                    || x.version != g.version
                    || x.changes != wire_changes(g)
                    || x.description != g.description
                    || x.status != g.status
                {
                    return Err(format!(
                        "{name}'s cursor {} is past {} (seq {}, rev {}) but it holds rev {} as synced: {x:?}",
                        l.cursor, g.version, g.seq, g.rev, x.rev
                    ));
                }
            }
            Some(_) => {}
        }
    }
    for e in s.evos.iter().filter(|e| e.seq <= l.cursor && !e.deleted) {
        if l.gens.contains_key(&e.generation_uuid) && !l.evos.contains_key(&e.evolution_id) {
            return Err(format!(
                "{name}'s cursor {} is past evolution {} (seq {}) which it does not hold",
                l.cursor, e.evolution_id, e.seq
            ));
        }
    }
    Ok(())
}

/// An evolution recorded here for a change that a merge then removed, or for a generation
/// promoted meanwhile, can never be delivered (422/409): the push that tries sets it aside
/// as refused (`gryt sync status` lists it, push exits 3 while it exists, `gryt sync
/// resolve --theirs` drops it). Convergence leaves these aside and counts them.
fn orphans(l: &LocalView) -> BTreeSet<String> {
    l.evos
        .values()
        .filter(|e| e.sync_status != "synced")
        .filter(|e| {
            l.gens
                .get(&e.generation_id)
                .is_some_and(|g| g.status == "promoted" || !g.changes.contains(&e.change_id))
        })
        .map(|e| e.evolution_id.clone())
        .collect()
}

fn check_local_rcs(name: &str, l: &LocalView) -> Check {
    let mut seen = BTreeSet::new();
    for e in l.evos.values() {
        if !seen.insert((&e.generation_id, e.rc)) {
            return Err(format!(
                "{name} holds two evolutions numbered rc.{} in one generation",
                e.rc
            ));
        }
    }
    Ok(())
}

/// Runs one case: `steps` random steps on 2 to 4 clients, invariants after each, then
/// convergence. Returns the figures, or what broke.
pub fn run_case(seed: u64, steps: u64) -> Result<Stats, String> {
    let mut rng = Rng::new(seed);
    let n = 2 + rng.below(3) as usize;
    let names: Vec<&str> = NAMES[..n].to_vec();
    let cloud = start_cloud(&names);
    let devs: Vec<Dev> = names.iter().map(|u| Dev::join(&cloud, u)).collect();
    let mut m = Model {
        rng,
        cloud: &cloud,
        devs: &devs,
        tokens: BTreeMap::new(),
        evos: BTreeMap::new(),
        frozen_server: BTreeMap::new(),
        frozen_local: BTreeMap::new(),
        counter: 0,
        log: vec![format!("seed {seed}: {n} clients, {steps} steps")],
        stats: Stats {
            cases: 1,
            ..Default::default()
        },
    };
    for i in 0..steps {
        let c = m.rng.below(n as u64) as usize;
        m.note(format!("step {i}:"));
        m.stats.steps += 1;
        let r = m.step(c).and_then(|()| m.check());
        if std::env::var_os("GRYT_MODEL_DUMP").is_some() {
            let dump: Vec<String> = devs
                .iter()
                .map(|d| format!("    {}: {:?}", d.name, d.view()))
                .collect();
            m.note(dump.join("\n"));
            m.note(format!("    server: {:?}", cloud.view().gens));
        }
        if let Err(e) = r {
            return Err(m.fail(seed, &format!("step {i}: {e}")));
        }
    }
    m.note("converge:".into());
    if let Err(e) = m.converge(seed) {
        return Err(m.fail(seed, &e));
    }
    if std::env::var_os("GRYT_MODEL_PRINT").is_some() {
        #[allow(clippy::print_stderr)]
        {
            eprintln!("{}", m.log.join("\n"));
        }
    }
    Ok(m.stats)
}
