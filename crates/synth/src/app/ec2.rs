//! The app layer on EC2: an autoscaling group of instances running the
//! runtime from the artifact under systemd, behind the load balancer,
//! patched weekly.

use serde_json::{json, Value as Json};

use super::balancer::behind_balancer;
use super::STACK_DIR;
use crate::cfn::{att, r, Template};
use crate::iam::{role, ssm_agent};
use crate::outputs::Output;
use crate::Settings;

/// The stack's services on each instance: their units, target groups and
/// security groups.
pub(super) struct Services {
    pub target_groups: Vec<Json>,
    pub security_groups: Vec<Json>,
    pub units: String,
}

pub(super) fn ec2(
    t: &mut Template,
    s: &Settings,
    prefix: &str,
    env: &[(String, Json)],
    policies: &[Json],
    services: Services,
) {
    t.parameters.insert(
        "ImageId".into(),
        json!({
            "Type": "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>",
            "Default": "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64",
            "Description": "The latest Amazon Linux 2023 image"
        }),
    );
    let mut statements = policies.to_vec();
    statements.push(json!({
        "Effect": "Allow",
        "Action": ["s3:GetObject"],
        "Resource": { "Fn::Sub": [
            "arn:${AWS::Partition}:s3:::${ArtifactBucket}/${ArtifactKey}",
            { "ArtifactBucket": Output::ArtifactBucket.import(prefix) }
        ] }
    }));
    statements.push(json!({
        "Effect": "Allow",
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
        "Resource": att("AppLogGroup", "Arn")
    }));
    statements.extend(ssm_agent());
    role(t, "InstanceRole", "ec2.amazonaws.com", vec![], statements);
    t.add(
        "InstanceProfile",
        "AWS::IAM::InstanceProfile",
        json!({ "Roles": [r("InstanceRole")] }),
    );
    let exports: String = env
        .iter()
        .map(|(k, _)| format!("{k}=${{{}}}\n", k.to_lowercase()))
        .collect();
    let script = format!(
        "#!/bin/bash\nset -euo pipefail\n\
         dnf install -y unzip\n\
         mkdir -p /opt/stackwright\n\
         aws s3 cp s3://${{ArtifactBucket}}/${{ArtifactKey}} /opt/stackwright/runtime.zip\n\
         unzip -o /opt/stackwright/runtime.zip -d /opt/stackwright\n\
         useradd --system --no-create-home stackwright || true\n\
         cat > /etc/stackwright.env <<'ENV'\n{exports}STACKWRIGHT_PORT={port}\n{balancer}ENV\n\
         cat > /etc/systemd/system/stackwright.service <<'UNIT'\n\
         [Unit]\nDescription=Stackwright runtime\nAfter=network-online.target\n\
         [Service]\nUser=stackwright\nEnvironmentFile=/etc/stackwright.env\n\
         ExecStart=/opt/stackwright/bootstrap up {STACK_DIR} --host 0.0.0.0\n\
         Restart=always\nKillSignal=SIGTERM\nTimeoutStopSec=30\n\
         [Install]\nWantedBy=multi-user.target\nUNIT\n\
         systemctl daemon-reload\nsystemctl enable --now stackwright\n{units}",
        units = services.units,
        port = s.port,
        balancer = behind_balancer()
            .map(|(name, value)| format!("{name}={value}\n"))
            .collect::<String>(),
    );
    let mut vars: serde_json::Map<String, Json> = env
        .iter()
        .map(|(k, v)| (k.to_lowercase(), v.clone()))
        .collect();
    vars.insert(
        "ArtifactBucket".into(),
        Output::ArtifactBucket.import(prefix),
    );
    t.add(
        "LaunchTemplate",
        "AWS::EC2::LaunchTemplate",
        json!({
            "LaunchTemplateData": {
                "ImageId": r("ImageId"),
                "InstanceType": s.instance_type,
                "IamInstanceProfile": { "Arn": att("InstanceProfile", "Arn") },
                "SecurityGroupIds": std::iter::once(Output::AppSecurityGroup.import(prefix)).chain(services.security_groups).collect::<Vec<_>>(),
                "MetadataOptions": { "HttpTokens": "required", "HttpEndpoint": "enabled", "HttpPutResponseHopLimit": 1 },
                "Monitoring": { "Enabled": true },
                "BlockDeviceMappings": [{
                    "DeviceName": "/dev/xvda",
                    "Ebs": { "VolumeSize": 8, "VolumeType": "gp3", "Encrypted": true, "DeleteOnTermination": true }
                }],
                "UserData": { "Fn::Base64": { "Fn::Sub": [script, vars] } }
            }
        }),
    );
    let group = t.add(
        "AutoScalingGroup",
        "AWS::AutoScaling::AutoScalingGroup",
        json!({
            "MinSize": s.min.to_string(),
            "MaxSize": s.max.to_string(),
            "VPCZoneIdentifier": Output::AppSubnets.import_list(prefix),
            "LaunchTemplate": { "LaunchTemplateId": r("LaunchTemplate"), "Version": att("LaunchTemplate", "LatestVersionNumber") },
            "TargetGroupARNs": std::iter::once(r("TargetGroup")).chain(services.target_groups).collect::<Vec<_>>(),
            "HealthCheckType": "ELB",
            "HealthCheckGracePeriod": 120,
            "Tags": [{ "Key": "Name", "Value": prefix, "PropagateAtLaunch": true }]
        }),
    );
    group["DependsOn"] = json!("Migrate");
    group["UpdatePolicy"] = json!({
        // Keep `min` serving while replacing one at a time, if `max` leaves room for it.
        "AutoScalingRollingUpdate": { "MinInstancesInService": s.min.min(s.max - 1), "MaxBatchSize": 1, "PauseTime": "PT5M" }
    });
    t.add(
        "CpuScaling",
        "AWS::AutoScaling::ScalingPolicy",
        json!({
            "AutoScalingGroupName": r("AutoScalingGroup"),
            "PolicyType": "TargetTrackingScaling",
            "TargetTrackingConfiguration": {
                "TargetValue": s.target_cpu,
                "PredefinedMetricSpecification": { "PredefinedMetricType": "ASGAverageCPUUtilization" }
            }
        }),
    );
    // Hosts are patched every week by SSM (the Clip challenge's "upgraded regularly").
    t.add(
        "PatchHosts",
        "AWS::SSM::Association",
        json!({
            "Name": "AWS-RunPatchBaseline",
            "AssociationName": format!("{prefix}-patch"),
            "Parameters": { "Operation": ["Install"], "RebootOption": ["RebootIfNeeded"] },
            "Targets": [{ "Key": "tag:aws:autoscaling:groupName", "Values": [r("AutoScalingGroup")] }],
            "ScheduleExpression": "cron(0 3 ? * SUN *)",
            "ComplianceSeverity": "HIGH"
        }),
    );
}
