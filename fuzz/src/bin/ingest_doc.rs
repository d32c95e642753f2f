//! AFL target: see idgraph_fuzz::ingest_doc.
fn main() {
    afl::fuzz!(|data: &[u8]| {
        idgraph_fuzz::ingest_doc(data);
    });
}
