//! One table of facts per CloudFormation resource type the templates use:
//! which part of the architecture it belongs to (how `graph` draws it) and
//! whether it holds data (a replacement loses it). Every resource type a
//! template holds must be here: the graph test fails on one that is not.

/// A part of the architecture: one box in the picture, whatever the
/// number of resources (and resource types) it is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Part {
    // In drawing order within a layer: the way in first.
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

/// What is known of a resource type.
#[derive(Debug, Clone, Copy)]
pub struct Fact {
    pub ty: &'static str,
    pub part: Part,
    /// Replacing or removing it loses data.
    pub holds_data: bool,
}

const fn fact(ty: &'static str, part: Part, holds_data: bool) -> Fact {
    Fact {
        ty,
        part,
        holds_data,
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
    fact("AWS::S3::Bucket", Part::Buckets, true),
    fact("AWS::S3::BucketPolicy", Part::Buckets, false),
    fact("AWS::CloudFront::Distribution", Part::Distribution, false),
    fact(
        "AWS::CloudFront::OriginAccessControl",
        Part::Distribution,
        false,
    ),
    fact("AWS::ECR::Repository", Part::Registry, true),
    fact("AWS::RDS::DBInstance", Part::Database, true),
    fact("AWS::RDS::DBCluster", Part::Database, true),
    fact("AWS::RDS::DBSubnetGroup", Part::Database, false),
    fact("AWS::RDS::DBParameterGroup", Part::Database, false),
    fact("AWS::RDS::DBClusterParameterGroup", Part::Database, false),
    fact("AWS::Redshift::Cluster", Part::Database, true),
    fact("AWS::Redshift::ClusterSubnetGroup", Part::Database, false),
    fact(
        "AWS::Redshift::ClusterParameterGroup",
        Part::Database,
        false,
    ),
    fact("AWS::DynamoDB::Table", Part::Tables, true),
    fact("AWS::SecretsManager::Secret", Part::Secrets, true),
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
    fact("AWS::ECS::Cluster", Part::Service, false),
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
    fact("AWS::Lambda::Function", Part::Functions, false),
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

#[cfg(test)]
mod tests {
    #[test]
    fn each_type_is_listed_once() {
        let mut types: Vec<&str> = super::FACTS.iter().map(|f| f.ty).collect();
        types.sort();
        let n = types.len();
        types.dedup();
        assert_eq!(types.len(), n);
    }
}
