//! Pocketbook: a wallet and balance ledger for AWS Lambda over one DynamoDB table.
//!
//! Dependencies point one way, top to bottom:
//! - `edge` (events in and out, authentication, error mapping, wiring) and `actions` (one per
//!   function: parse, call the service, render);
//! - `api` (the JSON answers, rendered from domain values);
//! - `services` (one per facade: balances, customer wallet accounts, wallets with pockets);
//! - `engine` (the one commit protocol: locks, planning, transactional commits, recovery,
//!   idempotency);
//! - `store` (the only module that speaks DynamoDB), `bus` (EventBridge and SQS), `providers` (wallet providers over HTTP)
//!   and `domain` (pure rules), with `config`, `clock` and `failpoint` beside them.

pub mod actions;
pub mod api;
pub mod bus;
pub mod clock;
pub mod config;
pub mod domain;
pub mod edge;
pub mod engine;
pub mod failpoint;
pub mod providers;
pub mod services;
pub mod store;
