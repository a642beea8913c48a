//! The local DynamoDB keeps the promises the ledger relies on: conditional writes to one item
//! are atomic under concurrency, and a cancelled transaction writes nothing.

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use pocketbook::store::schema;
use pocketbook_tests::app::unique;
use pocketbook_tests::local_dynamodb;

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_many_concurrent_conditional_writes_to_one_item_exactly_one_wins() {
    let client = local_dynamodb::client(&local_dynamodb::endpoint()).await;
    let table = unique("local-ddb");
    schema::create_table(&client, &table, false).await.unwrap();
    let mut writers = Vec::new();
    for i in 0..40 {
        let (client, table) = (client.clone(), table.clone());
        writers.push(tokio::spawn(async move {
            client
                .update_item()
                .table_name(&table)
                .key("pk", s("item"))
                .key("sk", s("lock"))
                .update_expression("SET lockOwner = :me")
                .condition_expression("attribute_not_exists(lockOwner)")
                .expression_attribute_values(":me", s(&format!("writer-{i}")))
                .send()
                .await
                .is_ok()
        }));
    }
    let mut winners = 0;
    for writer in writers {
        winners += usize::from(writer.await.unwrap());
    }
    assert_eq!(winners, 1);
}

#[tokio::test]
async fn a_cancelled_transaction_writes_nothing() {
    let client = local_dynamodb::client(&local_dynamodb::endpoint()).await;
    let table = unique("local-ddb");
    schema::create_table(&client, &table, false).await.unwrap();
    client.put_item().table_name(&table).item("pk", s("taken")).item("sk", s("x")).send().await.unwrap();
    let put = |pk: &str| {
        TransactWriteItem::builder()
            .put(
                Put::builder()
                    .table_name(&table)
                    .item("pk", s(pk))
                    .item("sk", s("x"))
                    .condition_expression("attribute_not_exists(pk)")
                    .build()
                    .unwrap(),
            )
            .build()
    };
    for _ in 0..2 {
        let result =
            client.transact_write_items().transact_items(put("fresh")).transact_items(put("taken")).send().await;
        assert!(result.is_err(), "the second put's condition fails");
    }
    let fresh = client.get_item().table_name(&table).key("pk", s("fresh")).key("sk", s("x")).send().await.unwrap();
    assert!(fresh.item.is_none(), "the first put was rolled back");
}
