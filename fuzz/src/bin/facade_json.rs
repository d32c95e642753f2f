//! AFL target: see idgraph_fuzz::facade_json.
fn main() {
    afl::fuzz!(|data: &[u8]| {
        idgraph_fuzz::facade_json(data);
    });
}
