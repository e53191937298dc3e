//! CloudFront's origin-facing managed prefix list, looked up in the
//! environment's region: the network layer admits only it to the load
//! balancer. CloudFormation cannot look it up itself, and its id differs
//! per region.
//!
//! One EC2 call, signed by hand ([`crate::signed`]): the EC2 SDK crate is
//! the largest of them all, and this is the only EC2 call a deploy makes.

use aws_config::SdkConfig;

use crate::signed::{elements, excerpt, Call};
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
    let call = Call {
        service: "ec2",
        region: &region,
        method: "POST",
        url: &url,
        form: Some(&body),
    };
    let answer = call.send(config).await.map_err(fail)?;
    if !answer.status.is_success() {
        return Err(fail(format!(
            "EC2 answered {}: {}",
            answer.status,
            excerpt(&answer.body)
        )));
    }
    first_id(&answer.body).ok_or_else(|| {
        fail(format!(
            "EC2 lists no such prefix list in {region} (answer: {})",
            excerpt(&answer.body)
        ))
    })
}

/// The first `<prefixListId>` of a DescribeManagedPrefixLists answer.
fn first_id(xml: &str) -> Option<String> {
    let id = *elements(xml, "prefixListId").first()?;
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
