//! Who the stack's own code and services may act as: the roles of the
//! templates, the permissions boundary every one of them carries, the
//! bootstrap stack that holds the boundary, and the policy of the role that
//! deploys the stack (`stackwright ci aws-policy`).
//!
//! The boundary caps what any role of any stack may do, whatever its own
//! policies say: the services the runtime uses, never IAM. The deploy role
//! may only create roles that carry it, may attach only the managed
//! policies the templates use, and may not change or remove it, so whoever
//! can push a template to the deploy branch still cannot make an
//! administrator. The boundary itself is made once per account and region
//! by someone who may (`stackwright bootstrap`), never by the deploy role.

use serde_json::{json, Value as Json};

use crate::cfn::{sub, Layer, Template};
use crate::outputs::Output;

/// The boundary policy's name; one per region, so each region's bootstrap
/// stack owns its own.
pub fn boundary_name(region: &str) -> String {
    format!("stackwright-boundary-{region}")
}

/// The bootstrap stack of a region: the permissions boundary.
pub const BOOTSTRAP_STACK: &str = "stackwright-bootstrap";

/// Bumped whenever the boundary changes, so deploy knows to update it
/// (the bootstrap stack's `BootstrapVersion` output).
pub const BOOTSTRAP_VERSION: u32 = 1;

/// The managed policies a template may attach to a role: the deploy role
/// may attach these and no other.
pub const ATTACHABLE: [&str; 3] = [
    "service-role/AWSLambdaVPCAccessExecutionRole",
    "service-role/AmazonECSTaskExecutionRolePolicy",
    "service-role/AmazonRDSEnhancedMonitoringRole",
];

pub fn managed(name: &str) -> Json {
    debug_assert!(ATTACHABLE.contains(&name), "{name} is not attachable");
    sub(&format!("arn:${{AWS::Partition}}:iam::aws:policy/{name}"))
}

pub fn assume(service: &str) -> Json {
    json!({
        "Version": "2012-10-17",
        "Statement": [{ "Effect": "Allow", "Principal": { "Service": service }, "Action": "sts:AssumeRole" }]
    })
}

/// A role for `service` with an inline policy of `statements` and the
/// `managed` policies. (Every role gets the boundary in [`Template::add`].)
pub fn role(t: &mut Template, id: &str, service: &str, managed: Vec<Json>, statements: Vec<Json>) {
    let mut props = json!({ "AssumeRolePolicyDocument": assume(service) });
    if !statements.is_empty() {
        props["Policies"] = json!([{
            "PolicyName": "runtime",
            "PolicyDocument": { "Version": "2012-10-17", "Statement": statements }
        }]);
    }
    if !managed.is_empty() {
        props["ManagedPolicyArns"] = json!(managed);
    }
    t.add(id, "AWS::IAM::Role", props);
}

/// Everything a stack's role may ever do: what the runtime, its functions,
/// its instances (SSM agent), ECS, flow logs and RDS monitoring use.
pub fn boundary_document() -> Json {
    json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "WhatStacksUse",
                "Effect": "Allow",
                "Action": [
                    "logs:*", "xray:PutTraceSegments", "xray:PutTelemetryRecords",
                    "cloudwatch:PutMetricData",
                    "dynamodb:*", "secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret",
                    "kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*", "kms:DescribeKey",
                    "sns:Publish", "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility",
                    "sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:SendMessage",
                    "s3:GetObject",
                    "ecr:GetAuthorizationToken", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer",
                    "ecr:BatchCheckLayerAvailability",
                    "ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DeleteNetworkInterface",
                    "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses",
                    "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups", "ec2:DescribeVpcs", "ec2:DescribeInstances",
                    "ssm:UpdateInstanceInformation", "ssm:ListInstanceAssociations", "ssm:PutComplianceItems",
                    "ssm:UpdateInstanceAssociationStatus", "ssm:UpdateAssociationStatus", "ssm:DescribeAssociation",
                    "ssm:GetDocument", "ssm:DescribeDocument", "ssm:ListAssociations",
                    "ssm:GetDeployablePatchSnapshotForInstance", "ssm:PutInventory",
                    "ssmmessages:*", "ec2messages:*"
                ],
                "Resource": "*"
            },
            {
                // Spelled out, though nothing above allows it: a boundary
                // read alone should say so.
                "Sid": "NeverIam",
                "Effect": "Deny",
                "Action": ["iam:*", "organizations:*", "account:*", "sts:AssumeRole"],
                "Resource": "*"
            }
        ]
    })
}

/// The bootstrap template: the boundary, made once per account and region.
pub fn bootstrap_template() -> Template {
    let mut t = Template::new(
        Layer::Bootstrap,
        "Stackwright bootstrap: the permissions boundary every stack role carries",
    );
    t.add(
        "Boundary",
        "AWS::IAM::ManagedPolicy",
        json!({
            "ManagedPolicyName": sub("stackwright-boundary-${AWS::Region}"),
            "Description": "The most any Stackwright stack role may do (its permissions boundary)",
            "PolicyDocument": boundary_document()
        }),
    );
    t.output(
        Output::Boundary.name(),
        "ARN of the permissions boundary",
        crate::cfn::r("Boundary"),
        None,
    );
    t.output(
        Output::BootstrapVersion.name(),
        "Version of the bootstrap stack",
        json!(BOOTSTRAP_VERSION.to_string()),
        None,
    );
    t
}

/// What the SSM agent needs for the weekly patching (AWS-RunPatchBaseline)
/// and Session Manager, in place of AmazonSSMManagedInstanceCore, which
/// also reads every SSM parameter and document of the account.
pub fn ssm_agent() -> Vec<Json> {
    let patch_document =
        sub("arn:${AWS::Partition}:ssm:${AWS::Region}::document/AWS-RunPatchBaseline");
    vec![
        json!({
            "Sid": "AgentReportsOnInstances",
            "Effect": "Allow",
            "Action": [
                "ssm:UpdateInstanceInformation", "ssm:ListInstanceAssociations",
                "ssm:PutComplianceItems", "ssm:UpdateInstanceAssociationStatus",
                "ssm:UpdateAssociationStatus", "ssm:DescribeAssociation"
            ],
            "Resource": [
                sub("arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:instance/*"),
                sub("arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:association/*"),
                patch_document.clone()
            ]
        }),
        json!({
            "Sid": "PatchDocument",
            "Effect": "Allow",
            "Action": ["ssm:GetDocument", "ssm:DescribeDocument"],
            "Resource": patch_document
        }),
        json!({
            // These take no resource: AWS authorizes them on "*" only.
            "Sid": "AgentCallsWithoutResources",
            "Effect": "Allow",
            "Action": [
                "ssm:ListAssociations", "ssm:GetDeployablePatchSnapshotForInstance", "ssm:PutInventory",
                "ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel",
                "ssmmessages:OpenControlChannel", "ssmmessages:OpenDataChannel",
                "ec2messages:AcknowledgeMessage", "ec2messages:DeleteMessage", "ec2messages:FailMessage",
                "ec2messages:GetEndpoint", "ec2messages:GetMessages", "ec2messages:SendReply"
            ],
            "Resource": "*"
        }),
        json!({
            // The patch baselines and modules, through the S3 endpoint.
            "Sid": "PatchBuckets",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": [
                sub("arn:${AWS::Partition}:s3:::aws-ssm-${AWS::Region}/*"),
                sub("arn:${AWS::Partition}:s3:::patch-baseline-snapshot-${AWS::Region}/*")
            ]
        }),
    ]
}
