//! Wallet providers (MOBIKWIK, PAYTM, FREECHARGE, OLAMONEY) behind one trait. Two kinds:
//! the sandbox, whose wallets are Pocketbook balances in this very table, and an HTTP client
//! for a real gateway. Which gateway uses which comes from the configuration.

pub mod http;

use crate::domain::wallet_accounts::{Gateway, MobileNumber, Otp, PaymentAmount, TxnId};
use rust_decimal::Decimal;
use std::future::Future;
use std::time::Duration;

/// A provider's answer that is a definite "no" (nothing happened), or no usable answer at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// The provider refused: a wrong OTP, an unknown or delinked wallet.
    #[error("refused by the provider: {0}")]
    Refused(String),
    /// Timed out, answered 5xx, or answered something unreadable. A debit's outcome is then
    /// unknown; asking again with the same transaction id is safe.
    #[error("provider unavailable: {0}")]
    Unavailable(String),
    /// The wallet is busy with another payment (a sandbox wallet's lock is held): nothing
    /// happened; retry shortly. Contention, not a fault.
    #[error("the wallet is busy with another payment")]
    Busy,
}

/// A wallet the provider has linked (granted the POWER WALLET permission for).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkedWallet {
    /// The provider's handle for the wallet; what later calls name.
    pub reference: String,
    pub balance: Decimal,
}

/// One debit, idempotent on `txn_id`: asking twice debits once.
#[derive(Debug, Clone)]
pub struct Debit<'a> {
    pub reference: &'a str,
    pub txn_id: &'a TxnId,
    pub amount: PaymentAmount,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DebitOutcome {
    Charged {
        balance: Decimal,
    },
    /// Not enough money: nothing was debited; a top-up can follow.
    InsufficientFunds {
        balance: Decimal,
    },
    /// The provider will not debit this wallet (blocked, limits, ...).
    Declined {
        reason: String,
    },
}

/// Where the customer goes to top up: Juspay's `payment.authentication`.
pub use crate::domain::orders::Authentication;

/// A refund of (part of) a charged transaction, idempotent on `refund_id`.
#[derive(Debug, Clone)]
pub struct Refund<'a> {
    pub reference: &'a str,
    pub txn_id: &'a TxnId,
    pub refund_id: &'a crate::domain::orders::RefundId,
    pub amount: PaymentAmount,
}

/// What a top-up is for: the transaction it completes and the amount it needs.
#[derive(Debug, Clone)]
pub struct TopUp<'a> {
    pub reference: &'a str,
    pub txn_id: &'a TxnId,
    pub amount: PaymentAmount,
}

/// One provider. Every call is bounded in time by the implementation.
pub trait WalletProvider: Send + Sync {
    /// Asks the provider to send an OTP to the mobile number.
    fn authenticate(&self, mobile: &MobileNumber) -> impl Future<Output = Result<(), ProviderError>> + Send;

    /// Checks the OTP; on success the wallet is linked.
    fn link(
        &self,
        mobile: &MobileNumber,
        otp: &Otp,
    ) -> impl Future<Output = Result<LinkedWallet, ProviderError>> + Send;

    fn balance(&self, reference: &str) -> impl Future<Output = Result<Decimal, ProviderError>> + Send;

    fn debit(&self, debit: &Debit<'_>) -> impl Future<Output = Result<DebitOutcome, ProviderError>> + Send;

    /// Where the customer can top up so that the transaction completes.
    fn top_up(&self, top_up: &TopUp<'_>) -> impl Future<Output = Result<Authentication, ProviderError>> + Send;

    fn delink(&self, reference: &str) -> impl Future<Output = Result<(), ProviderError>> + Send;
}

/// Which gateways use an HTTP provider (every other one the sandbox), and how long a refresh
/// of balances waits for each provider: plain data, from the configuration.
#[derive(Debug, Clone)]
pub struct ProviderSettings {
    pub http: Vec<(Gateway, http::HttpProviderConfig)>,
    /// A refresh-balances answer comes within about this, whatever the providers do.
    pub refresh_timeout: Duration,
}

impl Default for ProviderSettings {
    fn default() -> Self {
        Self { http: Vec::new(), refresh_timeout: Duration::from_secs(3) }
    }
}

/// The gateway → provider table of one process, built from [`ProviderSettings`].
#[derive(Clone, Default)]
pub struct Providers {
    http: Vec<(Gateway, http::HttpProvider)>,
}

/// Which provider serves a gateway.
pub enum ProviderFor<'a> {
    Sandbox,
    Http(&'a http::HttpProvider),
}

impl Providers {
    /// A client for each gateway the settings give an HTTP provider.
    pub fn build(settings: &ProviderSettings) -> Result<Self, String> {
        let mut http: Vec<(Gateway, http::HttpProvider)> = Vec::new();
        for (gateway, config) in &settings.http {
            let provider = http::HttpProvider::new(config.clone())
                .map_err(|error| format!("{}: {error}", http::gateway_var(*gateway, http::URL_SUFFIX)))?;
            http.retain(|(g, _)| g != gateway);
            http.push((*gateway, provider));
        }
        Ok(Self { http })
    }

    pub fn get(&self, gateway: Gateway) -> ProviderFor<'_> {
        match self.http.iter().find(|(g, _)| *g == gateway) {
            Some((_, provider)) => ProviderFor::Http(provider),
            None => ProviderFor::Sandbox,
        }
    }

    /// The HTTP provider of a gateway, for its callbacks.
    pub fn http(&self, gateway: Gateway) -> Option<&http::HttpProvider> {
        self.http.iter().find(|(g, _)| *g == gateway).map(|(_, p)| p)
    }
}

/// Either kind of provider, for code that serves every gateway alike: the sandbox (`S`, which
/// lives with the services it is a client of) or an HTTP client.
pub enum AnyProvider<'a, S> {
    Sandbox(S),
    Http(&'a http::HttpProvider),
}

impl<S: WalletProvider> WalletProvider for AnyProvider<'_, S> {
    async fn authenticate(&self, mobile: &MobileNumber) -> Result<(), ProviderError> {
        match self {
            AnyProvider::Sandbox(p) => p.authenticate(mobile).await,
            AnyProvider::Http(p) => p.authenticate(mobile).await,
        }
    }

    async fn link(&self, mobile: &MobileNumber, otp: &Otp) -> Result<LinkedWallet, ProviderError> {
        match self {
            AnyProvider::Sandbox(p) => p.link(mobile, otp).await,
            AnyProvider::Http(p) => p.link(mobile, otp).await,
        }
    }

    async fn balance(&self, reference: &str) -> Result<Decimal, ProviderError> {
        match self {
            AnyProvider::Sandbox(p) => p.balance(reference).await,
            AnyProvider::Http(p) => p.balance(reference).await,
        }
    }

    async fn debit(&self, debit: &Debit<'_>) -> Result<DebitOutcome, ProviderError> {
        match self {
            AnyProvider::Sandbox(p) => p.debit(debit).await,
            AnyProvider::Http(p) => p.debit(debit).await,
        }
    }

    async fn top_up(&self, top_up: &TopUp<'_>) -> Result<Authentication, ProviderError> {
        match self {
            AnyProvider::Sandbox(p) => p.top_up(top_up).await,
            AnyProvider::Http(p) => p.top_up(top_up).await,
        }
    }

    async fn delink(&self, reference: &str) -> Result<(), ProviderError> {
        match self {
            AnyProvider::Sandbox(p) => p.delink(reference).await,
            AnyProvider::Http(p) => p.delink(reference).await,
        }
    }
}
