//! `idgraph-facade keys …`: API-key management from the command line. The key is
//! generated and hashed here; the database keeps only the argon2id hash.

use tokio_postgres::NoTls;

use crate::auth::{generate_key, Scope};
use crate::config::KeysCommand;

type Res<T> = Result<T, String>;

async fn connect(url: &str) -> Res<tokio_postgres::Client> {
    let (client, conn) = tokio_postgres::connect(url, NoTls)
        .await
        .map_err(|e| format!("cannot connect: {e}"))?;
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            eprintln!("connection error: {e}");
        }
    });
    Ok(client)
}

fn db_err(e: tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(d) => format!("{} ({})", d.message(), d.code().code()),
        None => e.to_string(),
    }
}

pub async fn run(cmd: KeysCommand) -> Res<()> {
    match cmd {
        KeysCommand::Create {
            db,
            name,
            scopes,
            team,
            expires_days,
        } => {
            let scopes: Vec<String> = scopes
                .iter()
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect();
            if scopes.is_empty() {
                return Err("give at least one scope with --scopes".into());
            }
            if let Some(bad) = scopes.iter().find(|s| Scope::parse(s).is_none()) {
                let all: Vec<&str> = Scope::ALL.iter().map(|s| s.as_str()).collect();
                return Err(format!(
                    "unknown scope {bad}; scopes are {}",
                    all.join(", ")
                ));
            }
            let key = tokio::task::spawn_blocking(generate_key)
                .await
                .map_err(|e| e.to_string())??;
            let client = connect(&db.database_url).await?;
            let expires = expires_days.map(|d| d as f64 * 86400.0);
            client
                .execute(
                    "SELECT idgraph.api_key_create($1, $2, $3, $4, $5, \
                        CASE WHEN $6::float8 IS NULL THEN NULL ELSE now() + make_interval(secs => $6::float8) END)",
                    &[&key.key_id, &name, &key.secret_hash, &scopes, &team, &expires],
                )
                .await
                .map_err(db_err)?;
            eprintln!(
                "created key {} ({name}) with scopes {}; it is shown once:",
                key.key_id,
                scopes.join(",")
            );
            println!("{}", key.full_key);
            Ok(())
        }
        KeysCommand::List { db } => {
            let client = connect(&db.database_url).await?;
            let rows = client
                .query(
                    "SELECT key_id, name, array_to_string(scopes, ','), coalesce(team, ''), \
                            to_char(created_at, 'YYYY-MM-DD HH24:MI'), \
                            coalesce(to_char(expires_at, 'YYYY-MM-DD HH24:MI'), ''), \
                            coalesce(to_char(revoked_at, 'YYYY-MM-DD HH24:MI'), '') \
                       FROM idgraph.api_keys_list()",
                    &[],
                )
                .await
                .map_err(db_err)?;
            println!("key_id\tname\tscopes\tteam\tcreated\texpires\trevoked");
            for r in rows {
                let cols: Vec<String> = (0..7)
                    .map(|i| r.try_get::<_, String>(i).unwrap_or_default())
                    .collect();
                println!("{}", cols.join("\t"));
            }
            Ok(())
        }
        KeysCommand::Revoke { db, key_id } => {
            let client = connect(&db.database_url).await?;
            client
                .execute("SELECT idgraph.api_key_revoke($1)", &[&key_id])
                .await
                .map_err(db_err)?;
            eprintln!("revoked key {key_id} (cached copies expire within the key cache TTL)");
            Ok(())
        }
    }
}
