//! The deploy workflow against fakes: a CloudFormation that plans by
//! comparing templates (as the real one does, by resource), a store that
//! remembers what it holds, and a person whose answers are scripted. The
//! templates and the package are real.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use serde_json::Value as Json;

use super::*;
use crate::plan::{Action, Replacement};

/// A stack as the fake CloudFormation keeps it.
struct FakeStack {
    status: String,
    template: String,
    params: Vec<(String, String)>,
}

/// A change set made by `plan` and not yet applied or discarded.
struct Pending {
    stack: String,
    template: String,
    params: Vec<(String, String)>,
}

#[derive(Default)]
struct State {
    stacks: BTreeMap<String, FakeStack>,
    pending: HashMap<String, Pending>,
    /// Every call, in order: `plan X`, `apply X`, `discard X`, `upload`, ...
    calls: Vec<String>,
    /// Changes the next plan of a stack reports besides the template's.
    inject: HashMap<String, Vec<Change>>,
    /// Stacks whose next apply fails (and rolls back).
    fail: HashSet<String>,
    /// Keys in the artifact bucket.
    bucket: HashSet<String>,
}

#[derive(Default)]
struct FakeCloud {
    state: RefCell<State>,
}

impl FakeCloud {
    fn log(&self, call: String) {
        self.state.borrow_mut().calls.push(call);
    }

    fn calls(&self) -> Vec<String> {
        self.state.borrow().calls.clone()
    }

    fn forget_calls(&self) {
        self.state.borrow_mut().calls.clear();
    }

    fn count(&self, call: &str) -> usize {
        self.calls().iter().filter(|c| *c == call).count()
    }

    fn status_of(&self, stack: &str) -> Option<String> {
        self.state
            .borrow()
            .stacks
            .get(stack)
            .map(|s| s.status.clone())
    }

    fn set(&self, stack: &str, status: &str, template: &str) {
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
}

struct FakeShipping<'a> {
    cloud: &'a FakeCloud,
    /// What the site bucket was last given: key and body.
    site: RefCell<Vec<(String, String)>>,
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
        *self.site.borrow_mut() = files
            .iter()
            .map(|f| (f.key.to_string(), String::from_utf8_lossy(f.body).into()))
            .collect();
        Ok(SiteUpload {
            uploaded: files.len(),
            ..SiteUpload::default()
        })
    }
}

/// A person whose answers are scripted; yes once the script runs out.
#[derive(Default)]
struct FakeUi {
    answers: RefCell<VecDeque<std::result::Result<bool, String>>>,
    asked: RefCell<Vec<String>>,
    notes: RefCell<Vec<String>>,
}

impl FakeUi {
    fn answering(answers: Vec<std::result::Result<bool, String>>) -> Self {
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
struct FakeSite;

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

/// A real stack folder (Lambda, a table, a site) and a runtime "binary".
struct Fixture {
    dir: tempfile::TempDir,
    stack: Stack,
    settings: Settings,
    templates: Vec<Template>,
}

const STACK_FILE: &str = r#"
name = "shop"

[database]
engine = "postgres"

[users]

[site]
dir = "site"

[aws]
compute = "lambda"

[tables.items]
key = "id"

[tables.items.columns]
id = { type = "bigint", generated = true }
title = { type = "text" }

[[routes]]
method = "GET"
path = "/items"
op = "list"
table = "items"
"#;

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("stackwright.toml"), STACK_FILE).unwrap();
        std::fs::write(dir.path().join("runtime"), b"\x7fELF not really").unwrap();
        std::fs::create_dir(dir.path().join("site")).unwrap();
        std::fs::write(dir.path().join("site/index.html"), "<h1>shop</h1>").unwrap();
        let stack = stackwright_stack::load(dir.path()).expect("the fixture's stack loads");
        let (settings, templates) = stackwright_synth::synth(&stack, "dev").unwrap();
        Fixture {
            dir,
            stack,
            settings,
            templates,
        }
    }

    fn release<'a>(&'a self, binary: &'a Path, site: bool) -> Release<'a> {
        Release {
            stack: &self.stack,
            settings: &self.settings,
            templates: &self.templates,
            binary,
            site: if site { Some(&FakeSite) } else { None },
        }
    }

    fn binary(&self) -> std::path::PathBuf {
        self.dir.path().join("runtime")
    }
}

fn deployer<'a>(
    cloud: &'a FakeCloud,
    ui: &'a FakeUi,
    allow_replace: bool,
) -> Deployer<'a, FakeCloud, FakeShipping<'a>, FakeUi> {
    Deployer {
        stacks: cloud,
        shipping: FakeShipping {
            cloud,
            site: RefCell::new(vec![]),
        },
        ui,
        region: "eu-west-1".into(),
        endpoint: None,
        allow_replace,
    }
}

fn deployed(outcome: Result<Outcome>) -> Report {
    match outcome {
        Ok(Outcome::Deployed(report)) => *report,
        Ok(Outcome::Declined { stack }) => panic!("declined at {stack}"),
        Err(e) => panic!("failed: {e}"),
    }
}

/// The calls that change something or ship something, in order.
fn actions(cloud: &FakeCloud) -> Vec<String> {
    cloud
        .calls()
        .into_iter()
        .filter(|c| !c.starts_with("plan "))
        .collect()
}

#[tokio::test]
async fn layers_go_in_order_with_the_package_between_artifacts_and_app() {
    let f = Fixture::new();
    let (cloud, ui) = (FakeCloud::default(), FakeUi::default());
    let binary = f.binary();
    let report = deployed(
        deployer(&cloud, &ui, false)
            .deploy(&f.release(&binary, true))
            .await,
    );
    assert_eq!(
        actions(&cloud),
        [
            "apply stackwright-bootstrap",
            "apply shop-dev-network",
            "apply shop-dev-artifacts",
            "upload shop-dev-artifacts/ArtifactBucket",
            "apply shop-dev-data",
            "apply shop-dev-app",
            "site shop-dev-artifacts/SiteBucket",
        ],
        "{:?}",
        cloud.calls()
    );
    assert_eq!(report.bootstrap, "created");
    let results: Vec<(&str, &str)> = report
        .stacks
        .iter()
        .map(|l| (l.layer.as_str(), l.result))
        .collect();
    assert_eq!(
        results,
        [
            ("network", "created"),
            ("artifacts", "created"),
            ("data", "created"),
            ("app", "created")
        ]
    );
    assert!(report.package.uploaded);
    assert_eq!(
        report.outputs.get("ServiceUrl").map(String::as_str),
        Some("shop-dev-app/ServiceUrl")
    );
    // Every question was asked, one per stack, before it changed.
    assert_eq!(ui.asked.borrow().len(), 5, "{:?}", ui.asked.borrow());
}

#[tokio::test]
async fn the_site_gets_the_values_only_a_deploy_knows() {
    let f = Fixture::new();
    let (cloud, ui) = (FakeCloud::default(), FakeUi::default());
    let binary = f.binary();
    let d = deployer(&cloud, &ui, false);
    let report = deployed(d.deploy(&f.release(&binary, true)).await);
    let site = d.shipping.site.borrow();
    let (key, body) = &site[0];
    assert_eq!(key, "index.html");
    assert!(body.contains("API_URL=shop-dev-app/ServiceUrl"), "{body}");
    assert!(body.contains("REGION=eu-west-1"), "{body}");
    assert!(
        body.contains("AUTH_URL=https://cognito-idp.eu-west-1.amazonaws.com/"),
        "{body}"
    );
    assert_eq!(report.site.expect("published").upload.uploaded, 1);
}

#[tokio::test]
async fn an_unchanged_redeploy_changes_and_uploads_nothing() {
    let f = Fixture::new();
    let (cloud, ui) = (FakeCloud::default(), FakeUi::default());
    let binary = f.binary();
    let first = deployed(
        deployer(&cloud, &ui, false)
            .deploy(&f.release(&binary, false))
            .await,
    );
    cloud.forget_calls();
    ui.asked.borrow_mut().clear();

    let again = deployed(
        deployer(&cloud, &ui, false)
            .deploy(&f.release(&binary, false))
            .await,
    );
    assert!(
        again.stacks.iter().all(|l| l.result == "unchanged"),
        "{:?}",
        again.stacks
    );
    assert_eq!(again.bootstrap, "unchanged");
    assert!(!again.package.uploaded);
    assert_eq!(again.package.key, first.package.key);
    assert_eq!(
        actions(&cloud),
        ["upload shop-dev-artifacts/ArtifactBucket"],
        "only the (skipped) upload: {:?}",
        cloud.calls()
    );
    assert!(ui.asked.borrow().is_empty(), "{:?}", ui.asked.borrow());
    assert!(ui
        .notes
        .borrow()
        .iter()
        .any(|n| n.ends_with(": already there")));

    // A new runtime is a new package and a new DeployId: the app layer updates.
    std::fs::write(f.binary(), b"\x7fELF another build").unwrap();
    cloud.forget_calls();
    let changed = deployed(
        deployer(&cloud, &ui, false)
            .deploy(&f.release(&binary, false))
            .await,
    );
    assert!(changed.package.uploaded);
    let results: Vec<&str> = changed.stacks.iter().map(|l| l.result).collect();
    assert_eq!(results, ["unchanged", "unchanged", "unchanged", "updated"]);
}

/// The first resource of the data layer that holds data.
fn data_holder(f: &Fixture) -> (String, String) {
    let data = f.templates.iter().find(|t| t.layer == Layer::Data).unwrap();
    data.resources
        .iter()
        .find_map(|(id, r)| {
            let ty = r["Type"].as_str()?;
            stackwright_synth::resources::of(ty)
                .filter(|facts| facts.holds_data)
                .map(|_| (id.clone(), ty.to_string()))
        })
        .expect("the data layer holds data")
}

#[tokio::test]
async fn a_change_that_loses_data_is_refused_discarded_once_and_stops_the_deploy() {
    let f = Fixture::new();
    let (cloud, ui) = (FakeCloud::default(), FakeUi::default());
    let binary = f.binary();
    deployed(
        deployer(&cloud, &ui, false)
            .deploy(&f.release(&binary, false))
            .await,
    );
    let (id, ty) = data_holder(&f);
    let replace = Change {
        action: Action::Modify,
        logical_id: id.clone(),
        resource_type: ty.clone(),
        replacement: Replacement::Always,
    };
    cloud
        .state
        .borrow_mut()
        .inject
        .insert("shop-dev-data".into(), vec![replace.clone()]);
    cloud.forget_calls();

    let err = deployer(&cloud, &ui, false)
        .deploy(&f.release(&binary, false))
        .await
        .err()
        .expect("refused");
    assert!(matches!(err, DeployError::LosesData { .. }), "{err}");
    let message = err.to_string();
    assert!(message.contains(&format!("{id} ({ty})")), "{message}");
    assert!(message.contains("--allow-replace"), "{message}");
    assert_eq!(
        cloud.count("discard shop-dev-data"),
        1,
        "{:?}",
        cloud.calls()
    );
    assert_eq!(cloud.count("discard again shop-dev-data"), 0);
    assert!(!cloud.calls().iter().any(|c| c.starts_with("apply ")));
    assert!(
        !cloud.calls().contains(&"plan shop-dev-app".to_string()),
        "the deploy stops at the refused layer: {:?}",
        cloud.calls()
    );

    // Allowed, the same change is applied.
    cloud
        .state
        .borrow_mut()
        .inject
        .insert("shop-dev-data".into(), vec![replace]);
    let report = deployed(
        deployer(&cloud, &ui, true)
            .deploy(&f.release(&binary, false))
            .await,
    );
    assert_eq!(report.stacks[2].result, "updated");
}

#[tokio::test]
async fn a_declined_layer_is_discarded_once_and_nothing_after_it_runs() {
    let f = Fixture::new();
    let binary = f.binary();
    // Yes to the bootstrap stack and the network, no to the artifacts.
    let (cloud, ui) = (
        FakeCloud::default(),
        FakeUi::answering(vec![Ok(true), Ok(true), Ok(false)]),
    );
    let outcome = deployer(&cloud, &ui, false)
        .deploy(&f.release(&binary, false))
        .await
        .unwrap();
    assert!(
        matches!(&outcome, Outcome::Declined { stack } if stack == "shop-dev-artifacts"),
        "{:?}",
        cloud.calls()
    );
    assert_eq!(
        cloud.count("discard shop-dev-artifacts"),
        1,
        "{:?}",
        cloud.calls()
    );
    assert_eq!(cloud.count("discard again shop-dev-artifacts"), 0);
    // The declined create left no empty stack behind, and nothing ran after.
    assert_eq!(cloud.status_of("shop-dev-artifacts"), None);
    assert!(!cloud.calls().iter().any(|c| c.contains("shop-dev-data")
        || c.contains("shop-dev-app")
        || c.starts_with("upload")));
    assert!(ui
        .notes
        .borrow()
        .contains(&"shop-dev-artifacts: not applied; nothing was changed".to_string()));
}

#[tokio::test]
async fn without_anyone_to_ask_the_plan_is_discarded_once_and_the_reason_given() {
    let f = Fixture::new();
    let binary = f.binary();
    let reason = "Create stackwright-bootstrap?: stdin is not a terminal".to_string();
    let (cloud, ui) = (
        FakeCloud::default(),
        FakeUi::answering(vec![Err(reason.clone())]),
    );
    let err = deployer(&cloud, &ui, false)
        .deploy(&f.release(&binary, false))
        .await
        .err()
        .expect("nobody could confirm");
    assert_eq!(err.to_string(), reason);
    assert_eq!(
        cloud.count("discard stackwright-bootstrap"),
        1,
        "{:?}",
        cloud.calls()
    );
    assert_eq!(cloud.count("discard again stackwright-bootstrap"), 0);
    assert_eq!(cloud.status_of("stackwright-bootstrap"), None);
}

#[tokio::test]
async fn a_stack_left_in_rollback_complete_is_deleted_and_created_again() {
    let f = Fixture::new();
    let binary = f.binary();
    let (cloud, ui) = (FakeCloud::default(), FakeUi::default());
    cloud.state.borrow_mut().fail.insert("shop-dev-data".into());
    let err = deployer(&cloud, &ui, false)
        .deploy(&f.release(&binary, false))
        .await
        .err()
        .expect("the data layer fails");
    assert!(
        err.to_string()
            .contains("Database (AWS::RDS::DBInstance) failed"),
        "{err}"
    );
    assert_eq!(
        cloud.status_of("shop-dev-data").as_deref(),
        Some("ROLLBACK_COMPLETE")
    );

    // Declined, the failed stack stays and nothing is changed.
    let ui_no = FakeUi::answering(vec![Ok(false)]);
    let err = deployer(&cloud, &ui_no, false)
        .deploy(&f.release(&binary, false))
        .await
        .err()
        .expect("declined");
    assert!(matches!(err, DeployError::NotReplaced { .. }), "{err}");
    assert_eq!(
        cloud.status_of("shop-dev-data").as_deref(),
        Some("ROLLBACK_COMPLETE")
    );

    // Accepted, it is deleted, created again, and the deploy goes on.
    cloud.forget_calls();
    let report = deployed(
        deployer(&cloud, &ui, false)
            .deploy(&f.release(&binary, false))
            .await,
    );
    let calls = cloud.calls();
    let destroyed = calls.iter().position(|c| c == "destroy shop-dev-data");
    let applied = calls.iter().position(|c| c == "apply shop-dev-data");
    assert!(destroyed.is_some() && destroyed < applied, "{calls:?}");
    assert_eq!(report.stacks[2].result, "created");
    assert_eq!(report.stacks[3].result, "created");
    assert!(ui.notes.borrow().iter().any(|n| n.contains(
        "shop-dev-data is in ROLLBACK_COMPLETE after a failed first deploy (the database subnet group was invalid)"
    )));
}

#[tokio::test]
async fn the_bootstrap_stack_is_made_once_kept_when_current_and_updated_when_older() {
    let (cloud, ui) = (FakeCloud::default(), FakeUi::default());
    let d = deployer(&cloud, &ui, false);
    assert_eq!(d.ensure_bootstrap().await.unwrap(), "created");
    cloud.forget_calls();
    assert_eq!(d.ensure_bootstrap().await.unwrap(), "unchanged");
    assert!(cloud.calls().is_empty(), "read only: {:?}", cloud.calls());

    // An older version (made by an older stackwright) is updated.
    let older = bootstrap_template()
        .render()
        .replace(&format!("\"{BOOTSTRAP_VERSION}\""), "\"0\"");
    cloud.set(BOOTSTRAP_STACK, "UPDATE_COMPLETE", &older);
    assert_eq!(d.ensure_bootstrap().await.unwrap(), "updated");

    // One that cannot be deployed says what to do about it.
    let older = bootstrap_template()
        .render()
        .replace(&format!("\"{BOOTSTRAP_VERSION}\""), "\"0\"");
    cloud.set(BOOTSTRAP_STACK, "UPDATE_COMPLETE", &older);
    cloud.state.borrow_mut().fail.insert(BOOTSTRAP_STACK.into());
    let err = d.ensure_bootstrap().await.unwrap_err();
    assert!(
        err.to_string().contains("run `stackwright bootstrap` once"),
        "{err}"
    );
    let cause = std::error::Error::source(&err)
        .expect("the cause")
        .to_string();
    assert!(
        cause.contains("failed: the subnet group was invalid"),
        "{cause}"
    );
}
