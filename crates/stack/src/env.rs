//! Environment variables the templates set for the deployed runtime and
//! the runtime reads: one name for both sides.

/// Set (to `1`) where the site is in a bucket behind CloudFront: the
/// runtime does not serve it, and its package does not hold it.
pub const SITE_SERVED_ELSEWHERE: &str = "STACKWRIGHT_SITE_SERVED_ELSEWHERE";

/// Set (to `1`) where the schema is migrated once per deploy by the
/// migration step: the serving runtime checks the schema instead of
/// migrating (it connects as a user that may not change it).
pub const MIGRATED_ELSEWHERE: &str = "STACKWRIGHT_MIGRATED_ELSEWHERE";

/// For the migration step: the secret holding the runtime's own database
/// user (`username`, `password`), which the migration makes and grants.
pub const APP_DATABASE_SECRET_ARN: &str = "STACKWRIGHT_APP_DATABASE_SECRET_ARN";

/// For `stackwright migrate --app-user`: that user's password.
pub const APP_DATABASE_PASSWORD: &str = "STACKWRIGHT_APP_DATABASE_PASSWORD";
