//! One AWS API call signed with SigV4 by hand, for the few calls a deploy
//! makes to services whose SDK crates it does not otherwise need (EC2 and
//! Route 53 are among the largest).

use std::time::{Duration, SystemTime};

use aws_config::SdkConfig;
use aws_credential_types::provider::ProvideCredentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};

/// A request to `service` (its signing name) in `region`.
pub struct Call<'a> {
    pub service: &'a str,
    pub region: &'a str,
    pub method: &'a str,
    pub url: &'a str,
    /// A form body (query APIs), or None.
    pub form: Option<&'a str>,
}

/// What the service answered: its status and body.
pub struct Answer {
    pub status: http::StatusCode,
    pub body: String,
}

impl Call<'_> {
    /// Sign and send; Err says why no answer came.
    pub async fn send(&self, config: &SdkConfig) -> Result<Answer, String> {
        let credentials = config
            .credentials_provider()
            .ok_or("no AWS credentials")?
            .provide_credentials()
            .await
            .map_err(|e| format!("no AWS credentials: {e}"))?;
        let identity = credentials.into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(self.region)
            .name(self.service)
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| e.to_string())?
            .into();
        let content_type = "application/x-www-form-urlencoded; charset=utf-8";
        let body = self.form.unwrap_or_default().as_bytes();
        let headers: Vec<(&str, &str)> = match self.form {
            Some(_) => vec![("content-type", content_type)],
            None => Vec::new(),
        };
        let signable = SignableRequest::new(
            self.method,
            self.url,
            headers.iter().copied(),
            SignableBody::Bytes(body),
        )
        .map_err(|e| e.to_string())?;
        let (instructions, _) = sign(signable, &params)
            .map_err(|e| e.to_string())?
            .into_parts();
        let mut request = http::Request::builder().method(self.method).uri(self.url);
        for (header, value) in headers {
            request = request.header(header, value);
        }
        for (header, value) in instructions.headers() {
            request = request.header(header, value);
        }
        let request = request
            .body(Full::new(Bytes::copy_from_slice(body)))
            .map_err(|e| e.to_string())?;
        let client = crate::health::client(Duration::from_secs(10))?;
        let response = tokio::time::timeout(Duration::from_secs(30), client.request(request))
            .await
            .map_err(|_| format!("{} did not answer within 30 s", self.service))?
            .map_err(|e| e.to_string())?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        Ok(Answer {
            status,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    }
}

/// The text of each `<tag>` element in `xml`, in order (the answers read
/// here are flat and known; no XML parser is needed for them).
pub fn elements<'x>(xml: &'x str, tag: &str) -> Vec<&'x str> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let mut found = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find(&open) {
        let after = &rest[start + open.len()..];
        let Some(end) = after.find(&close) else {
            break;
        };
        found.push(after[..end].trim());
        rest = &after[end + close.len()..];
    }
    found
}

/// The start of an answer, for an error message.
pub fn excerpt(text: &str) -> String {
    text.chars().take(300).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elements_are_read_in_order() {
        let xml = "<a><Id> 1 </Id><b><Id>2</Id></b><Id>3</Id><Id>unclosed";
        assert_eq!(elements(xml, "Id"), ["1", "2", "3"]);
        assert!(elements("<Ids/>", "Id").is_empty());
    }
}
