//! Settings (`SET idgraph.…`). Defined when the library loads.

use pgrx::{GucContext, GucFlags, GucRegistry, GucSetting};

/// Largest batch `allocate_batch` accepts in one call.
pub static MAX_BATCH_SIZE: GucSetting<i32> = GucSetting::<i32>::new(10_000);

pub fn init() {
    GucRegistry::define_int_guc(
        c"idgraph.max_batch_size",
        c"Largest number of external ids idgraph.allocate_batch accepts in one call.",
        c"Batches above this size are refused with SQLSTATE 54000 and nothing is written.",
        &MAX_BATCH_SIZE,
        1,
        1_000_000,
        GucContext::Userset,
        GucFlags::default(),
    );
}
