//! The SLO engine (TRD FR-2, FR-6, FR-7): SLI history documents, recommendation math and
//! explanations. Pure functions over plain data: `pg_ext/src/api/slo.rs` loads the SLI
//! windows and the dependency graph and stores what these return.

mod recommend;
mod sli;
mod stats;
mod time;

pub use recommend::{
    archetype_of, effective_lookback, recommend, Archetype, Counterfactual, DependencyView,
    Lookback, RecommendInput, SliType, Window, AVERAGE_MONTH_MINUTES, COLD_START_DAYS,
    COLD_START_LOOKBACK_DAYS, DEFAULT_NOISE_MARGIN, MIN_HISTORY_DAYS,
};
pub use sli::{parse_sli_document, SliRow, MAX_SLI_WINDOWS};
pub use stats::{bootstrap_quantiles, quantile, SplitMix64, BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED};
pub use time::{format_rfc3339, parse_rfc3339};
