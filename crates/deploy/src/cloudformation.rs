//! CloudFormation through change sets: plan (what will be added, modified,
//! replaced, removed), apply (execute and follow the stack's events to the
//! end), destroy, outputs. Every wait is a poll with a deadline; every
//! failure names the resource that failed and CloudFormation's reason.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use aws_sdk_cloudformation::error::ProvideErrorMetadata;
use aws_sdk_cloudformation::types::{
    Capability, ChangeAction, ChangeSetType, Parameter, Replacement as AwsReplacement,
};
use aws_sdk_cloudformation::Client;

use crate::plan::{Action, Change, Event, Plan, Replacement, Resource};
use crate::{aws, Aws, DeployError, Result};

fn change_of(rc: &aws_sdk_cloudformation::types::ResourceChange) -> Change {
    Change {
        action: match rc.action() {
            Some(ChangeAction::Add) => Action::Add,
            Some(ChangeAction::Modify) => Action::Modify,
            Some(ChangeAction::Remove) => Action::Remove,
            _ => Action::Other,
        },
        logical_id: rc.logical_resource_id().unwrap_or_default().to_string(),
        resource_type: rc.resource_type().unwrap_or_default().to_string(),
        replacement: match rc.replacement() {
            Some(AwsReplacement::True) => Replacement::Always,
            Some(AwsReplacement::Conditional) => Replacement::Conditional,
            _ => Replacement::Never,
        },
    }
}

pub struct Cloud {
    cf: Client,
    /// How long a stack operation may take before giving up on waiting.
    pub deadline: Duration,
    pub poll: Duration,
}

const TERMINAL_OK: [&str; 3] = ["CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE"];

impl Cloud {
    /// A client from the standard AWS chain; `endpoint` points it at an emulator.
    pub async fn connect(region: &str, endpoint: Option<&str>) -> Self {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(region.to_string()));
        if let Some(e) = endpoint {
            loader = loader.endpoint_url(e);
        }
        let config = loader.load().await;
        Cloud {
            cf: Client::new(&config),
            deadline: Duration::from_secs(3 * 3600),
            poll: Duration::from_secs(5),
        }
    }

    pub fn new(aws: &Aws) -> Self {
        Self::from_client(aws.cloudformation())
    }

    pub fn from_client(cf: Client) -> Self {
        Cloud {
            cf,
            deadline: Duration::from_secs(3 * 3600),
            poll: Duration::from_secs(5),
        }
    }

    /// The stack's status; None when it does not exist.
    pub async fn status(&self, stack: &str) -> Result<Option<String>> {
        match self.cf.describe_stacks().stack_name(stack).send().await {
            Ok(out) => Ok(out
                .stacks()
                .first()
                .and_then(|s| s.stack_status())
                .map(|s| s.as_str().to_string())),
            Err(e)
                if e.as_service_error()
                    .and_then(|s| s.message())
                    .is_some_and(|m| m.contains("does not exist")) =>
            {
                Ok(None)
            }
            Err(e) => Err(aws(e)),
        }
    }

    /// Create a change set and describe it: what deploying `template` with
    /// `parameters` would do. Nothing is changed yet.
    pub async fn plan(
        &self,
        stack: &str,
        template: &str,
        parameters: &[(String, String)],
        token: &str,
    ) -> Result<Plan> {
        let status = self.status(stack).await?;
        let creates = match status.as_deref() {
            None | Some("REVIEW_IN_PROGRESS") => true,
            Some(s @ ("ROLLBACK_COMPLETE" | "ROLLBACK_FAILED")) => {
                return Err(DeployError::NeedsReplacement {
                    stack: stack.into(),
                    status: s.into(),
                })
            }
            Some("UPDATE_ROLLBACK_FAILED") => {
                // Recover the stack to its last good state before changing it again.
                self.cf
                    .continue_update_rollback()
                    .stack_name(stack)
                    .send()
                    .await
                    .map_err(aws)?;
                let seen = self.event_ids(stack).await;
                self.wait_for(stack, seen, |s| s == "UPDATE_ROLLBACK_COMPLETE", |_| {})
                    .await?;
                false
            }
            Some(_) => false,
        };
        let name = format!("stackwright-{token}");
        let mut request = self
            .cf
            .create_change_set()
            .stack_name(stack)
            .change_set_name(&name)
            .template_body(template)
            .change_set_type(if creates {
                ChangeSetType::Create
            } else {
                ChangeSetType::Update
            })
            .capabilities(Capability::CapabilityIam)
            .capabilities(Capability::CapabilityNamedIam);
        for (k, v) in parameters {
            request = request.parameters(
                Parameter::builder()
                    .parameter_key(k)
                    .parameter_value(v)
                    .build(),
            );
        }
        let unchanged = || Plan {
            stack: stack.into(),
            change_set: None,
            creates_stack: false,
            changes: vec![],
        };
        if let Err(e) = request.send().await {
            // CloudFormation reports an unchanged update as a FAILED change
            // set (below); emulators (moto) refuse it at once instead.
            if e.message()
                .is_some_and(|m| m.contains("No updates are to be performed"))
            {
                return Ok(unchanged());
            }
            return Err(aws(e));
        }

        let started = Instant::now();
        loop {
            let out = self
                .cf
                .describe_change_set()
                .stack_name(stack)
                .change_set_name(&name)
                .send()
                .await
                .map_err(aws)?;
            let status = out
                .status()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default();
            match status.as_str() {
                "CREATE_COMPLETE" => {
                    let mut changes: Vec<Change> = out
                        .changes()
                        .iter()
                        .filter_map(|c| c.resource_change())
                        .map(change_of)
                        .collect();
                    let mut next = out.next_token().map(str::to_string);
                    while let Some(token) = next {
                        let page = self
                            .cf
                            .describe_change_set()
                            .stack_name(stack)
                            .change_set_name(&name)
                            .next_token(token)
                            .send()
                            .await
                            .map_err(aws)?;
                        changes.extend(
                            page.changes()
                                .iter()
                                .filter_map(|c| c.resource_change())
                                .map(change_of),
                        );
                        next = page.next_token().map(str::to_string);
                    }
                    if changes.is_empty() && !creates {
                        self.discard_named(stack, &name).await;
                        return Ok(Plan {
                            stack: stack.into(),
                            change_set: None,
                            creates_stack: false,
                            changes,
                        });
                    }
                    return Ok(Plan {
                        stack: stack.into(),
                        change_set: Some(name),
                        creates_stack: creates,
                        changes,
                    });
                }
                "FAILED" => {
                    let reason = out.status_reason().unwrap_or_default().to_string();
                    self.discard_named(stack, &name).await;
                    if reason.contains("didn't contain changes")
                        || reason.contains("No updates are to be performed")
                    {
                        return Ok(unchanged());
                    }
                    return Err(DeployError::Failed {
                        stack: stack.into(),
                        resource: "change set".into(),
                        reason,
                    });
                }
                _ if started.elapsed() > Duration::from_secs(900) => {
                    return Err(DeployError::Timeout(format!("change set for {stack}")))
                }
                _ => tokio::time::sleep(self.poll.min(Duration::from_secs(2))).await,
            }
        }
    }

    async fn discard_named(&self, stack: &str, name: &str) {
        let _ = self
            .cf
            .delete_change_set()
            .stack_name(stack)
            .change_set_name(name)
            .send()
            .await;
    }

    /// Throw a plan away without applying it (`diff`, or a declined deploy).
    pub async fn discard(&self, plan: &Plan) {
        if let Some(name) = &plan.change_set {
            self.discard_named(&plan.stack, name).await;
            if plan.creates_stack {
                // A create change set leaves an empty stack in REVIEW_IN_PROGRESS.
                let _ = self.cf.delete_stack().stack_name(&plan.stack).send().await;
            }
        }
    }

    /// Execute the plan's change set and follow the stack to its end.
    pub async fn apply(&self, plan: &Plan, mut on_event: impl FnMut(&Event)) -> Result<String> {
        let Some(name) = &plan.change_set else {
            return Ok("unchanged".into());
        };
        let seen = self.event_ids(&plan.stack).await;
        self.cf
            .execute_change_set()
            .stack_name(&plan.stack)
            .change_set_name(name)
            .send()
            .await
            .map_err(aws)?;
        let status = self
            .wait_for(
                &plan.stack,
                seen,
                |s| !s.ends_with("_IN_PROGRESS"),
                &mut on_event,
            )
            .await?;
        if TERMINAL_OK.contains(&status.as_str()) {
            Ok(status)
        } else {
            Err(self.failure(&plan.stack, &status).await)
        }
    }

    /// Delete the stack and wait until it is gone.
    pub async fn destroy(&self, stack: &str, mut on_event: impl FnMut(&Event)) -> Result<()> {
        if self.status(stack).await?.is_none() {
            return Ok(());
        }
        let seen = self.event_ids(stack).await;
        self.cf
            .delete_stack()
            .stack_name(stack)
            .send()
            .await
            .map_err(aws)?;
        let status = self
            .wait_for(
                stack,
                seen,
                |s| s == "DELETE_COMPLETE" || s == "DELETE_FAILED" || s == "GONE",
                &mut on_event,
            )
            .await?;
        if status == "DELETE_FAILED" {
            return Err(self.failure(stack, &status).await);
        }
        Ok(())
    }

    /// The stack's outputs, in template order as CloudFormation returns them.
    pub async fn outputs(&self, stack: &str) -> Result<Vec<(String, String)>> {
        Ok(self
            .described_outputs(stack)
            .await?
            .iter()
            .map(|o| {
                (
                    o.output_key().unwrap_or_default().to_string(),
                    o.output_value().unwrap_or_default().to_string(),
                )
            })
            .collect())
    }

    /// The stack's outputs as DescribeStacks gives them.
    async fn described_outputs(
        &self,
        stack: &str,
    ) -> Result<Vec<aws_sdk_cloudformation::types::Output>> {
        let out = self
            .cf
            .describe_stacks()
            .stack_name(stack)
            .send()
            .await
            .map_err(aws)?;
        Ok(out
            .stacks()
            .first()
            .map(|s| s.outputs().to_vec())
            .unwrap_or_default())
    }

    /// The stack's resources as CloudFormation lists them.
    pub async fn resources(&self, stack: &str) -> Result<Vec<Resource>> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .cf
                .list_stack_resources()
                .stack_name(stack)
                .set_next_token(token.clone())
                .send()
                .await
                .map_err(aws)?;
            for r in page.stack_resource_summaries() {
                out.push(Resource {
                    logical_id: r.logical_resource_id().unwrap_or_default().to_string(),
                    physical_id: r.physical_resource_id().unwrap_or_default().to_string(),
                    resource_type: r.resource_type().unwrap_or_default().to_string(),
                    status: r
                        .resource_status()
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_default(),
                });
            }
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                return Ok(out);
            }
        }
    }

    /// Whether the stack's resources still match its template: `IN_SYNC`,
    /// `DRIFTED`, ... Detection runs on AWS and can take a while; gives up
    /// after `wait`. Errors (an emulator without drift detection, say) are
    /// reported as such, not as drift.
    pub async fn drift(&self, stack: &str, wait: Duration) -> Result<String> {
        let id = self
            .cf
            .detect_stack_drift()
            .stack_name(stack)
            .send()
            .await
            .map_err(aws)?
            .stack_drift_detection_id()
            .unwrap_or_default()
            .to_string();
        let started = Instant::now();
        loop {
            let out = self
                .cf
                .describe_stack_drift_detection_status()
                .stack_drift_detection_id(&id)
                .send()
                .await
                .map_err(aws)?;
            let detection = out
                .detection_status()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default();
            if detection != "DETECTION_IN_PROGRESS" {
                return Ok(out
                    .stack_drift_status()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or(detection));
            }
            if started.elapsed() > wait {
                return Err(DeployError::Timeout(format!("drift detection of {stack}")));
            }
            tokio::time::sleep(self.poll.min(Duration::from_secs(2))).await;
        }
    }

    /// The reason CloudFormation gives for the stack's current status.
    pub async fn status_reason(&self, stack: &str) -> Option<String> {
        let out = self
            .cf
            .describe_stacks()
            .stack_name(stack)
            .send()
            .await
            .ok()?;
        out.stacks()
            .first()
            .and_then(|s| s.stack_status_reason())
            .map(str::to_string)
    }

    /// Poll until `done(status)`, reporting each new event once. A stack that
    /// disappears reports the status `GONE`.
    /// Ids of the events a stack has so far: taken before an operation
    /// starts, so only its own events are reported.
    async fn event_ids(&self, stack: &str) -> HashSet<String> {
        match self
            .cf
            .describe_stack_events()
            .stack_name(stack)
            .send()
            .await
        {
            Ok(out) => out
                .stack_events()
                .iter()
                .filter_map(|e| e.event_id().map(str::to_string))
                .collect(),
            Err(_) => HashSet::new(),
        }
    }

    async fn wait_for(
        &self,
        stack: &str,
        mut seen: HashSet<String>,
        done: impl Fn(&str) -> bool,
        mut on_event: impl FnMut(&Event),
    ) -> Result<String> {
        let started = Instant::now();
        loop {
            if let Ok(out) = self
                .cf
                .describe_stack_events()
                .stack_name(stack)
                .send()
                .await
            {
                let mut fresh: Vec<_> = out
                    .stack_events()
                    .iter()
                    .filter(|e| e.event_id().is_some_and(|id| seen.insert(id.to_string())))
                    .collect();
                fresh.reverse();
                for e in fresh {
                    on_event(&Event {
                        logical_id: e.logical_resource_id().unwrap_or_default().to_string(),
                        resource_type: e.resource_type().unwrap_or_default().to_string(),
                        status: e
                            .resource_status()
                            .map(|s| s.as_str().to_string())
                            .unwrap_or_default(),
                        reason: e.resource_status_reason().map(str::to_string),
                    });
                }
            }
            let status = self.status(stack).await?.unwrap_or_else(|| "GONE".into());
            if done(&status) {
                return Ok(status);
            }
            if started.elapsed() > self.deadline {
                return Err(DeployError::Timeout(stack.into()));
            }
            tokio::time::sleep(self.poll).await;
        }
    }

    /// The first resource that failed, and why.
    async fn failure(&self, stack: &str, status: &str) -> DeployError {
        if let Ok(out) = self
            .cf
            .describe_stack_events()
            .stack_name(stack)
            .send()
            .await
        {
            let failed = out.stack_events().iter().rev().find(|e| {
                e.resource_status()
                    .is_some_and(|s| s.as_str().ends_with("_FAILED"))
                    && e.logical_resource_id() != Some(stack)
                    && !e
                        .resource_status_reason()
                        .unwrap_or_default()
                        .contains("cancelled")
            });
            if let Some(e) = failed {
                return DeployError::Failed {
                    stack: stack.into(),
                    resource: format!(
                        "{} ({})",
                        e.logical_resource_id().unwrap_or_default(),
                        e.resource_type().unwrap_or_default()
                    ),
                    reason: e
                        .resource_status_reason()
                        .unwrap_or("no reason given")
                        .to_string(),
                };
            }
        }
        DeployError::Failed {
            stack: stack.into(),
            resource: "the stack".into(),
            reason: format!("ended in {status}"),
        }
    }
}
impl crate::ports::Stacks for Cloud {
    async fn status(&self, stack: &str) -> Result<Option<String>> {
        Cloud::status(self, stack).await
    }

    async fn status_reason(&self, stack: &str) -> Option<String> {
        Cloud::status_reason(self, stack).await
    }

    async fn plan(
        &self,
        stack: &str,
        template: &str,
        parameters: &[(String, String)],
        token: &str,
    ) -> Result<Plan> {
        Cloud::plan(self, stack, template, parameters, token).await
    }

    async fn discard(&self, plan: &Plan) {
        Cloud::discard(self, plan).await;
    }

    async fn apply(&self, plan: &Plan, on_event: &mut dyn FnMut(&Event)) -> Result<String> {
        Cloud::apply(self, plan, on_event).await
    }

    async fn destroy(&self, stack: &str, on_event: &mut dyn FnMut(&Event)) -> Result<()> {
        Cloud::destroy(self, stack, on_event).await
    }

    async fn outputs(&self, stack: &str) -> Result<Vec<(String, String)>> {
        Cloud::outputs(self, stack).await
    }

    async fn exports(&self, stack: &str) -> Result<Vec<crate::ports::Export>> {
        Ok(self
            .described_outputs(stack)
            .await?
            .iter()
            .filter_map(|o| {
                Some(crate::ports::Export {
                    key: o.output_key()?.to_string(),
                    value: o.output_value().unwrap_or_default().to_string(),
                    name: o.export_name().filter(|n| !n.is_empty())?.to_string(),
                })
            })
            .collect())
    }
}
