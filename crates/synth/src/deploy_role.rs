//! The policy of the role that deploys one environment from CI
//! (`stackwright ci aws-policy`): what `deploy` and CloudFormation do with
//! it, scoped by the stack's names, and unable to become an administrator.
//!
//! - Roles: only named `PREFIX-*`, only with the permissions boundary
//!   ([`crate::iam`]), only the allow-listed managed policies, and the
//!   boundary can neither be removed from a role nor edited.
//! - Passing roles: only the stack's, only to the services that run them.
//! - Everything else with a generated name (VPCs, keys, security groups):
//!   only through CloudFormation (`aws:CalledVia`), in stacks named after
//!   the stack. Those stacks' resources can still point at resources of the
//!   account outside them (a bucket policy on another bucket, say): the
//!   deploy branch's protection stays part of the boundary.

use serde_json::{json, Value as Json};
use stackwright_stack::{CloudEngine, Compute, Stack};

use crate::iam::{boundary_name, ATTACHABLE, BOOTSTRAP_STACK};
use crate::Settings;

/// The policy for `stack`'s environment in `account` and `region`.
pub fn policy(stack: &Stack, s: &Settings, account: &str, region: &str) -> Json {
    let prefix = s.prefix(stack);
    let lower = prefix.to_lowercase();
    let arn =
        |service: &str, resource: &str| format!("arn:aws:{service}:{region}:{account}:{resource}");
    let iam = |resource: &str| format!("arn:aws:iam::{account}:{resource}");
    let boundary = iam(&format!("policy/{}", boundary_name(region)));
    let roles = iam(&format!("role/{prefix}-*"));

    // The environment's stacks; outside us-east-1, also its global stack
    // there when it has one.
    let mut stacks = vec![arn("cloudformation", &format!("stack/{prefix}-*/*"))];
    if s.needs_global_stack_in(region) {
        let global = crate::stack_name(&prefix, crate::Layer::Global);
        stacks.push(format!(
            "arn:aws:cloudformation:{}:{account}:stack/{global}/*",
            crate::settings::GLOBAL_REGION
        ));
    }
    let mut statements = vec![
        json!({
            "Sid": "Stacks",
            "Effect": "Allow",
            "Action": [
                "cloudformation:CreateChangeSet", "cloudformation:DescribeChangeSet",
                "cloudformation:ExecuteChangeSet", "cloudformation:DeleteChangeSet",
                "cloudformation:DescribeStacks", "cloudformation:DescribeStackEvents",
                "cloudformation:ListStackResources", "cloudformation:DeleteStack",
                "cloudformation:ContinueUpdateRollback"
            ],
            "Resource": stacks
        }),
        json!({
            // Read only: the boundary is made by an administrator.
            "Sid": "ReadTheBootstrapStack",
            "Effect": "Allow",
            "Action": ["cloudformation:DescribeStacks"],
            "Resource": arn("cloudformation", &format!("stack/{BOOTSTRAP_STACK}/*"))
        }),
        json!({
            "Sid": "Buckets",
            "Effect": "Allow",
            "Action": "s3:*",
            "Resource": [format!("arn:aws:s3:::{lower}-artifacts-*"), format!("arn:aws:s3:::{lower}-artifacts-*/*")]
        }),
        json!({
            // The actions IAM gives the boundary's condition key to.
            "Sid": "RolesOnlyWithTheBoundary",
            "Effect": "Allow",
            "Action": [
                "iam:CreateRole", "iam:PutRolePolicy", "iam:DeleteRolePolicy",
                "iam:AttachRolePolicy", "iam:DetachRolePolicy", "iam:PutRolePermissionsBoundary"
            ],
            "Resource": roles,
            "Condition": { "StringEquals": { "iam:PermissionsBoundary": boundary } }
        }),
        json!({
            // The rest of a stack role's life: none of these adds a
            // permission, and every such role was made with the boundary.
            "Sid": "ReadUpdateAndDeleteStackRoles",
            "Effect": "Allow",
            "Action": [
                "iam:GetRole", "iam:GetRolePolicy", "iam:ListRolePolicies", "iam:ListAttachedRolePolicies",
                "iam:DeleteRole", "iam:UpdateRole", "iam:UpdateAssumeRolePolicy",
                "iam:TagRole", "iam:UntagRole",
                "iam:CreateInstanceProfile", "iam:DeleteInstanceProfile", "iam:GetInstanceProfile",
                "iam:AddRoleToInstanceProfile", "iam:RemoveRoleFromInstanceProfile"
            ],
            "Resource": [roles, iam(&format!("instance-profile/{prefix}-*"))]
        }),
        json!({
            "Sid": "OnlyTheseManagedPolicies",
            "Effect": "Deny",
            "Action": ["iam:AttachRolePolicy", "iam:DetachRolePolicy"],
            "Resource": "*",
            "Condition": { "ArnNotEquals": { "iam:PolicyARN": ATTACHABLE
                .iter()
                .map(|p| format!("arn:aws:iam::aws:policy/{p}"))
                .collect::<Vec<_>>() } }
        }),
        json!({
            "Sid": "TheBoundaryStays",
            "Effect": "Deny",
            "Action": ["iam:DeleteRolePermissionsBoundary", "iam:DeleteUserPermissionsBoundary"],
            "Resource": "*"
        }),
        json!({
            "Sid": "TheBoundaryIsNotEdited",
            "Effect": "Deny",
            "Action": [
                "iam:CreatePolicyVersion", "iam:DeletePolicy", "iam:DeletePolicyVersion",
                "iam:SetDefaultPolicyVersion"
            ],
            "Resource": boundary
        }),
        json!({
            "Sid": "PassStackRolesToTheirServices",
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": roles,
            "Condition": { "StringEquals": { "iam:PassedToService": services_running_roles(s) } }
        }),
        json!({
            "Sid": "ServiceLinkedRoles",
            "Effect": "Allow",
            "Action": "iam:CreateServiceLinkedRole",
            "Resource": "*",
            "Condition": { "StringEquals": { "iam:AWSServiceName": [
                "elasticloadbalancing.amazonaws.com", "ecs.amazonaws.com", "rds.amazonaws.com",
                "redshift.amazonaws.com", "autoscaling.amazonaws.com",
                "ecs.application-autoscaling.amazonaws.com"
            ] } }
        }),
        json!({
            "Sid": "NamedResources",
            "Effect": "Allow",
            "Action": ["ecr:*", "secretsmanager:*", "lambda:*", "logs:*"],
            "Resource": [
                arn("ecr", &format!("repository/{lower}")),
                arn("secretsmanager", &format!("secret:{prefix}/*")),
                arn("lambda", &format!("function:{prefix}-*")),
                arn("logs", &format!("log-group:{prefix}-*"))
            ]
        }),
        json!({
            "Sid": "PublicAmiParameter",
            "Effect": "Allow",
            "Action": ["ssm:GetParameter", "ssm:GetParameters"],
            "Resource": format!("arn:aws:ssm:{region}::parameter/aws/service/*")
        }),
        json!({
            "Sid": "OnlyThroughCloudFormation",
            "Effect": "Allow",
            "Action": services_through_cloudformation(stack, s),
            "Resource": "*",
            "Condition": { "ForAnyValue:StringEquals": { "aws:CalledVia": "cloudformation.amazonaws.com" } }
        }),
    ];
    // Deploy itself: refreshing the edge's cache after a site upload (the
    // distribution's id is CloudFront's to choose), and looking up
    // CloudFront's prefix list for the load balancer's group.
    statements.push(json!({
        "Sid": "InvalidateTheEdge",
        "Effect": "Allow",
        "Action": ["cloudfront:CreateInvalidation", "cloudfront:GetInvalidation"],
        "Resource": format!("arn:aws:cloudfront::{account}:distribution/*")
    }));
    if s.compute.load_balanced() {
        statements.push(json!({
            "Sid": "FindCloudFrontPrefixList",
            "Effect": "Allow",
            "Action": "ec2:DescribeManagedPrefixLists",
            "Resource": "*"
        }));
    }
    if s.domain.is_some() {
        // Finding the domain's hosted zone, and checking it is this account's.
        statements.push(json!({
            "Sid": "FindTheHostedZone",
            "Effect": "Allow",
            "Action": ["route53:ListHostedZones", "route53:GetHostedZone"],
            "Resource": "*"
        }));
    }
    if s.compute.needs_image() {
        // Pushing the runtime image: the sign-in takes no resource.
        statements.push(json!({
            "Sid": "EcrSignIn",
            "Effect": "Allow",
            "Action": "ecr:GetAuthorizationToken",
            "Resource": "*"
        }));
    }
    json!({ "Version": "2012-10-17", "Statement": statements })
}

/// The services the stack's roles are passed to.
fn services_running_roles(s: &Settings) -> Vec<&'static str> {
    let mut services = vec!["vpc-flow-logs.amazonaws.com", "lambda.amazonaws.com"];
    match s.compute {
        Compute::Lambda => {}
        Compute::Fargate => services.push("ecs-tasks.amazonaws.com"),
        Compute::Ec2 => services.push("ec2.amazonaws.com"),
    }
    if !matches!(s.database, CloudEngine::Dynamodb | CloudEngine::Redshift) {
        // RDS and Aurora send enhanced monitoring through a role of their own.
        services.push("monitoring.rds.amazonaws.com");
    }
    services
}

/// The services whose resources the templates hold, for CloudFormation to
/// manage with the role: only those the environment uses.
fn services_through_cloudformation(stack: &Stack, s: &Settings) -> Vec<&'static str> {
    let mut services = vec![
        "ec2:*",
        "kms:*",
        "logs:*",
        "lambda:*",
        "secretsmanager:*",
        "cloudwatch:*",
        "s3:*",
    ];
    match s.compute {
        Compute::Lambda => services.push("apigateway:*"),
        Compute::Fargate => services.extend([
            "elasticloadbalancing:*",
            "ecs:*",
            "ecr:*",
            "application-autoscaling:*",
        ]),
        Compute::Ec2 => services.extend(["elasticloadbalancing:*", "autoscaling:*", "ssm:*"]),
    }
    services.push(match s.database {
        CloudEngine::Dynamodb => "dynamodb:*",
        CloudEngine::Redshift => "redshift:*",
        _ => "rds:*",
    });
    if !stack.topics.is_empty() {
        services.extend(["sns:*", "sqs:*"]);
    }
    if stack.users.is_some() {
        services.push("cognito-idp:*");
    }
    // Every environment has its edge.
    services.push("cloudfront:*");
    if s.waf {
        services.push("wafv2:*");
    }
    if s.domain.is_some() {
        services.extend(["acm:*", "route53:*"]);
    }
    services
}
