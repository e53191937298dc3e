//! Fakes of what the deployer talks to: a CloudFormation that plans by
//! comparing templates (as the real one does, by resource), a store that
//! remembers what it holds, a person whose answers are scripted, a site.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use serde_json::Value as Json;

use super::*;
use crate::cdn::Invalidation;
use crate::package::Package;
use crate::plan::{Action, Event, Replacement};
use crate::ports::{Pushed, SiteFile};

/// A stack as the fake CloudFormation keeps it.
pub struct FakeStack {
    pub status: String,
    pub template: String,
    pub params: Vec<(String, String)>,
}

/// A change set made by `plan` and not yet applied or discarded.
pub struct Pending {
    pub stack: String,
    pub template: String,
    pub params: Vec<(String, String)>,
}

#[derive(Default)]
pub struct State {
    pub stacks: BTreeMap<String, FakeStack>,
    pub pending: HashMap<String, Pending>,
    /// Every call, in order: `plan X`, `apply X`, `discard X`, `upload`, ...
    pub calls: Vec<String>,
    /// Changes the next plan of a stack reports besides the template's.
    pub inject: HashMap<String, Vec<Change>>,
    /// Stacks whose next apply fails (and rolls back).
    pub fail: HashSet<String>,
    /// Keys in the artifact bucket.
    pub bucket: HashSet<String>,
}

#[derive(Default)]
pub struct FakeCloud {
    pub state: RefCell<State>,
}

impl FakeCloud {
    pub fn log(&self, call: String) {
        self.state.borrow_mut().calls.push(call);
    }

    pub fn calls(&self) -> Vec<String> {
        self.state.borrow().calls.clone()
    }

    pub fn forget_calls(&self) {
        self.state.borrow_mut().calls.clear();
    }

    pub fn count(&self, call: &str) -> usize {
        self.calls().iter().filter(|c| *c == call).count()
    }

    pub fn status_of(&self, stack: &str) -> Option<String> {
        self.state
            .borrow()
            .stacks
            .get(stack)
            .map(|s| s.status.clone())
    }

    pub fn set(&self, stack: &str, status: &str, template: &str) {
        self.state.borrow_mut().stacks.insert(
            stack.to_string(),
            FakeStack {
                status: status.to_string(),
                template: template.to_string(),
                params: vec![],
            },
        );
    }
}

fn resources(template: &str) -> serde_json::Map<String, Json> {
    let doc: Json = serde_json::from_str(template).unwrap_or_default();
    doc["Resources"].as_object().cloned().unwrap_or_default()
}

fn change(action: Action, id: &str, r: &Json) -> Change {
    Change {
        action,
        logical_id: id.to_string(),
        resource_type: r["Type"].as_str().unwrap_or_default().to_string(),
        replacement: Replacement::Never,
    }
}

/// What CloudFormation would report: resources added, removed, modified.
fn compare(old: &str, new: &str) -> Vec<Change> {
    let (old, new) = (resources(old), resources(new));
    let mut changes = Vec::new();
    for (id, r) in &new {
        match old.get(id) {
            None => changes.push(change(Action::Add, id, r)),
            Some(o) if o != r => changes.push(change(Action::Modify, id, r)),
            Some(_) => {}
        }
    }
    for (id, r) in &old {
        if !new.contains_key(id) {
            changes.push(change(Action::Remove, id, r));
        }
    }
    changes
}

impl Stacks for FakeCloud {
    async fn status(&self, stack: &str) -> Result<Option<String>> {
        Ok(self.status_of(stack))
    }

    async fn status_reason(&self, _stack: &str) -> Option<String> {
        Some("the database subnet group was invalid".into())
    }

    async fn plan(
        &self,
        stack: &str,
        template: &str,
        params: &[(String, String)],
        token: &str,
    ) -> Result<Plan> {
        self.log(format!("plan {stack}"));
        let mut state = self.state.borrow_mut();
        let injected = state.inject.remove(stack).unwrap_or_default();
        let current = state.stacks.get(stack);
        if let Some(s) = current.filter(|s| s.status == "ROLLBACK_COMPLETE") {
            return Err(DeployError::NeedsReplacement {
                stack: stack.into(),
                status: s.status.clone(),
            });
        }
        let creates = current.is_none_or(|s| s.status == "REVIEW_IN_PROGRESS");
        let mut changes = match current.filter(|_| !creates) {
            Some(s) => compare(&s.template, template),
            None => compare("{}", template),
        };
        changes.extend(injected);
        let same = current.is_some_and(|s| s.params == params && s.template == template);
        if !creates && changes.is_empty() && same {
            return Ok(Plan {
                stack: stack.into(),
                change_set: None,
                creates_stack: false,
                changes,
            });
        }
        if creates {
            // As CloudFormation does: a create change set makes an empty stack.
            state.stacks.insert(
                stack.to_string(),
                FakeStack {
                    status: "REVIEW_IN_PROGRESS".into(),
                    template: "{}".into(),
                    params: vec![],
                },
            );
        }
        let name = format!("stackwright-{token}");
        state.pending.insert(
            name.clone(),
            Pending {
                stack: stack.into(),
                template: template.into(),
                params: params.to_vec(),
            },
        );
        Ok(Plan {
            stack: stack.into(),
            change_set: Some(name),
            creates_stack: creates,
            changes,
        })
    }

    async fn discard(&self, plan: &Plan) {
        self.log(format!("discard {}", plan.stack));
        let mut state = self.state.borrow_mut();
        let Some(name) = &plan.change_set else { return };
        if state.pending.remove(name).is_none() {
            state.calls.push(format!("discard again {}", plan.stack));
        }
        if plan.creates_stack {
            state.stacks.remove(&plan.stack);
        }
    }

    async fn apply(&self, plan: &Plan, on_event: &mut dyn FnMut(&Event)) -> Result<String> {
        self.log(format!("apply {}", plan.stack));
        let name = plan.change_set.as_ref().expect("a plan with changes");
        let pending = self
            .state
            .borrow_mut()
            .pending
            .remove(name)
            .expect("applied a change set that was discarded");
        let status = if self.state.borrow_mut().fail.remove(&pending.stack) {
            if plan.creates_stack {
                "ROLLBACK_COMPLETE"
            } else {
                "UPDATE_ROLLBACK_COMPLETE"
            }
        } else if plan.creates_stack {
            "CREATE_COMPLETE"
        } else {
            "UPDATE_COMPLETE"
        };
        on_event(&Event {
            logical_id: pending.stack.clone(),
            resource_type: "AWS::CloudFormation::Stack".into(),
            status: status.into(),
            reason: None,
        });
        if status.contains("ROLLBACK") {
            self.state
                .borrow_mut()
                .stacks
                .get_mut(&pending.stack)
                .expect("planned")
                .status = status.into();
            return Err(DeployError::Failed {
                stack: pending.stack,
                resource: "Database (AWS::RDS::DBInstance)".into(),
                reason: "the subnet group was invalid".into(),
            });
        }
        self.state.borrow_mut().stacks.insert(
            pending.stack,
            FakeStack {
                status: status.into(),
                template: pending.template,
                params: pending.params,
            },
        );
        Ok(status.into())
    }

    async fn destroy(&self, stack: &str, _on_event: &mut dyn FnMut(&Event)) -> Result<()> {
        self.log(format!("destroy {stack}"));
        self.state.borrow_mut().stacks.remove(stack);
        Ok(())
    }

    /// Each output of the applied template: its value when the template
    /// gives a literal, else `STACK/NAME`.
    async fn outputs(&self, stack: &str) -> Result<Vec<(String, String)>> {
        let state = self.state.borrow();
        let Some(s) = state.stacks.get(stack) else {
            return Err(DeployError::Aws(format!("Stack {stack} does not exist")));
        };
        let doc: Json = serde_json::from_str(&s.template).unwrap_or_default();
        let outputs = doc["Outputs"].as_object().cloned().unwrap_or_default();
        Ok(outputs
            .iter()
            .map(|(k, o)| {
                let value = o["Value"]
                    .as_str()
                    .map_or_else(|| format!("{stack}/{k}"), str::to_string);
                (k.clone(), value)
            })
            .collect())
    }

    /// The outputs whose template entry names an export (a literal name).
    async fn exports(&self, stack: &str) -> Result<Vec<crate::ports::Export>> {
        let values = self.outputs(stack).await?;
        let state = self.state.borrow();
        let doc: Json = serde_json::from_str(&state.stacks[stack].template).unwrap_or_default();
        Ok(values
            .into_iter()
            .filter_map(|(key, value)| {
                let name = doc["Outputs"][&key]["Export"]["Name"].as_str()?.to_string();
                Some(crate::ports::Export { key, value, name })
            })
            .collect())
    }
}

pub struct FakeShipping<'a> {
    pub cloud: &'a FakeCloud,
    /// What the site bucket was last given: key and body.
    pub site: RefCell<Vec<(String, String)>>,
    /// The invalidations asked for: (distribution, paths).
    pub invalidations: RefCell<Vec<(String, Vec<String>)>>,
}

impl Shipping for FakeShipping<'_> {
    async fn upload_package(&self, bucket: &str, package: &Package) -> Result<bool> {
        self.cloud.log(format!("upload {bucket}"));
        Ok(self.cloud.state.borrow_mut().bucket.insert(package.key()))
    }

    async fn push_image(
        &self,
        image: &stackwright_image::Image,
        repository_uri: &str,
    ) -> Result<Pushed> {
        self.cloud.log(format!("push {repository_uri}"));
        Ok(Pushed {
            destination: repository_uri.to_string(),
            digest: format!("sha256:{}", image.tag()),
        })
    }

    async fn sync_site(&self, bucket: &str, files: &[SiteObject<'_>]) -> Result<SiteUpload> {
        self.cloud.log(format!("site {bucket}"));
        let now: Vec<(String, String)> = files
            .iter()
            .map(|f| (f.key.to_string(), String::from_utf8_lossy(f.body).into()))
            .collect();
        let before = std::mem::replace(&mut *self.site.borrow_mut(), now.clone());
        let changed: Vec<String> = now
            .iter()
            .filter(|file| !before.contains(file))
            .map(|(key, _)| key.clone())
            .chain(
                before
                    .iter()
                    .filter(|(key, _)| !now.iter().any(|(k, _)| k == key))
                    .map(|(key, _)| key.clone()),
            )
            .collect();
        Ok(SiteUpload {
            uploaded: now.iter().filter(|(k, _)| changed.contains(k)).count(),
            unchanged: now.len() - now.iter().filter(|(k, _)| changed.contains(k)).count(),
            removed: changed.len() - now.iter().filter(|(k, _)| changed.contains(k)).count(),
            changed,
        })
    }

    async fn invalidate(&self, distribution: &str, paths: &[String]) -> Result<Invalidation> {
        self.cloud
            .log(format!("invalidate {distribution} {}", paths.join(" ")));
        self.invalidations
            .borrow_mut()
            .push((distribution.to_string(), paths.to_vec()));
        Ok(Invalidation {
            id: "I1".into(),
            paths: paths.to_vec(),
            status: "Completed".into(),
        })
    }

    async fn prefix_list(&self, name: &str) -> Result<String> {
        assert_eq!(name, crate::prefix_list::CLOUDFRONT_ORIGIN_FACING);
        Ok("pl-0123abcd".into())
    }

    async fn hosted_zone(&self, domain: &str, given: Option<&str>) -> Result<String> {
        self.cloud.log(format!("hosted zone {domain} {given:?}"));
        Ok(given.unwrap_or("Z0FOUNDBYNAME").to_string())
    }
}

/// A person whose answers are scripted; yes once the script runs out.
#[derive(Default)]
pub struct FakeUi {
    pub answers: RefCell<VecDeque<std::result::Result<bool, String>>>,
    pub asked: RefCell<Vec<String>>,
    pub notes: RefCell<Vec<String>>,
}

impl FakeUi {
    pub fn answering(answers: Vec<std::result::Result<bool, String>>) -> Self {
        FakeUi {
            answers: RefCell::new(answers.into()),
            ..FakeUi::default()
        }
    }
}

impl Ui for FakeUi {
    fn confirm(&self, question: &str) -> std::result::Result<bool, String> {
        self.asked.borrow_mut().push(question.to_string());
        self.answers.borrow_mut().pop_front().unwrap_or(Ok(true))
    }

    fn note(&self, line: &str) {
        self.notes.borrow_mut().push(line.to_string());
    }

    fn plan(&self, _plan: &Plan) {}

    fn event(&self, _stack: &str, _event: &Event) {}
}

/// The site's one page, showing the values a deploy filled in.
pub struct FakeSite;

impl SiteSource for FakeSite {
    fn files(&self, values: &[(&str, String)]) -> std::result::Result<Vec<SiteFile>, String> {
        let body: Vec<String> = values.iter().map(|(k, v)| format!("{k}={v}")).collect();
        Ok(vec![SiteFile {
            key: "index.html".into(),
            body: body.join("\n").into_bytes(),
            content_type: "text/html",
            page: true,
        }])
    }
}
