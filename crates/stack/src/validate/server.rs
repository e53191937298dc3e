//! `[server]`: each limit within a range that keeps the server usable.

use super::Validator;
use crate::model::ServerSettings;
use crate::raw::RawServer;

impl Validator<'_> {
    pub(super) fn server_settings(&mut self, raw: &RawServer) -> ServerSettings {
        let mut server = ServerSettings::default();
        let given = [
            ("max_body_bytes", &raw.max_body_bytes),
            ("max_header_bytes", &raw.max_header_bytes),
            ("request_timeout_seconds", &raw.request_timeout_seconds),
            ("body_timeout_seconds", &raw.body_timeout_seconds),
            ("max_concurrent_requests", &raw.max_concurrent_requests),
            ("max_connections", &raw.max_connections),
            (
                "max_connections_per_client",
                &raw.max_connections_per_client,
            ),
            ("auth_requests_per_minute", &raw.auth_requests_per_minute),
            ("trusted_proxy_hops", &raw.trusted_proxy_hops),
            ("header_timeout_seconds", &raw.header_timeout_seconds),
            ("drain_timeout_seconds", &raw.drain_timeout_seconds),
        ];
        for (key, value) in given {
            if let Some(value) = value {
                if let Err(why) = server.set(key, *value.get_ref()) {
                    self.error(value.span(), why);
                }
            }
        }
        for host in raw.allowed_hosts.iter().flat_map(|h| h.get_ref()) {
            let name = host.get_ref();
            let valid = !name.is_empty()
                && name.len() <= 253
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-.".contains(c));
            if valid {
                server.allowed_hosts.push(name.clone());
            } else {
                self.error(host.span(), format!("`{name}` is not a host name"))
                    .hint =
                    Some("a lower-case DNS name without a port, e.g. \"myapp.test\"".into());
            }
        }
        server
    }
}
