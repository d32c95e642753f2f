//! `idgraph-facade keys …`: API-key management from the command line. The key is
//! generated and hashed here; the database keeps only the argon2id hash.

use std::time::Duration;

use crate::auth::{generate_key, Scope};
use crate::config::{DbArgs, KeysCommand};

type Res<T> = Result<T, String>;

/// One connection over the whole connection string (TLS per its sslmode, see pgconn).
async fn connect(db: &DbArgs) -> Res<tokio_postgres::Client> {
    let target = crate::pgconn::parse(
        &db.database_url,
        db.database_ca_file.as_deref(),
        Some(Duration::from_secs(30)),
    )?;
    let (client, conn) = target
        .config
        .connect(target.tls)
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
            expires_in_days,
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
            let client = connect(&db).await?;
            let days = expires_in_days as i32;
            let row = client
                .query_one(
                    "SELECT to_char(expires_at, 'YYYY-MM-DD HH24:MI TZ') FROM idgraph.api_key_create($1, $2, $3, $4, $5, \
                        now() + make_interval(days => $6::int))",
                    &[&key.key_id, &name, &key.secret_hash, &scopes, &team, &days],
                )
                .await
                .map_err(db_err)?;
            let expires: String = row.try_get(0).map_err(db_err)?;
            eprintln!(
                "created key {} ({name}) with scopes {}, expiring {expires}; it is shown once:",
                key.key_id,
                scopes.join(",")
            );
            println!("{}", key.full_key);
            Ok(())
        }
        KeysCommand::List { db } => {
            let client = connect(&db).await?;
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
        KeysCommand::Rotate {
            db,
            key_id,
            grace_hours,
            expires_in_days,
        } => {
            let key = tokio::task::spawn_blocking(generate_key)
                .await
                .map_err(|e| e.to_string())??;
            let client = connect(&db).await?;
            let (hours, days) = (grace_hours as i32, expires_in_days as i32);
            let row = client
                .query_one(
                    "SELECT name, to_char(expires_at, 'YYYY-MM-DD HH24:MI TZ'), \
                            to_char(replaced_key_expires_at, 'YYYY-MM-DD HH24:MI TZ') \
                       FROM idgraph.api_key_rotate($1, $2, $3, make_interval(hours => $4::int), \
                                                   now() + make_interval(days => $5::int))",
                    &[&key_id, &key.key_id, &key.secret_hash, &hours, &days],
                )
                .await
                .map_err(db_err)?;
            let name: String = row.try_get(0).map_err(db_err)?;
            let expires: String = row.try_get(1).map_err(db_err)?;
            let old_expires: String = row.try_get(2).map_err(db_err)?;
            eprintln!(
                "key {key_id} ({name}) rotated: it works until {old_expires}; its successor {} expires {expires} and is shown once:",
                key.key_id
            );
            println!("{}", key.full_key);
            Ok(())
        }
        KeysCommand::Revoke { db, key_id } => {
            let client = connect(&db).await?;
            client
                .execute("SELECT idgraph.api_key_revoke($1)", &[&key_id])
                .await
                .map_err(db_err)?;
            eprintln!("revoked key {key_id} (cached copies expire within the key cache TTL)");
            Ok(())
        }
    }
}
