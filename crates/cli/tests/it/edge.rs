//! The edge on AWS, from the synthesized templates of every example and
//! environment: one CloudFront distribution is the one HTTPS origin; API
//! paths reach the API uncached with `Authorization`, the rest the site;
//! only CloudFront, carrying the origin secret, reaches the load balancer.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use serde_json::Value as Json;
use stackwright_stack::{Site, Stack};
use stackwright_synth::edge::{
    API_CACHE_POLICY, API_ORIGIN_REQUEST_POLICY, SECURITY_HEADERS_POLICY,
};
use stackwright_synth::Settings;

use crate::harness::{example, Served, TempStack};
use crate::synth::{resources, EXAMPLES};

/// Every example and environment: the stack and its templates by layer.
fn environments() -> Vec<(String, Stack, BTreeMap<String, Json>)> {
    let mut out = Vec::new();
    for name in EXAMPLES {
        let stack = stackwright_stack::load(&example(name)).unwrap();
        for env in Settings::environments(&stack) {
            let (_, templates) = stackwright_synth::synth(&stack, &env).unwrap();
            let layers = templates
                .iter()
                .map(|t| {
                    let doc: Json = serde_json::from_str(&t.render()).unwrap();
                    (t.layer.as_str().to_string(), doc)
                })
                .collect();
            out.push((format!("{name}/{env}"), stack.clone(), layers));
        }
    }
    out
}

fn distribution(layers: &BTreeMap<String, Json>) -> &Json {
    &layers["edge"]["Resources"]["Distribution"]["Properties"]["DistributionConfig"]
}

/// The behaviours of a distribution: the default one (pattern `*`) last,
/// as CloudFront tries them.
fn behaviours(config: &Json) -> Vec<(String, &Json)> {
    let mut all: Vec<(String, &Json)> = config["CacheBehaviors"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|b| (b["PathPattern"].as_str().unwrap().to_string(), b))
        .collect();
    all.push(("*".to_string(), &config["DefaultCacheBehavior"]));
    all
}

/// CloudFront's path matching for the patterns synth writes: exact, or a
/// prefix ending in `/*`, or `*`.
fn matches(pattern: &str, path: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => path.starts_with(prefix),
        None => pattern == path,
    }
}

/// The origin CloudFront sends `path` to.
fn origin_of<'a>(config: &'a Json, path: &str) -> &'a str {
    behaviours(config)
        .into_iter()
        .find(|(p, _)| matches(p, path))
        .map(|(_, b)| b["TargetOriginId"].as_str().unwrap())
        .unwrap()
}

/// A concrete request path for a route path: parameters filled in.
fn concrete(route_path: &str) -> String {
    route_path
        .split('/')
        .map(|seg| if seg.starts_with('{') { "x1" } else { seg })
        .collect::<Vec<_>>()
        .join("/")
}

fn site_files(dir: &Path, under: &str, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().to_string();
        if entry.file_type().unwrap().is_dir() {
            site_files(&entry.path(), &format!("{under}{name}/"), out);
        } else {
            out.push(format!("/{under}{name}"));
        }
    }
}

#[test]
fn api_paths_reach_the_api_uncached_with_authorization_and_the_rest_the_site() {
    for (name, stack, layers) in environments() {
        let config = distribution(&layers);
        // CloudFront asks the default origin for the root object at `/`:
        // only a site at `/` has one.
        let site_at_root = config["DefaultCacheBehavior"]["TargetOriginId"] == "site";
        assert_eq!(
            config["DefaultRootObject"].as_str(),
            site_at_root.then_some("index.html"),
            "{name}"
        );
        for (pattern, b) in behaviours(config) {
            assert_eq!(
                b["ViewerProtocolPolicy"], "redirect-to-https",
                "{name} {pattern}: HTTP is only ever redirected"
            );
            assert_eq!(
                b["ResponseHeadersPolicyId"], SECURITY_HEADERS_POLICY,
                "{name}"
            );
            if b["TargetOriginId"] == "api" {
                // Caching off; every viewer header but Host, so Authorization.
                assert_eq!(b["CachePolicyId"], API_CACHE_POLICY, "{name} {pattern}");
                assert_eq!(
                    b["OriginRequestPolicyId"], API_ORIGIN_REQUEST_POLICY,
                    "{name} {pattern}"
                );
                assert_eq!(b["AllowedMethods"].as_array().unwrap().len(), 7, "{name}");
            } else {
                assert_eq!(b["TargetOriginId"], "site", "{name}");
                assert_eq!(b["AllowedMethods"], serde_json::json!(["GET", "HEAD"]));
            }
        }
        // Every route, the API's description and sign-in go to the API...
        let mut api_paths: Vec<String> = stack.routes.iter().map(|r| concrete(&r.path)).collect();
        api_paths.extend(["/docs".into(), "/openapi.json".into()]);
        if stack.users.is_some() {
            api_paths.push("/auth".into());
        }
        for service in stack.services.values() {
            api_paths.extend(service.paths.iter().map(|p| format!("{p}/anything")));
        }
        for path in &api_paths {
            assert_eq!(origin_of(config, path), "api", "{name}: {path}");
        }
        // ... and every file of the site to the site, at the site's path.
        if let Some(site) = &stack.site {
            let base = site.path.trim_end_matches('/');
            let mut files = Vec::new();
            site_files(&stack.dir.join(&site.dir), "", &mut files);
            assert!(!files.is_empty(), "{name}");
            files.extend([format!("{base}/"), format!("{base}/a/page")]);
            for file in &files {
                let file = if file.starts_with(&format!("{base}/")) {
                    file.clone()
                } else {
                    format!("{base}{file}")
                };
                assert_eq!(origin_of(config, &file), "site", "{name}: {file}");
            }
            if !base.is_empty() {
                assert_eq!(origin_of(config, base), "site", "{name}");
                assert_eq!(origin_of(config, "/elsewhere"), "api", "{name}");
            }
            assert!(
                config["CustomErrorResponses"].is_null(),
                "{name}: error pages would turn the API's JSON 404s into the site's page"
            );
        } else {
            assert_eq!(origin_of(config, "/anything"), "api", "{name}");
        }
    }
}

/// The origin secret in a template: a dynamic reference to the network
/// layer's generated secret `name`, never a value.
fn is_secret_reference(value: &Json, name: &str) -> bool {
    value.as_str()
        == Some(&format!(
            "{{{{resolve:secretsmanager:{name}:SecretString}}}}"
        ))
}

#[test]
fn only_cloudfront_with_the_origin_secret_reaches_the_api() {
    let mut balanced = 0;
    for (name, stack, layers) in environments() {
        let network = &layers["network"];
        let app = &layers["app"];
        let env = name.split_once('/').unwrap().1;
        // With a domain the balancer has a name, a certificate and HTTPS.
        let domain = stack.aws.domain_of(env);
        let port = if domain.is_some() { 443 } else { 80 };
        let api = distribution(&layers)["Origins"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["Id"] == "api")
            .unwrap();
        // Every compute kind: a generated secret, sent by CloudFront.
        let secret = &network["Resources"]["OriginSecret"]["Properties"];
        assert!(
            secret["GenerateSecretString"].is_object(),
            "{name}: generated"
        );
        assert!(
            secret["SecretString"].is_null(),
            "{name}: no value in the template"
        );
        let secret_name = secret["Name"].as_str().unwrap();
        let headers = api["OriginCustomHeaders"].as_array().unwrap();
        assert_eq!(headers.len(), 1, "{name}");
        assert_eq!(headers[0]["HeaderName"], stackwright_stack::ORIGIN_HEADER);
        assert!(
            is_secret_reference(&headers[0]["HeaderValue"], secret_name),
            "{name}"
        );
        let Some(group) = network["Resources"].get("LoadBalancerSecurityGroup") else {
            // Lambda: the HTTP API over HTTPS, which anyone may call, so the
            // runtime checks the secret; the subscriber serves no requests.
            assert_eq!(
                api["CustomOriginConfig"]["OriginProtocolPolicy"], "https-only",
                "{name}"
            );
            let env = |function: &str| {
                app["Resources"][function]["Properties"]["Environment"]["Variables"]
                    [stackwright_stack::env::ORIGIN_SECRET]
                    .clone()
            };
            assert!(
                is_secret_reference(&env("ApiFunction"), secret_name),
                "{name}"
            );
            assert!(env("SubscriberFunction").is_null(), "{name}");
            assert!(env("MigrateFunction").is_null(), "{name}");
            continue;
        };
        balanced += 1;
        // The group: the listener's port from CloudFront's prefix list,
        // nothing else.
        let ingress = group["Properties"]["SecurityGroupIngress"]
            .as_array()
            .unwrap();
        assert_eq!(ingress.len(), 1, "{name}: {ingress:?}");
        assert_eq!(
            ingress[0]["SourcePrefixListId"]["Ref"], "CloudFrontPrefixList",
            "{name}"
        );
        assert_eq!(
            (
                ingress[0]["FromPort"].as_u64(),
                ingress[0]["ToPort"].as_u64()
            ),
            (Some(port), Some(port)),
            "{name}"
        );
        assert!(ingress[0]["CidrIp"].is_null() && ingress[0]["CidrIpv6"].is_null());
        assert_eq!(
            network["Parameters"]["CloudFrontPrefixList"]["AllowedPattern"], "^pl-[0-9a-f]+$",
            "{name}"
        );

        // The listener: 403 unless a rule forwards; every forwarding rule
        // checks the secret.
        let listeners: Vec<_> = resources(app, "AWS::ElasticLoadBalancingV2::Listener").collect();
        assert_eq!(listeners.len(), 1, "{name}");
        let listener = &listeners[0].1["Properties"];
        assert_eq!(listener["Port"].as_u64(), Some(port), "{name}");
        match &domain {
            Some(_) => {
                assert_eq!(listener["Protocol"], "HTTPS", "{name}");
                assert_eq!(listener["SslPolicy"], "ELBSecurityPolicy-TLS13-1-2-2021-06");
                assert_eq!(
                    listener["Certificates"][0]["CertificateArn"]["Ref"],
                    "OriginCertificate"
                );
            }
            None => assert_eq!(listener["Protocol"], "HTTP", "{name}"),
        }
        let default = &listener["DefaultActions"][0];
        assert_eq!(default["Type"], "fixed-response", "{name}");
        assert_eq!(
            default["FixedResponseConfig"]["StatusCode"], "403",
            "{name}"
        );
        let rules: Vec<_> = resources(app, "AWS::ElasticLoadBalancingV2::ListenerRule").collect();
        assert!(!rules.is_empty(), "{name}");
        for (id, rule) in rules {
            let conditions = rule["Properties"]["Conditions"].as_array().unwrap();
            let header = conditions
                .iter()
                .find(|c| c["Field"] == "http-header")
                .unwrap_or_else(|| panic!("{name}: {id} forwards without the secret"));
            let config = &header["HttpHeaderConfig"];
            assert_eq!(config["HttpHeaderName"], stackwright_stack::ORIGIN_HEADER);
            assert!(
                config["Values"].as_array().map(Vec::len) == Some(1)
                    && is_secret_reference(&config["Values"][0], secret_name),
                "{name}: {id}: {config}"
            );
            let values: usize = conditions
                .iter()
                .map(|c| {
                    c["PathPatternConfig"]["Values"]
                        .as_array()
                        .map_or(0, Vec::len)
                        + c["HttpHeaderConfig"]["Values"]
                            .as_array()
                            .map_or(0, Vec::len)
                })
                .sum();
            assert!(
                values <= 5,
                "{name}: {id}: a rule takes at most five values"
            );
        }
        // CloudFront sends it to the balancer over HTTP, or with a domain
        // over HTTPS to the balancer's own name.
        // The balancer's own name stays exported as OriginDomain; a domain
        // adds OriginName, so adding one changes no export in use.
        let balancer_name = serde_json::json!({ "Fn::GetAtt": ["LoadBalancer", "DNSName"] });
        let (protocol, output, origin) = match &domain {
            Some(d) => (
                "https-only",
                "OriginName",
                serde_json::json!(format!("origin.{d}")),
            ),
            None => ("http-only", "OriginDomain", balancer_name.clone()),
        };
        assert_eq!(
            api["CustomOriginConfig"]["OriginProtocolPolicy"], protocol,
            "{name}"
        );
        assert_eq!(app["Outputs"][output]["Value"], origin, "{name}");
        assert_eq!(
            app["Outputs"]["OriginDomain"]["Value"], balancer_name,
            "{name}"
        );
    }
    assert!(
        balanced >= 5,
        "the examples have load-balanced environments"
    );
}

#[test]
fn every_access_log_goes_to_the_log_bucket() {
    for (name, stack, layers) in environments() {
        let artifacts = &layers["artifacts"];
        for (id, bucket) in resources(artifacts, "AWS::S3::Bucket") {
            let p = &bucket["Properties"];
            if id == "LogBucket" {
                assert_eq!(
                    p["LifecycleConfiguration"]["Rules"][0]["ExpirationInDays"],
                    Settings::resolve(&stack, name.split('/').nth(1).unwrap())
                        .unwrap()
                        .log_retention_days,
                    "{name}"
                );
                assert_eq!(
                    p["PublicAccessBlockConfiguration"]["BlockPublicPolicy"],
                    true
                );
            } else {
                assert_eq!(
                    p["LoggingConfiguration"]["DestinationBucketName"]["Ref"], "LogBucket",
                    "{name}: {id}"
                );
            }
        }
        let logging = &distribution(&layers)["Logging"];
        assert_eq!(logging["Prefix"], "cloudfront/", "{name}");
        if let Some(lb) = layers["app"]["Resources"].get("LoadBalancer") {
            let attributes = lb["Properties"]["LoadBalancerAttributes"]
                .as_array()
                .unwrap();
            let on = attributes
                .iter()
                .any(|a| a["Key"] == "access_logs.s3.enabled" && a["Value"] == "true");
            assert!(on, "{name}");
        }
    }
}

/// A request path and the file (or redirect) it maps to.
type Mapped = (&'static str, &'static str);

/// The site's path function, run by Node.js (the engine CloudFront
/// Functions follow), maps paths as `up` serves them.
#[test]
fn the_site_paths_function_maps_paths_as_up_does() {
    let cases: [(&str, bool, &[Mapped]); 2] = [
        (
            "/",
            true,
            &[
                ("/", "/index.html"),
                ("/app.js", "/app.js"),
                ("/css/site.css", "/css/site.css"),
                ("/mysfits/3", "/index.html"),
                ("/about/", "/about/index.html"),
            ],
        ),
        (
            "/shop",
            false,
            &[
                ("/shop", "308 /shop/"),
                ("/shop/", "/index.html"),
                ("/shop/app.js", "/app.js"),
                ("/shop/help", "/help/index.html"),
                ("/elsewhere.txt", "/elsewhere.txt"),
            ],
        ),
    ];
    for (path, spa, expected) in cases {
        let site = Site {
            dir: "site".into(),
            path: path.to_string(),
            spa,
        };
        let code = stackwright_synth::edge::site_paths_function(&site);
        let uris: Vec<&str> = expected.iter().map(|(from, _)| *from).collect();
        let driver = format!(
            "{code}\nconsole.log(JSON.stringify({uris:?}.map(function (u) {{ \
             var r = handler({{ request: {{ uri: u }} }}); \
             return r.uri || (r.statusCode + ' ' + r.headers.location.value); }})));"
        );
        let out = Command::new("node")
            .arg("-e")
            .arg(&driver)
            .output()
            .expect("node");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let got: Vec<String> = serde_json::from_slice(&out.stdout).unwrap();
        let want: Vec<&str> = expected.iter().map(|(_, to)| *to).collect();
        assert_eq!(got, want, "site at {path}, spa {spa}");
    }
}

/// Where anyone may call the runtime (an HTTP API on Lambda), it answers
/// only requests carrying the origin secret, as the load balancer does,
/// and never writes the secret down.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_runtime_answers_only_requests_with_the_origin_secret() {
    let secret = "Zq4origin7secret9value0123456789abcdefABCDEF012345";
    let stack = TempStack::copy_of("pets", |toml| toml);
    let served = Served::start(
        stack.path(),
        "",
        &[
            (stackwright_stack::env::ORIGIN_SECRET, secret),
            ("STACKWRIGHT_LOG", "debug"),
        ],
    );
    let client = reqwest::Client::new();
    let url = format!("{}/openapi.json", served.url());
    let ask = |value: Option<&'static str>| {
        let mut request = client.get(&url);
        if let Some(v) = value {
            request = request.header(stackwright_stack::ORIGIN_HEADER, v);
        }
        async move { request.send().await.unwrap() }
    };
    for wrong in [
        None,
        Some("nope"),
        Some("Zq4origin7secret9value0123456789abcdefABCDEF01234"),
    ] {
        let reply = ask(wrong).await;
        assert_eq!(reply.status(), 403, "{wrong:?}");
        let body: Json = reply.json().await.unwrap();
        assert_eq!(body["error"]["code"], "forbidden", "{body}");
    }
    let right = ask(Some(secret)).await;
    assert_eq!(right.status(), 200, "{}", served.log());
    assert!(!served.log().contains(secret), "{}", served.log());
}

/// With a domain: the distribution answers it with its certificate (from
/// the global stack outside us-east-1) and TLS 1.2; alias records A and
/// AAAA name it; the URL is the domain's. Without one, none of that.
#[test]
fn a_domain_has_its_certificate_records_and_tls_1_2() {
    let mut with_domain = 0;
    for (name, stack, layers) in environments() {
        let env = name.split_once('/').unwrap().1;
        let edge = &layers["edge"];
        let config = distribution(&layers);
        let records: Vec<_> = resources(edge, "AWS::Route53::RecordSet").collect();
        let Some(domain) = stack.aws.domain_of(env) else {
            assert!(
                config["Aliases"].is_null() && config["ViewerCertificate"].is_null(),
                "{name}"
            );
            assert!(records.is_empty(), "{name}");
            assert!(
                !layers.contains_key("global") || config["WebACLId"].is_object(),
                "{name}"
            );
            continue;
        };
        with_domain += 1;
        assert_eq!(config["Aliases"], serde_json::json!([domain]), "{name}");
        let viewer = &config["ViewerCertificate"];
        assert_eq!(viewer["MinimumProtocolVersion"], "TLSv1.2_2021", "{name}");
        assert_eq!(viewer["SslSupportMethod"], "sni-only", "{name}");
        // Outside us-east-1 the certificate is the global stack's, passed in.
        let global = &layers["global"]["Resources"]["Certificate"]["Properties"];
        assert_eq!(
            viewer["AcmCertificateArn"]["Ref"], "CertificateArn",
            "{name}"
        );
        assert_eq!(global["DomainName"], domain.as_str(), "{name}");
        assert_eq!(global["ValidationMethod"], "DNS", "{name}");
        assert_eq!(
            global["DomainValidationOptions"][0]["HostedZoneId"]["Ref"],
            "HostedZoneId"
        );
        let kinds: Vec<&str> = records
            .iter()
            .map(|(_, r)| {
                let p = &r["Properties"];
                assert_eq!(p["Name"], domain.as_str(), "{name}");
                assert_eq!(p["AliasTarget"]["HostedZoneId"], "Z2FDTNDATAQYW2", "{name}");
                assert_eq!(p["AliasTarget"]["DNSName"]["Fn::GetAtt"][0], "Distribution");
                p["Type"].as_str().unwrap()
            })
            .collect();
        assert_eq!(kinds, ["A", "AAAA"], "{name}");
        assert_eq!(edge["Outputs"]["Url"]["Value"], format!("https://{domain}"));
    }
    assert_eq!(with_domain, 1, "mysfits' www");
}
