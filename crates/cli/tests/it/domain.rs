//! `[aws] domain` against moto: the certificates (the distribution's in
//! us-east-1, the load balancer's in the region), the alias records, the
//! distribution's aliases and viewer certificate, and HTTPS all the way to
//! the balancer; each read from its own service's API. A zone of another
//! account, or no zone at all, is refused before anything is made.

use serde_json::{json, Value as Json};

use crate::cloud_harness::{copy, destroy_and_find_nothing_left, results, unique, Moto, Registry};
use crate::harness::TempStack;

/// CloudFront's alias zone, as AWS documents it.
const CLOUDFRONT_ZONE: &str = "Z2FDTNDATAQYW2";

/// The stack with `keys` added to its `[aws]` table.
fn with_aws(stack: TempStack, keys: &str) -> TempStack {
    let path = stack.path().join("stackwright.toml");
    let toml = std::fs::read_to_string(&path).unwrap();
    let added = toml.replacen("[aws]\n", &format!("[aws]\n{keys}"), 1);
    assert_ne!(added, toml, "the example has an [aws] table");
    std::fs::write(&path, added).unwrap();
    stack
}

fn json_of(text: &str) -> Json {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// Fargate in eu-west-1, at `dev.NAME.example.com` (the dev environment of
/// `[aws] domain = "NAME.example.com"`), its zone found by name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_domain_is_served_with_its_certificates_and_records_against_moto() {
    let moto = Moto::start("eu-west-1").await;
    let registry = Registry::start();
    let name = unique("todo");
    let prefix = format!("{name}-dev");
    let apex = format!("{name}.example.com");
    let domain = format!("dev.{apex}");
    let origin = format!("origin.{domain}");
    let zone = moto
        .python("moto_domain.py", &["zone", &apex])
        .trim()
        .to_string();
    let stack = with_aws(copy("todo", &name, ""), &format!("domain = \"{apex}\"\n"));
    let dir = stack.path().to_str().unwrap().to_string();
    let deploy = ["deploy", &dir, "--yes", "--registry", &registry.addr];

    let first = moto.json(&deploy);
    assert!(
        results(&first).iter().all(|(_, r)| r == "created"),
        "{first}"
    );
    assert_eq!(first["stacks"][0]["stack"], format!("{prefix}-global"));
    assert_eq!(first["outputs"]["Url"], format!("https://{domain}"));
    assert_eq!(
        first["site"]["url"],
        format!("https://{domain}"),
        "the site calls it"
    );

    // ACM: the distribution's certificate in us-east-1, the balancer's here;
    // both issued (their validation records were written in the zone).
    let certificate = |region: &str, name: &str| -> Json {
        let all = json_of(&moto.python("moto_domain.py", &["certificates", region]));
        let found: Vec<&Json> = all
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["domain"] == name)
            .collect();
        assert_eq!(
            found.len(),
            1,
            "one certificate for {name} in {region}: {all}"
        );
        assert_eq!(found[0]["status"], "ISSUED", "{all}");
        found[0].clone()
    };
    let viewer_cert = certificate("us-east-1", &domain);
    let origin_cert = certificate("eu-west-1", &origin);

    // CloudFront: the domain as its alias, with its certificate and TLS 1.2;
    // the API origin is the balancer's own name, over HTTPS.
    let distribution = first["outputs"]["DistributionId"].as_str().unwrap();
    let viewer = json_of(&moto.python("moto_domain.py", &["viewer", distribution]));
    assert_eq!(viewer["aliases"], json!([domain]), "{viewer}");
    assert_eq!(viewer["certificate"], viewer_cert["arn"], "{viewer}");
    assert_eq!(viewer["minimum_protocol"], "TLSv1.2_2021", "{viewer}");
    assert_eq!(viewer["api_origin"], origin, "{viewer}");
    assert_eq!(viewer["api_protocol"], "https-only", "{viewer}");

    // The balancer: one listener, HTTPS on 443 with its certificate.
    let balancer = json_of(&moto.python("moto_domain.py", &["listeners", &name[..10]]));
    assert_eq!(
        balancer["listeners"],
        json!([{
            "port": 443,
            "protocol": "HTTPS",
            "certificates": [origin_cert["arn"]],
            "ssl_policy": "ELBSecurityPolicy-TLS13-1-2-2021-06"
        }]),
        "no plain-HTTP listener: {balancer}"
    );

    // Route 53: A and AAAA aliases to the distribution, an A alias to the
    // balancer, and the certificates' validation records.
    let records = json_of(&moto.python("moto_domain.py", &["records", &zone]));
    let record = |name: &str, kind: &str| -> Json {
        records
            .as_array()
            .unwrap()
            .iter()
            .find(|r| {
                r["name"].as_str().map(|n| n.trim_end_matches('.')) == Some(name)
                    && r["type"] == kind
            })
            .unwrap_or_else(|| panic!("no {kind} {name}: {records}"))
            .clone()
    };
    for kind in ["A", "AAAA"] {
        let r = record(&domain, kind);
        assert_eq!(r["alias_zone"], CLOUDFRONT_ZONE, "{r}");
        assert!(
            r["alias"]
                .as_str()
                .unwrap()
                .trim_end_matches('.')
                .ends_with(".cloudfront.net"),
            "{r}"
        );
    }
    let to_balancer = record(&origin, "A");
    assert_eq!(
        to_balancer["alias"]
            .as_str()
            .unwrap()
            .trim_end_matches('.')
            .to_lowercase(),
        balancer["dns"].as_str().unwrap().to_lowercase(),
        "{to_balancer}"
    );
    let validations = records
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["type"] == "CNAME")
        .count();
    assert_eq!(validations, 2, "one validation record each: {records}");

    // Nothing changed: nothing to do, and the zone was found the same way.
    let second = moto.json(&deploy);
    assert!(
        results(&second).iter().all(|(_, r)| r == "unchanged"),
        "{second}"
    );

    // Destroy: certificates and alias records go with the stacks.
    let vpc = first["outputs"]["VpcId"].as_str().unwrap().to_string();
    destroy_and_find_nothing_left(&moto, &dir, "dev", &prefix, &vpc);
    let inv = json_of(&moto.python(
        "moto_inventory.py",
        &[&prefix, &format!("vpc={vpc}"), &format!("domain={apex}")],
    ));
    assert_eq!(inv["certificates"], json!([]), "{inv}");
    assert_eq!(inv["alias_records"], json!([]), "{inv}");
}

/// Refused before any stack is made: a zone of another account (given by
/// id), and a domain no zone of this account holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zone_this_account_does_not_hold_is_refused_against_moto() {
    let moto = Moto::start("us-east-1").await;
    let name = unique("pets");
    let apex = format!("{name}.example.com");
    let theirs = moto
        .python("moto_domain.py", &["zone", &apex, "210987654321"])
        .trim()
        .to_string();
    let cases = [
        (
            format!("domain = \"{apex}\"\nhosted_zone_id = \"{theirs}\"\n"),
            format!("hosted_zone_id {theirs} is not a zone of this AWS account"),
        ),
        (
            format!("domain = \"{apex}\"\n"),
            format!("no public hosted zone of this AWS account holds dev.{apex}"),
        ),
    ];
    for (extra, said) in cases {
        let stack = with_aws(copy("pets", &name, ""), &extra);
        let dir = stack.path().to_str().unwrap().to_string();
        let (ok, _, stderr) = moto.run(&["deploy", &dir, "--yes"]);
        assert!(!ok, "{stderr}");
        assert!(stderr.contains(&said), "{said}: {stderr}");
        assert!(stderr.contains("docs/aws.md"), "where to read on: {stderr}");
        let inv = moto.inventory(&format!("{name}-dev"), "none");
        assert_eq!(inv["stacks"], json!([]), "nothing made: {inv}");
    }
}
