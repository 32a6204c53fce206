//! Rate limits on the token, introspection and revocation endpoints, and the
//! failed-login throttle of the password grant.
//!
//! Both are per instance (in memory): N instances behind a load balancer admit up to N
//! times the configured rates. That bounds abuse without a shared store; the figures in
//! the docs say so.
//!
//! - **Requests**: token buckets (GCRA, the `governor` crate) per client and per tenant,
//!   charged once the client has authenticated: a client id alone (another party's, or
//!   invented ones) can neither drain a confidential client's bucket nor grow the map of
//!   buckets. A tenant has two budgets, one for its confidential clients and one for its
//!   public ones, whose ids anyone can read from an app.
//! - **Failed client authentications** (unknown client id, wrong or missing secret) are
//!   counted per presented client id over the login window; past the limit, further
//!   failures for that id are answered 429 rather than 401. The secret is still checked,
//!   so a client presenting its own secret is never refused because of another's guesses.
//!   Guessing a secret stays hopeless (256 bits); the budget bounds what a guesser costs
//!   and tells it to back off. Values that cannot be client ids share one count.
//! - **Failed logins**: password attempts are counted per (tenant, username) and per client over a
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
    per_tenant: Option<DefaultKeyedRateLimiter<TenantBudget>>,
    failures: FailureThrottle,
}

/// A tenant's request budgets: one for its confidential clients and one for its public
/// clients, so that requests no secret vouches for (anyone can read a public client id
/// from an app) cannot use up what the tenant's confidential clients need.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct TenantBudget {
    tenant_id: TenantId,
    vouched_by_secret: bool,
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
            failures: FailureThrottle {
                user_failures: settings.user_failures,
                login_client_failures: settings.client_failures,
                client_auth_failures: settings.client_auth_failures,
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

    /// Charges the tenant budget of an authenticated client: the confidential clients'
    /// one when it authenticated with a secret, the public clients' one otherwise.
    pub fn admit_tenant(
        &self,
        tenant_id: TenantId,
        vouched_by_secret: bool,
    ) -> Result<(), OAuthError> {
        let Some(limiter) = &self.per_tenant else {
            return Ok(());
        };
        let budget = TenantBudget {
            tenant_id,
            vouched_by_secret,
        };
        limiter.check_key(&budget).map_err(|refused| {
            let kind = if vouched_by_secret { "confidential" } else { "public" };
            log::info!(target: "tenauth::security", "rate limit: tenant {tenant_id} ({kind} clients) refused");
            OAuthError::rate_limited(refused.wait_time_from(self.clock.now()))
        })
    }

    /// Counts a failed client authentication (unknown client id, wrong or missing
    /// secret) against the id presented; `Err(wait)` once that id has used up its
    /// failures for the window. The secret is still checked on every request, so the
    /// client itself, presenting its own secret, is never locked out by another's guesses.
    pub fn client_authentication_failed(
        &self,
        presented: Option<&ClientId>,
    ) -> Result<(), Duration> {
        let key = FailureKey::ClientAuth(presented.cloned());
        self.failures.failed(&key).inspect_err(|_| {
            log::debug!(target: "tenauth::security", "client authentication failures over budget for a presented client id");
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
        let user = FailureKey::user(tenant_id, username);
        let client = FailureKey::LoginClient(client_id.clone());
        self.failures.admit(&[&user, &client]).map_err(|wait| {
            log::warn!(target: "tenauth::security", "failed-login throttle: password attempt for a user of tenant {tenant_id} via client {client_id} refused");
            OAuthError::rate_limited(wait)
        })
    }

    /// A login admitted by [`RateLimits::admit_login`] succeeded: the user's count starts
    /// over, and the client's loses this attempt.
    pub fn login_succeeded(&self, tenant_id: TenantId, username: &Username, client_id: &ClientId) {
        self.failures.login_succeeded(
            &FailureKey::user(tenant_id, username),
            &FailureKey::LoginClient(client_id.clone()),
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
        self.failures.forget_expired();
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

/// What a failure is counted against.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum FailureKey {
    /// Password logins for one username of one tenant.
    User(TenantId, String),
    /// Password logins through one client.
    LoginClient(ClientId),
    /// Client authentications presenting one client id, known or not; `None` for every
    /// value that cannot be a client id at all (one key, so they cannot grow the table).
    ClientAuth(Option<ClientId>),
}

impl FailureKey {
    fn user(tenant_id: TenantId, username: &Username) -> Self {
        Self::User(tenant_id, username.as_str().to_owned())
    }
}

/// At most this many keys are tracked at once (a few MB); while the table is full, new
/// keys go untracked rather than refused until the cleanup drops the expired ones
/// (filling the table gains an attacker nothing the rate limits do not bound).
const MAX_TRACKED_FAILURES: usize = 100_000;

/// Failures per key within a fixed window that starts at the key's first failure.
#[derive(Debug)]
struct FailureThrottle {
    user_failures: u32,
    login_client_failures: u32,
    client_auth_failures: u32,
    window: Duration,
    failures: Mutex<HashMap<FailureKey, (u32, Instant)>>,
}

impl FailureThrottle {
    fn limit(&self, key: &FailureKey) -> u32 {
        match key {
            FailureKey::User(..) => self.user_failures,
            FailureKey::LoginClient(_) => self.login_client_failures,
            FailureKey::ClientAuth(_) => self.client_auth_failures,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<FailureKey, (u32, Instant)>> {
        self.failures
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// How long until `key`'s window ends, when it has used up its failures in it.
    fn wait(
        &self,
        failures: &HashMap<FailureKey, (u32, Instant)>,
        key: &FailureKey,
        now: Instant,
    ) -> Option<Duration> {
        let limit = self.limit(key);
        let &(count, since) = failures.get(key)?;
        let ends = since + self.window;
        (limit > 0 && count >= limit && ends > now).then(|| ends - now)
    }

    /// Adds one failure to `key`'s count (a new window if the last one ended); untracked
    /// when its limit is off or the table is full of live windows.
    fn count(
        &self,
        failures: &mut HashMap<FailureKey, (u32, Instant)>,
        key: &FailureKey,
        now: Instant,
    ) {
        if self.limit(key) == 0 {
            return;
        }
        // Not pruned here: a scan of the full table under the lock on every new key would
        // let invented ids stall every request; the minute's cleanup prunes it.
        if failures.len() >= MAX_TRACKED_FAILURES && !failures.contains_key(key) {
            return;
        }
        let entry = failures.entry(key.clone()).or_insert((0, now));
        if entry.1 + self.window <= now {
            *entry = (0, now);
        }
        entry.0 = entry.0.saturating_add(1);
    }

    /// `Err(wait)` while any of `keys` has used up its failures in the current window;
    /// otherwise counts this attempt against all of them, in the same critical section.
    fn admit(&self, keys: &[&FailureKey]) -> Result<(), Duration> {
        let mut failures = self.lock();
        let now = Instant::now();
        let wait = keys
            .iter()
            .filter_map(|key| self.wait(&failures, key, now))
            .max();
        if let Some(wait) = wait {
            return Err(wait);
        }
        for key in keys {
            self.count(&mut failures, key, now);
        }
        Ok(())
    }

    /// Counts a failure that has already happened; `Err(wait)` when it is beyond `key`'s
    /// budget for the window.
    fn failed(&self, key: &FailureKey) -> Result<(), Duration> {
        let mut failures = self.lock();
        let now = Instant::now();
        let over = self.wait(&failures, key, now);
        self.count(&mut failures, key, now);
        over.map_or(Ok(()), Err)
    }

    /// A login admitted by [`FailureThrottle::admit`] succeeded: the user's count starts
    /// over, and the client's loses this attempt.
    fn login_succeeded(&self, user: &FailureKey, client: &FailureKey) {
        let mut failures = self.lock();
        failures.remove(user);
        if let Some(entry) = failures.get_mut(client) {
            entry.0 = entry.0.saturating_sub(1);
        }
    }

    fn forget_expired(&self) {
        let now = Instant::now();
        self.lock()
            .retain(|_, (_, since)| *since + self.window > now);
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
            client_auth_failures: 0,
            login_window: Duration::from_secs(60),
        }
    }

    #[test]
    fn failed_client_authentications_past_the_budget_wait_per_presented_id() {
        let limits = RateLimits::new(LimitSettings {
            client_auth_failures: 3,
            ..settings(0, 0)
        });
        let victim: ClientId = "client-a".parse().unwrap();
        for _ in 0..3 {
            assert!(limits.client_authentication_failed(Some(&victim)).is_ok());
        }
        let wait = limits
            .client_authentication_failed(Some(&victim))
            .unwrap_err();
        assert!(wait <= Duration::from_secs(60) && wait > Duration::from_secs(58));
        let other: ClientId = "client-b".parse().unwrap();
        assert!(
            limits.client_authentication_failed(Some(&other)).is_ok(),
            "another id has its own budget"
        );
        for _ in 0..3 {
            let _ = limits.client_authentication_failed(None);
        }
        assert!(
            limits.client_authentication_failed(None).is_err(),
            "values that cannot be ids share one budget"
        );
        let password_client =
            limits.admit_login(TenantId::new(2), &"alice".parse().unwrap(), &victim);
        assert!(
            password_client.is_ok(),
            "secret failures are not password failures"
        );
    }

    #[test]
    fn the_failure_table_stays_bounded_whatever_ids_are_presented() {
        let limits = RateLimits::new(LimitSettings {
            client_auth_failures: 1,
            ..settings(0, 0)
        });
        for n in 0..MAX_TRACKED_FAILURES + 1_000 {
            let id: ClientId = format!("invented-{n}").parse().unwrap();
            let _ = limits.client_authentication_failed(Some(&id));
        }
        assert_eq!(limits.failures.lock().len(), MAX_TRACKED_FAILURES);
        let first: ClientId = "invented-0".parse().unwrap();
        assert!(
            limits.client_authentication_failed(Some(&first)).is_err(),
            "the ids already tracked stay tracked"
        );
    }

    #[test]
    fn public_clients_cannot_use_up_the_budget_of_their_tenants_confidential_ones() {
        let limits = RateLimits::new(LimitSettings {
            tenant_rate: 2,
            ..settings(0, 0)
        });
        let tenant = TenantId::new(2);
        let admitted = (0..20)
            .filter(|_| limits.admit_tenant(tenant, false).is_ok())
            .count();
        assert_eq!(admitted, 4, "the public budget: a burst of twice the rate");
        assert!(limits.admit_tenant(tenant, true).is_ok());
        assert!(limits.admit_tenant(TenantId::new(3), false).is_ok());
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
