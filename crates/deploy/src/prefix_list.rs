//! CloudFront's origin-facing managed prefix list, looked up in the
//! environment's region: the network layer admits only it to the load
//! balancer. CloudFormation cannot look it up itself, and its id differs
//! per region.
//!
//! One EC2 call, signed with SigV4 by hand: the EC2 SDK crate is the
//! largest of them all, and this is the only EC2 call a deploy makes.

use std::time::{Duration, SystemTime};

use aws_config::SdkConfig;
use aws_credential_types::provider::ProvideCredentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};

use crate::{DeployError, Result};

/// The list's name, the same in every region.
pub const CLOUDFRONT_ORIGIN_FACING: &str = "com.amazonaws.global.cloudfront.origin-facing";

/// The id (`pl-...`) of the managed prefix list named `name`.
pub async fn id(config: &SdkConfig, endpoint: Option<&str>, name: &str) -> Result<String> {
    let doing = format!("looking up the prefix list {name}");
    let fail = |why: String| DeployError::Aws(format!("{doing}: {why}"));
    let region = config
        .region()
        .map(ToString::to_string)
        .ok_or_else(|| fail("no region".into()))?;
    let url = match endpoint {
        Some(e) => format!("{}/", e.trim_end_matches('/')),
        None => format!("https://ec2.{region}.amazonaws.com/"),
    };
    let body = format!(
        "Action=DescribeManagedPrefixLists&Version=2016-11-15\
         &Filter.1.Name=prefix-list-name&Filter.1.Value.1={name}"
    );
    let credentials = config
        .credentials_provider()
        .ok_or_else(|| fail("no AWS credentials".into()))?
        .provide_credentials()
        .await
        .map_err(|e| fail(format!("no AWS credentials: {e}")))?;
    let identity = credentials.into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(&region)
        .name("ec2")
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| fail(e.to_string()))?
        .into();
    let content_type = "application/x-www-form-urlencoded; charset=utf-8";
    let signable = SignableRequest::new(
        "POST",
        &url,
        [("content-type", content_type)].into_iter(),
        SignableBody::Bytes(body.as_bytes()),
    )
    .map_err(|e| fail(e.to_string()))?;
    let (instructions, _) = sign(signable, &params)
        .map_err(|e| fail(e.to_string()))?
        .into_parts();
    let mut request = http::Request::post(&url).header("content-type", content_type);
    for (header, value) in instructions.headers() {
        request = request.header(header, value);
    }
    let request = request
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| fail(e.to_string()))?;
    let text = send(request).await.map_err(fail)?;
    first_id(&text).ok_or_else(|| {
        fail(format!(
            "EC2 lists no such prefix list in {region} (answer: {})",
            text.chars().take(300).collect::<String>()
        ))
    })
}

async fn send(request: http::Request<Full<Bytes>>) -> std::result::Result<String, String> {
    let client = crate::health::client(Duration::from_secs(10))?;
    let response = tokio::time::timeout(Duration::from_secs(30), client.request(request))
        .await
        .map_err(|_| "EC2 did not answer within 30 s".to_string())?
        .map_err(|e| e.to_string())?;
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    let text = String::from_utf8_lossy(&body).into_owned();
    if !status.is_success() {
        return Err(format!(
            "EC2 answered {status}: {}",
            text.chars().take(300).collect::<String>()
        ));
    }
    Ok(text)
}

/// The first `<prefixListId>` of a DescribeManagedPrefixLists answer.
fn first_id(xml: &str) -> Option<String> {
    let start = xml.find("<prefixListId>")? + "<prefixListId>".len();
    let end = start + xml[start..].find("</prefixListId>")?;
    let id = xml[start..end].trim();
    (id.starts_with("pl-")).then(|| id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_id_is_read_from_the_answer() {
        let xml = "<DescribeManagedPrefixListsResponse><prefixListSet><item>\
                   <prefixListId>pl-3b927c52</prefixListId>\
                   <prefixListName>com.amazonaws.global.cloudfront.origin-facing</prefixListName>\
                   </item></prefixListSet></DescribeManagedPrefixListsResponse>";
        assert_eq!(first_id(xml).as_deref(), Some("pl-3b927c52"));
        assert_eq!(first_id("<prefixListSet/>"), None);
        assert_eq!(first_id("<prefixListId>x</prefixListId>"), None);
    }
}
