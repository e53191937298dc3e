//! The deploy workflow against fakes (`fakes.rs`); the templates and the
//! package are real.

use std::cell::RefCell;

use super::fakes::{FakeCloud, FakeShipping, FakeSite, FakeUi};
use super::*;
use crate::plan::{Action, Replacement};
use crate::ports::SiteFile;

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
        global: cloud,
        shipping: FakeShipping {
            cloud,
            site: RefCell::new(vec![]),
            invalidations: RefCell::new(vec![]),
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
            "apply shop-dev-edge",
            "site shop-dev-artifacts/SiteBucket",
            "invalidate shop-dev-edge/DistributionId / /index.html",
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
            ("app", "created"),
            ("edge", "created")
        ]
    );

    assert!(report.package.uploaded);
    assert_eq!(
        report.outputs.get("ServiceUrl").map(String::as_str),
        Some("shop-dev-app/ServiceUrl")
    );
    // Every question was asked, one per stack, before it changed.
    assert_eq!(ui.asked.borrow().len(), 6, "{:?}", ui.asked.borrow());
}

#[tokio::test]
async fn behind_a_load_balancer_the_network_layer_gets_cloudfronts_prefix_list() {
    let f = Fixture::new();
    let (cloud, ui) = (FakeCloud::default(), FakeUi::default());
    let binary = f.binary();
    let artifacts = Artifacts::build(&binary, &f.stack, &f.settings, &ui)
        .await
        .unwrap();
    let d = deployer(&cloud, &ui, false);
    let mut stack = f.stack.clone();
    stack.aws.base.compute = Some(stackwright_stack::Compute::Fargate);
    let settings = Settings::resolve(&stack, "dev").unwrap();
    let network = stackwright_synth::network::template(&stack, &settings);
    let none = Outputs::new();
    let params = d
        .layer_parameters(&artifacts, &network, &[], None, &none)
        .await
        .unwrap();
    assert_eq!(
        params,
        [(
            "CloudFrontPrefixList".to_string(),
            "pl-0123abcd".to_string()
        )]
    );
    // On Lambda there is no load balancer: nothing to look up.
    let lambda = f.templates.iter().find(|t| t.layer == Layer::Network);
    let params = d
        .layer_parameters(&artifacts, lambda.unwrap(), &[], None, &none)
        .await;
    assert!(params.unwrap().is_empty());
}

#[tokio::test]
async fn a_web_acl_outside_us_east_1_is_a_global_stack_there_first() {
    let f = Fixture::new();
    let (cloud, global, ui) = (
        FakeCloud::default(),
        FakeCloud::default(),
        FakeUi::default(),
    );
    let mut stack = f.stack.clone();
    stack.aws.base.region = Some("eu-west-1".into());
    stack.aws.base.waf = Some(true);
    let (settings, templates) = stackwright_synth::synth(&stack, "dev").unwrap();
    let binary = f.binary();
    let release = Release {
        stack: &stack,
        settings: &settings,
        templates: &templates,
        ..f.release(&binary, false)
    };
    let d = Deployer {
        global: &global,
        ..deployer(&cloud, &ui, false)
    };
    let report = deployed(d.deploy(&release).await);
    assert_eq!(report.stacks[0].stack, "shop-dev-global");
    // CloudFormation in us-east-1 made it; the region's made the rest.
    assert_eq!(actions(&global), ["apply shop-dev-global"]);
    assert!(!actions(&cloud).iter().any(|a| a.contains("global")));
    // The edge got the web ACL the global stack made.
    let state = cloud.state.borrow();
    let edge = &state.stacks["shop-dev-edge"];
    assert!(
        edge.params
            .contains(&("WebAclArn".into(), "shop-dev-global/WebAclArn".into())),
        "{:?}",
        edge.params
    );
}

/// A domain outside us-east-1: the distribution's certificate is made by
/// the global stack there and passed to the edge; every layer naming the
/// domain gets the zone deploy found (or was given and checked).
#[tokio::test]
async fn a_domain_gets_its_zone_and_the_global_stacks_certificate() {
    let f = Fixture::new();
    let (cloud, global, ui) = (
        FakeCloud::default(),
        FakeCloud::default(),
        FakeUi::default(),
    );
    for (given, zone) in [(None, "Z0FOUNDBYNAME"), (Some("Z0GIVEN"), "Z0GIVEN")] {
        let mut stack = f.stack.clone();
        stack.aws.base.region = Some("eu-west-1".into());
        // Behind a load balancer (EC2: no image to build here).
        stack.aws.base.compute = Some(stackwright_stack::Compute::Ec2);
        stack.aws.envs.insert(
            "live".into(),
            stackwright_stack::AwsOverrides {
                domain: Some("shop.example.com".into()),
                hosted_zone_id: given.map(str::to_string),
                ..Default::default()
            },
        );
        let (settings, templates) = stackwright_synth::synth(&stack, "live").unwrap();
        let binary = f.binary();
        let release = Release {
            stack: &stack,
            settings: &settings,
            templates: &templates,
            ..f.release(&binary, false)
        };
        let d = Deployer {
            global: &global,
            ..deployer(&cloud, &ui, false)
        };
        deployed(d.deploy(&release).await);
        assert_eq!(actions(&global), ["apply shop-live-global"]);
        let zone_param = ("HostedZoneId".to_string(), zone.to_string());
        let state = cloud.state.borrow();
        let edge = &state.stacks["shop-live-edge"].params;
        assert!(edge.contains(&(
            "CertificateArn".into(),
            "shop-live-global/CertificateArn".into()
        )));
        assert!(edge.contains(&zone_param), "{edge:?}");
        assert!(state.stacks["shop-live-app"].params.contains(&zone_param));
        assert!(global.state.borrow().stacks["shop-live-global"]
            .params
            .contains(&zone_param));
        // Looked up (or checked) once, before any layer.
        let lookup = format!("hosted zone shop.example.com {given:?}");
        assert_eq!(state.calls.iter().filter(|c| **c == lookup).count(), 1);
        assert!(
            state.calls.iter().position(|c| *c == lookup)
                < state.calls.iter().position(|c| c.starts_with("plan "))
        );
        drop(state);
        *cloud.state.borrow_mut() = Default::default();
        *global.state.borrow_mut() = Default::default();
    }
}

/// After a layout change (the site's URL came from the artifacts layer and
/// the app layer imported it), the export is kept until the app layer is
/// updated, then removed by applying the artifacts layer again.
#[tokio::test]
async fn an_export_the_templates_drop_is_kept_until_its_importers_are_updated() {
    let f = Fixture::new();
    let (cloud, ui) = (FakeCloud::default(), FakeUi::default());
    let binary = f.binary();
    let d = deployer(&cloud, &ui, false);
    deployed(d.deploy(&f.release(&binary, false)).await);
    let old = serde_json::json!({ "Value": "https://d1.cloudfront.net", "Export": { "Name": "shop-dev-SiteUrl" } });
    {
        let mut state = cloud.state.borrow_mut();
        let s = state.stacks.get_mut("shop-dev-artifacts").unwrap();
        let mut doc: serde_json::Value = serde_json::from_str(&s.template).unwrap();
        doc["Outputs"]["SiteUrl"] = old.clone();
        s.template = doc.to_string();
    }
    cloud.forget_calls();
    deployed(d.deploy(&f.release(&binary, false)).await);
    let applies: Vec<String> = actions(&cloud)
        .into_iter()
        .filter(|a| a.starts_with("apply shop-dev-"))
        .collect();
    assert_eq!(
        applies,
        ["apply shop-dev-artifacts", "apply shop-dev-artifacts"]
    );
    let template = |cloud: &FakeCloud| -> serde_json::Value {
        serde_json::from_str(&cloud.state.borrow().stacks["shop-dev-artifacts"].template).unwrap()
    };
    assert!(
        template(&cloud)["Outputs"]["SiteUrl"].is_null(),
        "removed at the end"
    );
    assert!(ui
        .notes
        .borrow()
        .iter()
        .any(|n| n.contains("export shop-dev-SiteUrl kept")));
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
    // The API is on the site's own origin: the distribution's URL.
    assert!(body.contains("API_URL=shop-dev-edge/Url"), "{body}");
    assert!(body.contains("REGION=eu-west-1"), "{body}");
    assert!(
        body.contains("AUTH_URL=https://cognito-idp.eu-west-1.amazonaws.com/"),
        "{body}"
    );
    assert_eq!(report.site.expect("published").upload.uploaded, 1);
}

/// Site files as a test sets them.
struct Files(RefCell<Vec<(&'static str, String)>>);

impl SiteSource for Files {
    fn files(&self, _values: &[(&str, String)]) -> std::result::Result<Vec<SiteFile>, String> {
        Ok(self
            .0
            .borrow()
            .iter()
            .map(|(key, body)| SiteFile {
                key: key.to_string(),
                body: body.clone().into_bytes(),
                content_type: "text/plain",
                page: *key == "index.html",
            })
            .collect())
    }
}

#[tokio::test]
async fn a_deploy_invalidates_the_paths_of_the_site_files_that_changed_once() {
    let f = Fixture::new();
    let (cloud, ui) = (FakeCloud::default(), FakeUi::default());
    let binary = f.binary();
    let d = deployer(&cloud, &ui, false);
    let files = Files(RefCell::new(vec![
        ("index.html", "<h1>shop</h1>".into()),
        ("app.js", "1".into()),
        ("style.css", "a".into()),
    ]));
    let release = |files: &'static Files| Release {
        site: Some(files as &dyn SiteSource),
        ..f.release(&binary, false)
    };
    let files: &'static Files = Box::leak(Box::new(files));
    let distribution = "shop-dev-edge/DistributionId".to_string();
    deployed(d.deploy(&release(files)).await);
    // A first upload: what CloudFront may hold for those paths (a 404) goes.
    assert_eq!(d.shipping.invalidations.borrow().len(), 1);

    deployed(d.deploy(&release(files)).await);
    assert_eq!(
        d.shipping.invalidations.borrow().len(),
        1,
        "nothing changed"
    );

    files.0.borrow_mut()[1].1 = "2".into();
    let report = deployed(d.deploy(&release(files)).await);
    assert_eq!(
        d.shipping.invalidations.borrow()[1],
        (distribution.clone(), vec!["/app.js".to_string()]),
        "one invalidation, for the one changed file"
    );
    let site = report.site.expect("published");
    assert_eq!(site.invalidation.expect("made").paths, ["/app.js"]);

    files.0.borrow_mut()[0].1 = "<h1>shop!</h1>".into();
    files.0.borrow_mut().remove(2);
    deployed(d.deploy(&release(files)).await);
    assert_eq!(
        d.shipping.invalidations.borrow()[2].1,
        ["/", "/index.html", "/style.css"],
        "the root page is also /; a removed file is invalidated too"
    );
    assert_eq!(d.shipping.invalidations.borrow().len(), 3);
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
    assert_eq!(
        results,
        [
            "unchanged",
            "unchanged",
            "unchanged",
            "updated",
            "unchanged"
        ]
    );
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
