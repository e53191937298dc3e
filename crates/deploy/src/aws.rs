//! One AWS configuration for every client a deploy uses: credentials and
//! region from the standard chain (environment, profile, SSO), an explicit
//! region when the stack or the command line names one, and an endpoint
//! override for emulators.

use aws_config::SdkConfig;
use stackwright_image::Image;

use std::time::Duration;

use crate::cdn::{self, Invalidation};
use crate::image::Destination;
use crate::package::Package;
use crate::ports::{Pushed, Shipping};
use crate::store::{self, SiteObject, SiteUpload};
use crate::Result;

#[derive(Clone)]
pub struct Aws {
    config: SdkConfig,
    endpoint: Option<String>,
}

impl Aws {
    /// `region`: None takes the chain's (AWS_REGION, the profile), else us-east-1.
    pub async fn connect(region: Option<&str>, endpoint: Option<&str>) -> Self {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        if let Some(r) = region {
            loader = loader.region(aws_config::Region::new(r.to_string()));
        }
        if let Some(e) = endpoint {
            loader = loader.endpoint_url(e);
        }
        let mut config = loader.load().await;
        if config.region().is_none() {
            config = config
                .into_builder()
                .region(aws_config::Region::new("us-east-1"))
                .build();
        }
        Aws {
            config,
            endpoint: endpoint.map(str::to_string),
        }
    }

    pub fn region(&self) -> String {
        self.config
            .region()
            .map(|r| r.to_string())
            .unwrap_or_default()
    }

    pub fn endpoint(&self) -> Option<&str> {
        self.endpoint.as_deref()
    }

    /// For a client of a service deploy itself does not call.
    pub fn sdk_config(&self) -> &SdkConfig {
        &self.config
    }

    pub fn cloudformation(&self) -> aws_sdk_cloudformation::Client {
        aws_sdk_cloudformation::Client::new(&self.config)
    }

    pub fn s3(&self) -> aws_sdk_s3::Client {
        let mut b = aws_sdk_s3::config::Builder::from(&self.config);
        if self.endpoint.is_some() {
            // Emulators serve buckets as paths, not as subdomains.
            b = b.force_path_style(true);
        }
        aws_sdk_s3::Client::from_conf(b.build())
    }

    pub fn ecr(&self) -> aws_sdk_ecr::Client {
        aws_sdk_ecr::Client::new(&self.config)
    }

    pub fn cloudfront(&self) -> aws_sdk_cloudfront::Client {
        aws_sdk_cloudfront::Client::new(&self.config)
    }

    pub fn logs(&self) -> aws_sdk_cloudwatchlogs::Client {
        aws_sdk_cloudwatchlogs::Client::new(&self.config)
    }

    pub fn secrets(&self) -> aws_sdk_secretsmanager::Client {
        aws_sdk_secretsmanager::Client::new(&self.config)
    }
}

/// The production [`Shipping`]: S3 for the package and the site, ECR (or
/// a registry on this machine standing in for it) for the image.
pub struct AwsShipping<'a> {
    pub aws: &'a Aws,
    /// `HOST:PORT` of a local registry replacing ECR (for emulators).
    pub registry: Option<&'a str>,
}

impl Shipping for AwsShipping<'_> {
    async fn upload_package(&self, bucket: &str, package: &Package) -> Result<bool> {
        store::upload_package(&self.aws.s3(), bucket, package).await
    }

    async fn push_image(&self, image: &Image, repository_uri: &str) -> Result<Pushed> {
        let destination = match self.registry {
            Some(registry) => Destination::local(registry, repository_uri)?,
            None => Destination::ecr(&self.aws.ecr(), repository_uri).await?,
        };
        let digest = destination.push(image).await?;
        Ok(Pushed {
            destination: format!("{}/{}", destination.registry, destination.repository),
            digest,
        })
    }

    async fn sync_site(&self, bucket: &str, files: &[SiteObject<'_>]) -> Result<SiteUpload> {
        store::sync_site(&self.aws.s3(), bucket, files).await
    }

    async fn invalidate(&self, distribution: &str, paths: &[String]) -> Result<Invalidation> {
        // CloudFront takes a minute or two; an emulator answers at once.
        let timing = match self.aws.endpoint() {
            Some(_) => (Duration::from_secs(5), Duration::from_millis(200)),
            None => (Duration::from_secs(180), Duration::from_secs(5)),
        };
        cdn::invalidate(&self.aws.cloudfront(), distribution, paths, timing).await
    }

    async fn prefix_list(&self, name: &str) -> Result<String> {
        crate::prefix_list::id(&self.aws.config, self.aws.endpoint(), name).await
    }

    async fn hosted_zone(&self, domain: &str, given: Option<&str>) -> Result<String> {
        crate::hosted_zone::id(&self.aws.config, self.aws.endpoint(), domain, given).await
    }
}
