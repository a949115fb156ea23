//! The change-feed page decoder: `serde_json::from_slice::<Data<SyncChanges>>`, then what
//! the client does with each record: generations through the reading of a wire record the
//! client's pull uses (gryt-core's `Generation::content`), whose result must be in canonical
//! form; evolutions through `EvolutionStatus::parse`, `RcTag::parse` and `Version::parse` as the
//! sync code uses them; then the three-way merge.
//!
//! Properties: no panic; canonical forms are fixed points (parse(to_string(x)) == x);
//! merging a record with itself never conflicts.
#![no_main]

use gryt_core::merge::{merge_generation, GenerationContent, Merge};
use gryt_core::api::{Data, FeedRecord, Generation, SyncChanges};
use gryt_core::{
    ChangeId, ChangeType, EvolutionStatus, GenerationSpec, GenerationStatus, RcTag, Version,
};
use libfuzzer_sys::fuzz_target;

/// The client's reading of a feed generation; what it accepts is in canonical form.
fn content_of_wire(g: &Generation) -> Option<GenerationContent> {
    let content = g.content().ok()?;
    let v = Version::parse(&content.version).ok();
    assert_eq!(
        v.map(|v| v.to_string()).as_deref(),
        Some(content.version.as_str()),
        "version canonical form"
    );
    assert_eq!(
        GenerationStatus::parse(content.status.as_str()).ok(),
        Some(content.status)
    );
    for c in &content.changes {
        assert_eq!(ChangeId::parse(c.id.as_str()).ok().as_ref(), Some(&c.id));
        assert_eq!(
            ChangeType::parse(c.change_type.as_str()).ok(),
            Some(c.change_type)
        );
    }
    Some(content)
}

fuzz_target!(|data: &[u8]| {
    let Ok(page) = serde_json::from_slice::<Data<SyncChanges>>(data) else {
        return;
    };
    let page = page.data;
    let _ = (page.next, page.head);
    let mut last: Option<GenerationContent> = None;
    for item in &page.items {
        let _ = item.seq();
        match item {
            FeedRecord::Generation(g) => {
                if g.deleted {
                    continue;
                }
                let Some(content) = content_of_wire(g) else {
                    continue;
                };
                // The contract rules on what the server sent (the client shows and gates it).
                let spec = GenerationSpec {
                    version: content.version.clone(),
                    description: content.description.clone(),
                    changes: content.changes.clone(),
                    pipeline_template: content.pipeline_template.clone(),
                };
                let _ = spec.validate();
                // Merging a record with itself: no edits anywhere, nothing to conflict.
                let m = merge_generation(Some(&content), Some(&content), true, Some(&content));
                assert!(
                    !matches!(m, Merge::Conflict(_)),
                    "self-merge conflicted: {m:?}"
                );
                if let Some(prev) = &last {
                    let _ = merge_generation(Some(prev), Some(&content), true, Some(prev));
                    let _ = merge_generation(Some(prev), Some(prev), true, Some(&content));
                    let _ = merge_generation(Some(prev), Some(&content), true, None);
                    let _ = merge_generation(None, Some(prev), true, Some(&content));
                }
                last = Some(content);
            }
            FeedRecord::Evolution(e) => {
                let _ = Version::parse(&e.version);
                if let Ok(s) = EvolutionStatus::parse(&e.status) {
                    assert_eq!(EvolutionStatus::parse(s.as_str()).ok(), Some(s));
                }
                let _ = ChangeId::parse(&e.change_id);
                if let Some(tag) = &e.tag {
                    let _ = RcTag::parse(tag);
                }
            }
        }
    }
});
