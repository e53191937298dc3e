//! CloudFormation mechanics of deploys (change sets, events, outputs,
//! teardown, failure reasons) against moto.

use std::time::Duration;

use serde_json::json;
use stackwright_deploy::{Action, Change, Cloud, DeployError, Replacement};

async fn cloud() -> (Cloud, aws_sdk_dynamodb::Client) {
    let (cloud, ddb, _) = cloud_and_cf().await;
    (cloud, ddb)
}

async fn cloud_and_cf() -> (
    Cloud,
    aws_sdk_dynamodb::Client,
    aws_sdk_cloudformation::Client,
) {
    let endpoint = crate::harness::ensure_moto().await;
    // A region of its own, so other tests' stacks are not in the way.
    let region = "ap-southeast-2";
    let credentials = aws_credential_types::Credentials::new("test", "test", None, None, "test");
    let cf = aws_sdk_cloudformation::Config::builder()
        .behavior_version(aws_sdk_cloudformation::config::BehaviorVersion::latest())
        .region(aws_sdk_cloudformation::config::Region::new(region))
        .endpoint_url(&endpoint)
        .credentials_provider(credentials.clone())
        .build();
    let ddb = aws_sdk_dynamodb::Config::builder()
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .region(aws_sdk_dynamodb::config::Region::new(region))
        .endpoint_url(&endpoint)
        .credentials_provider(credentials)
        .build();
    let client = aws_sdk_cloudformation::Client::from_conf(cf);
    let mut cloud = Cloud::from_client(client.clone());
    cloud.poll = Duration::from_millis(100);
    cloud.deadline = Duration::from_secs(60);
    (cloud, aws_sdk_dynamodb::Client::from_conf(ddb), client)
}

fn template(table: &str, retention: u32) -> String {
    json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Resources": {
            "Items": {
                "Type": "AWS::DynamoDB::Table",
                "Properties": {
                    "TableName": table,
                    "BillingMode": "PAY_PER_REQUEST",
                    "AttributeDefinitions": [{ "AttributeName": "id", "AttributeType": "S" }],
                    "KeySchema": [{ "AttributeName": "id", "KeyType": "HASH" }]
                }
            },
            "Logs": { "Type": "AWS::Logs::LogGroup", "Properties": { "RetentionInDays": retention } }
        },
        "Outputs": { "TableName": { "Value": { "Ref": "Items" } } }
    })
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_apply_replan_modify_and_destroy() {
    let (cloud, ddb) = cloud().await;
    let stack = format!("deploy-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let table = format!("{stack}-items");
    cloud.destroy(&stack, |_| {}).await.unwrap();

    let plan = cloud
        .plan(&stack, &template(&table, 14), &[], "d1")
        .await
        .unwrap();
    assert!(plan.creates_stack && plan.change_set.is_some());
    let mut events = Vec::new();
    let status = cloud
        .apply(&plan, |e| events.push(e.clone()))
        .await
        .unwrap();
    assert_eq!(status, "CREATE_COMPLETE");
    // moto reports stack-level events for change sets (AWS adds one per resource).
    assert!(
        events
            .iter()
            .any(|e| e.logical_id == stack && e.status == "CREATE_COMPLETE"),
        "progress events: {events:?}"
    );
    // The service's own view: the table exists.
    ddb.describe_table()
        .table_name(&table)
        .send()
        .await
        .expect("the table exists");

    // The same template again: nothing to do.
    let again = cloud
        .plan(&stack, &template(&table, 14), &[], "d2")
        .await
        .unwrap();
    assert!(
        again.change_set.is_none() && again.changes.is_empty(),
        "{again:?}"
    );
    assert_eq!(cloud.apply(&again, |_| {}).await.unwrap(), "unchanged");

    // A change: shown before it is made, then made.
    let change = cloud
        .plan(&stack, &template(&table, 30), &[], "d3")
        .await
        .unwrap();
    assert!(!change.creates_stack);
    let logs: Vec<&Change> = change
        .changes
        .iter()
        .filter(|c| c.logical_id == "Logs")
        .collect();
    assert_eq!(logs.len(), 1, "{:?}", change.changes);
    assert_eq!(logs[0].action, Action::Modify);
    assert_eq!(
        cloud.apply(&change, |_| {}).await.unwrap(),
        "UPDATE_COMPLETE"
    );

    cloud.destroy(&stack, |_| {}).await.unwrap();
    assert_eq!(cloud.status(&stack).await.unwrap(), None);
    assert!(
        ddb.describe_table()
            .table_name(&table)
            .send()
            .await
            .is_err(),
        "the table is gone"
    );
    // Destroying again is fine.
    cloud.destroy(&stack, |_| {}).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_diff_discarded_leaves_nothing_behind() {
    let (cloud, _) = cloud().await;
    let stack = format!("diff-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let plan = cloud
        .plan(&stack, &template(&format!("{stack}-items"), 14), &[], "d1")
        .await
        .unwrap();
    assert!(!plan.changes.is_empty());
    cloud.discard(&plan).await;
    assert_eq!(cloud.status(&stack).await.unwrap(), None);
}

#[test]
fn replacing_or_removing_data_is_flagged() {
    let change = |action, ty: &str, replacement| Change {
        action,
        logical_id: "X".into(),
        resource_type: ty.into(),
        replacement,
    };
    assert!(change(Action::Modify, "AWS::RDS::DBInstance", Replacement::Always).loses_data());
    assert!(change(
        Action::Modify,
        "AWS::DynamoDB::Table",
        Replacement::Conditional
    )
    .loses_data());
    assert!(change(Action::Remove, "AWS::Redshift::Cluster", Replacement::Never).loses_data());
    assert!(!change(Action::Modify, "AWS::RDS::DBInstance", Replacement::Never).loses_data());
    assert!(!change(Action::Modify, "AWS::Lambda::Function", Replacement::Always).loses_data());
    assert!(!change(Action::Add, "AWS::DynamoDB::Table", Replacement::Never).loses_data());
}

#[test]
fn failures_and_stuck_stacks_read_clearly() {
    let e = DeployError::Failed {
        stack: "todo-dev-data".into(),
        resource: "Database (AWS::RDS::DBInstance)".into(),
        reason: "Invalid DB instance class".into(),
    };
    assert_eq!(
        e.to_string(),
        "todo-dev-data: Database (AWS::RDS::DBInstance) failed: Invalid DB instance class"
    );
    let e = DeployError::NeedsReplacement {
        stack: "todo-dev-app".into(),
        status: "ROLLBACK_COMPLETE".into(),
    };
    assert!(e
        .to_string()
        .contains("must be deleted before it can be created again"));
}

/// moto gives stacks made from change sets no outputs, so outputs are read
/// from a stack created directly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outputs_are_read_in_order() {
    let (cloud, _, cf) = cloud_and_cf().await;
    let stack = format!("out-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let table = format!("{stack}-items");
    cf.create_stack()
        .stack_name(&stack)
        .template_body(template(&table, 14))
        .send()
        .await
        .unwrap();
    assert_eq!(
        cloud.outputs(&stack).await.unwrap(),
        vec![("TableName".to_string(), table)]
    );
    cloud.destroy(&stack, |_| {}).await.unwrap();
    assert_eq!(cloud.status(&stack).await.unwrap(), None);
}
