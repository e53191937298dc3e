//! `stackwright users`: the embedded user pool from the command line, on
//! the database `up` uses (list, confirm without a code, delete).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;
use clap::{Args, Subcommand};
use serde_json::json;
use stackwright_server::users::pool::{Failure, Pool};

use crate::load_stack;
use crate::output::Output;
use crate::serve::{database_url, DatabaseArgs};
use stackwright_stack::env::RuntimeConfig;

#[derive(Args)]
pub struct UsersArgs {
    #[command(subcommand)]
    pub command: UsersCommand,
}

#[derive(Subcommand)]
pub enum UsersCommand {
    /// List the users: e-mail, id, whether confirmed.
    List(UsersTarget),
    /// Confirm a user without the code (as an administrator would).
    Confirm(UserArgs),
    /// Delete a user and sign them out everywhere.
    Delete(UserArgs),
}

#[derive(Args)]
pub struct UsersTarget {
    /// Folder holding stackwright.toml (or the file itself).
    #[arg(default_value = ".", env = stackwright_stack::env::STACK)]
    pub dir: PathBuf,

    #[command(flatten)]
    pub database: DatabaseArgs,

    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct UserArgs {
    /// The user's e-mail address.
    pub email: String,

    #[command(flatten)]
    pub target: UsersTarget,
}

async fn open(
    target: &UsersTarget,
    config: &RuntimeConfig,
    out: &Output,
) -> anyhow::Result<Option<Pool>> {
    let Some(stack) = load_stack(&target.dir, out, target.json)? else {
        return Ok(None);
    };
    if stack.users.is_none() {
        bail!("stack `{}` has no [users] section", stack.name);
    }
    let url = database_url(&stack, &target.database, config).await?;
    let engine = stackwright_storage::open(&url).await?;
    stackwright_storage::prepare(engine.as_ref(), &stack, false).await?;
    Pool::open(engine, &stack).await.map(Some).map_err(failure)
}

fn failure(e: Failure) -> anyhow::Error {
    match e {
        Failure::Refused(e) => anyhow::anyhow!("{}", e.message),
        Failure::Storage(e) => e.into(),
        Failure::Busy => anyhow::anyhow!("the user pool is busy hashing passwords: try again"),
    }
}

pub async fn run(
    args: &UsersArgs,
    config: &RuntimeConfig,
    out: &Output,
) -> anyhow::Result<ExitCode> {
    let target = match &args.command {
        UsersCommand::List(t) => t,
        UsersCommand::Confirm(a) | UsersCommand::Delete(a) => &a.target,
    };
    let Some(pool) = open(target, config, out).await? else {
        return Ok(ExitCode::FAILURE);
    };
    match &args.command {
        UsersCommand::List(_) => {
            let users = pool.list().await.map_err(failure)?;
            if target.json {
                out.json(&json!({ "ok": true, "users": users }));
            } else if users.is_empty() {
                out.line("no users");
            } else {
                for u in &users {
                    out.line(&format!(
                        "{}  {}  {}",
                        u.email,
                        u.sub,
                        if u.confirmed {
                            "confirmed"
                        } else {
                            "unconfirmed"
                        }
                    ));
                }
            }
        }
        UsersCommand::Confirm(a) => {
            if !pool.admin_confirm(&a.email).await.map_err(failure)? {
                bail!("no user {}", a.email);
            }
            if target.json {
                out.json(&json!({ "ok": true, "confirmed": a.email }));
            } else {
                out.line(&format!("{} confirmed", a.email));
            }
        }
        UsersCommand::Delete(a) => {
            if !pool.delete(&a.email).await.map_err(failure)? {
                bail!("no user {}", a.email);
            }
            if target.json {
                out.json(&json!({ "ok": true, "deleted": a.email }));
            } else {
                out.line(&format!("{} deleted", a.email));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
