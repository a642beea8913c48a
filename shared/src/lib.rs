//! Pocketbook: a wallet and balance ledger for AWS Lambda over one DynamoDB table.
//!
//! Dependencies point one way: `edge` (events in and out, authentication, error mapping)
//! → `actions` / `service` (one action each, orchestration) → `domain` (pure rules) and
//! `store` (the only module that speaks DynamoDB).

pub mod actions;
pub mod api;
pub mod clock;
pub mod config;
pub mod domain;
pub mod edge;
pub mod failpoint;
pub mod providers;
pub mod service;
pub mod store;
