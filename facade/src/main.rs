//! `idgraph-facade serve | keys create | keys list | keys revoke | sli-sync`.

use clap::Parser;
use idgraph_facade::config::{Cli, Command};

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(async move {
        match cli.command {
            Command::Serve(args) => {
                idgraph_facade::server::init_logging();
                idgraph_facade::server::serve(*args, idgraph_facade::server::shutdown_signal())
                    .await
            }
            Command::Keys(k) => idgraph_facade::keys::run(k).await,
            Command::SliSync(a) => idgraph_facade::sli_sync::run(a).await,
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("idgraph-facade: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
