//! Asks a deployed service's health route whether it answers; and the one
//! HTTP(S) client deploy makes its own calls with.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// An HTTP and HTTPS client (the system's root certificates), giving up
/// on a connection after `connect_timeout`.
pub(crate) fn client(
    connect_timeout: Duration,
) -> Result<Client<HttpsConnector<HttpConnector>, Full<Bytes>>, String> {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_connect_timeout(Some(connect_timeout));
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_native_roots()
        .map_err(|e| format!("no TLS root certificates: {e}"))?
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    Ok(Client::builder(TokioExecutor::new()).build(https))
}

/// The HTTP status of GET `url` within 10 s, or why there is none.
pub async fn check(url: &str) -> Result<u16, String> {
    let client = client(Duration::from_secs(5))?;
    let target = url.parse().map_err(|e| format!("not a URL: {url}: {e}"))?;
    match tokio::time::timeout(Duration::from_secs(10), client.get(target)).await {
        Ok(Ok(response)) => Ok(response.status().as_u16()),
        Ok(Err(e)) => Err(format!("{url}: {e}")),
        Err(_) => Err(format!("{url}: no answer within 10 s")),
    }
}
