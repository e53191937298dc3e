//! The runtime image for Fargate environments.
//!
//! Building it without a Docker daemon and pushing it to the environment's
//! ECR repository is not in this version yet, so a Fargate environment
//! cannot be deployed from the tool; Lambda and EC2 environments can. The
//! error says so before anything is changed.

use std::path::Path;

use indexmap::IndexMap;
use stackwright_stack::Stack;

fn unsupported(stack: &Stack) -> anyhow::Error {
    anyhow::anyhow!(
        "`{}` runs on Fargate, which needs the runtime image; building and pushing it is not \
         in this version of stackwright yet. Deploy an environment with compute = \"lambda\" \
         or \"ec2\" (for example `[aws.env.NAME] compute = \"ec2\"`)",
        stack.name
    )
}

/// The tag the image would get.
pub fn tag(stack: &Stack, _runtime: Option<&Path>) -> anyhow::Result<String> {
    Err(unsupported(stack))
}

/// Build and push the image; returns its tag.
pub async fn publish(
    stack: &Stack,
    _outputs: &IndexMap<String, String>,
    _runtime: Option<&Path>,
) -> anyhow::Result<String> {
    Err(unsupported(stack))
}
