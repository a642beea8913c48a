//! Test support: the local DynamoDB, a local Lambda runtime running the real function
//! binaries, an API Gateway front, a fault-injecting DynamoDB proxy, and `TestApp`.

pub mod app;
pub mod ddb_proxy;
pub mod fake_provider;
pub mod gateway;
pub mod in_process;
pub mod lambda;
pub mod local_dynamodb;

pub use app::{Answer, AppOptions, TestApp};
