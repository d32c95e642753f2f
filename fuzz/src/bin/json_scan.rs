//! AFL target: see idgraph_fuzz::json_scan.
fn main() {
    afl::fuzz!(|data: &[u8]| {
        idgraph_fuzz::json_scan(data);
    });
}
