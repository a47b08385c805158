//! `tapedeck keys`: create, list and revoke API keys in the database a server uses, without
//! the server running.

use tapedeck_engine::api_keys::{self, NewKey};
use tapedeck_store::meta::ApiKeyMetadata;

use crate::config::{KeysAction, KeysConfig};
use crate::serve::open_metadata;

/// Runs one `keys` action and prints its result.
pub async fn run(config: KeysConfig) -> anyhow::Result<()> {
    let meta = open_metadata(&config.store).await?;
    match config.action {
        KeysAction::Create {
            name,
            project,
            admin,
        } => {
            let issued = api_keys::create(
                &meta,
                NewKey {
                    name,
                    project,
                    admin,
                },
            )
            .await?;
            let key = &issued.record;
            println!(
                "created key {} ({}) in project {}",
                key.id, key.name, key.project
            );
            // Alone on the last line, so scripts can take it with `tail -n 1`.
            println!("{}", issued.secret);
        }
        KeysAction::List => {
            println!("id\tproject\tname\tadmin\tcreated\trevoked");
            for key in meta.list_api_keys().await? {
                let revoked = key.revoked_at.map(|at| at.to_string()).unwrap_or_default();
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}",
                    key.id, key.project, key.name, key.admin, key.created_at, revoked
                );
            }
        }
        KeysAction::Revoke { id } => {
            api_keys::revoke(&meta, &id).await?;
            println!("revoked key {id}");
        }
    }
    Ok(())
}
