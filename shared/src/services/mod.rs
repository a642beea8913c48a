//! One service per facade, each a small type over the engine that returns domain values (the
//! actions render them): [`Balances`] (the RBS-style balance API), [`WalletAccounts`] (the
//! Juspay-style customer wallet accounts) and [`Wallets`] (the FPay-style wallets with pockets).

pub mod balances;
pub mod events;
pub mod wallet_accounts;
pub mod wallets;
pub mod webhooks;

pub use balances::{
    Balances, CreateBalanceError, CreateBalanceRequest, EntriesPage, ExecuteOperationError, GetBalanceError,
    ListTransactionsError, OperationInput, OperationOutcome, PageRequest,
};
pub use events::{Event, EventData, Events, EventsError, Published, Ready, Subject};
pub use wallet_accounts::{
    CallbackError, Command, CustomerError, DirectDebitError, DirectDebitRequest, OrderError, OrderRequest,
    WalletAccountError, WalletAccounts,
};
pub use wallets::{
    MovementCommand, NewMovement, NewWallet, RecordList, RecordListRequest, Swept, TransactionRecord, WalletError,
    WalletList, WalletListRequest, Wallets,
};
pub use webhooks::{
    DeliveryList, DeliveryListRequest, DeliveryOutcome, NewWebhook, WebhookError, WebhookSettings, Webhooks,
};
