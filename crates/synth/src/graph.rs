//! `stackwright graph`: the architecture as an SVG, read from the synthesized
//! templates themselves (resources, and ports from the security-group rules),
//! so the picture cannot disagree with what would be deployed.

use std::fmt::Write as _;

use serde_json::Value as Json;

use crate::cfn::{Layer, Template};

/// A box in the picture.
struct Node {
    id: &'static str,
    title: String,
    detail: String,
    column: usize,
    row: usize,
}

/// An arrow: from, to, label.
struct Edge {
    from: &'static str,
    to: &'static str,
    label: String,
}

fn layer(templates: &[Template], layer: Layer) -> Json {
    templates
        .iter()
        .find(|t| t.layer == layer)
        .map(Template::to_json)
        .unwrap_or(Json::Null)
}

fn of_type<'a>(t: &'a Json, ty: &'a str) -> Vec<(&'a String, &'a Json)> {
    t["Resources"]
        .as_object()
        .map(|m| m.iter().filter(|(_, r)| r["Type"] == ty).collect())
        .unwrap_or_default()
}

fn has(t: &Json, id: &str) -> bool {
    t["Resources"].get(id).is_some()
}

fn port(rule: &Json) -> String {
    match (rule["FromPort"].as_u64(), rule["ToPort"].as_u64()) {
        (Some(a), Some(b)) if a == b => format!("tcp {a}"),
        (Some(a), Some(b)) => format!("tcp {a}-{b}"),
        _ => "any".into(),
    }
}

/// The SVG for one environment's templates.
pub fn svg(title: &str, templates: &[Template]) -> String {
    let network = layer(templates, Layer::Network);
    let data = layer(templates, Layer::Data);
    let app = layer(templates, Layer::App);
    let mut nodes = vec![Node {
        id: "internet",
        title: "Internet".into(),
        detail: "clients".into(),
        column: 0,
        row: 1,
    }];
    let mut edges = Vec::new();

    // Entry: a load balancer (ports from its security group) or an HTTP API.
    if has(&app, "LoadBalancer") {
        let ports: Vec<String> = network["Resources"]["LoadBalancerSecurityGroup"]["Properties"]
            ["SecurityGroupIngress"]
            .as_array()
            .into_iter()
            .flatten()
            .map(port)
            .collect();
        nodes.push(Node {
            id: "entry",
            title: "Application load balancer".into(),
            detail: "public subnets".into(),
            column: 1,
            row: 1,
        });
        edges.push(Edge {
            from: "internet",
            to: "entry",
            label: ports.join(", "),
        });
        let app_port = port(&network["Resources"]["AppFromLoadBalancer"]["Properties"]);
        edges.push(Edge {
            from: "entry",
            to: "compute",
            label: app_port,
        });
    } else if has(&app, "HttpApi") {
        nodes.push(Node {
            id: "entry",
            title: "API Gateway HTTP API".into(),
            detail: "managed, HTTPS".into(),
            column: 1,
            row: 1,
        });
        edges.push(Edge {
            from: "internet",
            to: "entry",
            label: "tcp 443".into(),
        });
        edges.push(Edge {
            from: "entry",
            to: "compute",
            label: "invoke".into(),
        });
    }

    let subnets = of_type(&network, "AWS::EC2::Subnet").len() / 3;
    let (compute, detail) = if has(&app, "Service") {
        let td = &app["Resources"]["TaskDefinition"]["Properties"];
        (
            "ECS Fargate service".to_string(),
            format!(
                "{} CPU, {} MiB; app subnets x{subnets}",
                td["Cpu"].as_str().unwrap_or("?"),
                td["Memory"].as_str().unwrap_or("?")
            ),
        )
    } else if has(&app, "AutoScalingGroup") {
        let lt = &app["Resources"]["LaunchTemplate"]["Properties"]["LaunchTemplateData"];
        (
            "EC2 autoscaling group".to_string(),
            format!(
                "{}; SSM patching; app subnets x{subnets}",
                lt["InstanceType"].as_str().unwrap_or("?")
            ),
        )
    } else {
        (
            "Lambda function".to_string(),
            format!("in the VPC; app subnets x{subnets}"),
        )
    };
    nodes.push(Node {
        id: "compute",
        title: compute,
        detail,
        column: 2,
        row: 1,
    });
    if has(&app, "Migrate") {
        nodes.push(Node {
            id: "migrate",
            title: "Migration (custom resource)".into(),
            detail: "once per deploy, before traffic".into(),
            column: 2,
            row: 2,
        });
    }

    // Data: from the data template's resources; the port from the database's group.
    let db_rule = &network["Resources"]["DataFromApp"]["Properties"];
    let database = if !of_type(&data, "AWS::DynamoDB::Table").is_empty() {
        let tables = of_type(&data, "AWS::DynamoDB::Table");
        let gsis: usize = tables
            .iter()
            .map(|(_, t)| {
                t["Properties"]["GlobalSecondaryIndexes"]
                    .as_array()
                    .map_or(0, Vec::len)
            })
            .sum();
        Some((
            "DynamoDB".to_string(),
            format!("{} tables, {gsis} GSIs, KMS", tables.len()),
            "tcp 443 (gateway endpoint)".to_string(),
        ))
    } else if let Some((_, c)) = of_type(&data, "AWS::Redshift::Cluster").first() {
        Some((
            "Redshift cluster".to_string(),
            format!(
                "{}, KMS-encrypted",
                c["Properties"]["NodeType"].as_str().unwrap_or("?")
            ),
            port(db_rule),
        ))
    } else if let Some((_, c)) = of_type(&data, "AWS::RDS::DBCluster").first() {
        let n = of_type(&data, "AWS::RDS::DBInstance").len();
        Some((
            engine_name(c["Properties"]["Engine"].as_str().unwrap_or("?")),
            format!("{n} instance(s), encrypted"),
            port(db_rule),
        ))
    } else if let Some((_, i)) = of_type(&data, "AWS::RDS::DBInstance").first() {
        let multi = if i["Properties"]["MultiAZ"] == true {
            "Multi-AZ"
        } else {
            "single-AZ"
        };
        Some((
            engine_name(i["Properties"]["Engine"].as_str().unwrap_or("?")),
            format!("{multi}, encrypted"),
            port(db_rule),
        ))
    } else {
        None
    };
    if let Some((title, detail, label)) = database {
        nodes.push(Node {
            id: "database",
            title,
            detail,
            column: 3,
            row: 1,
        });
        edges.push(Edge {
            from: "compute",
            to: "database",
            label: label.clone(),
        });
        if has(&app, "Migrate") {
            edges.push(Edge {
                from: "migrate",
                to: "database",
                label,
            });
        }
    }
    if has(&data, "DatabaseSecret") {
        nodes.push(Node {
            id: "secret",
            title: "Secrets Manager".into(),
            detail: "generated database password".into(),
            column: 3,
            row: 0,
        });
        edges.push(Edge {
            from: "compute",
            to: "secret",
            label: "tcp 443".into(),
        });
    }
    let nats = of_type(&network, "AWS::EC2::NatGateway").len();
    if nats > 0 {
        nodes.push(Node {
            id: "nat",
            title: format!("NAT gateway x{nats}"),
            detail: "egress for private compute".into(),
            column: 1,
            row: 0,
        });
        edges.push(Edge {
            from: "compute",
            to: "nat",
            label: "tcp 443".into(),
        });
    }
    let endpoints: Vec<String> = of_type(&network, "AWS::EC2::VPCEndpoint")
        .iter()
        .filter_map(|(_, e)| e["Properties"]["ServiceName"]["Fn::Sub"].as_str())
        .map(|s| s.rsplit('.').next().unwrap_or(s).to_string())
        .collect();
    nodes.push(Node {
        id: "endpoints",
        title: "VPC endpoints".into(),
        detail: endpoints.join(", "),
        column: 2,
        row: 0,
    });
    // A managed HTTP API lives outside the VPC; a load balancer inside it.
    let vpc_from_column = if has(&app, "HttpApi") { 2 } else { 1 };
    render(title, &nodes, &edges, vpc_from_column)
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

const W: usize = 230;
const H: usize = 64;
const GAP_X: usize = 70;
const GAP_Y: usize = 46;
const MARGIN: usize = 30;
const TOP: usize = 70;

fn position(n: &Node) -> (usize, usize) {
    (MARGIN + n.column * (W + GAP_X), TOP + n.row * (H + GAP_Y))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn render(title: &str, nodes: &[Node], edges: &[Edge], vpc_from_column: usize) -> String {
    let width = MARGIN * 2 + 4 * W + 3 * GAP_X;
    let height = TOP + 3 * (H + GAP_Y) + MARGIN;
    let mut s = String::new();
    let _ = write!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">
<title>{t}</title>
<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#444"/></marker></defs>
<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>
<text x="{MARGIN}" y="30" font-size="16" font-weight="bold">{t}</text>
"##,
        t = escape(title)
    );
    // The VPC holds everything but the internet and the managed API.
    let vpc_x = MARGIN + vpc_from_column * (W + GAP_X) - GAP_X / 2;
    let _ = writeln!(
        s,
        r##"<rect x="{vpc_x}" y="{}" width="{}" height="{}" fill="none" stroke="#2a7" stroke-dasharray="6 4" rx="8"/><text x="{}" y="{}" fill="#2a7">VPC</text>"##,
        TOP - 24,
        width - vpc_x - MARGIN / 2,
        height - TOP,
        vpc_x + 8,
        TOP - 8
    );
    let find = |id: &str| nodes.iter().find(|n| n.id == id);
    for e in edges {
        let (Some(a), Some(b)) = (find(e.from), find(e.to)) else {
            continue;
        };
        let ((ax, ay), (bx, by)) = (position(a), position(b));
        let (x1, y1, x2, y2) = if a.column == b.column {
            let (y1, y2) = if ay < by { (ay + H, by) } else { (ay, by + H) };
            (ax + W / 2, y1, bx + W / 2, y2)
        } else if a.column < b.column {
            (ax + W, ay + H / 2, bx, by + H / 2)
        } else {
            (ax, ay + H / 2, bx + W, by + H / 2)
        };
        let _ = writeln!(
            s,
            r##"<line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" stroke="#444" stroke-width="1.5" marker-end="url(#arrow)"/><text x="{}" y="{}" text-anchor="middle" fill="#a33">{}</text>"##,
            (x1 + x2) / 2,
            (y1 + y2) / 2 - 6,
            escape(&e.label)
        );
    }
    for n in nodes {
        let (x, y) = position(n);
        let _ = writeln!(
            s,
            r##"<g><rect x="{x}" y="{y}" width="{W}" height="{H}" rx="6" fill="#eef4fb" stroke="#357"/><text x="{}" y="{}" text-anchor="middle" font-weight="bold">{}</text><text x="{}" y="{}" text-anchor="middle" fill="#555">{}</text></g>"##,
            x + W / 2,
            y + 26,
            escape(&n.title),
            x + W / 2,
            y + 46,
            escape(&n.detail)
        );
    }
    s.push_str("</svg>\n");
    s
}
