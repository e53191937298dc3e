//! Pushing an assembled image with an OCI distribution client.

use std::collections::HashSet;
use std::fmt;
use std::net::IpAddr;

use http::HeaderValue;
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference, RegistryOperation};

use crate::{Image, ImageError, MANIFEST_MEDIA_TYPE};

/// How to sign in to the registry.
#[derive(Clone, PartialEq, Eq)]
pub enum Auth {
    Anonymous,
    /// HTTP Basic credentials, or what a registry's token service takes
    /// (ECR: user `AWS` and the password from GetAuthorizationToken).
    Basic {
        user: String,
        password: String,
    },
}

impl fmt::Debug for Auth {
    // Not derived: the password must not reach a log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::Anonymous => f.write_str("Anonymous"),
            Auth::Basic { user, .. } => f
                .debug_struct("Basic")
                .field("user", user)
                .field("password", &"<redacted>")
                .finish(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Https,
    /// Plain HTTP, for a registry on this machine (tests, emulators).
    /// Credentials are never sent this way to any other host.
    Http,
}

/// Pushes an image as `registry/repository:tag` and returns the manifest
/// digest (`sha256:...`, the same as [`Image::digest`]).
///
/// `registry` is `host[:port]`. Blobs the repository already has are not
/// uploaded again, and a tag that already names this very manifest is left
/// as it is, so pushing the same image twice is cheap and also works on
/// repositories with immutable tags (ECR refuses any re-push of a tag).
///
/// Errors name the operation, registry and repository, and never contain
/// the password.
pub async fn push(
    image: &Image,
    registry: &str,
    repository: &str,
    tag: &str,
    auth: Auth,
    protocol: Protocol,
) -> Result<String, ImageError> {
    let password = match &auth {
        Auth::Basic { password, .. } => password.clone(),
        Auth::Anonymous => String::new(),
    };
    let fail = |operation: &'static str, message: String| ImageError::Registry {
        operation,
        registry: registry.to_string(),
        repository: repository.to_string(),
        message: redact(message, &password),
    };
    if !valid_tag(tag) {
        return Err(fail("pushing to", format!("invalid tag {tag:?}")));
    }
    if protocol == Protocol::Http && auth != Auth::Anonymous && !is_loopback(registry) {
        return Err(fail(
            "pushing to",
            "refusing to send credentials over plain HTTP to a registry not on this machine"
                .to_string(),
        ));
    }

    let client = Client::try_from(ClientConfig {
        protocol: match protocol {
            Protocol::Https => ClientProtocol::Https,
            Protocol::Http => ClientProtocol::Http,
        },
        // One PUT per blob: ECR mishandles chunked uploads of more than one
        // PATCH (it drops later chunks and answers 201 rather than 202), and
        // the client's chunks are 4 MiB, under S3's 5 MiB part minimum.
        use_monolithic_push: true,
        ..ClientConfig::default()
    })
    .map_err(|e| fail("connecting to", chain(&e)))?;
    let reference = Reference::with_tag(
        registry.to_string(),
        repository.to_string(),
        tag.to_string(),
    );
    let registry_auth = match auth {
        Auth::Anonymous => RegistryAuth::Anonymous,
        Auth::Basic { user, password } => RegistryAuth::Basic(user, password),
    };
    client
        .auth(&reference, &registry_auth, RegistryOperation::Push)
        .await
        .map_err(|e| fail("signing in to", chain(&e)))?;

    // Config last: a registry may check that a manifest's blobs exist, and
    // nothing refers to the config until the manifest does.
    let blobs = image
        .layers()
        .iter()
        .map(|l| (l.digest(), l.data()))
        .chain([(image.config_digest(), image.config())]);
    let mut done = HashSet::new();
    for (digest, data) in blobs {
        if !done.insert(digest) {
            continue; // two identical layers are one blob
        }
        let present = client
            .blob_exists(&reference, digest)
            .await
            .map_err(|e| fail("checking a blob in", format!("{digest}: {}", chain(&e))))?;
        if !present {
            client
                .push_blob(&reference, data.clone(), digest)
                .await
                .map_err(|e| fail("uploading a blob to", format!("{digest}: {}", chain(&e))))?;
        }
    }

    // A tag that does not exist yet is an error here, and just means the
    // manifest must be pushed.
    if let Ok(current) = client
        .fetch_manifest_digest(&reference, &registry_auth)
        .await
    {
        if current == image.digest() {
            return Ok(current);
        }
    }
    let location = client
        .push_manifest_raw(
            &reference,
            image.manifest().clone(),
            HeaderValue::from_static(MANIFEST_MEDIA_TYPE),
        )
        .await
        .map_err(|e| fail("pushing the manifest to", chain(&e)))?;
    // Registries answer with the manifest's location by digest; one that
    // hashed other bytes than ours stored something else.
    if let Some(at) = location.rfind("sha256:") {
        let stored = &location[at..];
        if stored != image.digest() {
            return Err(fail(
                "pushing the manifest to",
                format!(
                    "the registry stored {stored}, not the image's {}",
                    image.digest()
                ),
            ));
        }
    }
    Ok(image.digest().to_string())
}

/// An error and its causes: reqwest's own message names only the URL, the
/// cause (connection refused, certificate unknown) is in the chain.
fn chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

/// Registry responses are echoed into errors; should one ever repeat the
/// password, it goes no further.
fn redact(message: String, password: &str) -> String {
    if password.is_empty() {
        message
    } else {
        message.replace(password, "<redacted>")
    }
}

/// The OCI distribution spec's tag grammar: `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`.
fn valid_tag(tag: &str) -> bool {
    let mut chars = tag.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    first_ok
        && tag.len() <= 128
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// Whether `registry` (`host[:port]`) is on this machine: `localhost`,
/// `127.0.0.1:5000`, `[::1]:5000`...
pub fn is_loopback(registry: &str) -> bool {
    let host = if let Some(rest) = registry.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        registry
            .rsplit_once(':')
            .map_or(registry, |(host, _port)| host)
    };
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for r in ["localhost", "localhost:5000", "127.0.0.1:1", "[::1]:5000"] {
            assert!(is_loopback(r), "{r}");
        }
        for r in [
            "example.com",
            "10.0.0.1:5000",
            "1.dkr.ecr.us-east-1.amazonaws.com",
        ] {
            assert!(!is_loopback(r), "{r}");
        }
    }

    #[test]
    fn tags() {
        assert!(valid_tag("sha256-0123456789abcdef"));
        assert!(valid_tag("latest"));
        assert!(!valid_tag(""));
        assert!(!valid_tag("-x"));
        assert!(!valid_tag("a:b"));
        assert!(!valid_tag(&"a".repeat(129)));
    }

    #[test]
    fn debug_hides_the_password() {
        let auth = Auth::Basic {
            user: "AWS".to_string(),
            password: "hunter2".to_string(),
        };
        assert!(!format!("{auth:?}").contains("hunter2"));
        assert_eq!(
            redact("a hunter2 b".to_string(), "hunter2"),
            "a <redacted> b"
        );
    }
}
