//! The edge layer: one CloudFront distribution is the environment's one
//! HTTPS origin. The API's paths go to the load balancer (or the HTTP API
//! on Lambda) uncached, with every method, header and query string; every
//! other path goes to the site's bucket through origin access control. So
//! the site calls its API on its own origin: no mixed content, no CORS.
//!
//! It is the last layer because it names what the others made: the site
//! bucket (artifacts), the origin secret (network) and the API's address
//! (app).

use serde_json::{json, Value as Json};
use stackwright_stack::{Site, Stack};

use crate::cfn::{r, sub, tls_only, Layer, Template};
use crate::outputs::Output;
use crate::{Settings, SynthError};

/// CloudFront's managed policies. Site: CachingOptimized (it honours the
/// origin's Cache-Control: pages are uploaded `no-cache`). API:
/// CachingDisabled, with AllViewerExceptHostHeader, which forwards every
/// header (Authorization included: with caching off CloudFront allows
/// it), cookie and query string, but not Host, which names the origin.
/// Both: SecurityHeadersPolicy (HSTS, nosniff, frame options, referrer
/// policy).
pub const SITE_CACHE_POLICY: &str = "658327ea-f89d-4fab-a63d-7e88639e58f6";
pub const API_CACHE_POLICY: &str = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad";
pub const API_ORIGIN_REQUEST_POLICY: &str = "b689b0a8-53d0-40ab-baf2-68738e2966ac";
pub const SECURITY_HEADERS_POLICY: &str = "67f7725c-6f97-4210-82d7-5512b31e9d03";

/// A distribution holds at most 25 cache behaviours unless AWS raises it.
const MOST_BEHAVIOURS: usize = 25;

const ALL_METHODS: [&str; 7] = ["GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"];

pub fn template(stack: &Stack, s: &Settings) -> Result<Template, SynthError> {
    let prefix = s.prefix(stack);
    let mut t = Template::new(
        Layer::Edge,
        format!("Stackwright {prefix}: edge (CloudFront, the one HTTPS origin)"),
    );
    let mut origins = vec![api_origin(s, &prefix)];
    let mut api = behaviour("api", ALL_METHODS.as_slice(), API_CACHE_POLICY);
    api["OriginRequestPolicyId"] = json!(API_ORIGIN_REQUEST_POLICY);
    let (default, behaviours) = match &stack.site {
        Some(site) => {
            site_origin(&mut t, &prefix, site);
            origins.push(json!({
                "Id": "site",
                "DomainName": Output::SiteBucketDomain.import(&prefix),
                "OriginAccessControlId": r("SiteOriginAccess"),
                "S3OriginConfig": { "OriginAccessIdentity": "" }
            }));
            let mut site_behaviour =
                behaviour("site", ["GET", "HEAD"].as_slice(), SITE_CACHE_POLICY);
            site_behaviour["FunctionAssociations"] = json!([{
                "EventType": "viewer-request",
                "FunctionARN": sub("${SitePaths.FunctionARN}")
            }]);
            if site.path == "/" {
                // The site takes every path the API does not.
                (site_behaviour, api_behaviours(stack, &api)?)
            } else {
                // The site has its own path; everything else is the API's.
                let behaviours = under(&site.path, &site_behaviour).into();
                (api, behaviours)
            }
        }
        None => (api, Vec::new()),
    };
    let mut distribution = json!({
        "Enabled": true,
        "Comment": format!("{prefix}: site and API"),
        "HttpVersion": "http2and3",
        "PriceClass": "PriceClass_100",
        "IPV6Enabled": true,
        "Origins": origins,
        "DefaultCacheBehavior": default
    });
    if crate::logs::cloudfront_logs_reach(&s.region) {
        distribution["Logging"] = crate::logs::distribution_logging(&prefix);
    }
    if !behaviours.is_empty() {
        distribution["CacheBehaviors"] = json!(behaviours);
    }
    if stack.site.as_ref().is_some_and(|site| site.path == "/") {
        // Only when `/` is the site's: otherwise it is the API's own path.
        distribution["DefaultRootObject"] = json!(crate::site::ROOT_OBJECT);
    }
    if let Some(acl) = crate::waf::attach(&mut t, s, &prefix) {
        distribution["WebACLId"] = acl;
    }
    let url = match &s.domain {
        Some(domain) => {
            crate::domain::viewer(&mut t, s, domain, &mut distribution);
            json!(format!("https://{domain}"))
        }
        None => sub("https://${Distribution.DomainName}"),
    };
    t.add(
        "Distribution",
        "AWS::CloudFront::Distribution",
        json!({ "DistributionConfig": distribution }),
    );
    t.output(
        Output::Url.name(),
        "The environment's URL: the site and its API, over HTTPS",
        url,
        None,
    );
    t.output(
        Output::DistributionId.name(),
        "The distribution (stackwright deploy invalidates what changed)",
        r("Distribution"),
        None,
    );
    Ok(t)
}

/// Beside a site at `/`: a behaviour to the API for each of its prefixes.
fn api_behaviours(stack: &Stack, api: &Json) -> Result<Vec<Json>, SynthError> {
    let behaviours: Vec<Json> = api_prefixes(stack)?
        .iter()
        .flat_map(|p| under(p, api))
        .collect();
    if behaviours.len() > MOST_BEHAVIOURS {
        return Err(SynthError::Invalid(format!(
            "the API has {} path prefixes beside the site; CloudFront serves at most {} \
             (two behaviours each): group the routes under fewer first segments, or give \
             the site a path of its own",
            behaviours.len() / 2,
            MOST_BEHAVIOURS / 2
        )));
    }
    Ok(behaviours)
}

/// `behaviour` for the path `prefix` and every path below it.
fn under(prefix: &str, behaviour: &Json) -> [Json; 2] {
    [prefix.to_string(), format!("{prefix}/*")].map(|pattern| {
        let mut b = behaviour.clone();
        b["PathPattern"] = json!(pattern);
        b
    })
}

/// A cache behaviour of `origin`: viewers are sent to HTTPS, with the
/// security headers on every response.
fn behaviour(origin: &str, methods: &[&str], cache_policy: &str) -> Json {
    json!({
        "TargetOriginId": origin,
        "ViewerProtocolPolicy": "redirect-to-https",
        "AllowedMethods": methods,
        "CachedMethods": ["GET", "HEAD"],
        "Compress": true,
        "CachePolicyId": cache_policy,
        "ResponseHeadersPolicyId": SECURITY_HEADERS_POLICY
    })
}

/// The API's origin: the HTTP API over HTTPS, or the load balancer, over
/// HTTPS at its own name when the environment has a domain and over HTTP
/// otherwise; with the origin secret, without which neither answers.
fn api_origin(s: &Settings, prefix: &str) -> Json {
    let mut origin = json!({
        "Id": "api",
        "DomainName": match (&s.domain, s.compute.load_balanced()) {
            (Some(_), true) => Output::OriginName.import(prefix),
            _ => Output::OriginDomain.import(prefix),
        },
        "CustomOriginConfig": {
            "OriginProtocolPolicy": "https-only",
            "OriginSSLProtocols": ["TLSv1.2"],
            // The most CloudFront allows without a quota increase.
            "OriginReadTimeout": 60,
            // Shorter than the balancer's idle timeout (60 s), so CloudFront
            // never reuses a connection the balancer is closing.
            "OriginKeepaliveTimeout": 30
        }
    });
    if s.compute.load_balanced() && s.domain.is_none() {
        origin["CustomOriginConfig"]["OriginProtocolPolicy"] = json!("http-only");
    }
    // The balancer's listener checks it, or on Lambda the runtime.
    origin["OriginCustomHeaders"] = json!([{
        "HeaderName": stackwright_stack::ORIGIN_HEADER,
        "HeaderValue": crate::network::origin_secret_value(prefix)
    }]);
    origin
}

/// The site's origin access control, the function that maps paths to its
/// files as `up` does, and the bucket policy that lets only this
/// distribution read it.
fn site_origin(t: &mut Template, prefix: &str, site: &Site) {
    t.add(
        "SiteOriginAccess",
        "AWS::CloudFront::OriginAccessControl",
        json!({ "OriginAccessControlConfig": {
            "Name": format!("{prefix}-site"),
            "OriginAccessControlOriginType": "s3",
            "SigningBehavior": "always",
            "SigningProtocol": "sigv4"
        } }),
    );
    t.add(
        "SitePaths",
        "AWS::CloudFront::Function",
        json!({
            "Name": format!("{prefix}-site-paths"),
            "AutoPublish": true,
            "FunctionConfig": {
                "Comment": "The site's paths to its files, as stackwright up maps them",
                "Runtime": "cloudfront-js-2.0"
            },
            "FunctionCode": site_paths_function(site)
        }),
    );
    let bucket = Output::SiteBucket.import(prefix);
    let arn = json!({ "Fn::Sub": ["arn:${AWS::Partition}:s3:::${Bucket}", { "Bucket": bucket }] });
    let objects =
        json!({ "Fn::Sub": ["arn:${AWS::Partition}:s3:::${Bucket}/*", { "Bucket": bucket }] });
    t.add(
        "SiteBucketPolicy",
        "AWS::S3::BucketPolicy",
        json!({
            "Bucket": bucket,
            "PolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "DistributionReads",
                        "Effect": "Allow",
                        "Principal": { "Service": "cloudfront.amazonaws.com" },
                        "Action": "s3:GetObject",
                        "Resource": objects,
                        "Condition": { "StringEquals": { "AWS:SourceArn": sub("arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:distribution/${Distribution}") } }
                    },
                    tls_only("s3:*", json!([arn, objects]))
                ]
            }
        }),
    );
}

/// A CloudFront function (viewer request) mapping a path to the site's
/// file the way `up` does: the site's own address without its `/` is
/// redirected to it, the site's path is stripped, a folder is its
/// index.html, and in a single-page app a path without an extension is
/// the app's page. S3 cannot list the bucket for CloudFront, so
/// `up`'s "the file, else the folder's index" becomes "a last segment
/// without a dot is a folder".
pub fn site_paths_function(site: &Site) -> String {
    let base = if site.path == "/" { "" } else { &site.path };
    format!(
        r#"var BASE = {base:?};
var SPA = {spa};
function handler(event) {{
  var request = event.request;
  var uri = request.uri;
  if (BASE !== '' && uri === BASE) {{
    return {{ statusCode: 308, statusDescription: 'Permanent Redirect',
             headers: {{ location: {{ value: BASE + '/' }} }} }};
  }}
  if (BASE !== '' && uri.indexOf(BASE + '/') === 0) {{
    uri = uri.substring(BASE.length);
  }}
  var last = uri.substring(uri.lastIndexOf('/') + 1);
  if (last === '') {{
    uri = uri + 'index.html';
  }} else if (last.indexOf('.') === -1) {{
    uri = SPA ? '/index.html' : uri + '/index.html';
  }}
  request.uri = uri;
  return request;
}}
"#,
        spa = site.spa
    )
}

/// The path prefixes the API serves: each route's literal start (up to
/// its first parameter), the topics, sign-in, the API's description and
/// each service's paths; none under another.
pub fn api_prefixes(stack: &Stack) -> Result<Vec<String>, SynthError> {
    let mut prefixes = Vec::new();
    for route in &stack.routes {
        let literal: Vec<&str> = route
            .path
            .split('/')
            .skip(1)
            .take_while(|seg| !seg.starts_with('{') && !seg.is_empty())
            .collect();
        if literal.is_empty() {
            return Err(SynthError::Invalid(format!(
                "route {} would take every path of the site (served at `/`) on the shared \
                 origin: give the route a literal first segment, or the site a path of its own",
                route.label()
            )));
        }
        prefixes.push(format!("/{}", literal.join("/")));
    }
    if !stack.topics.is_empty() {
        prefixes.push("/topics".into());
    }
    if stack.users.is_some() {
        prefixes.push("/auth".into());
    }
    prefixes.extend(["/docs".to_string(), "/openapi.json".to_string()]);
    for service in stack.services.values() {
        prefixes.extend(service.paths.iter().cloned());
    }
    prefixes.sort();
    prefixes.dedup();
    let under = |p: &str, q: &str| p != q && p.starts_with(&format!("{q}/"));
    let kept = prefixes
        .iter()
        .filter(|p| !prefixes.iter().any(|q| under(p, q)))
        .cloned()
        .collect();
    Ok(kept)
}
