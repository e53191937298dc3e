//! `stackwright graph`: the architecture as an SVG, read from the synthesized
//! templates themselves, so the picture cannot disagree with what would be
//! deployed.
//!
//! Every resource of every layer has its place: each is drawn as part of
//! one box ([`crate::resources::Part`]), grouped by layer; the box lists its
//! resources. Arrows come from the templates too: who may reach whom, and on
//! which port, from the security groups' rules (following exports across
//! layers to the resources that use each group), and the other ties from
//! references between resources (an API invoking a function, a topic
//! feeding a queue, a distribution reading a bucket).

mod render;

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value as Json;

use crate::cfn::{Layer, Template};
use crate::resources::{self, Part};

/// A box: one part of the architecture in one layer.
struct Node {
    layer: Option<Layer>,
    part: Option<Part>,
    title: String,
    detail: String,
    /// Logical ids of the resources it stands for.
    resources: Vec<String>,
}

/// An arrow between two boxes, with what crosses it.
struct Edge {
    from: usize,
    to: usize,
    labels: BTreeSet<String>,
}

/// A resource, as the picture knows it.
struct Resource<'t> {
    layer: Layer,
    id: &'t str,
    body: &'t Json,
    part: Part,
}

/// The SVG for one environment's templates.
pub fn svg(title: &str, templates: &[Template]) -> String {
    let docs: Vec<(Layer, Json)> = templates.iter().map(|t| (t.layer, t.to_json())).collect();
    let mut resources = Vec::new();
    for (layer, doc) in &docs {
        for (id, body) in doc["Resources"].as_object().into_iter().flatten() {
            let ty = body["Type"].as_str().unwrap_or_default();
            // A type without a fact has no place: the graph test catches it.
            let Some(fact) = resources::of(ty) else {
                continue;
            };
            resources.push(Resource {
                layer: *layer,
                id,
                body,
                part: fact.part,
            });
        }
    }
    let mut picture = Picture::default();
    picture.nodes.push(Node {
        layer: None,
        part: None,
        title: "Internet".into(),
        detail: "clients and browsers".into(),
        resources: vec![],
    });
    let mut parts: BTreeMap<(usize, Part), Vec<&Resource>> = BTreeMap::new();
    for r in &resources {
        parts
            .entry((layer_rank(r.layer), r.part))
            .or_default()
            .push(r);
    }
    for ((_, part), members) in &parts {
        let (title, detail) = describe(*part, members, &docs);
        picture.nodes.push(Node {
            layer: Some(members[0].layer),
            part: Some(*part),
            title,
            detail,
            resources: members.iter().map(|r| r.id.to_string()).collect(),
        });
    }
    let exports = exports(&docs);
    picture.security_group_edges(&resources, &exports);
    picture.reference_edges(&resources, &exports);
    picture.entry_edges();
    render::svg(title, &picture.nodes, &picture.edges)
}

/// Left to right: how traffic goes in, then what it needs.
fn layer_rank(layer: Layer) -> usize {
    match layer {
        Layer::Global => 0,
        Layer::Edge => 0,
        Layer::Artifacts => 1,
        Layer::App => 2,
        Layer::Data => 3,
        Layer::Network => 4,
        Layer::Bootstrap => 5,
    }
}

#[derive(Default)]
struct Picture {
    nodes: Vec<Node>,
    edges: Vec<Edge>,
}

impl Picture {
    fn node(&self, layer: Layer, part: Part) -> Option<usize> {
        self.nodes
            .iter()
            .position(|n| n.layer == Some(layer) && n.part == Some(part))
    }

    fn node_of(&self, r: &Resource) -> usize {
        self.node(r.layer, r.part)
            .expect("every resource has a box")
    }

    fn connect(&mut self, from: usize, to: usize, label: impl Into<String>) {
        if from == to {
            return;
        }
        let label = label.into();
        match self.edges.iter_mut().find(|e| e.from == from && e.to == to) {
            Some(e) => {
                e.labels.insert(label);
            }
            None => self.edges.push(Edge {
                from,
                to,
                labels: BTreeSet::from([label]),
            }),
        }
    }

    /// Each ingress rule: from the resources in the source group (or the
    /// internet) to the resources in the group it opens, with its port.
    fn security_group_edges(&mut self, all: &[Resource], exports: &Exports) {
        for r in all.iter().filter(|r| r.part == Part::SecurityGroups) {
            let ty = r.body["Type"].as_str().unwrap_or_default();
            let rules: Vec<(&Json, String)> = match ty {
                "AWS::EC2::SecurityGroup" => r.body["Properties"]["SecurityGroupIngress"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|rule| (rule, r.id.to_string()))
                    .collect(),
                "AWS::EC2::SecurityGroupIngress" => referenced(&r.body["Properties"]["GroupId"])
                    .into_iter()
                    .take(1)
                    .map(|g| (&r.body["Properties"], g))
                    .collect(),
                _ => vec![],
            };
            for (rule, group) in rules {
                let label = port(rule);
                let open = members(all, r.layer, &group, exports);
                let from: Vec<usize> =
                    if rule["CidrIp"] == "0.0.0.0/0" || rule["CidrIpv6"] == "::/0" {
                        vec![0]
                    } else if !rule["SourcePrefixListId"].is_null() {
                        // CloudFront's prefix list: the edge.
                        self.nodes
                            .iter()
                            .enumerate()
                            .filter(|(_, n)| n.part == Some(Part::Distribution))
                            .map(|(i, _)| i)
                            .collect()
                    } else {
                        referenced(&rule["SourceSecurityGroupId"])
                            .first()
                            .map(|source| members(all, r.layer, source, exports))
                            .unwrap_or_default()
                            .iter()
                            .map(|m| self.node_of(m))
                            .collect()
                    };
                // Lambda functions accept no connections: they only make them.
                let to: Vec<usize> = open
                    .into_iter()
                    .filter(|m| m.part != Part::Functions)
                    .map(|m| self.node_of(m))
                    .collect();
                for to in to {
                    for &from in &from {
                        self.connect(from, to, label.clone());
                    }
                }
            }
        }
    }

    /// Ties that are not network rules: what invokes, feeds or reads what.
    fn reference_edges(&mut self, all: &[Resource], exports: &Exports) {
        for r in all {
            for target in references(&r.body["Properties"], r.layer, exports) {
                let Some(t) = all.iter().find(|x| x.layer == target.0 && x.id == target.1) else {
                    continue;
                };
                let Some((label, reversed)) = tie(r.part, t.part) else {
                    continue;
                };
                let (a, b) = (self.node_of(r), self.node_of(t));
                match reversed {
                    false => self.connect(a, b, label),
                    true => self.connect(b, a, label),
                }
            }
        }
    }

    /// The managed ways in, and out, which no security group describes.
    fn entry_edges(&mut self) {
        let compute: Vec<usize> = self
            .nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| {
                matches!(
                    n.part,
                    Some(Part::Service | Part::Instances | Part::Functions)
                )
            })
            .map(|(i, _)| i)
            .collect();
        let managed: Vec<(usize, &str)> = self
            .nodes
            .iter()
            .enumerate()
            .filter_map(|(i, n)| match n.part {
                // DynamoDB through the gateway endpoint; the rest through NAT.
                Some(Part::Tables) => Some((i, "tcp 443 (gateway endpoint)")),
                Some(Part::Nat) => Some((i, "tcp 443 (egress)")),
                _ => None,
            })
            .collect();
        for &from in &compute {
            for &(to, label) in &managed {
                self.connect(from, to, label);
            }
        }
        let entries: Vec<(usize, &str)> = self
            .nodes
            .iter()
            .enumerate()
            .filter_map(|(i, n)| match n.part {
                Some(Part::HttpApi) => Some((i, "tcp 443")),
                Some(Part::Distribution) => Some((i, "tcp 443")),
                Some(Part::UserPool) => Some((i, "tcp 443 (sign-in)")),
                _ => None,
            })
            .collect();
        for (i, label) in entries {
            self.connect(0, i, label);
        }
    }
}

/// The tie drawn for a reference from a part to another, if any: its label,
/// and whether the arrow goes the other way.
fn tie(from: Part, to: Part) -> Option<(&'static str, bool)> {
    use Part::*;
    let compute = |p: Part| matches!(p, Service | Instances | Functions);
    Some(match (from, to) {
        (HttpApi, Functions) => ("invoke", false),
        (Distribution, Buckets) => ("https (origin access control)", false),
        (Distribution, HttpApi) => ("https (API paths)", false),
        (Distribution, Firewall) => ("filtered by", false),
        (Topics, Queues) => ("subscription", false),
        (Functions, Queues) => ("poll", true),
        (f, Topics) if compute(f) => ("publish", false),
        (f, Queues) if compute(f) => ("poll", true),
        (f, Secrets) if compute(f) => ("read secret", false),
        (f, UserPool) if compute(f) => ("verify tokens", false),
        (f, Tables) if compute(f) => ("tcp 443 (gateway endpoint)", false),
        (Service, Registry) => ("pull image", false),
        (f, Buckets) if compute(f) => ("runtime package", true),
        (Migration, Functions) => ("runs once per deploy", false),
        _ => return None,
    })
}

/// Export name -> (layer, logical id) of the resource its value names.
type Exports = BTreeMap<String, (Layer, String)>;

fn exports(docs: &[(Layer, Json)]) -> Exports {
    let mut out = BTreeMap::new();
    for (layer, doc) in docs {
        for output in doc["Outputs"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(_, o)| o)
        {
            let Some(name) = output["Export"]["Name"].as_str() else {
                continue;
            };
            if let Some(id) = referenced(&output["Value"]).into_iter().next() {
                out.insert(name.to_string(), (*layer, id));
            } else if let Some(id) = named_in(doc, &output["Value"]) {
                // An ARN built from a name (a secret's has a random suffix
                // otherwise): the resource of that name.
                out.insert(name.to_string(), (*layer, id));
            }
        }
    }
    out
}

/// The resource of `doc` whose `Name` ends the ARN `value` spells out.
fn named_in(doc: &Json, value: &Json) -> Option<String> {
    let arn = value["Fn::Sub"].as_str()?;
    doc["Resources"]
        .as_object()?
        .iter()
        .find(|(_, r)| {
            r["Properties"]["Name"].as_str().is_some_and(|name| {
                arn.ends_with(&format!(":{name}")) || arn.ends_with(&format!("/{name}"))
            })
        })
        .map(|(id, _)| id.clone())
}

/// Logical ids a value names directly (`Ref`, `Fn::GetAtt`, `${Id}` in a
/// `Fn::Sub`), in order.
fn referenced(value: &Json) -> Vec<String> {
    let mut out = Vec::new();
    walk(value, &mut |v| {
        if let Some(id) = v.get("Ref").and_then(Json::as_str) {
            out.push(id.to_string());
        }
        if let Some(id) = v.get("Fn::GetAtt").and_then(|a| a[0].as_str()) {
            out.push(id.to_string());
        }
        if let Some(text) = v
            .get("Fn::Sub")
            .and_then(|s| s.as_str().or_else(|| s[0].as_str()))
        {
            for piece in text.split("${").skip(1) {
                let id = piece.split(['}', '.']).next().unwrap_or_default();
                if !id.starts_with("AWS::") {
                    out.push(id.to_string());
                }
            }
        }
    });
    out
}

/// Every resource a value refers to, in its own template or, through an
/// import, in another layer.
fn references(value: &Json, layer: Layer, exports: &Exports) -> Vec<(Layer, String)> {
    let mut out: Vec<(Layer, String)> = referenced(value)
        .into_iter()
        .map(|id| (layer, id))
        .collect();
    walk(value, &mut |v| {
        if let Some(name) = v.get("Fn::ImportValue").and_then(Json::as_str) {
            if let Some(target) = exports.get(name) {
                out.push(target.clone());
            }
        }
    });
    out
}

fn walk<'v>(value: &'v Json, f: &mut dyn FnMut(&'v Json)) {
    f(value);
    match value {
        Json::Array(items) => items.iter().for_each(|i| walk(i, f)),
        Json::Object(map) => map.values().for_each(|v| walk(v, f)),
        _ => {}
    }
}

/// The resources that use security group `group` (of `layer`): they name
/// it, or import an export that names it.
fn members<'r, 't>(
    all: &'r [Resource<'t>],
    layer: Layer,
    group: &str,
    exports: &Exports,
) -> Vec<&'r Resource<'t>> {
    all.iter()
        .filter(|r| r.part != Part::SecurityGroups && r.part != Part::Vpc)
        .filter(|r| {
            references(&r.body["Properties"], r.layer, exports)
                .iter()
                .any(|(l, id)| *l == layer && id == group)
        })
        .collect()
}

fn port(rule: &Json) -> String {
    let number = |v: &Json| {
        v.as_u64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
    };
    match (number(&rule["FromPort"]), number(&rule["ToPort"])) {
        (Some(a), Some(b)) if a == b => format!("tcp {a}"),
        (Some(a), Some(b)) => format!("tcp {a}-{b}"),
        _ => "any".into(),
    }
}

fn of_type<'a>(members: &[&'a Resource], ty: &str) -> Vec<&'a Json> {
    members
        .iter()
        .filter(|r| r.body["Type"] == ty)
        .map(|r| &r.body["Properties"])
        .collect()
}

/// A box's title and detail line, from its resources.
fn describe(part: Part, members: &[&Resource], docs: &[(Layer, Json)]) -> (String, String) {
    let n = |ty: &str| of_type(members, ty).len();
    let count = |noun: &str, k: usize| {
        if k == 1 {
            format!("1 {noun}")
        } else {
            format!("{k} {noun}s")
        }
    };
    match part {
        Part::Domain => {
            let mut names: Vec<&str> = of_type(members, "AWS::Route53::RecordSet")
                .iter()
                .filter_map(|r| r["Name"].as_str())
                .collect();
            names.dedup();
            let detail = if names.is_empty() {
                "the distribution's certificate".to_string()
            } else {
                format!("{}: alias records and certificate", names.join(", "))
            };
            ("Route 53 and ACM".into(), detail)
        }
        Part::Firewall => (
            "WAF web ACL".into(),
            "rate per address; AWS managed rules".into(),
        ),
        Part::Distribution => (
            "CloudFront distribution".into(),
            "the one HTTPS URL: API paths to the API, the rest to the site".into(),
        ),
        Part::LoadBalancer => ("Application load balancer".into(), "public subnets".into()),
        Part::HttpApi => ("API Gateway HTTP API".into(), "managed, HTTPS".into()),
        Part::Service => fargate_services(members, docs),
        Part::Instances => {
            let lt = of_type(members, "AWS::EC2::LaunchTemplate");
            let kind = lt.first().map_or("?", |l| {
                l["LaunchTemplateData"]["InstanceType"]
                    .as_str()
                    .unwrap_or("?")
            });
            let patching = if n("AWS::SSM::Association") > 0 {
                "; SSM patching"
            } else {
                ""
            };
            (
                "EC2 autoscaling group".into(),
                format!("{kind}{patching}; {}", app_subnets(docs)),
            )
        }
        Part::Functions => {
            let k = n("AWS::Lambda::Function");
            let title = if k == 1 {
                "Lambda function".to_string()
            } else {
                format!("Lambda functions x{k}")
            };
            (title, format!("in the VPC; {}", app_subnets(docs)))
        }
        Part::Migration => (
            "Migration (custom resource)".into(),
            "once per deploy, before traffic".into(),
        ),
        Part::Topics => (
            "SNS topics".into(),
            count("topic", n("AWS::SNS::Topic")) + ", KMS-encrypted",
        ),
        Part::Queues => (
            "SQS queues".into(),
            format!(
                "{} with dead letters, KMS-encrypted",
                count("queue", n("AWS::SQS::Queue"))
            ),
        ),
        Part::UserPool => (
            "Cognito user pool".into(),
            "sign-up, sign-in, tokens".into(),
        ),
        Part::Database => database(members),
        Part::Tables => {
            let tables = of_type(members, "AWS::DynamoDB::Table");
            let gsis: usize = tables
                .iter()
                .map(|t| t["GlobalSecondaryIndexes"].as_array().map_or(0, Vec::len))
                .sum();
            (
                "DynamoDB".into(),
                format!("{} tables, {gsis} GSIs, KMS", tables.len()),
            )
        }
        Part::Secrets => (
            "Secrets Manager".into(),
            format!(
                "{} (generated database credentials)",
                count("secret", n("AWS::SecretsManager::Secret"))
            ),
        ),
        Part::Buckets => (
            "S3 buckets".into(),
            format!("{}, private, KMS", count("bucket", n("AWS::S3::Bucket"))),
        ),
        Part::Registry => ("ECR repository".into(), "the runtime image".into()),
        Part::Vpc => (
            "VPC".into(),
            format!(
                "{}; {}",
                count("subnet", n("AWS::EC2::Subnet")),
                app_subnets(docs)
            ),
        ),
        Part::Nat => (
            format!("NAT gateway x{}", n("AWS::EC2::NatGateway")),
            "egress for private compute".into(),
        ),
        Part::Endpoints => {
            let names: Vec<&str> = of_type(members, "AWS::EC2::VPCEndpoint")
                .iter()
                .filter_map(|e| e["ServiceName"]["Fn::Sub"].as_str())
                .map(|s| s.rsplit('.').next().unwrap_or(s))
                .collect();
            ("VPC endpoints".into(), names.join(", "))
        }
        Part::SecurityGroups => (
            "Security groups".into(),
            format!(
                "{}; the ports on the arrows",
                count("group", n("AWS::EC2::SecurityGroup"))
            ),
        ),
        Part::FlowLogs => (
            "VPC flow logs".into(),
            "every connection, to CloudWatch Logs".into(),
        ),
        Part::Key => (
            "KMS key".into(),
            "encrypts logs, data, secrets, images".into(),
        ),
        Part::Logs => (
            "CloudWatch log groups".into(),
            count("group", n("AWS::Logs::LogGroup")) + ", KMS",
        ),
        Part::Roles => (
            "IAM roles".into(),
            format!(
                "{}, with the permissions boundary",
                count("role", n("AWS::IAM::Role"))
            ),
        ),
    }
}

fn app_subnets(docs: &[(Layer, Json)]) -> String {
    let subnets = docs
        .iter()
        .filter(|(l, _)| *l == Layer::Network)
        .flat_map(|(_, d)| d["Resources"].as_object().into_iter().flatten())
        .filter(|(_, r)| r["Type"] == "AWS::EC2::Subnet")
        .count();
    format!("app subnets x{}", subnets / 3)
}

fn database(members: &[&Resource]) -> (String, String) {
    if let Some(c) = of_type(members, "AWS::Redshift::Cluster").first() {
        return (
            "Redshift cluster".into(),
            format!("{}, KMS-encrypted", c["NodeType"].as_str().unwrap_or("?")),
        );
    }
    let instances = of_type(members, "AWS::RDS::DBInstance");
    if let Some(c) = of_type(members, "AWS::RDS::DBCluster").first() {
        let engine = engine_name(c["Engine"].as_str().unwrap_or("?"));
        return (
            engine,
            format!("{} instance(s), encrypted", instances.len()),
        );
    }
    let i = instances.first().copied().unwrap_or(&Json::Null);
    let multi = if i["MultiAZ"] == true {
        "Multi-AZ"
    } else {
        "single-AZ"
    };
    (
        engine_name(i["Engine"].as_str().unwrap_or("?")),
        format!("{multi}, encrypted"),
    )
}

fn engine_name(engine: &str) -> String {
    match engine {
        "postgres" => "RDS PostgreSQL",
        "mysql" => "RDS MySQL",
        "aurora-postgresql" => "Aurora PostgreSQL",
        "aurora-mysql" => "Aurora MySQL",
        other => other,
    }
    .to_string()
}

/// The ECS services' box: the runtime's task, and each service's.
fn fargate_services(members: &[&Resource], docs: &[(Layer, Json)]) -> (String, String) {
    let tds = of_type(members, "AWS::ECS::TaskDefinition");
    let td = tds.first().copied().unwrap_or(&Json::Null);
    // The runtime's family is the prefix; a service's, PREFIX-NAME.
    let runtime = td["Family"].as_str().unwrap_or_default();
    let services: Vec<&str> = tds
        .iter()
        .filter_map(|t| {
            t["Family"]
                .as_str()?
                .strip_prefix(runtime)?
                .strip_prefix('-')
        })
        .collect();
    let title = match services.len() {
        0 => "ECS Fargate service".to_string(),
        k => format!("ECS Fargate services x{}", k + 1),
    };
    let mut detail = format!(
        "{} CPU, {} MiB; {}",
        td["Cpu"].as_str().unwrap_or("?"),
        td["Memory"].as_str().unwrap_or("?"),
        app_subnets(docs)
    );
    if !services.is_empty() {
        detail = format!("the runtime and {}; {detail}", services.join(", "));
    }
    (title, detail)
}
