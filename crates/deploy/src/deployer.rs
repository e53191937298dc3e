//! The deploy workflow, start to end: make sure the region's bootstrap
//! stack is current, build the artifacts, then for each layer in order
//! plan, refuse data loss, confirm and apply; upload the package and push
//! the image once the artifacts layer has made their homes; publish the
//! site last, when every output it names exists.
//!
//! It talks to CloudFormation through [`Stacks`], to S3 and the registry
//! through [`Shipping`], and to the person deploying through [`Ui`], so the
//! whole sequence is unit-tested with fakes (`deployer/tests.rs`). The CLI
//! only answers prompts and prints.

use std::future::Future;
use std::path::Path;
use std::time::{Duration, Instant};

use indexmap::IndexMap;
use serde::Serialize;
use stackwright_stack::Stack;
use stackwright_synth::iam::{bootstrap_template, BOOTSTRAP_STACK, BOOTSTRAP_VERSION};
use stackwright_synth::outputs::{Output, Parameter};
use stackwright_synth::{stack_name, Layer, Settings, Template};

use crate::artifacts::Artifacts;
use crate::plan::{Change, Plan};
use crate::ports::{Shipping, SiteSource, Stacks, Ui};
use crate::store::{SiteObject, SiteUpload};
use crate::{DeployError, Result};

/// What to deploy.
pub struct Release<'a> {
    pub stack: &'a Stack,
    pub settings: &'a Settings,
    pub templates: &'a [Template],
    /// The runtime binary to package.
    pub binary: &'a Path,
    pub site: Option<&'a dyn SiteSource>,
}

pub enum Outcome {
    Deployed(Box<Report>),
    /// The person declined to apply a layer; nothing of it was changed.
    Declined {
        stack: String,
    },
}

/// What a deploy did.
#[derive(Debug, Serialize)]
pub struct Report {
    pub bootstrap: &'static str,
    pub stacks: Vec<LayerResult>,
    pub package: PackageResult,
    pub image: Option<ImageResult>,
    /// Each service's image (Fargate), as pushed.
    pub services: Vec<ServiceImageResult>,
    pub site: Option<SiteResult>,
    pub outputs: IndexMap<String, String>,
}

#[derive(Debug, Serialize)]
pub struct ServiceImageResult {
    pub service: String,
    pub tag: String,
    /// The manifest digest the task definition names.
    pub digest: String,
}

#[derive(Debug, Serialize)]
pub struct LayerResult {
    pub stack: String,
    pub layer: Layer,
    /// `unchanged`, `created` or `updated`.
    pub result: &'static str,
    pub changes: Vec<Change>,
}

#[derive(Debug, Serialize)]
pub struct PackageResult {
    pub key: String,
    pub uploaded: bool,
}

#[derive(Debug, Serialize)]
pub struct ImageResult {
    pub tag: String,
    pub digest: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct SiteResult {
    pub url: String,
    pub bucket: String,
    pub upload: SiteUpload,
    /// Of the changed files' paths, when any changed.
    pub invalidation: Option<crate::cdn::Invalidation>,
}

pub struct Deployer<'a, S, P, U> {
    pub stacks: &'a S,
    /// CloudFormation in us-east-1, for the `global` layer (the same as
    /// `stacks` when the environment is there).
    pub global: &'a S,
    pub shipping: P,
    pub ui: &'a U,
    /// Named in advice; the site's sign-in talks to this region.
    pub region: String,
    /// An emulator's endpoint: the site's sign-in talks to it instead.
    pub endpoint: Option<String>,
    /// Apply changes that replace or remove data-holding resources.
    pub allow_replace: bool,
}

/// The layers' outputs gathered so far, by name.
pub type Outputs = IndexMap<String, String>;

impl<S: Stacks, P: Shipping, U: Ui> Deployer<'_, S, P, U> {
    /// The whole deploy.
    pub async fn deploy(&self, release: &Release<'_>) -> Result<Outcome> {
        // First: a zone this account does not hold stops the deploy here.
        let zone = self.hosted_zone(release.settings).await?;
        let bootstrap = self.ensure_bootstrap().await?;
        let artifacts =
            Artifacts::build(release.binary, release.stack, release.settings, self.ui).await?;
        let prefix = release.settings.prefix(release.stack);
        let mut outputs = Outputs::new();
        let mut stacks = Vec::new();
        let mut package = PackageResult {
            key: artifacts.package.key(),
            uploaded: false,
        };
        let mut image = artifacts.image.as_ref().map(|i| ImageResult {
            tag: i.tag(),
            digest: None,
        });
        let mut services = Vec::new();
        // Layers applied with exports kept for their importers: applied
        // again as written once every later layer is updated.
        let mut again = Vec::new();
        for t in release.templates {
            let name = stack_name(&prefix, t.layer);
            let params = self
                .layer_parameters(&artifacts, t, release.templates, zone.as_deref(), &outputs)
                .await?;
            let kept = self.keep_exports(&name, t).await?;
            let Some(layer) = self
                .layer(&name, kept.as_ref().unwrap_or(t), &params)
                .await?
            else {
                return Ok(Outcome::Declined { stack: name });
            };
            if kept.is_some() {
                again.push((name.clone(), t, params));
            }
            for (k, v) in self.cf(&name).outputs(&name).await? {
                outputs.insert(k, v);
            }
            stacks.push(layer);
            if t.layer == Layer::Artifacts {
                package.uploaded = self.ship_package(&name, &artifacts, &outputs).await?;
                if let (Some(built), Some(result)) = (&artifacts.image, &mut image) {
                    result.digest = Some(self.ship("runtime", &name, built, &outputs).await?);
                }
                for service in &artifacts.services {
                    let what = format!("service {}", service.service);
                    let digest = self.ship(&what, &name, &service.image, &outputs).await?;
                    services.push(ServiceImageResult {
                        service: service.service.clone(),
                        tag: service.image.tag(),
                        digest,
                    });
                }
            }
        }
        for (name, t, params) in again {
            let Some(layer) = self.layer(&name, t, &params).await? else {
                return Ok(Outcome::Declined { stack: name });
            };
            stacks.push(layer);
        }
        let site = match release.site {
            Some(source) => Some(
                self.working("uploading the site", self.publish_site(source, &outputs))
                    .await?,
            ),
            None => None,
        };
        Ok(Outcome::Deployed(Box::new(Report {
            bootstrap,
            stacks,
            package,
            image,
            services,
            site,
            outputs,
        })))
    }

    /// `t` with the exports the deployed stack `name` has and `t` drops,
    /// when there are any: CloudFormation refuses to remove an export that
    /// another stack still imports, and a later layer may import it until
    /// it is updated itself (after a layout change: the site's URL once
    /// came from the artifacts layer). Each keeps its key and its value.
    async fn keep_exports(&self, name: &str, t: &Template) -> Result<Option<Template>> {
        let cf = self.cf(name);
        if cf.status(name).await?.is_none() {
            return Ok(None);
        }
        let written: Vec<&str> = t
            .outputs
            .values()
            .filter_map(|o| o["Export"]["Name"].as_str())
            .collect();
        let dropped: Vec<_> = cf
            .exports(name)
            .await?
            .into_iter()
            .filter(|e| !written.contains(&e.name.as_str()) && !t.outputs.contains_key(&e.key))
            .collect();
        if dropped.is_empty() {
            return Ok(None);
        }
        let mut kept = t.clone();
        for e in dropped {
            self.ui.note(&format!(
                "{name}: export {} kept until the stacks importing it are updated",
                e.name
            ));
            kept.output(
                &e.key,
                "Kept for this deploy: a stack updated later imported it",
                e.value.into(),
                Some(e.name),
            );
        }
        Ok(Some(kept))
    }

    /// CloudFormation where stack `name` lives: us-east-1 for the global
    /// layer, the environment's region for the rest.
    fn cf(&self, name: &str) -> &S {
        if name.ends_with(&format!("-{}", Layer::Global.as_str())) {
            self.global
        } else {
            self.stacks
        }
    }

    /// What deploy passes a layer: the app layer's artifacts, the network
    /// layer's CloudFront prefix list (looked up in the region), the edge
    /// layer's web ACL and certificate (outputs of the global layer), and
    /// the domain's hosted zone (from [`Self::hosted_zone`]).
    pub async fn layer_parameters(
        &self,
        artifacts: &Artifacts,
        t: &Template,
        templates: &[Template],
        zone: Option<&str>,
        outputs: &Outputs,
    ) -> Result<Vec<(String, String)>> {
        let mut params = artifacts.parameters(t.layer, templates);
        for (parameter, from) in [
            (Parameter::WebAclArn, Output::WebAclArn),
            (Parameter::CertificateArn, Output::CertificateArn),
        ] {
            if t.parameters.contains_key(parameter.name()) {
                let value = output(outputs, "the global layer", from)?;
                params.push((parameter.name().to_string(), value.to_string()));
            }
        }
        let prefix_list = Parameter::CloudFrontPrefixList.name();
        if t.parameters.contains_key(prefix_list) {
            let id = self
                .shipping
                .prefix_list(crate::prefix_list::CLOUDFRONT_ORIGIN_FACING)
                .await?;
            params.push((prefix_list.to_string(), id));
        }
        let name = Parameter::HostedZoneId.name();
        if t.parameters.contains_key(name) {
            let id = zone.ok_or_else(|| {
                DeployError::Aws(format!(
                    "{} names a domain, but no hosted zone was found",
                    t.layer.as_str()
                ))
            })?;
            params.push((name.to_string(), id.to_string()));
        }
        Ok(params)
    }

    /// The hosted zone of the environment's domain, when it has one: the
    /// one given, checked, or the one found by name.
    pub async fn hosted_zone(&self, settings: &Settings) -> Result<Option<String>> {
        let Some(domain) = &settings.domain else {
            return Ok(None);
        };
        let zone = self
            .shipping
            .hosted_zone(domain, settings.hosted_zone_id.as_deref())
            .await?;
        self.ui.note(&format!("{domain}: hosted zone {zone}"));
        Ok(Some(zone))
    }

    /// Plan, check and apply one layer; None when the person declined.
    async fn layer(
        &self,
        name: &str,
        t: &Template,
        params: &[(String, String)],
    ) -> Result<Option<LayerResult>> {
        let plan = self.plan(name, t.layer, &t.render(), params).await?;
        self.ui.plan(&plan);
        let result = if plan.change_set.is_none() {
            "unchanged"
        } else {
            self.refuse_data_loss(&plan).await?;
            let verb = if plan.creates_stack {
                "Create"
            } else {
                "Update"
            };
            if !self
                .confirm_or_discard(&plan, &format!("{verb} {name}?"))
                .await?
            {
                self.ui
                    .note(&format!("{name}: not applied; nothing was changed"));
                return Ok(None);
            }
            self.apply(&plan).await?;
            if plan.creates_stack {
                "created"
            } else {
                "updated"
            }
        };
        self.ui.note(&format!("{name}: {result}"));
        Ok(Some(LayerResult {
            stack: name.to_string(),
            layer: t.layer,
            result,
            changes: plan.changes,
        }))
    }

    /// Plan a layer. A stack left in ROLLBACK_COMPLETE by a failed first
    /// deploy cannot be updated, so it is deleted (after asking) and
    /// planned anew.
    pub async fn plan(
        &self,
        name: &str,
        layer: Layer,
        template: &str,
        params: &[(String, String)],
    ) -> Result<Plan> {
        let cf = self.cf(name);
        match cf.plan(name, template, params, &token(layer)).await {
            Err(DeployError::NeedsReplacement { stack, status }) => {
                let reason = cf.status_reason(&stack).await.unwrap_or_default();
                self.ui.note(&format!("{stack} is in {status} after a failed first deploy ({reason}); it holds nothing and must be deleted before it can be created again"));
                let question = format!("Delete {stack} and create it again?");
                if !self
                    .ui
                    .confirm(&question)
                    .map_err(DeployError::Unconfirmed)?
                {
                    return Err(DeployError::NotReplaced { stack, status });
                }
                let ui = self.ui;
                cf.destroy(&stack, &mut |e| ui.event(&stack, e)).await?;
                cf.plan(name, template, params, &token(layer)).await
            }
            other => other,
        }
    }

    /// A plan that replaces or removes data stops the deploy, unless allowed.
    async fn refuse_data_loss(&self, plan: &Plan) -> Result<()> {
        let losing: Vec<String> = plan
            .changes
            .iter()
            .filter(|c| c.loses_data())
            .map(|c| format!("{} ({})", c.logical_id, c.resource_type))
            .collect();
        if losing.is_empty() || self.allow_replace {
            return Ok(());
        }
        self.cf(&plan.stack).discard(plan).await;
        Err(DeployError::LosesData {
            stack: plan.stack.clone(),
            resources: losing.join(", "),
        })
    }

    /// Ask before applying; whatever the answer but yes (no, or nobody to
    /// ask), the plan is discarded once, so nothing is left behind.
    async fn confirm_or_discard(&self, plan: &Plan, question: &str) -> Result<bool> {
        let answer = self.ui.confirm(question);
        if !matches!(answer, Ok(true)) {
            self.cf(&plan.stack).discard(plan).await;
        }
        answer.map_err(DeployError::Unconfirmed)
    }

    async fn apply(&self, plan: &Plan) -> Result<String> {
        let ui = self.ui;
        let stack = &plan.stack;
        let cf = self.cf(stack);
        self.working(stack, cf.apply(plan, &mut |e| ui.event(stack, e)))
            .await
    }

    /// Make or update the region's bootstrap stack (the permissions
    /// boundary) when it is missing or older than this version: `unchanged`,
    /// `created` or `updated`. A newer one, made by a newer stackwright, is
    /// kept as it is, so a deploy role that may not touch IAM policies
    /// still deploys.
    pub async fn ensure_bootstrap(&self) -> Result<&'static str> {
        let status = self.stacks.status(BOOTSTRAP_STACK).await?;
        if status
            .as_deref()
            .is_some_and(|s| s.ends_with("_COMPLETE") && !s.contains("ROLLBACK"))
        {
            let outputs = self.stacks.outputs(BOOTSTRAP_STACK).await?;
            let version = outputs
                .iter()
                .find(|(k, _)| k == Output::BootstrapVersion.name())
                .and_then(|(_, v)| v.parse::<u32>().ok());
            if version >= Some(BOOTSTRAP_VERSION) {
                return Ok("unchanged");
            }
        }
        let hint = |source| DeployError::Bootstrap {
            region: self.region.clone(),
            source: Box::new(source),
        };
        let template = bootstrap_template().render();
        let plan = self
            .plan(BOOTSTRAP_STACK, Layer::Bootstrap, &template, &[])
            .await
            .map_err(hint)?;
        self.ui.plan(&plan);
        if plan.change_set.is_none() {
            return Ok("unchanged");
        }
        let question = format!("Deploy {BOOTSTRAP_STACK}?");
        if !self.confirm_or_discard(&plan, &question).await? {
            return Err(DeployError::NotApplied(BOOTSTRAP_STACK.to_string()));
        }
        self.apply(&plan).await.map_err(hint)?;
        Ok(if plan.creates_stack {
            "created"
        } else {
            "updated"
        })
    }

    async fn ship_package(
        &self,
        stack: &str,
        artifacts: &Artifacts,
        outputs: &Outputs,
    ) -> Result<bool> {
        let bucket = output(outputs, stack, Output::ArtifactBucket)?;
        let package = &artifacts.package;
        let uploaded = self
            .working(
                "uploading the runtime package",
                self.shipping.upload_package(bucket, package),
            )
            .await?;
        self.ui.note(&format!(
            "runtime package s3://{bucket}/{}: {}",
            package.key(),
            if uploaded {
                "uploaded"
            } else {
                "already there"
            }
        ));
        Ok(uploaded)
    }

    /// Push an image (the runtime's, a service's) after the artifacts layer
    /// has made its repository and before the app layer names it.
    async fn ship(
        &self,
        what: &str,
        stack: &str,
        image: &stackwright_image::Image,
        outputs: &Outputs,
    ) -> Result<String> {
        let uri = output(outputs, stack, Output::RepositoryUri)?;
        let pushed = self
            .working(
                &format!("pushing the {what} image"),
                self.shipping.push_image(image, uri),
            )
            .await?;
        self.ui.note(&format!(
            "{what} image pushed: {}:{} ({})",
            pushed.destination,
            image.tag(),
            pushed.digest
        ));
        Ok(pushed.digest)
    }

    /// Upload the site with the placeholders filled from the outputs: the
    /// API's URL (the distribution's, the site's own origin), the user
    /// pool and its client.
    async fn publish_site(&self, source: &dyn SiteSource, outputs: &Outputs) -> Result<SiteResult> {
        let get = |o: Output| outputs.get(o.name()).cloned().unwrap_or_default();
        let bucket = output(outputs, "the artifacts layer", Output::SiteBucket)?;
        let url = output(outputs, "the edge layer", Output::Url)?.to_string();
        let auth = match &self.endpoint {
            // An emulator answers the Cognito protocol at its own address.
            Some(endpoint) => format!("{}/", endpoint.trim_end_matches('/')),
            None => format!("https://cognito-idp.{}.amazonaws.com/", self.region),
        };
        let values = vec![
            ("API_URL", url.clone()),
            ("AUTH_URL", auth),
            ("REGION", self.region.clone()),
            ("USER_POOL_ID", get(Output::UserPoolId)),
            ("CLIENT_ID", get(Output::UserPoolClientId)),
        ];
        let files = source.files(&values).map_err(DeployError::Site)?;
        let objects: Vec<SiteObject> = files
            .iter()
            .map(|f| SiteObject {
                key: &f.key,
                body: &f.body,
                content_type: f.content_type,
                // Other files may be cached for five minutes.
                cache_control: if f.page {
                    "no-cache"
                } else {
                    "public, max-age=300"
                },
            })
            .collect();
        let upload = self.shipping.sync_site(bucket, &objects).await?;
        let paths = crate::cdn::paths(&upload.changed, stackwright_synth::site::ROOT_OBJECT);
        let invalidation = match outputs.get(Output::DistributionId.name()) {
            Some(distribution) if !paths.is_empty() => {
                let done = self
                    .working(
                        "invalidating the site's changed paths",
                        self.shipping.invalidate(distribution, &paths),
                    )
                    .await?;
                self.ui.note(&format!(
                    "site cache: {} invalidated ({}{})",
                    paths.join(" "),
                    done.id,
                    if done.status == "Completed" {
                        String::new()
                    } else {
                        format!(", {}: fresh within minutes", done.status)
                    }
                ));
                Some(done)
            }
            _ => None,
        };
        self.ui.note(&format!(
            "site {url}: {} uploaded, {} unchanged, {} removed",
            upload.uploaded, upload.unchanged, upload.removed
        ));
        Ok(SiteResult {
            url,
            bucket: bucket.to_string(),
            upload,
            invalidation,
        })
    }

    async fn working<T>(&self, what: &str, fut: impl Future<Output = T>) -> T {
        working(what, fut, |line| self.ui.note(line)).await
    }
}

/// Runs `fut`, noting every 30 s that it still works: AWS can be quiet
/// for minutes.
pub async fn working<T>(what: &str, fut: impl Future<Output = T>, note: impl Fn(&str)) -> T {
    let started = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_secs(30));
    tick.tick().await;
    tokio::pin!(fut);
    loop {
        tokio::select! {
            result = &mut fut => return result,
            _ = tick.tick() => note(&format!(
                "  ... {what}: still working ({}s)",
                started.elapsed().as_secs()
            )),
        }
    }
}

fn output<'o>(outputs: &'o Outputs, stack: &str, name: Output) -> Result<&'o str> {
    outputs
        .get(name.name())
        .map(String::as_str)
        .ok_or_else(|| DeployError::MissingOutput {
            stack: stack.to_string(),
            output: name.name(),
        })
}

/// Unique per call: change set names must not collide between stacks.
pub fn token(layer: Layer) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{}-{nanos:x}", layer.as_str())
}

#[cfg(test)]
mod fakes;
#[cfg(test)]
mod tests;
