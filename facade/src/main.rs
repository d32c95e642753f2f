//! idgraph-facade: the HTTPS door onto the idgraph SQL functions.

fn main() {
    eprintln!("idgraph-facade: not built yet; see issue 5");
    std::process::exit(2);
}
