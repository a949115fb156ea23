//! Contract files are stable bytes: what gryt writes, it reads back to the same contract
//! and writes again byte for byte, and a contract written by an earlier gryt (serde_yaml
//! 0.9 as its YAML library) re-writes unchanged, so swapping the YAML library never shows
//! up as a diff in anybody's repository.

use super::harness::Workspace;
use std::path::Path;

/// Titles a YAML writer must quote (or may quote differently): words YAML 1.1 reads as
/// booleans or null, numbers, dates, indicators, quotes, spaces at either end, non-ASCII
/// text and a line longer than 80 columns.
const TRICKY_TITLES: [&str; 16] = [
    "yes",
    "TRUE",
    "5",
    "1.0",
    "null",
    "~",
    "a: b",
    "#hash",
    "- dash",
    "with 'single' and \"double\" quotes",
    "ünïcödé ✓",
    "2026-01-02",
    " leading space",
    "trailing space ",
    "[beta] {draft} & *star",
    "a title that is longer than eighty columns, which a writer that folds long lines would fold",
];

/// The contract `v1.0.0` as gryt wrote it with serde_yaml 0.9 (from the commands in
/// `write_tricky_contract`; the binary of the commit before the YAML library changed).
const WRITTEN_BY_SERDE_YAML: &str = r#"version: v1.0.0
description: null
changes:
- id: FEAT-1
  type: add
  title: yes
- id: FEAT-2
  type: add
  title: 'TRUE'
- id: FEAT-3
  type: add
  title: '5'
- id: FEAT-4
  type: add
  title: '1.0'
- id: FEAT-5
  type: add
  title: 'null'
- id: FEAT-6
  type: add
  title: '~'
- id: FEAT-7
  type: add
  title: 'a: b'
- id: FEAT-8
  type: add
  title: '#hash'
- id: FEAT-9
  type: add
  title: '- dash'
- id: FEAT-10
  type: add
  title: with 'single' and "double" quotes
- id: FEAT-11
  type: add
  title: ünïcödé ✓
- id: FEAT-12
  type: add
  title: 2026-01-02
- id: FEAT-13
  type: add
  title: ' leading space'
- id: FEAT-14
  type: add
  title: 'trailing space '
- id: FEAT-15
  type: add
  title: '[beta] {draft} & *star'
- id: FEAT-16
  type: add
  title: a title that is longer than eighty columns, which a writer that folds long lines would fold
- id: BUG-1
  type: fix
  title: multi-line description
  description: |
    first line
    second line: with a colon
"#;

fn write_tricky_contract(t: &Workspace) {
    t.run(&["generation", "new", "v1.0.0"]).clean();
    for (i, title) in TRICKY_TITLES.iter().enumerate() {
        let id = format!("FEAT-{}", i + 1);
        // `--title=` so that a title starting with a dash is not read as an option.
        let title = format!("--title={title}");
        t.run(&[
            "generation",
            "add-change",
            "v1.0.0",
            "--id",
            &id,
            "--type",
            "add",
            &title,
        ])
        .clean();
    }
    t.run(&[
        "generation",
        "add-change",
        "v1.0.0",
        "--id",
        "BUG-1",
        "--type",
        "fix",
        "--title",
        "multi-line description",
        "--description",
        "first line\nsecond line: with a colon\n",
    ])
    .clean();
}

/// The id line differs per repository; everything else is fixed by the commands.
fn without_generation_id(text: &str) -> String {
    text.lines()
        .filter(|l| !l.starts_with("generation_id: "))
        .map(|l| format!("{l}\n"))
        .collect()
}

#[test]
fn a_written_contract_reads_back_and_rewrites_byte_identically() {
    let t = Workspace::local_repo();
    write_tricky_contract(&t);
    let first = t.read_contract("v1.0.0");
    // The same bytes an earlier gryt wrote for the same commands.
    assert_eq!(without_generation_id(&first), WRITTEN_BY_SERDE_YAML);

    // Read by gryt (update), written again from the database (export): identical bytes.
    t.run(&["generation", "update", "v1.0.0"]).clean();
    std::fs::remove_file(t.contract("v1.0.0")).expect("remove the contract file");
    t.run(&["generation", "export", "v1.0.0"]).clean();
    assert_eq!(t.read_contract("v1.0.0"), first);

    // Every title came back as the string it was, not as a boolean, number or null.
    let shown = t.show("v1.0.0");
    let titles: Vec<&str> = shown["generation"]["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter_map(|c| c["title"].as_str())
        .collect();
    let mut expected: Vec<&str> = TRICKY_TITLES.to_vec();
    expected.push("multi-line description");
    assert_eq!(titles, expected);
}

#[test]
fn a_contract_written_by_serde_yaml_rewrites_byte_identically() {
    let path = Path::new("v1.0.0.yaml");
    let file = gryt::yaml::parse_contract(path, WRITTEN_BY_SERDE_YAML).expect("parses");
    let titles: Vec<&str> = file.spec.changes.iter().map(|c| c.title.as_str()).collect();
    assert_eq!(&titles[..TRICKY_TITLES.len()], &TRICKY_TITLES[..]);
    assert_eq!(
        file.spec.changes[TRICKY_TITLES.len()]
            .description
            .as_deref(),
        Some("first line\nsecond line: with a colon\n")
    );
    let again = gryt::yaml::render_contract(&file.spec, &file.identity).expect("renders");
    assert_eq!(again, WRITTEN_BY_SERDE_YAML);

    // A promoted contract's identity lines keep their bytes too.
    let promoted = "version: v2.0.0\n\
                    generation_id: 04cc1257-9dd6-4fcb-93ee-3fb4b0767542\n\
                    status: promoted\n\
                    promoted_at: 2026-01-02T03:04:05Z\n\
                    promoted_by: alice\n\
                    description: null\n\
                    changes: []\n";
    let file = gryt::yaml::parse_contract(path, promoted).expect("parses");
    let again = gryt::yaml::render_contract(&file.spec, &file.identity).expect("renders");
    assert_eq!(again, promoted);
}

#[test]
fn config_and_credentials_files_rewrite_byte_identically() {
    let path = Path::new("config");
    let config = "n: '5'\nproject: yes-we-can\nserver: http://127.0.0.1:9/base\nyes: yes\n";
    let map = gryt::yaml::parse_config(path, config).expect("parses");
    assert_eq!(map.get("n").map(String::as_str), Some("5"));
    assert_eq!(map.get("yes").map(String::as_str), Some("yes"));
    assert_eq!(gryt::yaml::render_config(&map).expect("renders"), config);

    let creds = "api_key_id: gk_1\n\
                 servers:\n  \
                 http://127.0.0.1:9:\n    \
                 api_key_id: gk_2\n    \
                 api_key_secret: '0123'\n";
    let parsed = gryt::yaml::parse_credentials(path, creds).expect("parses");
    assert_eq!(
        parsed.1["http://127.0.0.1:9"]
            .get("api_key_secret")
            .map(String::as_str),
        Some("0123")
    );
    assert_eq!(
        gryt::yaml::render_credentials(&parsed).expect("renders"),
        creds
    );
}
