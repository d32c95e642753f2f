//! The cached graph as a file in the data directory, shared by every backend of one
//! database: `pg_idgraph/graph-<database oid>.bin`.
//!
//! A backend that loads the graph whole writes what it loaded there (a committed state
//! only); a fresh backend starts from the file instead of reading every row, and catches
//! up from `idgraph.graph_changes` when the file is behind (see `graph_cache`). The file
//! is a cache: written atomically (a file of the backend's own, then renamed), checked on
//! read (a magic, a format number, a CRC-32 over the rest, the database it belongs to,
//! and [`Graph::from_parts`]' consistency checks), and ignored — with a line in the
//! server log — when anything does not match. It works with or without
//! `shared_preload_libraries`, on a primary and on each replica (each writes its own), and
//! it goes with the database: a database's file names its oid and the xmin of its
//! `pg_database` row, so a database created later with the same oid never reads it.

use std::collections::HashMap;
use std::io::Write;

use idgraph_core::depgraph::{Cycle, Edge, Graph, Service};
use pgrx::pg_sys;
use serde::{Deserialize, Serialize};

const DIR: &str = "pg_idgraph";
const MAGIC: &[u8; 8] = b"IDGRAPH\x01";
/// Bumped whenever [`Stored`] changes shape.
pub const FORMAT: u32 = 1;

/// What the file holds: a committed graph state and what identifies it.
#[derive(Serialize, Deserialize)]
pub struct Stored {
    pub format: u32,
    /// `pg_database.xmin` of the database, as text.
    pub database: String,
    pub version: i64,
    pub xmin: String,
    pub topology_version: i64,
    /// `graph_state.tag` of the state.
    pub tag: i64,
    pub services: Vec<Service>,
    pub edges: Vec<Edge>,
    /// `services.service_pk` of each node, in node order.
    pub pks: Vec<i32>,
    pub slo_targets: Vec<(String, f64)>,
    pub cycles: Option<Vec<Cycle>>,
}

impl Stored {
    pub fn slo_map(&self) -> HashMap<String, f64> {
        self.slo_targets.iter().cloned().collect()
    }

    pub fn graph(&self) -> Result<Graph, String> {
        Graph::from_parts(self.services.clone(), self.edges.clone()).map_err(|e| e.to_string())
    }
}

fn path() -> String {
    // SAFETY: MyDatabaseId is set for the whole life of a backend connected to a database.
    let oid = unsafe { pg_sys::MyDatabaseId }.to_u32();
    format!("{DIR}/graph-{oid}.bin")
}

/// Writes the file (atomically: a file of this backend's own, renamed over it). A failure
/// is logged, not raised: the graph call it happens in has its answer either way.
pub fn write(stored: &Stored) {
    if let Err(e) = try_write(stored) {
        pgrx::log!(
            "idgraph: could not write the graph cache file {}: {e}",
            path()
        );
    }
}

fn try_write(stored: &Stored) -> Result<(), String> {
    let payload = postcard::to_allocvec(stored).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(DIR).map_err(|e| e.to_string())?;
    let final_path = path();
    let tmp = format!("{final_path}.{}.tmp", std::process::id());
    let mut f = std::fs::File::create(&tmp).map_err(|e| e.to_string())?;
    f.write_all(MAGIC).map_err(|e| e.to_string())?;
    f.write_all(&crc32fast::hash(&payload).to_le_bytes())
        .map_err(|e| e.to_string())?;
    f.write_all(&payload).map_err(|e| e.to_string())?;
    drop(f);
    std::fs::rename(&tmp, &final_path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        e.to_string()
    })
}

/// Reads the file: `None` when there is none, or (logged) when it does not check out.
pub fn read(database: &str) -> Option<Stored> {
    let bytes = match std::fs::read(path()) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => {
            pgrx::log!(
                "idgraph: could not read the graph cache file {}: {e}",
                path()
            );
            return None;
        }
    };
    match decode(&bytes, database) {
        Ok(s) => Some(s),
        Err(why) => {
            pgrx::log!("idgraph: ignoring the graph cache file {}: {why}", path());
            None
        }
    }
}

fn decode(bytes: &[u8], database: &str) -> Result<Stored, String> {
    if bytes.len() < 12 || &bytes[..8] != MAGIC {
        return Err("not an idgraph graph file".into());
    }
    let crc = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
    let payload = &bytes[12..];
    if crc32fast::hash(payload) != crc {
        return Err("checksum mismatch".into());
    }
    let stored: Stored = postcard::from_bytes(payload).map_err(|e| e.to_string())?;
    if stored.format != FORMAT {
        return Err(format!(
            "format {} (this build reads {FORMAT})",
            stored.format
        ));
    }
    if stored.database != database {
        return Err("written for another database with the same oid".into());
    }
    if stored.pks.len() != stored.services.len() {
        return Err("services and their keys differ in number".into());
    }
    Ok(stored)
}
