//! The `global` layer: what CloudFront needs made in us-east-1 (a web ACL,
//! the domain's certificate), for an environment in another region. In
//! us-east-1 those are part of the edge layer instead. It is deployed
//! first, and deploy passes its outputs to the edge layer as parameters
//! (exports do not cross regions).

use stackwright_stack::Stack;

use crate::cfn::{att, r, Layer, Template};
use crate::outputs::Output;
use crate::Settings;

pub use crate::settings::GLOBAL_REGION;

/// The `global` layer, when the environment needs one.
pub fn template(stack: &Stack, s: &Settings) -> Option<Template> {
    if !s.needs_global_stack() {
        return None;
    }
    let prefix = s.prefix(stack);
    let mut t = Template::new(
        Layer::Global,
        format!("Stackwright {prefix}: global, in {GLOBAL_REGION} (what CloudFront needs there)"),
    );
    if s.waf {
        crate::waf::web_acl(&mut t, s, &prefix);
        t.output(
            Output::WebAclArn.name(),
            "The web ACL the distribution uses (passed to the edge layer by deploy)",
            att("WebAcl", "Arn"),
            None,
        );
    }
    if let Some(domain) = &s.domain {
        let zone = crate::domain::zone(&mut t, domain);
        crate::domain::certificate(&mut t, crate::domain::VIEWER_CERTIFICATE, domain, &zone);
        t.output(
            Output::CertificateArn.name(),
            "The distribution's certificate (passed to the edge layer by deploy)",
            r(crate::domain::VIEWER_CERTIFICATE),
            None,
        );
    }
    Some(t)
}
