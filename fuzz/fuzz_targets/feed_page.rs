//! The change-feed page decoder: `serde_json::from_slice::<Data<SyncChanges>>`, then what
//! the client does with each record. src/syncstore.rs `content_of_wire` lives in the binary
//! crate (with rusqlite-bound neighbours), so its checks are replicated here with the same
//! gryt-core parsers; evolutions go through `EvolutionStatus::parse`, `RcTag::parse` and
//! `Version::parse` as src/sync.rs / src/syncstore.rs use them; then the three-way merge.
//!
//! Properties: no panic; canonical forms are fixed points (parse(to_string(x)) == x);
//! merging a record with itself never conflicts.
#![no_main]

use gryt_core::merge::{merge_generation, GenerationContent, Merge};
use gryt_core::wire::{Data, FeedRecord, Generation, SyncChanges};
use gryt_core::{
    Change, ChangeId, ChangeType, EvolutionStatus, GenerationSpec, GenerationStatus, RcTag,
    Version,
};
use libfuzzer_sys::fuzz_target;

/// src/syncstore.rs `content_of_wire`, error type aside.
fn content_of_wire(g: &Generation) -> Option<GenerationContent> {
    let v = Version::parse(&g.version).ok()?;
    let version = v.to_string();
    assert_eq!(Version::parse(&version).ok(), Some(v), "version canonical form");
    let status = GenerationStatus::parse(&g.status).ok()?;
    assert_eq!(GenerationStatus::parse(status.as_str()).ok(), Some(status));
    let mut changes = Vec::with_capacity(g.changes.len());
    for c in &g.changes {
        let id = ChangeId::parse(&c.id).ok()?;
        assert_eq!(ChangeId::parse(id.as_str()).ok().as_ref(), Some(&id));
        let change_type = ChangeType::parse(&c.change_type).ok()?;
        assert_eq!(ChangeType::parse(change_type.as_str()).ok(), Some(change_type));
        changes.push(Change {
            id,
            change_type,
            title: c.title.clone(),
            description: c.description.clone(),
            assignee: c.assignee.clone(),
        });
    }
    Some(GenerationContent {
        version,
        description: g.description.clone(),
        pipeline_template: g.pipeline_template.clone(),
        status,
        changes,
    })
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
                assert!(!matches!(m, Merge::Conflict(_)), "self-merge conflicted: {m:?}");
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
