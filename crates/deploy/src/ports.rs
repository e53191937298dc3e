//! The deployer's ports: CloudFormation ([`Stacks`]), where artifacts go
//! ([`Shipping`]), the person deploying ([`Ui`]) and the site's files
//! ([`SiteSource`]). Production implements them with the AWS SDK and the
//! terminal; `deployer/fakes.rs` implements them in memory. They live apart
//! from the workflow so what the workflow drives (artifacts, package) can
//! name them without depending on the workflow itself.

use crate::cdn::Invalidation;
use crate::package::Package;
use crate::plan::{Event, Plan};
use crate::store::{SiteObject, SiteUpload};
use crate::Result;

/// CloudFormation as the deployer uses it ([`crate::Cloud`] in production).
// Used through generics by one caller at a time, never spawned: the
// futures need not be `Send`.
#[allow(async_fn_in_trait)]
pub trait Stacks {
    /// The stack's status; None when it does not exist.
    async fn status(&self, stack: &str) -> Result<Option<String>>;
    /// Why the stack is in its status.
    async fn status_reason(&self, stack: &str) -> Option<String>;
    /// A change set: what deploying `template` would do. Changes nothing.
    async fn plan(
        &self,
        stack: &str,
        template: &str,
        parameters: &[(String, String)],
        token: &str,
    ) -> Result<Plan>;
    /// Throw a plan away, and the empty stack a create plan made.
    async fn discard(&self, plan: &Plan);
    /// Execute the plan and follow the stack to its end.
    async fn apply(&self, plan: &Plan, on_event: &mut dyn FnMut(&Event)) -> Result<String>;
    /// Delete the stack and wait until it is gone.
    async fn destroy(&self, stack: &str, on_event: &mut dyn FnMut(&Event)) -> Result<()>;
    /// The stack's outputs, in template order.
    async fn outputs(&self, stack: &str) -> Result<Vec<(String, String)>>;
    /// The stack's exported outputs.
    async fn exports(&self, stack: &str) -> Result<Vec<Export>>;
}

/// An output a stack exports for other stacks to import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Export {
    /// The output's key in its stack.
    pub key: String,
    pub value: String,
    /// The name other stacks import it by.
    pub name: String,
}

/// Where the artifacts go: the artifact bucket, the image repository,
/// the site bucket ([`crate::aws::AwsShipping`] in production).
#[allow(async_fn_in_trait)]
pub trait Shipping {
    /// Upload unless the bucket has it; whether anything was uploaded.
    async fn upload_package(&self, bucket: &str, package: &Package) -> Result<bool>;
    /// Push the image to the repository the artifacts layer made.
    async fn push_image(
        &self,
        image: &stackwright_image::Image,
        repository_uri: &str,
    ) -> Result<Pushed>;
    /// Make the bucket hold exactly these files.
    async fn sync_site(&self, bucket: &str, files: &[SiteObject<'_>]) -> Result<SiteUpload>;
    /// Invalidate these paths of the site's distribution, waiting a while.
    async fn invalidate(&self, distribution: &str, paths: &[String]) -> Result<Invalidation>;
    /// The id of the managed prefix list `name` in the region.
    async fn prefix_list(&self, name: &str) -> Result<String>;
    /// The id of the public hosted zone of this account holding `domain`:
    /// `given`, once checked, else the one found by name.
    async fn hosted_zone(&self, domain: &str, given: Option<&str>) -> Result<String>;
}

/// Where an image went, and its manifest digest.
pub struct Pushed {
    pub destination: String,
    pub digest: String,
}

/// The person deploying: answers questions and reads progress.
pub trait Ui {
    /// Ask; `Err` (why nobody can answer) when there is no one to ask.
    fn confirm(&self, question: &str) -> std::result::Result<bool, String>;
    /// One line of progress.
    fn note(&self, line: &str);
    /// What a layer's plan would do.
    fn plan(&self, plan: &Plan);
    /// A stack event while an operation runs.
    fn event(&self, stack: &str, event: &Event);
}

/// The site's files with the values only a deploy knows filled in.
pub trait SiteSource {
    fn files(&self, values: &[(&str, String)]) -> std::result::Result<Vec<SiteFile>, String>;
}

pub struct SiteFile {
    pub key: String,
    pub body: Vec<u8>,
    pub content_type: &'static str,
    /// A page (HTML): checked on every visit, so a deploy shows at once.
    pub page: bool,
}
