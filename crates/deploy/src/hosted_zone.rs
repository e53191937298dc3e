//! The Route 53 hosted zone holding the environment's domain: where
//! CloudFormation writes the certificates' validation records and the
//! alias records. Given (`hosted_zone_id`), it is checked; else it is the
//! public zone of this account with the longest name that holds the
//! domain. A zone this account does not hold is refused before anything
//! is made: CloudFormation would otherwise wait on a certificate that can
//! never be validated.
//!
//! Route 53 calls are signed by hand ([`crate::signed`]): these two reads
//! are the only Route 53 calls a deploy makes.

use aws_config::SdkConfig;

use crate::signed::{elements, excerpt, Call};
use crate::{DeployError, Result};

/// Route 53's API version, in its paths.
const API: &str = "2013-04-01";

/// Where the advice on a zone in another account is.
const SEE: &str = "docs/aws.md, \"A domain of your own\"";

/// A hosted zone as Route 53 lists it.
#[derive(Debug, Clone, PartialEq)]
struct Zone {
    id: String,
    /// With Route 53's final dot: `example.com.`.
    name: String,
    private: bool,
}

/// The id (`Z...`) of the zone for `domain`: `given`, once checked, else
/// the one found by name.
pub async fn id(
    config: &SdkConfig,
    endpoint: Option<&str>,
    domain: &str,
    given: Option<&str>,
) -> Result<String> {
    let fail = |why: String| DeployError::Aws(format!("the hosted zone of {domain}: {why}"));
    let base = match endpoint {
        Some(e) => e.trim_end_matches('/').to_string(),
        None => "https://route53.amazonaws.com".to_string(),
    };
    let get = |path: String| {
        let base = base.clone();
        async move {
            let url = format!("{base}/{API}/{path}");
            let call = Call {
                service: "route53",
                // Route 53 is global; its calls are signed for us-east-1.
                region: "us-east-1",
                method: "GET",
                url: &url,
                form: None,
            };
            call.send(config).await
        }
    };
    if let Some(given) = given {
        let answer = get(format!("hostedzone/{given}")).await.map_err(fail)?;
        if answer.status.is_success() {
            let zone = zones(&answer.body)
                .into_iter()
                .next()
                .ok_or_else(|| fail(format!("Route 53 answered: {}", excerpt(&answer.body))))?;
            return check(domain, &zone).map_err(fail);
        }
        let code = elements(&answer.body, "Code")
            .first()
            .copied()
            .unwrap_or_default();
        if matches!(code, "NoSuchHostedZone" | "AccessDenied" | "InvalidInput") {
            return Err(fail(format!(
                "hosted_zone_id {given} is not a zone of this AWS account ({code}): CloudFormation \
                 can validate the certificate and write records only in a zone of the account it \
                 deploys to. If the zone is in another account, create a zone here for {domain} \
                 and delegate it with NS records in that one ({SEE})"
            )));
        }
        return Err(fail(format!(
            "Route 53 answered {}: {}",
            answer.status,
            excerpt(&answer.body)
        )));
    }
    let mut found = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let path = match &marker {
            Some(m) => format!("hostedzone?maxitems=100&marker={m}"),
            None => "hostedzone?maxitems=100".to_string(),
        };
        let answer = get(path).await.map_err(fail)?;
        if !answer.status.is_success() {
            return Err(fail(format!(
                "Route 53 answered {}: {}",
                answer.status,
                excerpt(&answer.body)
            )));
        }
        found.extend(zones(&answer.body));
        let truncated = elements(&answer.body, "IsTruncated").first() == Some(&"true");
        marker = elements(&answer.body, "NextMarker")
            .first()
            .map(|m| m.to_string());
        if !truncated || marker.is_none() {
            break;
        }
    }
    pick(domain, &found).map_err(fail)
}

/// The zones in a ListHostedZones or GetHostedZone answer.
fn zones(xml: &str) -> Vec<Zone> {
    elements(xml, "HostedZone")
        .into_iter()
        .filter_map(|block| {
            let id = elements(block, "Id")
                .first()?
                .trim_start_matches("/hostedzone/");
            Some(Zone {
                id: id.to_string(),
                name: elements(block, "Name").first()?.to_string(),
                private: elements(block, "PrivateZone").first() == Some(&"true"),
            })
        })
        .collect()
}

/// Whether zone `name` (`example.com.`) holds `domain`.
fn holds(name: &str, domain: &str) -> bool {
    let name = name.trim_end_matches('.');
    domain == name || domain.ends_with(&format!(".{name}"))
}

/// The given zone, when it is public and holds the domain.
fn check(domain: &str, zone: &Zone) -> std::result::Result<String, String> {
    if zone.private {
        return Err(format!(
            "hosted zone {} is private: ACM validates certificates, and viewers resolve names, \
             only through a public zone",
            zone.id
        ));
    }
    if !holds(&zone.name, domain) {
        return Err(format!(
            "hosted zone {} is {}, which does not hold {domain}",
            zone.id, zone.name
        ));
    }
    Ok(zone.id.clone())
}

/// The public zone with the longest name that holds `domain`.
fn pick(domain: &str, zones: &[Zone]) -> std::result::Result<String, String> {
    let holding: Vec<&Zone> = zones
        .iter()
        .filter(|z| !z.private && holds(&z.name, domain))
        .collect();
    let Some(longest) = holding.iter().map(|z| z.name.len()).max() else {
        return Err(format!(
            "no public hosted zone of this AWS account holds {domain}. If its zone is in \
             another account, create a zone here for {domain} and delegate it with NS records \
             in that one; else create a public zone for it here, or set [aws] hosted_zone_id \
             ({SEE})"
        ));
    };
    let best: Vec<&&Zone> = holding.iter().filter(|z| z.name.len() == longest).collect();
    if let [one] = best.as_slice() {
        return Ok(one.id.clone());
    }
    let ids: Vec<&str> = best.iter().map(|z| z.id.as_str()).collect();
    Err(format!(
        "{} public hosted zones of this account are named {} ({}): set [aws] hosted_zone_id \
         to the one the domain's registrar delegates to",
        best.len(),
        best[0].name,
        ids.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone(id: &str, name: &str, private: bool) -> Zone {
        Zone {
            id: id.into(),
            name: name.into(),
            private,
        }
    }

    #[test]
    fn zones_are_read_from_route53s_answers() {
        let xml = "<ListHostedZonesResponse><HostedZones>\
            <HostedZone><Id>/hostedzone/Z1</Id><Name>example.com.</Name>\
            <Config><PrivateZone>false</PrivateZone></Config></HostedZone>\
            <HostedZone><Id>/hostedzone/Z2</Id><Name>corp.example.com.</Name>\
            <Config><PrivateZone>true</PrivateZone></Config></HostedZone>\
            </HostedZones><IsTruncated>false</IsTruncated></ListHostedZonesResponse>";
        assert_eq!(
            zones(xml),
            [
                zone("Z1", "example.com.", false),
                zone("Z2", "corp.example.com.", true)
            ]
        );
    }

    #[test]
    fn the_longest_public_zone_holding_the_domain_is_picked() {
        let all = [
            zone("Z1", "example.com.", false),
            zone("Z2", "shop.example.com.", false),
            zone("Z3", "www.shop.example.com.", true),
            zone("Z4", "ample.com.", false),
        ];
        assert_eq!(pick("www.shop.example.com", &all), Ok("Z2".into()));
        assert_eq!(pick("example.com", &all), Ok("Z1".into()));
        // `ample.com` does not hold `example.com`: labels, not characters.
        let none = pick("shop.other.org", &all).unwrap_err();
        assert!(none.starts_with("no public hosted zone of this AWS account holds shop.other.org"));
        let twins = [
            zone("Z1", "example.com.", false),
            zone("Z9", "example.com.", false),
        ];
        let two = pick("a.example.com", &twins).unwrap_err();
        assert!(two.contains("(Z1, Z9): set [aws] hosted_zone_id"), "{two}");
    }

    #[test]
    fn a_given_zone_must_be_public_and_hold_the_domain() {
        assert_eq!(
            check("a.example.com", &zone("Z1", "example.com.", false)),
            Ok("Z1".into())
        );
        let private = check("a.example.com", &zone("Z1", "example.com.", true)).unwrap_err();
        assert!(private.contains("is private"), "{private}");
        let elsewhere = check("a.example.org", &zone("Z1", "example.com.", false)).unwrap_err();
        assert_eq!(
            elsewhere,
            "hosted zone Z1 is example.com., which does not hold a.example.org"
        );
    }
}
