//! The runtime's own database user: it may read and write the stack's rows
//! and nothing else (no DDL, no other databases, no users). The migration
//! runs as the administrator and makes this user; the serving runtime
//! connects as it, so a flaw in the runtime cannot drop a table or read
//! another database.

use aws_lc_rs::{digest, hmac, pbkdf2};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use crate::error::{Result, StorageError};

/// A database user for the runtime, and its password.
#[derive(Clone)]
pub struct AppUser {
    pub name: String,
    pub password: String,
}

impl std::fmt::Debug for AppUser {
    // Never the password, whatever prints this.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppUser").field("name", &self.name).finish()
    }
}

impl AppUser {
    /// The name must be a plain identifier: it is written into statements.
    pub fn new(name: &str, password: String) -> Result<Self> {
        let valid = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
            && name.len() <= 32
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !valid {
            return Err(StorageError::Internal(format!(
                "`{name}` is not a valid database user name"
            )));
        }
        // Printable ASCII: PostgreSQL normalizes other passwords (SASLprep)
        // before deriving the verifier, which is not done here.
        if password.is_empty() || !password.chars().all(|c| c.is_ascii_graphic()) {
            return Err(StorageError::Internal(
                "the app user's password must be printable ASCII without spaces".into(),
            ));
        }
        Ok(AppUser {
            name: name.to_string(),
            password,
        })
    }
}

/// A string literal for either dialect: quotes doubled, and backslashes
/// doubled for MySQL (where they escape).
fn literal(text: &str, backslashes: bool) -> String {
    let mut out = text.replace('\'', "''");
    if backslashes {
        out = out.replace('\\', "\\\\");
    }
    format!("'{out}'")
}

/// PostgreSQL: the user (made or updated), allowed to use the current
/// schema's tables and sequences, now and for tables migrations add
/// later. The password is sent as a SCRAM-SHA-256 verifier, so the server
/// (and its statement log) never sees it.
pub fn postgres(user: &AppUser, salt: [u8; 16]) -> Vec<String> {
    let name = &user.name;
    let verifier = literal(&scram_sha256(&user.password, &salt, 4096), false);
    vec![
        format!(
            "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = '{name}') THEN CREATE ROLE \"{name}\" LOGIN; END IF; END $$"
        ),
        format!("ALTER ROLE \"{name}\" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD {verifier}"),
        format!("DO $$ BEGIN EXECUTE format('GRANT CONNECT ON DATABASE %I TO \"{name}\"', current_database()); END $$"),
        format!("DO $$ BEGIN EXECUTE format('GRANT USAGE ON SCHEMA %I TO \"{name}\"', current_schema()); END $$"),
        format!("DO $$ BEGIN EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I TO \"{name}\"', current_schema()); END $$"),
        format!("DO $$ BEGIN EXECUTE format('GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA %I TO \"{name}\"', current_schema()); END $$"),
        format!("DO $$ BEGIN EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO \"{name}\"', current_schema()); END $$"),
        format!("DO $$ BEGIN EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO \"{name}\"', current_schema()); END $$"),
        format!(
            "REVOKE INSERT, UPDATE, DELETE ON {} FROM \"{name}\"",
            BOOKKEEPING_TABLES.join(", ")
        ),
    ]
}

/// Stackwright's records of what was migrated and seeded: the runtime reads
/// them (to check the schema) and never writes them, or it could forge the
/// snapshot the next migration plans from.
pub const BOOKKEEPING_TABLES: [&str; 2] = ["_stackwright_migrations", "_stackwright_seed_rows"];

/// MySQL and MariaDB: the user (made or updated) from any host, with row
/// access to each of `tables` of `database` (and read access to the
/// bookkeeping tables). Granted table by table: a grant on `database.*`
/// could not leave the bookkeeping tables out.
pub fn mysql(user: &AppUser, database: &str, tables: &[String]) -> Vec<String> {
    let name = &user.name;
    let password = literal(&user.password, true);
    let db = database.replace('`', "``");
    let mut statements = vec![
        format!("CREATE USER IF NOT EXISTS '{name}'@'%' IDENTIFIED BY {password}"),
        format!("ALTER USER '{name}'@'%' IDENTIFIED BY {password}"),
    ];
    for table in tables {
        let privileges = if BOOKKEEPING_TABLES.contains(&table.as_str()) {
            "SELECT"
        } else {
            "SELECT, INSERT, UPDATE, DELETE"
        };
        let table = table.replace('`', "``");
        statements.push(format!(
            "GRANT {privileges} ON `{db}`.`{table}` TO '{name}'@'%'"
        ));
    }
    statements
}

/// PostgreSQL's stored form of a SCRAM-SHA-256 password (RFC 7677, as
/// `pg_authid` keeps it).
fn scram_sha256(password: &str, salt: &[u8], iterations: u32) -> String {
    let mut salted = [0u8; 32];
    pbkdf2::derive(
        pbkdf2::PBKDF2_HMAC_SHA256,
        std::num::NonZeroU32::new(iterations).expect("iterations > 0"),
        salt,
        password.as_bytes(),
        &mut salted,
    );
    let key = hmac::Key::new(hmac::HMAC_SHA256, &salted);
    let client_key = hmac::sign(&key, b"Client Key");
    let stored_key = digest::digest(&digest::SHA256, client_key.as_ref());
    let server_key = hmac::sign(&key, b"Server Key");
    format!(
        "SCRAM-SHA-256${iterations}:{}${}:{}",
        STANDARD.encode(salt),
        STANDARD.encode(stored_key.as_ref()),
        STANDARD.encode(server_key.as_ref())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_identifiers_and_passwords_never_print() {
        assert!(AppUser::new("stackwright_app", "pw".into()).is_ok());
        for bad in ["", "App", "1x", "a-b", "a\"b", "a'b", &"x".repeat(33)] {
            assert!(AppUser::new(bad, "pw".into()).is_err(), "{bad}");
        }
        for bad in ["", "with space", "pässword"] {
            assert!(AppUser::new("app", bad.into()).is_err(), "{bad}");
        }
        let user = AppUser::new("app", "s3cret".into()).unwrap();
        assert!(!format!("{user:?}").contains("s3cret"));
    }

    #[test]
    fn the_postgres_password_is_a_verifier_never_the_text() {
        let user = AppUser::new("app", "pa'ss".into()).unwrap();
        let statements = postgres(&user, [1; 16]).join("\n");
        assert!(!statements.contains("pa'ss") && !statements.contains("pa''ss"));
        assert!(statements.contains("PASSWORD 'SCRAM-SHA-256$4096:AQEBAQEBAQEBAQEBAQEBAQ==$"));
        let tables = ["tasks".to_string(), "_stackwright_migrations".to_string()];
        let user = AppUser::new("app", "a'b\\c{database}".into()).unwrap();
        let mysql = mysql(&user, "d_b", &tables).join("\n");
        assert!(
            mysql.contains("IDENTIFIED BY 'a''b\\\\c{database}'"),
            "{mysql}"
        );
        assert!(mysql.contains("GRANT SELECT, INSERT, UPDATE, DELETE ON `d_b`.`tasks`"));
        assert!(mysql.contains("GRANT SELECT ON `d_b`.`_stackwright_migrations`"));
    }
}
