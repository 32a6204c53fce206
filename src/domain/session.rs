//! How long the browser flow's short-lived things live: authorization codes and sessions.
//! The authorization endpoint issues them with these figures; the purge deletes what has
//! outlived them.

use chrono::Duration;

/// How long a code may wait for its token request (RFC 6749 §4.1.2: "a maximum
/// authorization code lifetime of 10 minutes is RECOMMENDED"; a minute is plenty for a
/// redirect and one request, and shortens what a leaked code is worth).
pub const CODE_LIFETIME: Duration = Duration::seconds(60);
/// A session unused this long ends.
pub const SESSION_IDLE: Duration = Duration::minutes(30);
/// A session ends this long after sign-in, however much it is used.
pub const SESSION_LIFETIME: Duration = Duration::hours(12);
