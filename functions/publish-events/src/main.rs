//! Lambda function `publish-events`: invoked by the table's DynamoDB stream, it publishes
//! each committed change's events to EventBridge and queues their webhook deliveries.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    pocketbook::edge::stream::run().await
}
