//! The data layer: the database the stack's `[database] engine` (or the
//! environment's `database`) names, its generated secret, and its subnet group.

use serde_json::{json, Value as Json};
use stackwright_stack::{CloudEngine, ColumnType, Stack};

use crate::cfn::{att, r, sub, Layer, Template};
use crate::iam::{assume, managed};
use crate::outputs::Output;
use crate::{db_port, Settings};

/// The master user of SQL databases; the password is generated. Only the
/// migration connects as it.
pub const DB_USER: &str = "stackwright";
/// The runtime's own user: rows only, no DDL (made by the migration).
pub const APP_DB_USER: &str = "stackwright_app";

/// The exports naming the master user's secret and the runtime user's.
pub const SECRET_EXPORT: Output = Output::DatabaseSecretArn;
pub const APP_SECRET_EXPORT: Output = Output::AppDatabaseSecretArn;

/// Whether the runtime connects as its own user ([`APP_DB_USER`]) rather
/// than the master user. Redshift keeps the master user until it has a
/// dialect of its own; DynamoDB has no database users (IAM scopes it).
pub fn has_app_user(engine: CloudEngine) -> bool {
    matches!(
        engine,
        CloudEngine::Postgres
            | CloudEngine::AuroraPostgres
            | CloudEngine::Mysql
            | CloudEngine::AuroraMysql
    )
}

/// The export naming the secret of the user the runtime connects as.
pub fn runtime_user(engine: CloudEngine) -> &'static str {
    if has_app_user(engine) {
        APP_DB_USER
    } else {
        DB_USER
    }
}

pub fn runtime_secret_export(engine: CloudEngine) -> Output {
    if has_app_user(engine) {
        APP_SECRET_EXPORT
    } else {
        SECRET_EXPORT
    }
}
/// The database (schema) the stack's tables live in.
pub const DB_NAME: &str = "app";

pub fn template(stack: &Stack, s: &Settings) -> Template {
    let prefix = s.prefix(stack);
    let mut t = Template::new(
        Layer::Data,
        format!("Stackwright {prefix}: data ({})", engine_label(s.database)),
    );
    let key = Output::KeyArn.import(&prefix);
    // Production keeps a final snapshot (or the table) when the stack goes.
    let keep = if s.production { "Snapshot" } else { "Delete" };

    crate::users::add(&mut t, stack, s, &prefix);
    if s.database == CloudEngine::Dynamodb {
        dynamodb_tables(&mut t, stack, s, &prefix, key);
        return t;
    }

    secrets(&mut t, s, &prefix, &key);
    let db = Common {
        user: sub("{{resolve:secretsmanager:${DatabaseSecret}:SecretString:username}}"),
        password: sub("{{resolve:secretsmanager:${DatabaseSecret}:SecretString:password}}"),
        security_groups: json!([Output::DataSecurityGroup.import(&prefix)]),
        key,
        backups: if s.production { 14 } else { 1 },
        keep,
    };
    let (endpoint, port, target_id, target_type) = match s.database {
        CloudEngine::Postgres | CloudEngine::Mysql => rds_instance(&mut t, s, &prefix, &db),
        CloudEngine::AuroraPostgres | CloudEngine::AuroraMysql => {
            aurora_cluster(&mut t, s, &prefix, &db)
        }
        CloudEngine::Redshift => redshift_cluster(&mut t, s, &prefix, &db),
        CloudEngine::Dynamodb => unreachable!("handled above"),
    };
    // Adds host and port to the secret, and ties its rotation to the database.
    t.add(
        "DatabaseSecretAttachment",
        "AWS::SecretsManager::SecretTargetAttachment",
        json!({ "SecretId": r("DatabaseSecret"), "TargetId": r(target_id), "TargetType": target_type }),
    );
    t.output(
        Output::DatabaseHost.name(),
        "Database endpoint",
        endpoint,
        Some(Output::DatabaseHost.export(&prefix)),
    );
    t.output(
        Output::DatabasePort.name(),
        "Database port",
        port,
        Some(Output::DatabasePort.export(&prefix)),
    );
    // The partial ARN (by name): ECS, IAM and GetSecretValue accept it, and
    // it does not depend on the random suffix of the full ARN.
    t.output(
        SECRET_EXPORT.name(),
        "Secret holding the database credentials (ARN, not the value)",
        sub(&format!("arn:${{AWS::Partition}}:secretsmanager:${{AWS::Region}}:${{AWS::AccountId}}:secret:{prefix}/database")),
        Some(SECRET_EXPORT.export(&prefix)),
    );
    let _ = db_port(s.database);
    t
}

/// What every engine's database gets alike.
struct Common {
    user: Json,
    password: Json,
    security_groups: Json,
    key: Json,
    backups: u32,
    /// The deletion policy: production keeps a final snapshot.
    keep: &'static str,
}

/// Address, port, and the resource the secret is attached to (id, type).
type Endpoint = (Json, Json, &'static str, &'static str);

/// RDS PostgreSQL or MySQL: one instance (Multi-AZ in production).
fn rds_instance(t: &mut Template, s: &Settings, prefix: &str, c: &Common) -> Endpoint {
    subnet_group(t, prefix);
    monitoring_role(t);
    let (engine, logs) = if s.database == CloudEngine::Postgres {
        ("postgres", json!(["postgresql", "upgrade"]))
    } else {
        ("mysql", json!(["error", "general", "slowquery", "audit"]))
    };
    let db = t.add(
        "Database",
        "AWS::RDS::DBInstance",
        json!({
            "Engine": engine,
            "DBInstanceClass": s.db_instance_class,
            "AllocatedStorage": s.db_storage_gb.to_string(),
            "StorageType": "gp3",
            "StorageEncrypted": true,
            "KmsKeyId": c.key,
            "DBName": DB_NAME,
            "MasterUsername": c.user,
            "MasterUserPassword": c.password,
            "DBSubnetGroupName": r("DatabaseSubnetGroup"),
            "VPCSecurityGroups": c.security_groups,
            "MultiAZ": s.multi_az,
            "PubliclyAccessible": false,
            "DeletionProtection": s.deletion_protection,
            "BackupRetentionPeriod": c.backups,
            "CopyTagsToSnapshot": true,
            "AutoMinorVersionUpgrade": true,
            "EnableIAMDatabaseAuthentication": true,
            "EnableCloudwatchLogsExports": logs,
            "MonitoringInterval": 60,
            "MonitoringRoleArn": att("MonitoringRole", "Arn")
        }),
    );
    db["DeletionPolicy"] = json!(c.keep);
    db["UpdateReplacePolicy"] = json!(c.keep);
    (
        att("Database", "Endpoint.Address"),
        att("Database", "Endpoint.Port"),
        "Database",
        "AWS::RDS::DBInstance",
    )
}

/// Aurora: a cluster with a writer (and a reader when Multi-AZ).
fn aurora_cluster(t: &mut Template, s: &Settings, prefix: &str, c: &Common) -> Endpoint {
    subnet_group(t, prefix);
    monitoring_role(t);
    let (engine, logs) = if s.database == CloudEngine::AuroraPostgres {
        ("aurora-postgresql", json!(["postgresql"]))
    } else {
        (
            "aurora-mysql",
            json!(["audit", "error", "general", "slowquery"]),
        )
    };
    let cluster = t.add(
        "DatabaseCluster",
        "AWS::RDS::DBCluster",
        json!({
            "Engine": engine,
            "DatabaseName": DB_NAME,
            "MasterUsername": c.user,
            "MasterUserPassword": c.password,
            "DBSubnetGroupName": r("DatabaseSubnetGroup"),
            "VpcSecurityGroupIds": c.security_groups,
            "StorageEncrypted": true,
            "KmsKeyId": c.key,
            "DeletionProtection": s.deletion_protection,
            "BackupRetentionPeriod": c.backups,
            "CopyTagsToSnapshot": true,
            "EnableIAMDatabaseAuthentication": true,
            "EnableCloudwatchLogsExports": logs
        }),
    );
    cluster["DeletionPolicy"] = json!(c.keep);
    cluster["UpdateReplacePolicy"] = json!(c.keep);
    // Multi-AZ: a writer and a reader in different AZs.
    let instances = if s.multi_az { 2 } else { 1 };
    for i in 0..instances {
        t.add(
            &format!("DatabaseInstance{i}"),
            "AWS::RDS::DBInstance",
            json!({
                "Engine": engine,
                "DBClusterIdentifier": r("DatabaseCluster"),
                "DBInstanceClass": s.db_instance_class,
                "PubliclyAccessible": false,
                "AutoMinorVersionUpgrade": true,
                "MonitoringInterval": 60,
                "MonitoringRoleArn": att("MonitoringRole", "Arn")
            }),
        );
    }
    (
        att("DatabaseCluster", "Endpoint.Address"),
        att("DatabaseCluster", "Endpoint.Port"),
        "DatabaseCluster",
        "AWS::RDS::DBCluster",
    )
}

/// Redshift: a cluster in the private data subnets, TLS only.
fn redshift_cluster(t: &mut Template, s: &Settings, prefix: &str, c: &Common) -> Endpoint {
    t.add(
        "DatabaseSubnetGroup",
        "AWS::Redshift::ClusterSubnetGroup",
        json!({
            "Description": format!("{prefix}: private data subnets"),
            "SubnetIds": Output::DataSubnets.import_list(prefix)
        }),
    );
    t.add(
        "DatabaseParameters",
        "AWS::Redshift::ClusterParameterGroup",
        json!({
            "Description": format!("{prefix}: TLS only, activity logged"),
            "ParameterGroupFamily": "redshift-1.0",
            "Parameters": [
                { "ParameterName": "require_ssl", "ParameterValue": "true" },
                { "ParameterName": "enable_user_activity_logging", "ParameterValue": "true" }
            ]
        }),
    );
    let nodes = if s.multi_az {
        json!({ "ClusterType": "multi-node", "NumberOfNodes": 2 })
    } else {
        json!({ "ClusterType": "single-node" })
    };
    let mut props = json!({
        "NodeType": s.db_instance_class,
        "DBName": DB_NAME,
        "MasterUsername": c.user,
        "MasterUserPassword": c.password,
        "Encrypted": true,
        "KmsKeyId": c.key,
        "PubliclyAccessible": false,
        "EnhancedVpcRouting": true,
        "AllowVersionUpgrade": true,
        "AutomatedSnapshotRetentionPeriod": c.backups,
        "ClusterSubnetGroupName": r("DatabaseSubnetGroup"),
        "ClusterParameterGroupName": r("DatabaseParameters"),
        "VpcSecurityGroupIds": c.security_groups,
        "LoggingProperties": {
            "LogDestinationType": "cloudwatch",
            "LogExports": ["connectionlog", "userlog", "useractivitylog"]
        }
    });
    for (k, v) in nodes.as_object().expect("object") {
        props[k] = v.clone();
    }
    let cluster = t.add("DatabaseCluster", "AWS::Redshift::Cluster", props);
    cluster["DeletionPolicy"] = json!(c.keep);
    cluster["UpdateReplacePolicy"] = json!(c.keep);
    (
        att("DatabaseCluster", "Endpoint.Address"),
        att("DatabaseCluster", "Endpoint.Port"),
        "DatabaseCluster",
        "AWS::Redshift::Cluster",
    )
}

fn engine_label(e: CloudEngine) -> &'static str {
    match e {
        CloudEngine::Postgres => "RDS PostgreSQL",
        CloudEngine::Mysql => "RDS MySQL",
        CloudEngine::AuroraPostgres => "Aurora PostgreSQL",
        CloudEngine::AuroraMysql => "Aurora MySQL",
        CloudEngine::Dynamodb => "DynamoDB",
        CloudEngine::Redshift => "Redshift",
    }
}

fn subnet_group(t: &mut Template, prefix: &str) {
    t.add(
        "DatabaseSubnetGroup",
        "AWS::RDS::DBSubnetGroup",
        json!({
            "DBSubnetGroupDescription": format!("{prefix}: private data subnets"),
            "SubnetIds": Output::DataSubnets.import_list(prefix)
        }),
    );
}

fn monitoring_role(t: &mut Template) {
    t.add(
        "MonitoringRole",
        "AWS::IAM::Role",
        json!({
            "AssumeRolePolicyDocument": assume("monitoring.rds.amazonaws.com"),
            "ManagedPolicyArns": [managed("service-role/AmazonRDSEnhancedMonitoringRole")]
        }),
    );
}

/// The generated credentials: the master user's (the migration's), and the
/// runtime's own user's where it has one. Their values never appear in a
/// template: the database resolves them from Secrets Manager.
fn secrets(t: &mut Template, s: &Settings, prefix: &str, key: &Json) {
    let generated = |id: &str, name: String, description: String, user: &str| {
        (
            id.to_string(),
            json!({
                "Name": name,
                "Description": description,
                "KmsKeyId": key.clone(),
                "GenerateSecretString": {
                    "SecretStringTemplate": format!("{{\"username\":\"{user}\"}}"),
                    "GenerateStringKey": "password",
                    "PasswordLength": 32,
                    "ExcludeCharacters": "\"@/\\'` "
                }
            }),
        )
    };
    let (id, props) = generated(
        "DatabaseSecret",
        format!("{prefix}/database"),
        format!("{prefix}: database master credentials (generated)"),
        DB_USER,
    );
    t.add(&id, "AWS::SecretsManager::Secret", props);
    if has_app_user(s.database) {
        let (id, props) = generated(
            "AppDatabaseSecret",
            format!("{prefix}/database-app"),
            format!("{prefix}: the runtime's database user, rows only (generated; made by the migration)"),
            APP_DB_USER,
        );
        t.add(&id, "AWS::SecretsManager::Secret", props);
        t.output(
            APP_SECRET_EXPORT.name(),
            "Secret holding the runtime's database credentials (ARN, not the value)",
            sub(&format!("arn:${{AWS::Partition}}:secretsmanager:${{AWS::Region}}:${{AWS::AccountId}}:secret:{prefix}/database-app")),
            Some(APP_SECRET_EXPORT.export(prefix)),
        );
    }
}

/// The table Stackwright keeps its own records in (migrations, seed rows).
const RECORDS_TABLE: &str = "_stackwright";

/// Every DynamoDB table of the stack, by its name in AWS.
pub fn dynamodb_table_names(stack: &Stack, prefix: &str) -> Vec<String> {
    stack
        .tables
        .keys()
        .map(String::as_str)
        .chain([RECORDS_TABLE])
        .map(|name| format!("{prefix}-{name}"))
        .collect()
}

/// One DynamoDB table per stack table (GSIs for its indexes), plus the
/// table Stackwright keeps its own records in.
fn dynamodb_tables(t: &mut Template, stack: &Stack, s: &Settings, prefix: &str, key: Json) {
    let keep = if s.production { "Retain" } else { "Delete" };
    let attr_type = |ty: ColumnType| {
        if matches!(
            ty,
            ColumnType::Integer | ColumnType::BigInt | ColumnType::Float
        ) {
            "N"
        } else {
            "S"
        }
    };
    let mut tables: Vec<(String, String, Json, Json, Json)> = Vec::new();
    for table in stack.tables.values() {
        let mut attrs = vec![
            json!({ "AttributeName": table.key, "AttributeType": attr_type(table.key_column().ty) }),
        ];
        let mut gsis = Vec::new();
        for (name, index) in &table.indexes {
            let mut schema = Vec::new();
            for (pos, c) in index.columns.iter().enumerate() {
                if !attrs.iter().any(|a| a["AttributeName"] == json!(c)) {
                    attrs.push(json!({ "AttributeName": c, "AttributeType": attr_type(table.columns[c].ty) }));
                }
                schema.push(json!({ "AttributeName": c, "KeyType": if pos == 0 { "HASH" } else { "RANGE" } }));
            }
            gsis.push(json!({
                "IndexName": format!("{}__{name}", table.name),
                "KeySchema": schema,
                "Projection": { "ProjectionType": "ALL" }
            }));
        }
        tables.push((
            logical_id(&table.name),
            table.name.clone(),
            json!(attrs),
            json!([{ "AttributeName": table.key, "KeyType": "HASH" }]),
            json!(gsis),
        ));
    }
    tables.push((
        "StackwrightRecords".into(),
        RECORDS_TABLE.into(),
        json!([{ "AttributeName": "id", "AttributeType": "S" }]),
        json!([{ "AttributeName": "id", "KeyType": "HASH" }]),
        json!([]),
    ));
    for (id, name, attrs, schema, gsis) in tables {
        let mut props = json!({
            "TableName": format!("{prefix}-{name}"),
            "AttributeDefinitions": attrs,
            "KeySchema": schema,
            "BillingMode": "PAY_PER_REQUEST",
            "PointInTimeRecoverySpecification": { "PointInTimeRecoveryEnabled": true },
            "SSESpecification": { "SSEEnabled": true, "SSEType": "KMS", "KMSMasterKeyId": key.clone() },
            "DeletionProtectionEnabled": s.deletion_protection
        });
        if gsis.as_array().is_some_and(|g| !g.is_empty()) {
            props["GlobalSecondaryIndexes"] = gsis;
        }
        let table = t.add(&id, "AWS::DynamoDB::Table", props);
        table["DeletionPolicy"] = json!(keep);
        table["UpdateReplacePolicy"] = json!(keep);
    }
    t.output(
        Output::TablePrefix.name(),
        "Prefix of the stack's DynamoDB table names",
        json!(format!("{prefix}-")),
        Some(Output::TablePrefix.export(prefix)),
    );
}

/// A CloudFormation logical id from a table name: `Table` + CamelCase.
fn logical_id(name: &str) -> String {
    let mut id = String::from("Table");
    let mut upper = true;
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            id.push(if upper { c.to_ascii_uppercase() } else { c });
            upper = false;
        } else {
            upper = true;
        }
    }
    id
}
