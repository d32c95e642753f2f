//! Makes sure the pages' third-party files (cytoscape, swagger-ui-dist) are installed in
//! `facade/ui/node_modules` from the committed lockfile before `src/routes/pages.rs`
//! embeds them with `include_bytes!`.
//!
//! Why the build runs `npm ci` itself: every way of building the facade (cargo build,
//! clippy, tests, the Dockerfile, the benches) then works on a clean clone with nothing
//! to remember; `make ui` does the same by hand. It runs only when a needed file is
//! missing or the lockfile is newer than the installed tree, so ordinary rebuilds never
//! touch npm. Install scripts are off (`facade/ui/.npmrc`): no package runs code at
//! install time. `IDGRAPH_UI_NO_NPM=1` forbids the install (then a missing file is an
//! error that says to run `make ui`).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{exit, Command};

/// Files under `node_modules` that `src/routes/pages.rs` embeds.
const VENDOR: &[&str] = &[
    "cytoscape/dist/cytoscape.min.js",
    "swagger-ui-dist/swagger-ui-bundle.js",
    "swagger-ui-dist/swagger-ui.css",
];

fn fail(msg: &str) -> ! {
    eprintln!("\nidgraph-facade build: {msg}\n");
    exit(1)
}

fn missing(modules: &Path) -> Vec<&'static str> {
    VENDOR
        .iter()
        .copied()
        .filter(|f| !modules.join(f).is_file())
        .collect()
}

/// Whether the installed tree is older than the lockfile (npm writes
/// `node_modules/.package-lock.json` at the end of every install).
fn stale(ui: &Path) -> bool {
    let mtime = |p: PathBuf| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    match (
        mtime(ui.join("package-lock.json")),
        mtime(ui.join("node_modules/.package-lock.json")),
    ) {
        (Some(lock), Some(installed)) => installed < lock,
        _ => true,
    }
}

fn main() {
    let ui = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("ui");
    for f in ["package.json", "package-lock.json", ".npmrc", "src"] {
        println!("cargo:rerun-if-changed={}", ui.join(f).display());
    }
    println!("cargo:rerun-if-env-changed=IDGRAPH_UI_NO_NPM");
    let modules = ui.join("node_modules");
    // Also when the installed tree goes away (a missing path always reruns the script).
    for f in VENDOR.iter().chain(&[".package-lock.json"]) {
        println!("cargo:rerun-if-changed={}", modules.join(f).display());
    }
    if missing(&modules).is_empty() && !stale(&ui) {
        return;
    }
    if std::env::var_os("IDGRAPH_UI_NO_NPM").is_some_and(|v| v != "0") {
        fail(&format!(
            "the pages' npm packages are not installed in {} (missing or older than the lockfile: {:?}); run `make ui`",
            modules.display(),
            missing(&modules)
        ));
    }
    // One install at a time, even when several cargo invocations build at once.
    let lock = match File::create(ui.join(".npm-ci.lock")) {
        Ok(f) => f,
        Err(e) => fail(&format!("cannot create {}/.npm-ci.lock: {e}", ui.display())),
    };
    if let Err(e) = lock.lock() {
        fail(&format!("cannot lock {}/.npm-ci.lock: {e}", ui.display()));
    }
    if !missing(&modules).is_empty() || stale(&ui) {
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--ignore-scripts"])
            .current_dir(&ui)
            .status();
        match status {
            Ok(s) if s.success() => {}
            Ok(s) => fail(&format!(
                "`npm ci` in {} failed ({s}); run `make ui` to see why (scripts/setup.sh installs nodejs and npm)",
                ui.display()
            )),
            Err(e) => fail(&format!(
                "cannot run npm ({e}): install nodejs and npm (scripts/setup.sh does), then `make ui`"
            )),
        }
    }
    let left = missing(&modules);
    if !left.is_empty() {
        fail(&format!(
            "after `npm ci` these files are still missing under {}: {left:?}",
            modules.display()
        ));
    }
}
