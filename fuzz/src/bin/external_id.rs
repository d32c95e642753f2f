//! AFL target: see idgraph_fuzz::external_id.
fn main() {
    afl::fuzz!(|data: &[u8]| {
        idgraph_fuzz::external_id(data);
    });
}
