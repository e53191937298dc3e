//! The network layer: VPC, subnets in 2-3 AZs, routing, NAT or VPC
//! endpoints, the stack's KMS key, flow logs, and the chained security groups
//! (load balancer -> app port -> database port), which every later layer imports.

use serde_json::{json, Value as Json};
use stackwright_stack::{CloudEngine, Stack};

use crate::cfn::{att, r, sub, tags, Layer, Template};
use crate::iam::assume;
use crate::outputs::{Output, Parameter, ServiceNames};
use crate::{db_port, Settings};

pub fn template(stack: &Stack, s: &Settings) -> Template {
    let prefix = s.prefix(stack);
    let mut t = Template::new(
        Layer::Network,
        format!("Stackwright {prefix}: network (VPC, subnets, security groups, KMS key)"),
    );
    let name_tag = |what: &str| tags(&[("Name", &format!("{prefix}-{what}"))]);

    // One customer-managed key encrypts logs, secrets, databases and images.
    let key = t.add(
        "Key",
        "AWS::KMS::Key",
        json!({
            "Description": format!("Stackwright {prefix}: logs, secrets, databases, images"),
            "EnableKeyRotation": true,
            "KeyPolicy": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "AccountAdministers",
                        "Effect": "Allow",
                        "Principal": { "AWS": sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root") },
                        "Action": "kms:*",
                        "Resource": "*"
                    },
                    {
                        // Only this stack's log groups: every one is left
                        // unnamed, so CloudFormation names it after its
                        // stack, `PREFIX-LAYER-...`. The context holds the
                        // group's ARN without the `:*` of GetAtt Arn.
                        "Sid": "CloudWatchLogsEncrypts",
                        "Effect": "Allow",
                        "Principal": { "Service": sub("logs.${AWS::Region}.amazonaws.com") },
                        "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*"],
                        "Resource": "*",
                        "Condition": {
                            "ArnLike": {
                                "kms:EncryptionContext:aws:logs:arn": sub(&format!("arn:${{AWS::Partition}}:logs:${{AWS::Region}}:${{AWS::AccountId}}:log-group:{prefix}-*"))
                            }
                        }
                    },
                    {
                        // Encryption-context conditions cannot cover
                        // DescribeKey, which carries no context.
                        "Sid": "CloudWatchLogsDescribesKey",
                        "Effect": "Allow",
                        "Principal": { "Service": sub("logs.${AWS::Region}.amazonaws.com") },
                        "Action": "kms:DescribeKey",
                        "Resource": "*"
                    }
                ]
            }
        }),
    );
    if !stack.topics.is_empty() {
        // SNS delivers to the subscriptions' queues, which this key encrypts.
        key["Properties"]["KeyPolicy"]["Statement"]
            .as_array_mut()
            .expect("statements")
            .push(json!({
                // Only for this stack's topics (named `PREFIX-TOPIC`).
                "Sid": "SnsDeliversToQueues",
                "Effect": "Allow",
                "Principal": { "Service": "sns.amazonaws.com" },
                "Action": ["kms:GenerateDataKey*", "kms:Decrypt"],
                "Resource": "*",
                "Condition": {
                    "ArnLike": { "aws:SourceArn": sub(&format!("arn:${{AWS::Partition}}:sns:${{AWS::Region}}:${{AWS::AccountId}}:{prefix}-*")) },
                    "StringEquals": { "aws:SourceAccount": sub("${AWS::AccountId}") }
                }
            }));
    }
    if stack.site.is_some() {
        // CloudFront reads the site's objects, which this key encrypts.
        key["Properties"]["KeyPolicy"]["Statement"]
            .as_array_mut()
            .expect("statements")
            .push(json!({
                // The distribution is made later (artifacts layer), so its
                // ARN cannot be named here; the decryption is bounded to
                // this account's distributions and to this stack's site
                // bucket, whose ARN S3 puts in the encryption context
                // (bucket keys are on). The bucket policy admits only the
                // stack's own distribution.
                "Sid": "CloudFrontReadsSite",
                "Effect": "Allow",
                "Principal": { "Service": "cloudfront.amazonaws.com" },
                "Action": ["kms:Decrypt"],
                "Resource": "*",
                "Condition": {
                    "ArnLike": {
                        "aws:SourceArn": sub("arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:distribution/*"),
                        "kms:EncryptionContext:aws:s3:arn": sub(&format!("arn:${{AWS::Partition}}:s3:::{}-artifacts-sitebucket-*", prefix.to_lowercase()))
                    },
                    "StringEquals": { "aws:SourceAccount": sub("${AWS::AccountId}") }
                }
            }));
    }
    // Production keeps snapshots and tables encrypted with this key: keep the key too.
    if s.production {
        key["DeletionPolicy"] = json!("Retain");
        key["UpdateReplacePolicy"] = json!("Retain");
    }

    t.add(
        "Vpc",
        "AWS::EC2::VPC",
        json!({
            "CidrBlock": "10.0.0.0/16",
            "EnableDnsHostnames": true,
            "EnableDnsSupport": true,
            "Tags": name_tag("vpc")
        }),
    );

    // Flow logs: every accepted and rejected connection, encrypted.
    t.add(
        "FlowLogGroup",
        "AWS::Logs::LogGroup",
        json!({ "RetentionInDays": s.log_retention_days, "KmsKeyId": att("Key", "Arn") }),
    );
    t.add(
        "FlowLogRole",
        "AWS::IAM::Role",
        json!({
            "AssumeRolePolicyDocument": assume("vpc-flow-logs.amazonaws.com"),
            "Policies": [{
                "PolicyName": "write-flow-logs",
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [{
                        "Effect": "Allow",
                        "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                        "Resource": att("FlowLogGroup", "Arn")
                    }]
                }
            }]
        }),
    );
    t.add(
        "FlowLog",
        "AWS::EC2::FlowLog",
        json!({
            "ResourceId": r("Vpc"),
            "ResourceType": "VPC",
            "TrafficType": "ALL",
            "LogDestinationType": "cloud-watch-logs",
            "LogGroupName": r("FlowLogGroup"),
            "DeliverLogsPermissionArn": att("FlowLogRole", "Arn")
        }),
    );

    t.add(
        "InternetGateway",
        "AWS::EC2::InternetGateway",
        json!({ "Tags": name_tag("igw") }),
    );
    t.add(
        "GatewayAttachment",
        "AWS::EC2::VPCGatewayAttachment",
        json!({ "VpcId": r("Vpc"), "InternetGatewayId": r("InternetGateway") }),
    );
    t.add(
        "PublicRouteTable",
        "AWS::EC2::RouteTable",
        json!({ "VpcId": r("Vpc"), "Tags": name_tag("public") }),
    );
    let internet = t.add(
        "PublicInternetRoute",
        "AWS::EC2::Route",
        json!({
            "RouteTableId": r("PublicRouteTable"),
            "DestinationCidrBlock": "0.0.0.0/0",
            "GatewayId": r("InternetGateway")
        }),
    );
    internet["DependsOn"] = json!("GatewayAttachment");

    // Private compute needs the internet (image pulls, OS patches) only on
    // Fargate and EC2; Lambda reaches AWS APIs through VPC endpoints.
    let nat = s.compute.needs_nat();
    let nat_count = if s.production { s.azs } else { 1 };
    let az = |i: u8| json!({ "Fn::Select": [i, { "Fn::GetAZs": "" }] });
    for i in 0..s.azs {
        for (kind, base) in [("Public", 0u8), ("App", 10), ("Data", 20)] {
            t.add(
                &format!("{kind}Subnet{i}"),
                "AWS::EC2::Subnet",
                json!({
                    "VpcId": r("Vpc"),
                    "AvailabilityZone": az(i),
                    "CidrBlock": format!("10.0.{}.0/24", base + i),
                    "MapPublicIpOnLaunch": false,
                    "Tags": name_tag(&format!("{}-{i}", kind.to_lowercase()))
                }),
            );
        }
        t.add(
            &format!("PublicSubnet{i}Routes"),
            "AWS::EC2::SubnetRouteTableAssociation",
            json!({ "SubnetId": r(&format!("PublicSubnet{i}")), "RouteTableId": r("PublicRouteTable") }),
        );
        t.add(
            &format!("AppRouteTable{i}"),
            "AWS::EC2::RouteTable",
            json!({ "VpcId": r("Vpc"), "Tags": name_tag(&format!("app-{i}")) }),
        );
        t.add(
            &format!("AppSubnet{i}Routes"),
            "AWS::EC2::SubnetRouteTableAssociation",
            json!({ "SubnetId": r(&format!("AppSubnet{i}")), "RouteTableId": r(&format!("AppRouteTable{i}")) }),
        );
        if nat && i < nat_count {
            t.add(
                &format!("NatAddress{i}"),
                "AWS::EC2::EIP",
                json!({ "Domain": "vpc", "Tags": name_tag(&format!("nat-{i}")) }),
            )["DependsOn"] = json!("GatewayAttachment");
            t.add(
                &format!("Nat{i}"),
                "AWS::EC2::NatGateway",
                json!({
                    "AllocationId": att(&format!("NatAddress{i}"), "AllocationId"),
                    "SubnetId": r(&format!("PublicSubnet{i}")),
                    "Tags": name_tag(&format!("nat-{i}"))
                }),
            );
        }
        if nat {
            // Production: a NAT per AZ, so one AZ failing leaves the others online.
            let via = if i < nat_count { i } else { 0 };
            t.add(
                &format!("AppInternetRoute{i}"),
                "AWS::EC2::Route",
                json!({
                    "RouteTableId": r(&format!("AppRouteTable{i}")),
                    "DestinationCidrBlock": "0.0.0.0/0",
                    "NatGatewayId": r(&format!("Nat{via}"))
                }),
            );
        }
    }
    // Databases never route to the internet.
    t.add(
        "DataRouteTable",
        "AWS::EC2::RouteTable",
        json!({ "VpcId": r("Vpc"), "Tags": name_tag("data") }),
    );
    for i in 0..s.azs {
        t.add(
            &format!("DataSubnet{i}Routes"),
            "AWS::EC2::SubnetRouteTableAssociation",
            json!({ "SubnetId": r(&format!("DataSubnet{i}")), "RouteTableId": r("DataRouteTable") }),
        );
    }

    let app_tables: Vec<Json> = (0..s.azs)
        .map(|i| r(&format!("AppRouteTable{i}")))
        .collect();
    // Gateway endpoints are free and keep S3 (image layers, artifacts) and
    // DynamoDB traffic off the NAT.
    t.add(
        "S3Endpoint",
        "AWS::EC2::VPCEndpoint",
        json!({
            "VpcId": r("Vpc"),
            "ServiceName": sub("com.amazonaws.${AWS::Region}.s3"),
            "VpcEndpointType": "Gateway",
            "RouteTableIds": app_tables
        }),
    );
    if s.database == CloudEngine::Dynamodb {
        t.add(
            "DynamoDbEndpoint",
            "AWS::EC2::VPCEndpoint",
            json!({
                "VpcId": r("Vpc"),
                "ServiceName": sub("com.amazonaws.${AWS::Region}.dynamodb"),
                "VpcEndpointType": "Gateway",
                "RouteTableIds": app_tables
            }),
        );
    }

    security_groups(&mut t, stack, s, &prefix);

    // Without a NAT, functions reach AWS APIs through interface endpoints:
    // Secrets Manager for the database password, SNS to publish.
    let secrets = db_port(s.database).is_some()
        || stack
            .services
            .values()
            .any(|service| !service.secrets.is_empty());
    // Only the runtime publishes to SNS; internal topics it never does.
    let sns = stack.published_topics().next().is_some();
    if !s.compute.needs_nat() && (secrets || sns) {
        t.add(
            "EndpointSecurityGroup",
            "AWS::EC2::SecurityGroup",
            json!({
                "GroupDescription": format!("{prefix}: interface endpoints, HTTPS from the app"),
                "VpcId": r("Vpc"),
                "SecurityGroupIngress": [{
                    "Description": "HTTPS from the app",
                    "IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
                    "SourceSecurityGroupId": att("AppSecurityGroup", "GroupId")
                }],
                "SecurityGroupEgress": [no_egress()]
            }),
        );
        let app_subnets: Vec<Json> = (0..s.azs).map(|i| r(&format!("AppSubnet{i}"))).collect();
        for (id, service, wanted) in [
            ("SecretsManagerEndpoint", "secretsmanager", secrets),
            ("SnsEndpoint", "sns", sns),
        ] {
            if wanted {
                t.add(
                    id,
                    "AWS::EC2::VPCEndpoint",
                    json!({
                        "VpcId": r("Vpc"),
                        "ServiceName": sub(&format!("com.amazonaws.${{AWS::Region}}.{service}")),
                        "VpcEndpointType": "Interface",
                        "PrivateDnsEnabled": true,
                        "SubnetIds": app_subnets.clone(),
                        "SecurityGroupIds": [att("EndpointSecurityGroup", "GroupId")]
                    }),
                );
            }
        }
    }

    service_security_groups(&mut t, stack, s, &prefix);

    let list = |kind: &str| json!({ "Fn::Join": [",", (0..s.azs).map(|i| r(&format!("{kind}Subnet{i}"))).collect::<Vec<_>>()] });
    t.output(
        Output::VpcId.name(),
        "The VPC",
        r("Vpc"),
        Some(Output::VpcId.export(&prefix)),
    );
    t.output(
        Output::PublicSubnets.name(),
        "Public subnets (load balancer)",
        list("Public"),
        Some(Output::PublicSubnets.export(&prefix)),
    );
    t.output(
        Output::AppSubnets.name(),
        "Private subnets for compute",
        list("App"),
        Some(Output::AppSubnets.export(&prefix)),
    );
    t.output(
        Output::DataSubnets.name(),
        "Private subnets for databases",
        list("Data"),
        Some(Output::DataSubnets.export(&prefix)),
    );
    t.output(
        Output::KeyArn.name(),
        "KMS key for logs, secrets, databases, images",
        att("Key", "Arn"),
        Some(Output::KeyArn.export(&prefix)),
    );
    t.output(
        Output::AppSecurityGroup.name(),
        "Security group of the compute",
        att("AppSecurityGroup", "GroupId"),
        Some(Output::AppSecurityGroup.export(&prefix)),
    );
    if t.resources.contains_key("LoadBalancerSecurityGroup") {
        t.output(
            Output::LoadBalancerSecurityGroup.name(),
            "Security group of the load balancer",
            att("LoadBalancerSecurityGroup", "GroupId"),
            Some(Output::LoadBalancerSecurityGroup.export(&prefix)),
        );
    }
    if t.resources.contains_key("DataSecurityGroup") {
        t.output(
            Output::DataSecurityGroup.name(),
            "Security group of the database",
            att("DataSecurityGroup", "GroupId"),
            Some(Output::DataSecurityGroup.export(&prefix)),
        );
    }
    t
}

/// An egress rule that allows nothing useful: CloudFormation otherwise adds
/// allow-all egress to a group declared without rules.
fn no_egress() -> Json {
    json!({ "Description": "No egress", "IpProtocol": "icmp", "FromPort": 252, "ToPort": 86, "CidrIp": "127.0.0.1/32" })
}

/// Where compute (the runtime, a service) may connect: HTTPS (AWS APIs)
/// and the database's port, in its group only.
fn compute_egress(db: Option<u16>) -> Vec<Json> {
    let mut egress = vec![json!({
        "Description": "HTTPS to AWS APIs",
        "IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "CidrIp": "0.0.0.0/0"
    })];
    if let Some(db) = db {
        egress.push(json!({
            "Description": "The database",
            "IpProtocol": "tcp", "FromPort": db, "ToPort": db,
            "DestinationSecurityGroupId": att("DataSecurityGroup", "GroupId")
        }));
    }
    egress
}

/// Load balancer's listener (80, or 443 with a domain) from CloudFront -> app port from the load balancer only
/// -> database port from the app only.
fn security_groups(t: &mut Template, stack: &Stack, s: &Settings, prefix: &str) {
    let load_balanced = s.compute.load_balanced();
    origin_secret(t, prefix);
    cursor_secret(t, prefix);
    let port = s.port;
    let db = db_port(s.database);

    let app_egress = compute_egress(db);
    t.add(
        "AppSecurityGroup",
        "AWS::EC2::SecurityGroup",
        json!({
            "GroupDescription": format!("{prefix}: compute; the app port from the load balancer only"),
            "VpcId": r("Vpc"),
            "SecurityGroupEgress": app_egress
        }),
    );
    if load_balanced {
        // Only CloudFront reaches the balancer (its origin-facing managed
        // prefix list, looked up by deploy); the listener then also checks
        // the origin secret, which no other CloudFront customer knows.
        t.parameters.insert(
            Parameter::CloudFrontPrefixList.name().into(),
            json!({
                "Type": "String",
                "AllowedPattern": "^pl-[0-9a-f]+$",
                "Description": "CloudFront's origin-facing managed prefix list in this region (looked up by stackwright deploy)"
            }),
        );
        let listener = s.listener_port();
        let ingress = vec![json!({
            "Description": if s.domain.is_some() { "HTTPS from CloudFront only" } else { "HTTP from CloudFront only" },
            "IpProtocol": "tcp", "FromPort": listener, "ToPort": listener,
            "SourcePrefixListId": r(Parameter::CloudFrontPrefixList.name())
        })];
        t.add(
            "LoadBalancerSecurityGroup",
            "AWS::EC2::SecurityGroup",
            json!({
                "GroupDescription": format!("{prefix}: load balancer; HTTP from CloudFront only"),
                "VpcId": r("Vpc"),
                "SecurityGroupIngress": ingress,
                "SecurityGroupEgress": std::iter::once(json!({
                    "Description": "The app port",
                    "IpProtocol": "tcp", "FromPort": port, "ToPort": port,
                    "DestinationSecurityGroupId": att("AppSecurityGroup", "GroupId")
                }))
                .chain(load_balancer_egress(stack, s))
                .collect::<Vec<_>>()
            }),
        );
        allow_in(
            t,
            "AppFromLoadBalancer",
            "The app port from the load balancer",
            ("AppSecurityGroup", "LoadBalancerSecurityGroup"),
            port,
        );
    }
    if let Some(db) = db {
        t.add(
            "DataSecurityGroup",
            "AWS::EC2::SecurityGroup",
            json!({
                "GroupDescription": format!("{prefix}: database; its port from the app only"),
                "VpcId": r("Vpc"),
                "SecurityGroupEgress": [no_egress()]
            }),
        );
        allow_in(
            t,
            "DataFromApp",
            "The database port from the app",
            ("DataSecurityGroup", "AppSecurityGroup"),
            db,
        );
    }
}

/// A secret generated by Secrets Manager, so it is in no template and no
/// log; named, so later layers can refer to it by a dynamic reference
/// (which CloudFormation resolves as it applies) and destroy can delete it
/// at once (no recovery window).
fn generated_secret(t: &mut Template, id: &str, name: String, description: String) {
    t.add(
        id,
        "AWS::SecretsManager::Secret",
        json!({
            "Name": name,
            "Description": description,
            "KmsKeyId": r("Key"),
            "GenerateSecretString": { "PasswordLength": 48, "ExcludePunctuation": true }
        }),
    );
}

/// The origin secret. CloudFront sends it in
/// [`stackwright_stack::ORIGIN_HEADER`]; the load balancer's listener
/// forwards only requests that carry it, and on Lambda (whose HTTP API
/// anyone may call) the runtime checks it.
fn origin_secret(t: &mut Template, prefix: &str) {
    let description = format!("{prefix}: the header CloudFront shows the load balancer");
    generated_secret(t, "OriginSecret", origin_secret_name(prefix), description);
}

/// The secret list cursors are sealed with (see the server's cursors):
/// every replica reads it.
fn cursor_secret(t: &mut Template, prefix: &str) {
    let description = format!("{prefix}: the key the API seals list cursors with");
    generated_secret(t, "CursorSecret", cursor_secret_name(prefix), description);
}

/// The cursor secret's name, which the runtime reads it by.
pub(crate) fn cursor_secret_name(prefix: &str) -> String {
    format!("{prefix}/cursor")
}

/// The cursor secret's value, as a dynamic reference (for Lambda, whose
/// cold start should not wait for Secrets Manager, and which without a
/// NAT could not reach it).
pub(crate) fn cursor_secret_value(prefix: &str) -> Json {
    resolve(&cursor_secret_name(prefix))
}

fn origin_secret_name(prefix: &str) -> String {
    format!("{prefix}/origin")
}

/// The origin secret's value, as a dynamic reference (in a later layer,
/// by the secret's name: the network layer is always there first).
pub(crate) fn origin_secret_value(prefix: &str) -> Json {
    resolve(&origin_secret_name(prefix))
}

/// A secret's value by its name, as a dynamic reference.
fn resolve(name: &str) -> Json {
    json!(format!(
        "{{{{resolve:secretsmanager:{name}:SecretString}}}}"
    ))
}

/// A rule letting group `from` reach group `to` on `port`.
fn allow_in(t: &mut Template, id: &str, description: &str, (to, from): (&str, &str), port: u16) {
    t.add(
        id,
        "AWS::EC2::SecurityGroupIngress",
        json!({
            "Description": description,
            "GroupId": att(to, "GroupId"),
            "IpProtocol": "tcp", "FromPort": port, "ToPort": port,
            "SourceSecurityGroupId": att(from, "GroupId")
        }),
    );
}

/// Network layer: a security group per service. Its ports from the load
/// balancer only (the front's for traffic, the service's own for health
/// checks); out to the database and HTTPS; the database lets it in.
pub(crate) fn service_security_groups(t: &mut Template, stack: &Stack, s: &Settings, prefix: &str) {
    let db = db_port(s.database);
    for (service, port) in crate::services::ports(stack, s) {
        let names = ServiceNames::of(&service.name);
        let group = names.security_group();
        t.add(
            &group,
            "AWS::EC2::SecurityGroup",
            json!({
                "GroupDescription": format!("{prefix}: service {}; its ports from the load balancer only", service.name),
                "VpcId": r("Vpc"),
                "SecurityGroupEgress": compute_egress(db)
            }),
        );
        if s.compute.load_balanced() {
            for (what, p) in [("Front", s.port), ("Health", port)] {
                allow_in(
                    t,
                    &names.id(&format!("{what}FromLoadBalancer")),
                    &format!("{what} port from the load balancer"),
                    (&group, "LoadBalancerSecurityGroup"),
                    p,
                );
            }
        }
        if let Some(db) = db {
            allow_in(
                t,
                &names.id("DataAccess"),
                &format!("The database port from service {}", service.name),
                ("DataSecurityGroup", &group),
                db,
            );
        }
        if t.resources.contains_key("EndpointSecurityGroup") {
            allow_in(
                t,
                &names.id("EndpointAccess"),
                &format!("HTTPS from service {}", service.name),
                ("EndpointSecurityGroup", &group),
                443,
            );
        }
        t.output(
            &group,
            &format!("Security group of service {}", service.name),
            att(&group, "GroupId"),
            Some(format!("{prefix}-{group}")),
        );
    }
}

/// The load balancer's way out to the services: the front's port and each
/// service's own (health checks), to its group only.
fn load_balancer_egress(stack: &Stack, s: &Settings) -> Vec<Json> {
    crate::services::ports(stack, s)
        .into_iter()
        .flat_map(|(service, port)| {
            let group = ServiceNames::of(&service.name).security_group();
            [("front", s.port), ("health", port)].map(|(what, p)| {
                json!({
                    "Description": format!("Service {}: {what} port", service.name),
                    "IpProtocol": "tcp", "FromPort": p, "ToPort": p,
                    "DestinationSecurityGroupId": att(&group, "GroupId")
                })
            })
        })
        .collect()
}
