//! Test support: the local DynamoDB, a local Lambda runtime running the real function
//! binaries, an API Gateway front, a fault-injecting DynamoDB proxy, `TestApp`, and the events
//! path's harness (`events`: the table's stream pumped into the real publisher, a fake
//! EventBridge, the webhook queue, a webhook receiver).

pub mod app;
pub mod ddb_proxy;
pub mod events;
pub mod fake_provider;
pub mod gateway;
pub mod in_process;
pub mod lambda;
pub mod local_dynamodb;

pub use app::{Answer, AppOptions, TestApp};
