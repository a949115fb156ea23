//! Every bad input gets a clear "Error: ..." on stderr, the documented exit code, and
//! changes nothing.

use super::harness::{add_change, prove_all, repo_with_draft, write, Workspace};
use std::collections::BTreeMap;
use std::path::Path;

/// v1.2.0 (draft: FEAT-101, BUG-7, one evolution in progress) and v1.0.0 (promoted,
/// FEAT-1), no git.
fn fixture() -> Workspace {
    let t = repo_with_draft();
    t.run(&["generation", "new", "v1.0.0"]).clean();
    add_change(&t, "v1.0.0", "FEAT-1", "add", "First");
    prove_all(&t, "v1.0.0");
    t.run(&["promote", "v1.0.0"]).clean();
    t.run(&["evolution", "start", "v1.2.0", "--change", "FEAT-101"])
        .clean();
    t.write_pipeline("ci", "steps:\n  - name: test\n    run: \"true\"\n");
    t
}

struct Case {
    name: &'static str,
    /// Prepares the bad input on a copy of the fixture (None: run on the fixture itself).
    setup: Option<fn(&Workspace)>,
    args: Vec<String>,
    code: i32,
    needles: Vec<&'static str>,
}

fn case(name: &'static str, args: &[&str], code: i32, needles: &[&'static str]) -> Case {
    Case {
        name,
        setup: None,
        args: args.iter().map(|s| s.to_string()).collect(),
        code,
        needles: needles.to_vec(),
    }
}

fn with_setup(mut c: Case, setup: fn(&Workspace)) -> Case {
    c.setup = Some(setup);
    c
}

const BAD_VERSIONS: &[&str] = &["banana", "v1.2", "v1.2.3.4", "../../etc/passwd", ""];

/// Bad versions, wherever a version is taken.
fn version_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for v in BAD_VERSIONS {
        let needle: &'static str = if v.is_empty() {
            "Invalid version ''"
        } else {
            "Invalid version"
        };
        for cmd in [
            &["generation", "new", v][..],
            &["generation", "show", v],
            &["generation", "update", v],
            &["generation", "edit", v],
            &["generation", "delete", v],
            &[
                "generation",
                "add-change",
                v,
                "--id",
                "FEAT-9",
                "--type",
                "add",
                "--title",
                "x",
            ],
            &["generation", "remove-change", v, "FEAT-101"],
            &["generation", "rename", v, "v3.0.0"],
            &["generation", "rename", "v1.2.0", v],
            &["evolution", "start", v, "--change", "FEAT-101"],
            &["evolution", "list", v],
            &["promote", v],
        ] {
            cases.push(case("bad version", cmd, 1, &[needle]));
        }
    }
    cases
}

/// Bad arguments: rule violations, unknown records, promoted generations, usage errors.
fn argument_cases() -> Vec<Case> {
    vec![
        // Duplicate versions, in either spelling.
        case(
            "duplicate version",
            &["generation", "new", "v1.2.0"],
            1,
            &["v1.2.0 already exists"],
        ),
        case(
            "duplicate version without v",
            &["generation", "new", "1.2.0"],
            1,
            &["v1.2.0 already exists"],
        ),
        case(
            "duplicate of a promoted version",
            &["generation", "new", "v1.0.0"],
            1,
            &["v1.0.0 already exists"],
        ),
        // Change ids and types.
        case(
            "lowercase change id",
            &[
                "generation",
                "add-change",
                "v1.2.0",
                "--id",
                "feat-1",
                "--type",
                "add",
                "--title",
                "x",
            ],
            1,
            &["Invalid change id 'feat-1'"],
        ),
        case(
            "change id without number",
            &[
                "generation",
                "add-change",
                "v1.2.0",
                "--id",
                "FEAT-",
                "--type",
                "add",
                "--title",
                "x",
            ],
            1,
            &["Invalid change id"],
        ),
        case(
            "change id without dash",
            &[
                "generation",
                "add-change",
                "v1.2.0",
                "--id",
                "FEAT1",
                "--type",
                "add",
                "--title",
                "x",
            ],
            1,
            &["Invalid change id"],
        ),
        case(
            "change id with underscore",
            &[
                "generation",
                "add-change",
                "v1.2.0",
                "--id",
                "FEAT_1",
                "--type",
                "add",
                "--title",
                "x",
            ],
            1,
            &["Invalid change id"],
        ),
        case(
            "change id starting with a digit",
            &[
                "generation",
                "add-change",
                "v1.2.0",
                "--id",
                "1FEAT-1",
                "--type",
                "add",
                "--title",
                "x",
            ],
            1,
            &["Invalid change id"],
        ),
        case(
            "empty change id",
            &[
                "generation",
                "add-change",
                "v1.2.0",
                "--id",
                "",
                "--type",
                "add",
                "--title",
                "x",
            ],
            1,
            &["Invalid change id"],
        ),
        case(
            "duplicated change id",
            &[
                "generation",
                "add-change",
                "v1.2.0",
                "--id",
                "FEAT-101",
                "--type",
                "fix",
                "--title",
                "again",
            ],
            1,
            &["FEAT-101 already exists"],
        ),
        case(
            "unknown change type",
            &[
                "generation",
                "add-change",
                "v1.2.0",
                "--id",
                "FEAT-9",
                "--type",
                "feature",
                "--title",
                "x",
            ],
            1,
            &["Unknown change type 'feature'"],
        ),
        case(
            "empty title",
            &[
                "generation",
                "add-change",
                "v1.2.0",
                "--id",
                "FEAT-9",
                "--type",
                "add",
                "--title",
                "",
            ],
            1,
            &["title"],
        ),
        case(
            "add-change to unknown generation",
            &[
                "generation",
                "add-change",
                "v9.9.9",
                "--id",
                "FEAT-9",
                "--type",
                "add",
                "--title",
                "x",
            ],
            1,
            &["v9.9.9 not found"],
        ),
        case(
            "remove unknown change",
            &["generation", "remove-change", "v1.2.0", "FEAT-999"],
            1,
            &["FEAT-999"],
        ),
        case(
            "remove bad change id",
            &["generation", "remove-change", "v1.2.0", "nope"],
            1,
            &["Invalid change id 'nope'"],
        ),
        case(
            "show unknown generation",
            &["generation", "show", "v9.9.9"],
            1,
            &["v9.9.9 not found"],
        ),
        case(
            "update unknown generation",
            &["generation", "update", "v9.9.9"],
            1,
            &["v9.9.9"],
        ),
        case(
            "delete unknown generation",
            &["generation", "delete", "v9.9.9"],
            1,
            &["v9.9.9 not found"],
        ),
        // Evolutions.
        case(
            "evolution for unknown change",
            &["evolution", "start", "v1.2.0", "--change", "FEAT-999"],
            1,
            &["FEAT-999 is not part of generation v1.2.0"],
        ),
        case(
            "evolution for unknown generation",
            &["evolution", "start", "v9.9.9", "--change", "FEAT-101"],
            1,
            &["v9.9.9 not found"],
        ),
        case(
            "evolution with bad change id",
            &["evolution", "start", "v1.2.0", "--change", "feat-101"],
            1,
            &["Invalid change id"],
        ),
        case(
            "evolution of a promoted generation",
            &["evolution", "start", "v1.0.0", "--change", "FEAT-1"],
            1,
            &["v1.0.0 is promoted and immutable"],
        ),
        case(
            "show unknown evolution",
            &["evolution", "show", "no-such-thing"],
            1,
            &["'no-such-thing' not found"],
        ),
        case(
            "complete unknown evolution",
            &["evolution", "complete", "v1.2.0-rc.99", "--status", "pass"],
            1,
            &["not found"],
        ),
        case(
            "complete an evolution of a promoted generation",
            &["evolution", "complete", "v1.0.0-rc.1", "--status", "fail"],
            1,
            &["v1.0.0 is promoted"],
        ),
        case(
            "complete with a bad status",
            &["evolution", "complete", "v1.2.0-rc.1", "--status", "done"],
            2,
            &["done"],
        ),
        // Promotion.
        case(
            "second promotion",
            &["promote", "v1.0.0"],
            1,
            &["v1.0.0 is already promoted"],
        ),
        case(
            "promotion of an unproven generation",
            &["promote", "v1.2.0"],
            1,
            &["v1.2.0"],
        ),
        case(
            "promotion of an unknown generation",
            &["promote", "v9.9.9"],
            1,
            &["v9.9.9 not found"],
        ),
        // Edits of a promoted generation.
        case(
            "update a promoted generation",
            &["generation", "update", "v1.0.0"],
            1,
            &["v1.0.0 is promoted and immutable"],
        ),
        case(
            "edit a promoted generation",
            &["generation", "edit", "v1.0.0"],
            1,
            &["v1.0.0 is promoted and immutable"],
        ),
        case(
            "add-change to a promoted generation",
            &[
                "generation",
                "add-change",
                "v1.0.0",
                "--id",
                "FEAT-9",
                "--type",
                "add",
                "--title",
                "x",
            ],
            1,
            &["v1.0.0 is promoted and immutable"],
        ),
        case(
            "remove-change from a promoted generation",
            &["generation", "remove-change", "v1.0.0", "FEAT-1"],
            1,
            &["v1.0.0 is promoted and immutable"],
        ),
        case(
            "rename a promoted generation",
            &["generation", "rename", "v1.0.0", "v1.0.1"],
            1,
            &["v1.0.0 is promoted and immutable"],
        ),
        case(
            "delete a promoted generation",
            &["generation", "delete", "v1.0.0"],
            1,
            &["v1.0.0 is promoted and immutable"],
        ),
        // Pipelines.
        case(
            "missing pipeline",
            &["run", "nope"],
            1,
            &["nope.yaml not found"],
        ),
        case(
            "pipeline name with a path",
            &["run", "../../etc/passwd"],
            1,
            &["Invalid pipeline name"],
        ),
        case(
            "empty pipeline name",
            &["run", ""],
            1,
            &["Invalid pipeline name"],
        ),
        case(
            "run for an unknown evolution",
            &["run", "ci", "--evolution", "v1.2.0-rc.42"],
            1,
            &["not found"],
        ),
        case(
            "run for a promoted generation's evolution",
            &["run", "ci", "--evolution", "v1.0.0-rc.1"],
            1,
            &["v1.0.0 is promoted"],
        ),
        // Usage errors from clap.
        case(
            "missing --type",
            &[
                "generation",
                "add-change",
                "v1.2.0",
                "--id",
                "FEAT-9",
                "--title",
                "x",
            ],
            2,
            &["--type"],
        ),
        case("missing version", &["generation", "new"], 2, &["VERSION"]),
        case(
            "unknown subcommand",
            &["generation", "frobnicate"],
            2,
            &["frobnicate"],
        ),
    ]
}

/// Contract files edited by hand.
fn contract_file_cases() -> Vec<Case> {
    vec![
        with_setup(
            case(
                "malformed YAML",
                &["generation", "update", "v1.2.0"],
                1,
                &["v1.2.0.yaml:4:1"],
            ),
            |t| t.write_contract("v1.2.0", "version: v1.2.0\nchanges: [\n  {id: FEAT-1,\n"),
        ),
        with_setup(
            case(
                "YAML with a tab",
                &["generation", "update", "v1.2.0"],
                1,
                &["v1.2.0.yaml:2:"],
            ),
            |t| t.write_contract("v1.2.0", "version: v1.2.0\n\tdescription: x\n"),
        ),
        with_setup(
            case(
                "YAML of the wrong shape",
                &["generation", "update", "v1.2.0"],
                1,
                &["v1.2.0.yaml:"],
            ),
            |t| t.write_contract("v1.2.0", "- just\n- a list\n"),
        ),
        with_setup(
            case(
                "YAML with an unknown key",
                &["generation", "update", "v1.2.0"],
                1,
                &["v1.2.0.yaml:2:", "colour"],
            ),
            |t| t.write_contract("v1.2.0", "version: v1.2.0\ncolour: red\n"),
        ),
        with_setup(
            case(
                "empty YAML",
                &["generation", "update", "v1.2.0"],
                1,
                &["v1.2.0.yaml", "empty"],
            ),
            |t| t.write_contract("v1.2.0", ""),
        ),
        with_setup(
            case(
                "missing contract file",
                &["generation", "update", "v1.2.0"],
                1,
                &["v1.2.0.yaml"],
            ),
            |t| std::fs::remove_file(t.contract("v1.2.0")).expect("rm"),
        ),
        with_setup(
            case(
                "YAML whose version differs from its file name",
                &["generation", "update", "v1.2.0"],
                1,
                &["declares version v1.3.0", "v1.2.0"],
            ),
            |t| t.write_contract("v1.2.0", "version: v1.3.0\nchanges: []\n"),
        ),
        with_setup(
            case(
                "YAML with an invalid version",
                &["generation", "update", "v1.2.0"],
                1,
                &["v1.2.0.yaml", "Invalid version 'banana'"],
            ),
            |t| t.write_contract("v1.2.0", "version: banana\n"),
        ),
        with_setup(
            case(
                "YAML with a bad change id",
                &["generation", "update", "v1.2.0"],
                1,
                &["v1.2.0.yaml:3:", "Invalid change id 'feat-1'"],
            ),
            |t| {
                t.write_contract(
                    "v1.2.0",
                    "version: v1.2.0\nchanges:\n  - id: feat-1\n    type: add\n    title: x\n",
                )
            },
        ),
        with_setup(
            case(
                "YAML with a duplicated change id",
                &["generation", "update", "v1.2.0"],
                1,
                &["FEAT-1 already exists"],
            ),
            |t| {
                t.write_contract("v1.2.0", "version: v1.2.0\nchanges:\n  - id: FEAT-1\n    type: add\n    title: x\n  - id: FEAT-1\n    type: fix\n    title: y\n")
            },
        ),
        with_setup(
            case(
                "YAML with an unknown change type",
                &["generation", "update", "v1.2.0"],
                1,
                &["v1.2.0.yaml:4:", "Unknown change type 'feature'"],
            ),
            |t| {
                t.write_contract(
                    "v1.2.0",
                    "version: v1.2.0\nchanges:\n  - id: FEAT-1\n    type: feature\n    title: x\n",
                )
            },
        ),
        with_setup(
            case(
                "YAML with an empty title",
                &["generation", "update", "v1.2.0"],
                1,
                &["title"],
            ),
            |t| {
                t.write_contract(
                    "v1.2.0",
                    "version: v1.2.0\nchanges:\n  - id: FEAT-1\n    type: add\n    title: \"\"\n",
                )
            },
        ),
        with_setup(
            case(
                "imported YAML whose version differs",
                &["generation", "update", "v5.0.0"],
                1,
                &["declares version v5.0.1"],
            ),
            |t| t.write_contract("v5.0.0", "version: v5.0.1\n"),
        ),
        with_setup(
            case(
                "new over a stray contract file",
                &["generation", "new", "v6.0.0"],
                1,
                &["v6.0.0.yaml already exists"],
            ),
            |t| t.write_contract("v6.0.0", "version: v6.0.0\n"),
        ),
        with_setup(
            case(
                "rename over a stray contract file",
                &["generation", "rename", "v1.2.0", "v6.0.0"],
                1,
                &["v6.0.0.yaml already exists"],
            ),
            |t| t.write_contract("v6.0.0", "version: v6.0.0\n"),
        ),
    ]
}

/// Pipeline files.
fn pipeline_cases() -> Vec<Case> {
    vec![
        with_setup(
            case(
                "malformed pipeline",
                &["run", "bad"],
                1,
                &["bad.yaml", "line 3"],
            ),
            |t| t.write_pipeline("bad", "steps:\n  - name: x\n    run: [\n"),
        ),
        with_setup(
            case(
                "pipeline without steps",
                &["run", "bad"],
                1,
                &["bad.yaml", "no steps"],
            ),
            |t| t.write_pipeline("bad", "name: bad\n"),
        ),
        with_setup(
            case("empty pipeline", &["run", "bad"], 1, &["bad.yaml", "empty"]),
            |t| t.write_pipeline("bad", "\n"),
        ),
        with_setup(
            case(
                "pipeline step without run",
                &["run", "bad"],
                1,
                &["bad.yaml", "no `run`"],
            ),
            |t| t.write_pipeline("bad", "steps:\n  - name: x\n"),
        ),
        with_setup(
            case(
                "pipeline with an unknown key",
                &["run", "bad"],
                1,
                &["bad.yaml", "shell"],
            ),
            |t| {
                t.write_pipeline(
                    "bad",
                    "steps:\n  - name: x\n    run: \"true\"\n    shell: zsh\n",
                )
            },
        ),
        with_setup(
            case(
                "pipeline working_dir outside the repository",
                &["run", "bad"],
                1,
                &["bad.yaml", "working_dir"],
            ),
            |t| {
                t.write_pipeline(
                    "bad",
                    "steps:\n  - name: x\n    run: \"true\"\n    working_dir: ../..\n",
                )
            },
        ),
        with_setup(
            case(
                "pipeline with duplicate step names",
                &["run", "bad"],
                1,
                &["bad.yaml", "duplicate step name"],
            ),
            |t| {
                t.write_pipeline(
                    "bad",
                    "steps:\n  - name: x\n    run: \"true\"\n  - name: x\n    run: \"true\"\n",
                )
            },
        ),
    ]
}

#[test]
fn bad_versions_are_refused() {
    let t = check_cases(version_cases());
    // No path-like version escaped into the file system.
    let mut stray = Vec::new();
    find_named(t.home(), "passwd.yaml", &mut stray);
    find_named(t.home(), ".yaml", &mut stray);
    assert!(
        stray.is_empty(),
        "files written for bad versions: {stray:?}"
    );
}

#[test]
fn bad_arguments_are_refused() {
    check_cases(argument_cases());
}

#[test]
fn bad_contract_files_are_refused() {
    check_cases(contract_file_cases());
}

#[test]
fn bad_pipeline_files_are_refused() {
    check_cases(pipeline_cases());
}

/// Runs every case; each must fail with its exit code and "Error: ..." naming its needles,
/// print nothing on stdout (but the gate table of a refused promotion), and leave the
/// repository as it was. All failures are reported together. Returns the fixture.
fn check_cases(cases: Vec<Case>) -> Workspace {
    let fixture = fixture();
    // Refused commands change nothing, so one snapshot of the fixture serves as "before"
    // for every case that runs on the fixture itself.
    let reference = fixture.snapshot();
    let mut failures = Vec::new();
    for c in &cases {
        let copy;
        let own_before;
        let (t, before) = match c.setup {
            Some(setup) => {
                copy = fixture.duplicate("alice");
                setup(&copy);
                own_before = copy.snapshot();
                (&copy, &own_before)
            }
            None => (&fixture, &reference),
        };
        let args: Vec<&str> = c.args.iter().map(String::as_str).collect();
        let out = t.run(&args);
        if let Some(problem) = out.error_problem(c.code, &c.needles) {
            failures.push(format!("[{}] {problem}\n{out:?}", c.name));
        } else if c.code == 1 && !out.stdout.is_empty() && args[0] != "promote" {
            failures.push(format!("[{}] unexpected stdout\n{out:?}", c.name));
        }
        if let Some(d) = before.diff(&t.snapshot()) {
            failures.push(format!(
                "[{}] the repository changed:\n{d}\n{out:?}",
                c.name
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} bad inputs were mishandled:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
    fixture
}

fn find_named(dir: &Path, name: &str, out: &mut Vec<String>) {
    for e in std::fs::read_dir(dir).expect("read dir") {
        let p = e.expect("entry").path();
        if p.is_dir() {
            find_named(&p, name, out);
        } else if p.file_name().and_then(|n| n.to_str()) == Some(name) {
            out.push(p.display().to_string());
        }
    }
}

#[test]
fn outside_a_repository_every_command_refuses() {
    let t = Workspace::local();
    let before = tree(t.home());
    for args in [
        &["generation", "list"][..],
        &["generation", "new", "v1.0.0"],
        &["generation", "show", "v1.0.0"],
        &["generation", "update", "v1.0.0"],
        &[
            "generation",
            "add-change",
            "v1.0.0",
            "--id",
            "A-1",
            "--type",
            "add",
            "--title",
            "x",
        ],
        &["evolution", "list"],
        &["evolution", "start", "v1.0.0", "--change", "A-1"],
        &["run", "ci"],
        &["promote", "v1.0.0"],
        &["-C", "sub", "generation", "list"],
    ] {
        let out = t.run(args);
        if args[0] == "-C" {
            out.err(1, &["sub"]);
        } else {
            out.err(1, &["Not a gryt repository"]).hint("gryt init");
        }
    }
    assert_eq!(
        before,
        tree(t.home()),
        "files appeared outside a repository"
    );
    assert!(!t.gryt_dir().exists());
}

/// Every file under `dir` with its bytes.
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(dir).expect("read dir") {
            let p = e.expect("entry").path();
            let rel = p
                .strip_prefix(base)
                .expect("under base")
                .display()
                .to_string();
            if p.is_dir() {
                out.insert(format!("{rel}/"), Vec::new());
                walk(base, &p, out);
            } else {
                out.insert(rel, std::fs::read(&p).expect("read"));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// Commands that open the database, run against a broken one.
const DB_COMMANDS: &[&[&str]] = &[
    &["generation", "list"],
    &["generation", "show", "v1.2.0"],
    &["generation", "new", "v2.0.0"],
    &[
        "generation",
        "add-change",
        "v1.2.0",
        "--id",
        "FEAT-9",
        "--type",
        "add",
        "--title",
        "x",
    ],
    &["evolution", "list"],
    &["evolution", "start", "v1.2.0", "--change", "FEAT-101"],
    &["run", "ci"],
    &["promote", "v1.2.0"],
];

fn assert_db_refused(t: &Workspace, needles: &[&str]) {
    let before = tree(&t.gryt_dir());
    for args in DB_COMMANDS {
        t.run(args).err(1, needles);
        assert!(
            before == tree(&t.gryt_dir()),
            "gryt {args:?} changed .gryt/ (database bytes or files)"
        );
    }
}

#[test]
fn a_corrupt_database_is_refused_untouched() {
    let t = repo_with_draft();
    t.write_pipeline("ci", "steps:\n  - name: t\n    run: \"true\"\n");
    let garbage: Vec<u8> = (0..8192u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(t.db(), &garbage).expect("write garbage");
    assert_db_refused(&t, &["gryt.db", "corrupt"]);
    // A file that starts like SQLite but is not one.
    let mut fake = b"SQLite format 3\0".to_vec();
    fake.extend_from_slice(&garbage[..4096]);
    std::fs::write(t.db(), &fake).expect("write fake");
    assert_db_refused(&t, &["gryt.db", "corrupt"]);
    // A missing database is a local cache to rebuild (a clone): from the contract files.
    std::fs::remove_file(t.db()).expect("rm db");
    t.run(&["generation", "list"]).clean().stdout_has("v1.2.0");
}

#[test]
fn a_database_from_a_newer_gryt_is_refused_untouched() {
    let t = repo_with_draft();
    t.write_pipeline("ci", "steps:\n  - name: t\n    run: \"true\"\n");
    {
        let conn = rusqlite::Connection::open(t.db()).expect("open db");
        conn.pragma_update(None, "user_version", 999)
            .expect("set user_version");
        // Leave a single file behind (no WAL) so the bytes compare cleanly.
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .expect("checkpoint");
    }
    let wal = t.gryt_dir().join("gryt.db-wal");
    if wal.exists() && std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(1) == 0 {
        std::fs::remove_file(&wal).expect("rm wal");
    }
    let _ = std::fs::remove_file(t.gryt_dir().join("gryt.db-shm"));
    assert_db_refused(&t, &["newer gryt", "999"]);
    let out = t.run(&["generation", "list"]);
    out.hint("upgrade gryt");
}

#[test]
fn a_sqlite_database_of_another_program_is_refused_untouched() {
    let t = repo_with_draft();
    t.write_pipeline("ci", "steps:\n  - name: t\n    run: \"true\"\n");
    std::fs::remove_file(t.db()).expect("rm db");
    {
        let conn = rusqlite::Connection::open(t.db()).expect("create db");
        conn.execute_batch("CREATE TABLE photos (id INTEGER PRIMARY KEY, path TEXT);")
            .expect("create table");
    }
    assert_db_refused(&t, &["gryt.db", "not a gryt database"]);
}

#[test]
fn a_damaged_repository_layout_is_reported() {
    let t = repo_with_draft();
    // .gryt/config that is a directory, or generations/ replaced by a file.
    std::fs::remove_dir_all(t.gryt_dir().join("generations")).expect("rm generations");
    write(&t.gryt_dir().join("generations"), "not a directory\n");
    let before = tree(&t.gryt_dir());
    t.run(&["generation", "new", "v3.0.0"])
        .err(1, &["generations"]);
    t.run(&[
        "generation",
        "add-change",
        "v1.2.0",
        "--id",
        "FEAT-9",
        "--type",
        "add",
        "--title",
        "x",
    ])
    .err(1, &["generations"]);
    assert!(before == tree(&t.gryt_dir()), ".gryt/ changed");
    // The database still holds v1.2.0 as it was.
    let j = t
        .run(&["generation", "show", "v1.2.0", "--json"])
        .clean()
        .json();
    assert_eq!(j["generation"]["changes"].as_array().map(Vec::len), Some(2));
}
