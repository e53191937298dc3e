//! A thin layer over CloudFormation JSON: templates as ordered maps (so
//! output is byte-identical across runs) and the intrinsic functions.

use indexmap::IndexMap;
use serde::Serialize;
use serde_json::{json, Value as Json};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Layer {
    /// In us-east-1, when the environment is elsewhere: what CloudFront
    /// needs from that region (the web ACL).
    Global,
    Network,
    Artifacts,
    Data,
    App,
    /// The one HTTPS origin: CloudFront in front of the site and the API.
    Edge,
    /// Not an environment's layer: the region's bootstrap stack (the
    /// permissions boundary), shared by every stack there.
    Bootstrap,
}

impl Layer {
    /// Deployment order; deletion goes the other way.
    pub const ALL: [Layer; 6] = [
        Layer::Global,
        Layer::Network,
        Layer::Artifacts,
        Layer::Data,
        Layer::App,
        Layer::Edge,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Layer::Global => "global",
            Layer::Network => "network",
            Layer::Artifacts => "artifacts",
            Layer::Data => "data",
            Layer::App => "app",
            Layer::Edge => "edge",
            Layer::Bootstrap => "bootstrap",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Template {
    pub layer: Layer,
    pub description: String,
    pub parameters: IndexMap<String, Json>,
    pub conditions: IndexMap<String, Json>,
    pub resources: IndexMap<String, Json>,
    pub outputs: IndexMap<String, Json>,
}

impl Template {
    pub fn new(layer: Layer, description: impl Into<String>) -> Self {
        Template {
            layer,
            description: description.into(),
            parameters: IndexMap::new(),
            conditions: IndexMap::new(),
            resources: IndexMap::new(),
            outputs: IndexMap::new(),
        }
    }

    /// Add a resource; `props` are its Properties. Every role carries the
    /// permissions boundary, here, so no role can be made without it.
    pub fn add(&mut self, id: &str, ty: &str, mut props: Json) -> &mut Json {
        if ty == "AWS::IAM::Role" {
            props["PermissionsBoundary"] = boundary_arn();
        }
        let mut r = json!({ "Type": ty, "Properties": props });
        if props_is_empty(&r) {
            r.as_object_mut().expect("object").remove("Properties");
        }
        self.resources.insert(id.to_string(), r);
        self.resources.get_mut(id).expect("just inserted")
    }

    /// An output, exported under `export` when given.
    pub fn output(&mut self, id: &str, description: &str, value: Json, export: Option<String>) {
        let mut o = json!({ "Description": description, "Value": value });
        if let Some(name) = export {
            o["Export"] = json!({ "Name": name });
        }
        self.outputs.insert(id.to_string(), o);
    }

    pub fn to_json(&self) -> Json {
        let mut t = serde_json::Map::new();
        t.insert("AWSTemplateFormatVersion".into(), json!("2010-09-09"));
        t.insert("Description".into(), json!(self.description));
        if !self.parameters.is_empty() {
            t.insert("Parameters".into(), json!(self.parameters));
        }
        if !self.conditions.is_empty() {
            t.insert("Conditions".into(), json!(self.conditions));
        }
        t.insert("Resources".into(), json!(self.resources));
        if !self.outputs.is_empty() {
            t.insert("Outputs".into(), json!(self.outputs));
        }
        Json::Object(t)
    }

    /// Pretty JSON with a final newline: the bytes written to disk.
    pub fn render(&self) -> String {
        let mut s = serde_json::to_string_pretty(&self.to_json()).expect("JSON renders");
        s.push('\n');
        s
    }
}

fn props_is_empty(r: &Json) -> bool {
    r["Properties"].as_object().is_some_and(|m| m.is_empty())
}

/// A logical id part from a stack name: `customers-clientes` ->
/// `CustomersClientes`.
pub fn logical(name: &str) -> String {
    name.split(['-', '_'])
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut c = p.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

pub fn r(id: &str) -> Json {
    json!({ "Ref": id })
}

pub fn att(id: &str, attribute: &str) -> Json {
    json!({ "Fn::GetAtt": [id, attribute] })
}

/// A resource policy statement refusing `action` on `resources` to any
/// request made without TLS.
pub fn tls_only(action: &str, resources: Json) -> Json {
    json!({
        "Sid": "TlsOnly",
        "Effect": "Deny",
        "Principal": "*",
        "Action": action,
        "Resource": resources,
        "Condition": { "Bool": { "aws:SecureTransport": "false" } }
    })
}

/// The bucket `id` of the same template and its objects, as a policy's
/// `Resource`.
pub fn bucket_and_objects(id: &str) -> Json {
    json!([att(id, "Arn"), sub(&format!("${{{id}.Arn}}/*"))])
}

pub fn sub(s: &str) -> Json {
    json!({ "Fn::Sub": s })
}

pub fn import(name: &str) -> Json {
    json!({ "Fn::ImportValue": name })
}

/// A comma-separated exported list, split back into a list.
pub fn import_list(name: &str) -> Json {
    json!({ "Fn::Split": [",", import(name)] })
}

pub fn join(sep: &str, parts: Vec<Json>) -> Json {
    json!({ "Fn::Join": [sep, parts] })
}

pub fn tags(pairs: &[(&str, &str)]) -> Json {
    Json::Array(
        pairs
            .iter()
            .map(|(k, v)| json!({ "Key": k, "Value": v }))
            .collect(),
    )
}

/// The permissions boundary's ARN inside a template (the bootstrap stack
/// of [`crate::iam`] makes the policy).
pub fn boundary_arn() -> Json {
    sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:policy/stackwright-boundary-${AWS::Region}")
}
