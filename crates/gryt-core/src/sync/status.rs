//! Where a local record stands with the server.

/// The sync status of a local generation or evolution (the store's `sync_status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncStatus {
    /// Local work not yet taken by the server.
    NotSynced,
    /// Being sent (a status older gryts wrote; local work like `NotSynced`).
    Syncing,
    /// Equal to the server's copy it was last synced with.
    Synced,
    /// Both sides changed it: the decision is the user's.
    Conflict,
    /// The server refused it for good.
    Failed,
}

impl SyncStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SyncStatus::NotSynced => "not_synced",
            SyncStatus::Syncing => "syncing",
            SyncStatus::Synced => "synced",
            SyncStatus::Conflict => "conflict",
            SyncStatus::Failed => "failed",
        }
    }

    /// The status a store wrote; anything unknown counts as local work (never as synced,
    /// which would let the server's copy replace it).
    pub fn parse(s: &str) -> SyncStatus {
        match s {
            "syncing" => SyncStatus::Syncing,
            "synced" => SyncStatus::Synced,
            "conflict" => SyncStatus::Conflict,
            "failed" => SyncStatus::Failed,
            _ => SyncStatus::NotSynced,
        }
    }

    /// Whether the record holds local work the server has not taken (anything but synced).
    pub fn is_local_work(self) -> bool {
        self != SyncStatus::Synced
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_read_back_and_unknown_ones_are_local_work() {
        for s in [
            SyncStatus::NotSynced,
            SyncStatus::Syncing,
            SyncStatus::Synced,
            SyncStatus::Conflict,
            SyncStatus::Failed,
        ] {
            assert_eq!(SyncStatus::parse(s.as_str()), s);
        }
        assert!(SyncStatus::parse("pushed?").is_local_work());
        assert!(!SyncStatus::Synced.is_local_work());
    }
}
