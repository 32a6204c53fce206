//! Rate limits on the token, introspection and revocation endpoints, and the
//! failed-login throttle of the password grant.
//!
//! Both are per instance (in memory): N instances behind a load balancer admit up to N
//! times the configured rates. That bounds abuse without a shared store; the figures in
//! the docs say so.
//!
//! - **Requests**: token buckets (GCRA, the `governor` crate) per client and per tenant,
//!   charged once the client has authenticated: a client id alone (another party's, or
//!   invented ones) can neither drain a client's bucket nor grow the map of buckets.
//! - **Failed logins**: attempts are counted per (tenant, username) and per client over a
//!   window **as they are admitted** (under one lock), and a successful one is taken back:
//!   many attempts sent at once cannot all pass the check before the first failure is
//!   recorded. Past the limit, password attempts are refused before any password is
//!   checked until the window ends. The username is the normalised (lower-case) one, so changing
//!   case is the same user, and nothing here reads `X-Forwarded-For` or any other header.
//!   A successful login clears its user's count (not the client's).

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use super::OAuthError;
use crate::config::LimitSettings;
use crate::domain::{ClientId, TenantId, Username};

/// A rate limit of `rate` per second with a burst of twice that; `None` when off.
fn bucket<K: std::hash::Hash + Eq + Clone>(rate: u32) -> Option<DefaultKeyedRateLimiter<K>> {
    let rate = NonZeroU32::new(rate)?;
    let burst = rate.saturating_mul(NonZeroU32::new(2).expect("2 is not zero"));
    Some(DefaultKeyedRateLimiter::keyed(
        Quota::per_second(rate).allow_burst(burst),
    ))
}

pub struct RateLimits {
    clock: DefaultClock,
    per_client: Option<DefaultKeyedRateLimiter<ClientId>>,
    per_tenant: Option<DefaultKeyedRateLimiter<TenantId>>,
    logins: LoginThrottle,
}

impl std::fmt::Debug for RateLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimits").finish_non_exhaustive()
    }
}

impl RateLimits {
    pub fn new(settings: LimitSettings) -> Self {
        Self {
            clock: DefaultClock::default(),
            per_client: bucket(settings.client_rate),
            per_tenant: bucket(settings.tenant_rate),
            logins: LoginThrottle {
                user_failures: settings.user_failures,
                client_failures: settings.client_failures,
                window: settings.login_window,
                failures: Mutex::default(),
            },
        }
    }

    /// Charges the bucket of an authenticated client.
    pub fn admit_client(&self, client_id: &ClientId) -> Result<(), OAuthError> {
        let Some(limiter) = &self.per_client else {
            return Ok(());
        };
        limiter.check_key(client_id).map_err(|refused| {
            log::info!(target: "tenauth::security", "rate limit: client {client_id} refused");
            OAuthError::rate_limited(refused.wait_time_from(self.clock.now()))
        })
    }

    /// Charges the tenant bucket of an authenticated client.
    pub fn admit_tenant(&self, tenant_id: TenantId) -> Result<(), OAuthError> {
        let Some(limiter) = &self.per_tenant else {
            return Ok(());
        };
        limiter.check_key(&tenant_id).map_err(|refused| {
            log::info!(target: "tenauth::security", "rate limit: tenant {tenant_id} refused");
            OAuthError::rate_limited(refused.wait_time_from(self.clock.now()))
        })
    }

    /// Admits a password attempt, counting it as a failure until
    /// [`RateLimits::login_succeeded`] takes it back; refuses it while its user or client
    /// is throttled.
    pub fn admit_login(
        &self,
        tenant_id: TenantId,
        username: &Username,
        client_id: &ClientId,
    ) -> Result<(), OAuthError> {
        self.logins
            .admit(&LoginKey::user(tenant_id, username), &LoginKey::client(client_id))
            .map_err(|wait| {
                log::warn!(target: "tenauth::security", "failed-login throttle: password attempt for a user of tenant {tenant_id} via client {client_id} refused");
                OAuthError::rate_limited(wait)
            })
    }

    /// A login admitted by [`RateLimits::admit_login`] succeeded: the user's count starts
    /// over, and the client's loses this attempt.
    pub fn login_succeeded(&self, tenant_id: TenantId, username: &Username, client_id: &ClientId) {
        self.logins.succeeded(
            &LoginKey::user(tenant_id, username),
            &LoginKey::client(client_id),
        );
    }

    /// Forgets the buckets and counts that are back to their idle state, so that memory
    /// stays bounded by the recently active clients, tenants and usernames.
    pub fn forget_idle(&self) {
        if let Some(limiter) = &self.per_client {
            limiter.retain_recent();
        }
        if let Some(limiter) = &self.per_tenant {
            limiter.retain_recent();
        }
        self.logins.forget_expired();
    }

    /// Runs [`RateLimits::forget_idle`] every minute on a background thread.
    pub fn spawn_cleanup(limits: std::sync::Arc<Self>) {
        let started = std::thread::Builder::new()
            .name("tenauth-limits".to_owned())
            .spawn(move || loop {
                std::thread::sleep(Duration::from_secs(60));
                limits.forget_idle();
            });
        if let Err(error) = started {
            log::error!("cannot start the rate-limit cleanup: {error}");
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum LoginKey {
    User(TenantId, String),
    Client(String),
}

impl LoginKey {
    fn user(tenant_id: TenantId, username: &Username) -> Self {
        Self::User(tenant_id, username.as_str().to_owned())
    }

    fn client(client_id: &ClientId) -> Self {
        Self::Client(client_id.as_str().to_owned())
    }
}

/// At most this many users and clients are tracked at once (a few MB); past it, the
/// expired ones are dropped, and while it stays full new keys go untracked rather than
/// refused (filling the table gains an attacker nothing the rate limits do not bound).
const MAX_TRACKED_LOGINS: usize = 100_000;

/// Failed logins per key within a fixed window that starts at the key's first failure.
#[derive(Debug)]
struct LoginThrottle {
    user_failures: u32,
    client_failures: u32,
    window: Duration,
    failures: Mutex<HashMap<LoginKey, (u32, Instant)>>,
}

impl LoginThrottle {
    fn limit(&self, key: &LoginKey) -> u32 {
        match key {
            LoginKey::User(..) => self.user_failures,
            LoginKey::Client(_) => self.client_failures,
        }
    }

    /// `Err(wait)` while either key has used up its attempts in the current window;
    /// otherwise counts this attempt against both, in the same critical section.
    fn admit(&self, user: &LoginKey, client: &LoginKey) -> Result<(), Duration> {
        let mut failures = self
            .failures
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let now = Instant::now();
        let mut wait = Duration::ZERO;
        for key in [user, client] {
            let limit = self.limit(key);
            if let Some(&(count, since)) = failures.get(key) {
                let ends = since + self.window;
                if limit > 0 && count >= limit && ends > now {
                    wait = wait.max(ends - now);
                }
            }
        }
        if !wait.is_zero() {
            return Err(wait);
        }
        if failures.len() >= MAX_TRACKED_LOGINS {
            failures.retain(|_, (_, since)| *since + self.window > now);
        }
        for key in [user, client] {
            if self.limit(key) == 0 || failures.len() >= MAX_TRACKED_LOGINS {
                continue;
            }
            let entry = failures.entry(key.clone()).or_insert((0, now));
            if entry.1 + self.window <= now {
                *entry = (0, now);
            }
            entry.0 = entry.0.saturating_add(1);
        }
        Ok(())
    }

    fn succeeded(&self, user: &LoginKey, client: &LoginKey) {
        let mut failures = self
            .failures
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        failures.remove(user);
        if let Some(entry) = failures.get_mut(client) {
            entry.0 = entry.0.saturating_sub(1);
        }
    }

    fn forget_expired(&self) {
        let mut failures = self
            .failures
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let now = Instant::now();
        failures.retain(|_, (_, since)| *since + self.window > now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(user_failures: u32, client_failures: u32) -> LimitSettings {
        LimitSettings {
            client_rate: 0,
            tenant_rate: 0,
            user_failures,
            client_failures,
            login_window: Duration::from_secs(60),
        }
    }

    #[test]
    fn a_user_is_throttled_after_its_failures_and_a_success_clears_it() {
        let limits = RateLimits::new(settings(3, 100));
        let tenant = TenantId::new(2);
        let alice: Username = "Alice".parse().unwrap();
        let client: ClientId = "client-a".parse().unwrap();
        for _ in 0..3 {
            assert!(
                limits.admit_login(tenant, &alice, &client).is_ok(),
                "then fails"
            );
        }
        let refused = limits.admit_login(tenant, &alice, &client).unwrap_err();
        assert!(refused.is_rate_limited());
        assert!((59..=60).contains(&refused.retry_after));
        let same_user: Username = "ALICE".parse().unwrap();
        assert!(
            limits.admit_login(tenant, &same_user, &client).is_err(),
            "case does not reset it"
        );
        assert!(
            limits
                .admit_login(TenantId::new(3), &alice, &client)
                .is_ok(),
            "another tenant's alice is someone else"
        );
        limits.login_succeeded(tenant, &alice, &client);
        assert!(limits.admit_login(tenant, &alice, &client).is_ok());
    }

    #[test]
    fn attempts_sent_at_once_are_counted_as_they_are_admitted() {
        let limits = std::sync::Arc::new(RateLimits::new(settings(5, 1_000)));
        let tenant = TenantId::new(2);
        let admitted: usize = (0..50)
            .map(|_| {
                let limits = limits.clone();
                std::thread::spawn(move || {
                    let alice: Username = "alice".parse().unwrap();
                    let client: ClientId = "client-a".parse().unwrap();
                    usize::from(limits.admit_login(tenant, &alice, &client).is_ok())
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|thread| thread.join().unwrap())
            .sum();
        assert_eq!(
            admitted, 5,
            "no more attempts than the limit, however many arrive at once"
        );
    }

    #[test]
    fn a_client_is_throttled_after_failures_across_usernames() {
        let limits = RateLimits::new(settings(100, 4));
        let tenant = TenantId::new(2);
        let client: ClientId = "client-a".parse().unwrap();
        for n in 0..4 {
            let user: Username = format!("user{n}").parse().unwrap();
            assert!(limits.admit_login(tenant, &user, &client).is_ok());
        }
        let fresh: Username = "fresh".parse().unwrap();
        assert!(limits.admit_login(tenant, &fresh, &client).is_err());
        let other: ClientId = "client-b".parse().unwrap();
        assert!(limits.admit_login(tenant, &fresh, &other).is_ok());
    }
}
