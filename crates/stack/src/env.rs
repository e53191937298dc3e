//! Environment variables the templates set for the deployed runtime and
//! the runtime reads: one name for both sides.

/// Set (to `1`) where the site is in a bucket behind CloudFront: the
/// runtime does not serve it, and its package does not hold it.
pub const SITE_SERVED_ELSEWHERE: &str = "STACKWRIGHT_SITE_SERVED_ELSEWHERE";
