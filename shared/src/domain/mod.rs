//! Pure rules: no I/O, no AWS, no async. Money, names, the ledger planner, the checksum
//! chain, pagination tokens.

pub mod api_keys;
pub mod balance;
pub mod checksum;
pub mod customers;
pub mod entry;
pub mod events;
pub mod fpay_amount;
pub mod json;
pub mod ledger;
pub mod money;
pub mod money_accounts;
pub mod movements;
pub mod names;
pub mod operation;
pub mod orders;
pub mod packing;
pub mod page_token;
pub mod queue;
pub mod request_signature;
pub mod sealed;
pub mod time;
pub mod transactions;
pub mod wallet_accounts;
pub mod wallet_numbers;
pub mod wallet_query;
pub mod wallets;
pub mod webhooks;
