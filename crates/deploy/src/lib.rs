//! Puts a stack on AWS and takes it off again. [`Deployer`] owns the
//! deploy workflow (bootstrap, artifacts, each layer's plan, data-loss
//! refusal, confirmation, apply, package, image, site) behind small traits
//! so fakes can test it; [`Cloud`] drives CloudFormation change sets;
//! `store`, `image` and `package` handle what is shipped beside stacks.

#![warn(clippy::too_many_lines)]

pub mod artifacts;
pub mod aws;
pub mod cdn;
mod cloudformation;
pub mod deployer;
pub mod health;
pub mod hosted_zone;
pub mod image;
pub mod logs;
pub mod package;
pub mod plan;
pub mod ports;
pub mod prefix_list;
mod signed;
pub mod store;

use aws_sdk_cloudformation::config::http::HttpResponse;
use aws_sdk_cloudformation::error::{DisplayErrorContext, ProvideErrorMetadata};
use stackwright_synth::iam::BOOTSTRAP_STACK;

pub use artifacts::Artifacts;
pub use cloudformation::Cloud;
pub use deployer::{Deployer, Outcome, Release, Report};
pub use plan::{Action, Change, Event, Plan, Replacement, Resource};
pub use ports::{Shipping, SiteFile, SiteSource, Stacks, Ui};

#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error("{0}")]
    Aws(String),
    #[error("{stack}: {resource} failed: {reason}")]
    Failed {
        stack: String,
        resource: String,
        reason: String,
    },
    #[error("{stack} is in {status} after a failed first deploy and must be deleted before it can be created again")]
    NeedsReplacement { stack: String, status: String },
    #[error("{0} did not finish in time")]
    Timeout(String),
    #[error("{stack}: this change replaces or removes data-holding resources: {resources}; nothing was changed. Re-run with --allow-replace to accept the loss")]
    LosesData { stack: String, resources: String },
    #[error("{stack} is in {status}; nothing was changed")]
    NotReplaced { stack: String, status: String },
    #[error("{0}: not applied; nothing was changed")]
    NotApplied(String),
    /// Nobody could be asked (the reason comes from the one asking).
    #[error("{0}")]
    Unconfirmed(String),
    #[error("{stack} has no {output} output")]
    MissingOutput { stack: String, output: &'static str },
    #[error("{BOOTSTRAP_STACK} (the permissions boundary every role of a stack carries) is missing or outdated in {region} and could not be deployed: \
             run `stackwright bootstrap` once with credentials that may create IAM policies")]
    Bootstrap {
        region: String,
        source: Box<DeployError>,
    },
    #[error(transparent)]
    Package(#[from] package::PackageError),
    #[error(transparent)]
    Image(#[from] image::ImageError),
    #[error("the image build stopped: {0}")]
    Stopped(String),
    #[error("{0}")]
    Site(String),
}

pub type Result<T, E = DeployError> = std::result::Result<T, E>;

/// Any SDK error, with what was being done and AWS's own explanation.
pub(crate) fn aws_error<E: ProvideErrorMetadata + std::error::Error + 'static>(
    doing: &str,
    e: aws_sdk_cloudformation::error::SdkError<E, HttpResponse>,
) -> DeployError {
    DeployError::Aws(format!("{doing}: {}", sdk_message(e)))
}

pub use aws::Aws;

fn aws<E: ProvideErrorMetadata + std::error::Error + 'static>(
    e: aws_sdk_cloudformation::error::SdkError<E, HttpResponse>,
) -> DeployError {
    DeployError::Aws(sdk_message(e))
}

/// AWS's own words for a service error (`Code: message`); for anything else
/// (no connection, no credentials) the whole chain of causes.
pub(crate) fn sdk_message<E: ProvideErrorMetadata + std::error::Error + 'static>(
    e: aws_sdk_cloudformation::error::SdkError<E, HttpResponse>,
) -> String {
    match e.as_service_error() {
        Some(s) if s.message().is_some() => {
            format!(
                "{}: {}",
                s.code().unwrap_or("error"),
                s.message().unwrap_or_default()
            )
        }
        // An answer without an AWS error in it (an emulator's bare 500, a proxy's page).
        Some(_) => format!(
            "the endpoint answered HTTP {} without an AWS error (is this API implemented there?)",
            e.raw_response().map_or(0, |r| r.status().as_u16())
        ),
        None => DisplayErrorContext(e).to_string(),
    }
}
