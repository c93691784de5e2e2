//! The [`ResultStore`] implementation: dirty marks (`dirty`), saving (`result_save`), queries
//! (`result_queries`), the engine's state (`engine_state`) and the rules' records (`records`).

use async_trait::async_trait;
use fenhe_core::compliance::{Aggregate, Emission, Episode, Evaluation, Finding, FindingKind, Rate, Record};

use super::{SqliteStore, dirty, engine_state, records, result_queries, result_save};
use crate::{
    AggregateQuery, DirtyDay, EmissionQuery, EpisodeQuery, FindingQuery, RateQuery, Result, ResultStore,
};

#[async_trait]
impl ResultStore for SqliteStore {
    async fn dirty_days(&self, limit: u32) -> Result<Vec<DirtyDay>> {
        dirty::dirty_days(self, limit).await
    }
    async fn clear_dirty(&self, done: &[DirtyDay]) -> Result<()> {
        dirty::clear_dirty(self, done).await
    }
    async fn mark_all_dirty(&self) -> Result<u64> {
        dirty::mark_all_dirty(self).await
    }
    async fn mark_dirty(&self, mn: &str, day_starts: &[i64]) -> Result<u64> {
        dirty::mark_days_dirty(self, mn, day_starts).await
    }
    async fn save_evaluation(&self, mn: &str, from: i64, to: i64, ev: &Evaluation) -> Result<()> {
        result_save::save_evaluation(self, mn, from, to, ev).await
    }
    async fn replace_episodes(&self, mn: &str, from: i64, to: i64, episodes: &[Episode]) -> Result<()> {
        result_save::replace_episodes(self, mn, from, to, episodes).await
    }
    async fn replace_findings(
        &self,
        mn: &str,
        from: i64,
        to: i64,
        kinds: Option<&[FindingKind]>,
        findings: &[Finding],
    ) -> Result<()> {
        result_save::replace_findings(self, mn, from, to, kinds, findings).await
    }
    async fn save_monthly(
        &self,
        mn: &str,
        month_start: i64,
        emissions: &[Emission],
        rates: &[Rate],
        findings: &[Finding],
    ) -> Result<()> {
        result_save::save_monthly(self, mn, month_start, emissions, rates, findings).await
    }
    async fn aggregates(&self, q: &AggregateQuery) -> Result<Vec<Aggregate>> {
        result_queries::aggregates(self, q).await
    }
    async fn episodes(&self, q: &EpisodeQuery) -> Result<Vec<Episode>> {
        result_queries::episodes(self, q).await
    }
    async fn findings(&self, q: &FindingQuery) -> Result<Vec<Finding>> {
        result_queries::findings(self, q).await
    }
    async fn emissions(&self, q: &EmissionQuery) -> Result<Vec<Emission>> {
        result_queries::emissions(self, q).await
    }
    async fn rates(&self, q: &RateQuery) -> Result<Vec<Rate>> {
        result_queries::rates(self, q).await
    }
    async fn data_hours(&self, from: i64, to: i64) -> Result<Vec<(String, i64)>> {
        result_queries::data_hours(self, from, to).await
    }
    async fn engine_state(&self, name: &str) -> Result<Option<String>> {
        engine_state::engine_state(self, name).await
    }
    async fn set_engine_state(&self, name: &str, value: &str) -> Result<()> {
        engine_state::set_engine_state(self, name, value).await
    }
    async fn compliance_records(&self, mn: &str, from: i64, to: i64) -> Result<Vec<Record>> {
        records::compliance_records_into(self, mn, from, to, Vec::new()).await
    }
    async fn compliance_records_into(
        &self,
        mn: &str,
        from: i64,
        to: i64,
        buf: Vec<Record>,
    ) -> Result<Vec<Record>> {
        records::compliance_records_into(self, mn, from, to, buf).await
    }
}
