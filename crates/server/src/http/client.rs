//! Who is calling: the client's address, and limits kept per address.
//!
//! The accept loop tags every request with the connection's address
//! ([`Peer`]); the Lambda adapter with API Gateway's `sourceIp`. Behind
//! `trusted_proxy_hops` proxies (a load balancer) the client is the entry
//! that many places from the right of `X-Forwarded-For`: each trusted proxy
//! appends the address it saw, so entries further left were written by the
//! client itself and prove nothing.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::{Extensions, HeaderMap};

/// The address of the connection a request came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer(pub IpAddr);

/// The client's address as limits see it: an IPv6 client is its /64, which
/// is what one subscriber is given, so it cannot dodge a limit by taking
/// another address of its own network.
pub fn key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
        v4 => v4,
    }
}

/// The client of a request, keyed as in [`key`].
pub fn address(headers: &HeaderMap, extensions: &Extensions, hops: usize) -> Option<IpAddr> {
    let peer = extensions.get::<Peer>().map(|p| p.0);
    if hops == 0 {
        return peer.map(key);
    }
    // Read as bytes: one stray byte must not drop a whole line, or the
    // count from the right would land on the wrong entry.
    let lines: Vec<String> = headers
        .get_all("x-forwarded-for")
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .collect();
    let forwarded: Vec<&str> = lines
        .iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let client = forwarded
        .len()
        .checked_sub(hops)
        .and_then(|i| forwarded[i].parse::<IpAddr>().ok());
    client.or(peer).map(key)
}

/// Most addresses tracked before full buckets are forgotten.
const TRACKED: usize = 100_000;

/// A token bucket per client: `per_minute` requests, in bursts of as many.
pub struct RateLimit {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

impl RateLimit {
    pub fn per_minute(n: usize) -> Self {
        RateLimit {
            per_second: n as f64 / 60.0,
            burst: n as f64,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Take one request's token, or learn how long until there is one.
    pub fn take(&self, client: IpAddr) -> Result<(), Duration> {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().expect("not poisoned");
        if buckets.len() >= TRACKED && !buckets.contains_key(&client) {
            // A bucket that has filled up again is the same as no bucket.
            let (rate, burst) = (self.per_second, self.burst);
            buckets.retain(|_, b| b.tokens + now.duration_since(b.at).as_secs_f64() * rate < burst);
            if buckets.len() >= TRACKED {
                // More clients active at once than tracked (many networks):
                // start afresh rather than grow without bound.
                tracing::warn!(
                    clients = buckets.len(),
                    "per-client pacing forgot every client"
                );
                buckets.clear();
            }
        }
        let bucket = buckets.entry(client).or_insert(Bucket {
            tokens: self.burst,
            at: now,
        });
        let refill = now.duration_since(bucket.at).as_secs_f64() * self.per_second;
        bucket.tokens = (bucket.tokens + refill).min(self.burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64(
                (1.0 - bucket.tokens) / self.per_second,
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn behind_proxies_the_client_is_counted_from_the_right() {
        let mut headers = HeaderMap::new();
        headers.append(
            "x-forwarded-for",
            HeaderValue::from_static("6.6.6.6, 1.2.3.4"),
        );
        headers.append("x-forwarded-for", HeaderValue::from_static("10.0.0.9"));
        let mut ext = Extensions::new();
        ext.insert(Peer(ip("10.0.0.1")));
        assert_eq!(address(&headers, &ext, 0), Some(ip("10.0.0.1")));
        assert_eq!(address(&headers, &ext, 1), Some(ip("10.0.0.9")));
        assert_eq!(address(&headers, &ext, 2), Some(ip("1.2.3.4")));
        // Fewer entries than proxies: the header was not written by them.
        assert_eq!(address(&headers, &ext, 4), Some(ip("10.0.0.1")));
    }

    #[test]
    fn an_ipv6_client_is_its_network() {
        assert_eq!(key(ip("2001:db8:1:2:3:4:5:6")), ip("2001:db8:1:2::"));
        assert_eq!(key(ip("::ffff:1.2.3.4")), ip("1.2.3.4"));
    }

    #[test]
    fn a_bucket_allows_its_burst_then_refuses_with_the_wait() {
        let limit = RateLimit::per_minute(3);
        for _ in 0..3 {
            assert!(limit.take(ip("1.1.1.1")).is_ok());
        }
        let wait = limit.take(ip("1.1.1.1")).unwrap_err();
        assert!(wait > Duration::from_secs(15) && wait <= Duration::from_secs(20));
        assert!(limit.take(ip("2.2.2.2")).is_ok(), "per client");
    }
}
