//! Must show 2: a coordinated release. The lead pushes a draft with three changes assigned
//! to three developers; each proves theirs with `gryt run` and pushes the evolution; the
//! lead sees every change proven and promotes; everyone then has it promoted and immutable.
//! On SQLite, and on PostgreSQL when `GRYT_TEST_POSTGRES` names a server. Also:
//! `gryt sync pull --only GLOB`.

use super::harness::{team_of, team_on, Backend, Workspace};

const PIPELINE: &str = "\
name: ci
steps:
  - name: test
    run: echo \"testing $GRYT_CHANGE_ID of $GRYT_VERSION\"
";

const CONTRACT: &str = "\
version: v2.0.0
description: Q1 release
changes:
  - id: FEAT-101
    type: add
    title: OAuth2 login
    assignee: ana
  - id: FEAT-102
    type: add
    title: Audit log
    assignee: ben
  - id: BUG-50
    type: fix
    title: Session timeout
    assignee: cy
";

#[test]
fn coordinated_release_three_developers_prove_and_the_lead_promotes() {
    for backend in Backend::all() {
        coordinated_release(backend);
    }
}

fn coordinated_release(backend: Backend) {
    let (cloud, team, devs) = team_on(backend, &["lead", "ana", "ben", "cy"]);
    let lead = &devs[0];
    let workers: Vec<(&Workspace, &str)> = vec![
        (&devs[1], "FEAT-101"),
        (&devs[2], "FEAT-102"),
        (&devs[3], "BUG-50"),
    ];

    lead.run(&["generation", "new", "v2.0.0"]).ok();
    lead.rewrite_contract("v2.0.0", CONTRACT).ok();
    lead.run(&["sync", "push"]).ok().stdout_has("1 created");
    let g = cloud.generation("lead", &team, "v2.0.0");
    let assignees: Vec<&str> = g["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter_map(|c| c["assignee"].as_str())
        .collect();
    assert_eq!(assignees, ["ana", "ben", "cy"]);

    // Not ready yet: the gate fails locally (exit 1) and nothing is promoted.
    lead.run(&["promote", "v2.0.0"]).fails(1, &["v2.0.0"]);

    for (d, change) in &workers {
        d.run(&["sync", "pull"]).ok().stdout_has("1 new");
        let mine = d.show("v2.0.0");
        let assigned: Vec<&str> = mine["generation"]["changes"]
            .as_array()
            .expect("changes")
            .iter()
            .filter(|c| c["assignee"] == d.name.as_str())
            .filter_map(|c| c["id"].as_str())
            .collect();
        assert_eq!(assigned, [*change]);
        d.write_pipeline("ci", PIPELINE);
        d.run(&["evolution", "start", "v2.0.0", "--change", change])
            .ok();
        d.run(&["run", "ci"])
            .ok()
            .stdout_has(&format!("testing {change} of v2.0.0"))
            .stdout_has("Pipeline ci: pass");
        d.run(&["sync", "push-evolutions", "v2.0.0"]).ok();
    }

    // The server holds three passing evolutions with distinct rc numbers, one per owner.
    let evs = cloud.evolutions("lead", &g["id"]);
    let mut seen: Vec<(i64, String, String, String)> = evs
        .iter()
        .map(|e| {
            (
                e["rc"].as_i64().expect("rc"),
                e["created_by"].as_str().expect("owner").to_string(),
                e["change_id"].as_str().expect("change").to_string(),
                e["status"].as_str().expect("status").to_string(),
            )
        })
        .collect();
    seen.sort();
    let mut rcs: Vec<i64> = seen.iter().map(|s| s.0).collect();
    rcs.dedup();
    assert_eq!(rcs, [1, 2, 3], "{seen:?}");
    for (d, change) in &workers {
        assert!(
            seen.iter()
                .any(|s| s.1 == d.name && s.2 == *change && s.3 == "pass"),
            "{seen:?}"
        );
    }

    // The lead's status of v2.0.0: every change proven (rc and owner), ready.
    let st = lead.json(&["sync", "status", "v2.0.0"]);
    assert_eq!(st["gate"]["ready"], true, "{st:#}");
    let lead_evs = st["evolutions"].as_array().expect("evolutions");
    assert_eq!(lead_evs.len(), 3, "{st:#}");
    for (d, change) in &workers {
        let e = lead_evs
            .iter()
            .find(|e| e["change_id"] == *change)
            .unwrap_or_else(|| panic!("no evolution of {change}: {st:#}"));
        assert_eq!(e["owner"], d.name.as_str(), "{st:#}");
        assert_eq!(e["status"], "pass", "{st:#}");
        let rc = e["rc"].as_i64().expect("rc");
        assert!(rcs.contains(&rc), "{st:#}");
    }
    let human = lead.run(&["sync", "status", "v2.0.0"]);
    human.ok();
    for (d, change) in &workers {
        human.stdout_has(change).stdout_has(&d.name);
    }
    human.stdout_has("rc.");

    lead.run(&["promote", "v2.0.0"])
        .ok()
        .stdout_has("Promoted v2.0.0");
    let g = cloud.generation("ana", &team, "v2.0.0");
    assert_eq!(g["status"], "promoted");
    assert_eq!(g["promoted_by"], "lead");

    for (d, change) in &workers {
        d.run(&["sync", "pull"]).ok();
        let mine = d.show("v2.0.0");
        assert_eq!(mine["generation"]["status"], "promoted", "{mine:#}");
        assert_eq!(mine["generation"]["promoted_by"], "lead", "{mine:#}");
        d.run(&[
            "generation",
            "add-change",
            "v2.0.0",
            "--id",
            "FEAT-999",
            "--type",
            "add",
            "--title",
            "Late",
        ])
        .fails(1, &["promoted"]);
        d.run(&["generation", "rename", "v2.0.0", "v2.0.1"])
            .fails(1, &["promoted"]);
        d.run(&["generation", "delete", "v2.0.0"])
            .fails(1, &["promoted"]);
        d.run(&["evolution", "start", "v2.0.0", "--change", change])
            .fails(1, &["promoted"]);
        assert_eq!(d.show("v2.0.0")["generation"], mine["generation"]);
    }
    // Nothing changed on the server either.
    let after = cloud.generation("lead", &team, "v2.0.0");
    assert_eq!(after, g);
}

#[test]
fn pull_only_brings_matching_versions_then_a_full_pull_brings_the_rest() {
    let (_cloud, _team, devs) = team_of(&["lead", "ana"]);
    let (lead, ana) = (&devs[0], &devs[1]);
    for v in ["v1.0.0", "v2.0.0", "v2.1.0"] {
        lead.run(&["generation", "new", v]).ok();
        lead.add_change(v, "FEAT-1", "add", "Work");
    }
    lead.run(&["sync", "push"]).ok().stdout_has("3 created");

    ana.run(&["sync", "pull", "--only", "v2.*"])
        .ok()
        .stdout_has("2 new");
    let list = ana.json(&["generation", "list"]);
    let versions: Vec<&str> = list["generations"]
        .as_array()
        .expect("generations")
        .iter()
        .filter_map(|g| g["version"].as_str())
        .collect();
    assert_eq!(versions, ["v2.0.0", "v2.1.0"]);
    ana.run(&["generation", "show", "v1.0.0"])
        .fails(1, &["v1.0.0"]);

    ana.run(&["sync", "pull"]).ok();
    let list = ana.json(&["generation", "list"]);
    assert_eq!(
        list["generations"].as_array().map(Vec::len),
        Some(3),
        "{list:#}"
    );
    ana.run(&["sync", "pull", "--exclude", "v2.*"]).ok();
}
