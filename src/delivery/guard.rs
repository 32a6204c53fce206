//! The HTTP client that pushes SETs, with the SSRF rule (`domain::AddressPolicy`) applied
//! to every address it connects to: a host name is resolved here, and a name whose
//! addresses are not all permitted is refused before any connection (so DNS rebinding to
//! an internal address is caught at delivery time, not only at stream creation). No
//! redirects are followed and no proxy is used (a proxy would connect for us, unchecked).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::domain::{AddressPolicy, InvalidPushEndpoint, PushEndpoint};

/// Resolves like the system does, then refuses names with any refused address.
struct GuardedResolver {
    policy: AddressPolicy,
}

/// A host whose addresses the policy refuses (the error reqwest reports).
#[derive(Debug, thiserror::Error)]
#[error("the endpoint's host resolves to an address push delivery may not reach")]
struct RefusedAddress;

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy;
        Box::pin(async move {
            let addresses = resolve(name.as_str(), 0).await?;
            let ips: Vec<IpAddr> = addresses.iter().map(SocketAddr::ip).collect();
            if !policy.permits_all(&ips) {
                return Err(Box::new(RefusedAddress) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(addresses.into_iter()) as Addrs)
        })
    }
}

/// Whether `error`, or an error it was caused by, is the resolver's refusal.
pub fn is_refused_address(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(error) = current {
        if error.is::<RefusedAddress>() {
            return true;
        }
        current = error.source();
    }
    false
}

async fn resolve(
    host: &str,
    port: u16,
) -> Result<Vec<SocketAddr>, Box<dyn std::error::Error + Send + Sync>> {
    Ok(tokio::net::lookup_host((host, port)).await?.collect())
}

/// The push client: `timeout` bounds each request as a whole (connect, send, answer).
pub fn push_client(policy: AddressPolicy, timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .dns_resolver(Arc::new(GuardedResolver { policy }))
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(timeout)
        .connect_timeout(timeout)
        .user_agent(concat!("tenauth/", env!("CARGO_PKG_VERSION")))
        .build()
        // Only a missing TLS backend fails here, and rustls is compiled in.
        .expect("the push client builds")
}

/// Judges a new push endpoint's host as a delivery would: an address by the rule, a name
/// by every address it resolves to now. A name that does not resolve is refused too.
pub async fn check_endpoint(
    endpoint: &PushEndpoint,
    policy: AddressPolicy,
) -> Result<(), InvalidPushEndpoint> {
    if let Some(address) = endpoint.literal_address() {
        return policy
            .permits(address)
            .then_some(())
            .ok_or(InvalidPushEndpoint);
    }
    let (host, port) = endpoint.host_and_port();
    let addresses = resolve(&host, port)
        .await
        .map_err(|_| InvalidPushEndpoint)?;
    let ips: Vec<IpAddr> = addresses.iter().map(SocketAddr::ip).collect();
    policy
        .permits_all(&ips)
        .then_some(())
        .ok_or(InvalidPushEndpoint)
}
