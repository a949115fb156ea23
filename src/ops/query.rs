//! What commands show, loaded for them: the read-only use cases, as methods of the
//! workspace, so commands never reach the store's connection themselves.

use crate::context::Workspace;
use crate::error::Result;
use crate::store::{
    self, EvolutionRecord, GenerationRecord, GenerationSummary, PromotionState, RunView,
};
use gryt_core::GateReport;

impl Workspace {
    /// Every generation, as `gryt generation list` shows them.
    pub fn generations(&self) -> Result<Vec<GenerationSummary>> {
        store::list_generations(&self.store.conn)
    }

    /// The generation `version` names (1.2.0 and v1.2.0 alike), or a clear "not found".
    pub fn generation(&self, version: &str) -> Result<GenerationRecord> {
        super::load_generation(&self.store.conn, version)
    }

    /// The generation's evolutions and its promotion gate at HEAD.
    pub fn gate(&self, rec: &GenerationRecord) -> Result<(Vec<EvolutionRecord>, GateReport)> {
        super::gate_of(&self.repo, &self.store.conn, rec)
    }

    /// The generation's evolutions and its promotion gate at `commit`.
    pub fn gate_at(
        &self,
        rec: &GenerationRecord,
        commit: Option<&str>,
    ) -> Result<(Vec<EvolutionRecord>, GateReport)> {
        super::gate_at(&self.repo, &self.store.conn, rec, commit)
    }

    /// What this workspace knows of the generation's promotion.
    pub fn promotion_state(&self, rec: &GenerationRecord) -> Result<PromotionState> {
        store::promotion_state(&self.store.conn, &rec.generation_id)
    }

    /// The evolutions of one generation (by its id), or of all.
    pub fn evolutions(&self, generation_id: Option<&str>) -> Result<Vec<EvolutionRecord>> {
        store::list_evolutions(&self.store.conn, generation_id)
    }

    /// The evolution `key` names (rc tag, code name or id), or a clear error.
    pub fn evolution(&self, key: &str) -> Result<EvolutionRecord> {
        super::find_evolution(&self.store.conn, key)
    }

    /// The pipeline runs recorded on an evolution.
    pub fn runs(&self, evolution_id: &str) -> Result<Vec<RunView>> {
        store::runs_of_evolution(&self.store.conn, evolution_id)
    }

    /// Writes the contract file of generation `version` (canonical) from the database, when
    /// it exists; returns whether it did.
    pub fn export_contract(&self, version: &str) -> Result<bool> {
        match store::get_generation(&self.store.conn, version)? {
            Some(rec) => {
                super::write_contract(&self.store.conn, &self.repo, &rec)?;
                Ok(true)
            }
            None => Ok(false),
        }
    }
}
