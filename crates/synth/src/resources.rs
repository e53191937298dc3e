//! One table of facts per CloudFormation resource type the templates use:
//! which part of the architecture it belongs to (how `graph` draws it),
//! whether it holds data (deploy refuses a change that replaces it), and
//! what `destroy` must do beyond deleting the stack, and check afterwards.
//! Every resource type a template holds must be here: the graph test fails
//! on one that is not. Adding a resource type starts with a line here.

/// A part of the architecture: one box in the picture, whatever the
/// number of resources (and resource types) it is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Part {
    // In drawing order within a layer: the way in first.
    Domain,
    Firewall,
    Distribution,
    LoadBalancer,
    HttpApi,
    Service,
    Instances,
    Functions,
    Migration,
    Topics,
    Queues,
    UserPool,
    Database,
    Tables,
    Secrets,
    Buckets,
    Registry,
    Vpc,
    Nat,
    Endpoints,
    SecurityGroups,
    FlowLogs,
    Key,
    Logs,
    Roles,
}

impl Part {
    /// What one of it is called in messages (`kept: user pool ...`).
    pub fn noun(self) -> &'static str {
        match self {
            Part::Tables => "table",
            Part::Database => "database",
            Part::UserPool => "user pool",
            Part::Key => "key",
            Part::Queues => "queue",
            Part::Buckets => "bucket",
            Part::Registry => "repository",
            Part::Secrets => "secret",
            Part::Logs => "log group",
            _ => "resource",
        }
    }
}

/// What deleting an environment must do for a resource beyond deleting
/// its stack, and check through the resource's own service afterwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Teardown {
    /// Deleting the stack deletes it; the stack's absence is the check.
    WithStack,
    /// CloudFormation cannot delete a bucket holding objects: every
    /// object version goes first; S3 is asked afterwards.
    EmptyBucket,
    /// Nor a repository holding images (in production): the images go
    /// first; ECR is asked afterwards.
    DeleteImages,
    /// The stack only schedules a secret's deletion, keeping its name
    /// taken for days: it is deleted at once afterwards, by name.
    ForceDeleteSecret,
    /// Its service writes log groups the stack does not own, named
    /// `{prefix}{id}{suffix}` (id: the physical id's last `/` segment):
    /// deleted afterwards, and CloudWatch Logs asked.
    ServiceLogs {
        prefix: &'static str,
        suffix: &'static str,
    },
}

/// What is known of a resource type.
#[derive(Debug, Clone, Copy)]
pub struct Fact {
    pub ty: &'static str,
    pub part: Part,
    /// Replacing or removing it loses data.
    pub holds_data: bool,
    pub teardown: Teardown,
}

const fn fact(ty: &'static str, part: Part, holds_data: bool) -> Fact {
    Fact {
        ty,
        part,
        holds_data,
        teardown: Teardown::WithStack,
    }
}

impl Fact {
    const fn teardown(self, teardown: Teardown) -> Fact {
        Fact { teardown, ..self }
    }

    const fn logs(self, prefix: &'static str, suffix: &'static str) -> Fact {
        self.teardown(Teardown::ServiceLogs { prefix, suffix })
    }
}

/// Every resource type the templates use.
pub const FACTS: &[Fact] = &[
    fact("AWS::EC2::VPC", Part::Vpc, false),
    fact("AWS::EC2::Subnet", Part::Vpc, false),
    fact("AWS::EC2::RouteTable", Part::Vpc, false),
    fact("AWS::EC2::Route", Part::Vpc, false),
    fact("AWS::EC2::SubnetRouteTableAssociation", Part::Vpc, false),
    fact("AWS::EC2::InternetGateway", Part::Vpc, false),
    fact("AWS::EC2::VPCGatewayAttachment", Part::Vpc, false),
    fact("AWS::EC2::NatGateway", Part::Nat, false),
    fact("AWS::EC2::EIP", Part::Nat, false),
    fact("AWS::EC2::VPCEndpoint", Part::Endpoints, false),
    fact("AWS::EC2::SecurityGroup", Part::SecurityGroups, false),
    fact(
        "AWS::EC2::SecurityGroupIngress",
        Part::SecurityGroups,
        false,
    ),
    fact("AWS::EC2::SecurityGroupEgress", Part::SecurityGroups, false),
    fact("AWS::EC2::FlowLog", Part::FlowLogs, false),
    fact("AWS::KMS::Key", Part::Key, true),
    fact("AWS::KMS::Alias", Part::Key, false),
    fact("AWS::Logs::LogGroup", Part::Logs, true),
    fact("AWS::IAM::Role", Part::Roles, false),
    fact("AWS::IAM::InstanceProfile", Part::Roles, false),
    fact("AWS::IAM::ManagedPolicy", Part::Roles, false),
    fact("AWS::S3::Bucket", Part::Buckets, true).teardown(Teardown::EmptyBucket),
    fact("AWS::S3::BucketPolicy", Part::Buckets, false),
    fact("AWS::CloudFront::Distribution", Part::Distribution, false),
    fact("AWS::CloudFront::Function", Part::Distribution, false),
    fact("AWS::WAFv2::WebACL", Part::Firewall, false),
    fact("AWS::Route53::RecordSet", Part::Domain, false),
    fact("AWS::CertificateManager::Certificate", Part::Domain, false),
    fact(
        "AWS::CloudFront::OriginAccessControl",
        Part::Distribution,
        false,
    ),
    fact("AWS::ECR::Repository", Part::Registry, true).teardown(Teardown::DeleteImages),
    fact("AWS::RDS::DBInstance", Part::Database, true).logs("/aws/rds/instance/", "/"),
    fact("AWS::RDS::DBCluster", Part::Database, true).logs("/aws/rds/cluster/", "/"),
    fact("AWS::RDS::DBSubnetGroup", Part::Database, false),
    fact("AWS::RDS::DBParameterGroup", Part::Database, false),
    fact("AWS::RDS::DBClusterParameterGroup", Part::Database, false),
    fact("AWS::Redshift::Cluster", Part::Database, true).logs("/aws/redshift/cluster/", "/"),
    fact("AWS::Redshift::ClusterSubnetGroup", Part::Database, false),
    fact(
        "AWS::Redshift::ClusterParameterGroup",
        Part::Database,
        false,
    ),
    fact("AWS::DynamoDB::Table", Part::Tables, true),
    fact("AWS::SecretsManager::Secret", Part::Secrets, true).teardown(Teardown::ForceDeleteSecret),
    fact(
        "AWS::SecretsManager::SecretTargetAttachment",
        Part::Secrets,
        false,
    ),
    fact("AWS::Cognito::UserPool", Part::UserPool, true),
    fact("AWS::Cognito::UserPoolClient", Part::UserPool, false),
    fact(
        "AWS::ElasticLoadBalancingV2::LoadBalancer",
        Part::LoadBalancer,
        false,
    ),
    fact(
        "AWS::ElasticLoadBalancingV2::Listener",
        Part::LoadBalancer,
        false,
    ),
    fact(
        "AWS::ElasticLoadBalancingV2::ListenerRule",
        Part::LoadBalancer,
        false,
    ),
    fact(
        "AWS::ElasticLoadBalancingV2::TargetGroup",
        Part::LoadBalancer,
        false,
    ),
    fact("AWS::ApiGatewayV2::Api", Part::HttpApi, false),
    fact("AWS::ApiGatewayV2::Integration", Part::HttpApi, false),
    fact("AWS::ApiGatewayV2::Route", Part::HttpApi, false),
    fact("AWS::ApiGatewayV2::Stage", Part::HttpApi, false),
    fact("AWS::Lambda::Permission", Part::HttpApi, false),
    // Container Insights' performance logs.
    fact("AWS::ECS::Cluster", Part::Service, false).logs("/aws/ecs/containerinsights/", "/"),
    fact("AWS::ECS::TaskDefinition", Part::Service, false),
    fact("AWS::ECS::Service", Part::Service, false),
    fact(
        "AWS::ApplicationAutoScaling::ScalableTarget",
        Part::Service,
        false,
    ),
    fact(
        "AWS::ApplicationAutoScaling::ScalingPolicy",
        Part::Service,
        false,
    ),
    fact("AWS::AutoScaling::AutoScalingGroup", Part::Instances, false),
    fact("AWS::AutoScaling::ScalingPolicy", Part::Instances, false),
    fact("AWS::EC2::LaunchTemplate", Part::Instances, false),
    fact("AWS::SSM::Association", Part::Instances, false),
    fact("AWS::Lambda::Function", Part::Functions, false).logs("/aws/lambda/", ""),
    fact("AWS::Lambda::EventSourceMapping", Part::Functions, false),
    fact(
        "AWS::CloudFormation::CustomResource",
        Part::Migration,
        false,
    ),
    fact("AWS::SNS::Topic", Part::Topics, false),
    fact("AWS::SNS::Subscription", Part::Topics, false),
    fact("AWS::SQS::Queue", Part::Queues, true),
    fact("AWS::SQS::QueuePolicy", Part::Queues, false),
];

/// The facts of a resource type, if it is one the templates use.
pub fn of(ty: &str) -> Option<&'static Fact> {
    FACTS.iter().find(|f| f.ty == ty)
}

impl Teardown {
    /// The log group prefix this resource's service writes under, for a
    /// physical id; None for the rest.
    pub fn log_prefix(self, physical_id: &str) -> Option<String> {
        match self {
            Teardown::ServiceLogs { prefix, suffix } => {
                let id = physical_id.rsplit('/').next().unwrap_or_default();
                Some(format!("{prefix}{id}{suffix}"))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn log_prefixes_use_the_last_segment_of_the_id() {
        let ecs = super::of("AWS::ECS::Cluster").unwrap().teardown;
        assert_eq!(
            ecs.log_prefix("arn:aws:ecs:eu-west-1:1:cluster/shop-dev")
                .as_deref(),
            Some("/aws/ecs/containerinsights/shop-dev/")
        );
        let lambda = super::of("AWS::Lambda::Function").unwrap().teardown;
        assert_eq!(
            lambda.log_prefix("shop-dev-api").as_deref(),
            Some("/aws/lambda/shop-dev-api")
        );
        let bucket = super::of("AWS::S3::Bucket").unwrap().teardown;
        assert_eq!(bucket.log_prefix("b"), None);
    }

    #[test]
    fn each_type_is_listed_once() {
        let mut types: Vec<&str> = super::FACTS.iter().map(|f| f.ty).collect();
        types.sort();
        let n = types.len();
        types.dedup();
        assert_eq!(types.len(), n);
    }
}
