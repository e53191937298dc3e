//! The names layers publish and deploy passes: stack outputs (most of them
//! also exported, `PREFIX-Name`, for the next layer to import) and the app
//! and network layers' parameters. Synth writes them, deploy, the CLI and the graph
//! read them: one spelling, here.

use std::fmt;

use serde_json::Value as Json;

/// An output of a layer's stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Output {
    // network
    VpcId,
    PublicSubnets,
    AppSubnets,
    DataSubnets,
    KeyArn,
    AppSecurityGroup,
    LoadBalancerSecurityGroup,
    DataSecurityGroup,
    // artifacts
    ArtifactBucket,
    RepositoryUri,
    SiteBucket,
    /// The site bucket's regional domain name: the edge's origin.
    SiteBucketDomain,
    /// Where access logs go (load balancer, CloudFront, buckets).
    LogBucket,
    UserPoolId,
    UserPoolClientId,
    // data
    DatabaseHost,
    DatabasePort,
    /// The administrator's secret.
    DatabaseSecretArn,
    /// The runtime's secret, when the engine has a separate app user.
    AppDatabaseSecretArn,
    TablePrefix,
    // app
    /// The API's own address, reachable only through the edge (load
    /// balancer) or also directly (an HTTP API on Lambda).
    ServiceUrl,
    /// The host name the edge sends API requests to: the load balancer's
    /// own name, or the HTTP API's.
    OriginDomain,
    /// With a domain, the load balancer's name of its own (`origin.DOMAIN`),
    /// which the edge uses instead. A separate export: CloudFormation
    /// cannot change an export another stack imports, so adding or
    /// removing a domain switches imports instead of changing a value.
    OriginName,
    LogGroup,
    // edge
    /// The one URL of the environment: the site and the API, over HTTPS.
    Url,
    /// The edge's CloudFront distribution, whose cache deploy invalidates.
    DistributionId,
    // global
    /// The web ACL made in us-east-1, for the edge layer.
    WebAclArn,
    /// The distribution's certificate, made in us-east-1, for the edge layer.
    CertificateArn,
    // bootstrap
    Boundary,
    BootstrapVersion,
}

impl Output {
    pub const fn name(self) -> &'static str {
        match self {
            Output::VpcId => "VpcId",
            Output::PublicSubnets => "PublicSubnets",
            Output::AppSubnets => "AppSubnets",
            Output::DataSubnets => "DataSubnets",
            Output::KeyArn => "KeyArn",
            Output::AppSecurityGroup => "AppSecurityGroup",
            Output::LoadBalancerSecurityGroup => "LoadBalancerSecurityGroup",
            Output::DataSecurityGroup => "DataSecurityGroup",
            Output::ArtifactBucket => "ArtifactBucket",
            Output::RepositoryUri => "RepositoryUri",
            Output::SiteBucket => "SiteBucket",
            Output::SiteBucketDomain => "SiteBucketDomain",
            Output::LogBucket => "LogBucket",
            Output::UserPoolId => "UserPoolId",
            Output::UserPoolClientId => "UserPoolClientId",
            Output::DatabaseHost => "DatabaseHost",
            Output::DatabasePort => "DatabasePort",
            Output::DatabaseSecretArn => "DatabaseSecretArn",
            Output::AppDatabaseSecretArn => "AppDatabaseSecretArn",
            Output::TablePrefix => "TablePrefix",
            Output::ServiceUrl => "ServiceUrl",
            Output::OriginDomain => "OriginDomain",
            Output::OriginName => "OriginName",
            Output::Url => "Url",
            Output::DistributionId => "DistributionId",
            Output::WebAclArn => "WebAclArn",
            Output::CertificateArn => "CertificateArn",
            Output::LogGroup => "LogGroup",
            Output::Boundary => "Boundary",
            Output::BootstrapVersion => "BootstrapVersion",
        }
    }

    /// The name it is exported under: `todo-dev-VpcId`.
    pub fn export(self, prefix: &str) -> String {
        format!("{prefix}-{}", self.name())
    }

    /// The value, imported by a later layer.
    pub fn import(self, prefix: &str) -> Json {
        crate::cfn::import(&self.export(prefix))
    }

    /// A comma-separated exported list, imported as a list.
    pub fn import_list(self, prefix: &str) -> Json {
        crate::cfn::import_list(&self.export(prefix))
    }
}

impl fmt::Display for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The output holding a topic's ARN, from the topic's logical id.
pub fn topic_arn(topic_id: &str) -> String {
    format!("{topic_id}Arn")
}

/// The output holding a subscription's dead-letter queue URL.
pub fn dead_letter_queue_url(subscription_id: &str) -> String {
    format!("{subscription_id}DeadLetterQueueUrl")
}

/// The output holding a subscription's queue URL (where a redrive sends
/// dead letters back).
pub fn subscription_queue_url(subscription_id: &str) -> String {
    format!("{subscription_id}QueueUrl")
}

/// The start of a subscription's logical ids and outputs: `customers-clientes`
/// -> `CustomersClientes`.
pub fn subscription_id(subscription: &str) -> String {
    crate::cfn::logical(subscription)
}

/// The names of one service's outputs and parameter, from its name: its
/// security group (network layer, exported), its log group (app layer)
/// and its image's digest (an app-layer parameter, on Fargate).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceNames {
    /// `orders-api` -> `OrdersApi`: the start of its logical ids.
    pub logical: String,
}

impl ServiceNames {
    pub fn of(service: &str) -> Self {
        ServiceNames {
            logical: format!("{}Service", crate::cfn::logical(service)),
        }
    }

    pub fn security_group(&self) -> String {
        format!("{}SecurityGroup", self.logical)
    }

    pub fn import_security_group(&self, prefix: &str) -> Json {
        crate::cfn::import(&format!("{prefix}-{}", self.security_group()))
    }

    pub fn log_group(&self) -> String {
        format!("{}LogGroup", self.logical)
    }

    pub fn image_digest(&self) -> String {
        format!("{}ImageDigest", self.logical)
    }

    /// A logical id of the service's own: `OrdersApiService` + `what`.
    pub fn id(&self, what: &str) -> String {
        format!("{}{what}", self.logical)
    }
}

/// A parameter of a layer, passed by deploy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parameter {
    /// The network layer's: the id of CloudFront's origin-facing managed
    /// prefix list in the region, which deploy looks up.
    CloudFrontPrefixList,
    /// The edge layer's: the global stack's web ACL, when it has one.
    WebAclArn,
    /// The edge layer's: the global stack's certificate for the domain.
    CertificateArn,
    /// Where the domain's records go (the layers naming the domain): the
    /// zone given, or found by name, and checked, by deploy.
    HostedZoneId,
    /// The runtime package's key in the artifact bucket.
    ArtifactKey,
    /// Changes exactly when what runs changes: reruns the migration.
    DeployId,
    /// The runtime image's tag in the repository.
    ImageTag,
}

impl Parameter {
    pub const fn name(self) -> &'static str {
        match self {
            Parameter::CloudFrontPrefixList => "CloudFrontPrefixList",
            Parameter::WebAclArn => "WebAclArn",
            Parameter::CertificateArn => "CertificateArn",
            Parameter::HostedZoneId => "HostedZoneId",
            Parameter::ArtifactKey => "ArtifactKey",
            Parameter::DeployId => "DeployId",
            Parameter::ImageTag => "ImageTag",
        }
    }
}

impl fmt::Display for Parameter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
