//! Every failure a caller can see, with its HTTP status, mapped once here.

use crate::domain::operation::Rejection;
use crate::engine::{EngineError, Fault};
use crate::services::{
    CallbackError, DirectDebitError, ListTransactionsError, OrderError, WalletAccountError, WalletError,
};
use serde_json::json;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
    /// For the log only (never in the answer): what really went wrong behind a 500.
    pub detail: Option<String>,
    /// A facade's own error body (Juspay's for a declined payment), instead of ours.
    pub own_body: Option<String>,
}

/// Seconds a BALANCE_BUSY caller should wait before trying again.
pub const RETRY_AFTER_SECONDS: u32 = 1;

impl ApiError {
    fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), field: None, detail: None, own_body: None }
    }

    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        let field = field.into();
        let message = format!("{field}: {}", message.into());
        Self { field: Some(field), ..Self::new(400, "VALIDATION_ERROR", message) }
    }

    /// A validation error of a field inside the object `parent`: its field becomes
    /// `parent.field`.
    pub fn nested(self, parent: &str) -> Self {
        match &self.field {
            Some(field) => {
                let message = self.message.strip_prefix(&format!("{field}: ")).unwrap_or(&self.message).to_owned();
                ApiError::validation(format!("{parent}.{field}"), message)
            }
            None => self,
        }
    }

    pub fn malformed(message: impl Into<String>) -> Self {
        Self::new(400, "VALIDATION_ERROR", message)
    }

    pub fn unauthorized() -> Self {
        Self::new(
            401,
            "UNAUTHORIZED",
            "a valid API key is required (Authorization: Bearer <key>, Basic with the key as username, or x-api-key)",
        )
    }

    pub fn forbidden(scope: &str) -> Self {
        Self::new(403, "FORBIDDEN", format!("this API key lacks the '{scope}' scope"))
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(404, "NOT_FOUND", format!("{what} not found"))
    }

    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(413, "PAYLOAD_TOO_LARGE", format!("the body exceeds {limit} bytes"))
    }

    pub fn busy() -> Self {
        Self::new(429, "BALANCE_BUSY", "the balance is busy with another operation; retry shortly")
    }

    pub fn key_reused() -> Self {
        Self::new(409, "IDEMPOTENCY_KEY_REUSED", "this Idempotency-Key was used with a different request")
    }

    /// A payment refused before anything happened, in Juspay's error shape.
    pub fn declined(code: &'static str, message: &str, order_id: Option<&str>) -> Self {
        let body = crate::api::wallet_accounts::declined_body(code, message, order_id);
        Self { own_body: Some(body), ..Self::new(400, "JUSPAY_DECLINED", message) }
    }

    /// A wallet provider did not answer usably: worth a retry.
    pub fn provider_unavailable(detail: impl Into<String>) -> Self {
        Self {
            detail: Some(detail.into()),
            ..Self::new(502, "PROVIDER_UNAVAILABLE", "the wallet provider is unavailable; retry shortly")
        }
    }

    pub fn internal(detail: impl Into<String>) -> Self {
        Self { detail: Some(detail.into()), ..Self::new(500, "INTERNAL", "internal error") }
    }

    /// Worth a retry by the platform: contention and faults, never a refusal.
    pub fn is_transient(&self) -> bool {
        self.status == 429 || self.status >= 500
    }

    pub fn retry_after(&self) -> Option<u32> {
        (self.status == 429).then_some(RETRY_AFTER_SECONDS)
    }

    /// The answer body. A 500 names the request id, so a report can be matched to the log.
    pub fn body(&self, request_id: &str) -> String {
        if let Some(body) = &self.own_body {
            return body.clone();
        }
        let message = if self.status >= 500 {
            format!("{} (request id {request_id})", self.message)
        } else {
            self.message.clone()
        };
        let mut error = json!({ "code": self.code, "message": message });
        if let Some(field) = &self.field {
            error["field"] = json!(field);
        }
        json!({ "error": error }).to_string()
    }
}

impl From<Fault> for ApiError {
    fn from(fault: Fault) -> Self {
        ApiError::internal(fault.to_string())
    }
}

impl From<Rejection> for ApiError {
    fn from(rejection: Rejection) -> Self {
        let (status, code) = match rejection {
            Rejection::StaleUpdateToken => (409, "STALE_UPDATE_TOKEN"),
            Rejection::InsufficientFunds => (422, "INSUFFICIENT_FUNDS"),
            Rejection::AmountOutOfRange => (422, "AMOUNT_OUT_OF_RANGE"),
            Rejection::LockedShort => (409, "ALREADY_RESOLVED"),
        };
        ApiError::new(status, code, rejection.to_string())
    }
}

/// The balance actions' failures (create, get, execute), which are the engine's.
impl From<EngineError> for ApiError {
    fn from(error: EngineError) -> Self {
        match error {
            EngineError::NotFound => ApiError::not_found("balance"),
            EngineError::Busy => ApiError::busy(),
            EngineError::Rejected(rejection) => rejection.into(),
            EngineError::KeyReused => ApiError::key_reused(),
            EngineError::WriteRefused(refused) => {
                ApiError::internal(format!("a write's condition failed: {refused:?}"))
            }
            EngineError::Refused(never) => match never {},
            EngineError::Fault(fault) => fault.into(),
        }
    }
}

impl From<ListTransactionsError> for ApiError {
    fn from(error: ListTransactionsError) -> Self {
        match error {
            ListTransactionsError::NotFound => ApiError::not_found("balance"),
            ListTransactionsError::BadPageToken => {
                ApiError::validation("paginationToken", "is malformed, altered, or belongs to another listing")
            }
            ListTransactionsError::Busy => ApiError::busy(),
            ListTransactionsError::Failed(fault) => fault.into(),
        }
    }
}

impl From<WalletAccountError> for ApiError {
    fn from(error: WalletAccountError) -> Self {
        let message = error.to_string();
        match error {
            WalletAccountError::NotFound => ApiError::not_found("wallet account"),
            WalletAccountError::Exists { .. } => ApiError::new(409, "WALLET_ACCOUNT_EXISTS", message),
            WalletAccountError::NotLinked => ApiError::new(409, "WALLET_NOT_LINKED", message),
            WalletAccountError::Refused(_) => ApiError::new(422, "PROVIDER_REFUSED", message),
            WalletAccountError::Conflict => ApiError::new(409, "CONFLICT", format!("{message}; retry")),
            WalletAccountError::ProviderUnavailable(detail) => ApiError::provider_unavailable(detail),
            WalletAccountError::Busy => ApiError::busy(),
            WalletAccountError::Failed(fault) => fault.into(),
        }
    }
}

impl From<DirectDebitError> for ApiError {
    fn from(error: DirectDebitError) -> Self {
        match error {
            DirectDebitError::Declined { code, message } => ApiError::declined(code, message, None),
            DirectDebitError::ProviderUnavailable(detail) => ApiError::provider_unavailable(detail),
            DirectDebitError::Busy => ApiError::busy(),
            DirectDebitError::Failed(fault) => fault.into(),
        }
    }
}

impl From<OrderError> for ApiError {
    fn from(error: OrderError) -> Self {
        match error {
            OrderError::NotFound => ApiError::not_found("order"),
            OrderError::ProviderUnavailable(detail) => ApiError::provider_unavailable(detail),
            OrderError::Busy => ApiError::busy(),
            OrderError::Failed(fault) => fault.into(),
        }
    }
}

impl From<CallbackError> for ApiError {
    fn from(error: CallbackError) -> Self {
        let message = error.to_string();
        match error {
            CallbackError::UnknownGateway => ApiError::not_found("callback route"),
            CallbackError::BadSignature => ApiError::new(401, "BAD_SIGNATURE", message),
            CallbackError::Malformed(_) => ApiError::malformed(message),
            CallbackError::UnknownTxn => ApiError::not_found("transaction"),
            CallbackError::Failed(fault) => fault.into(),
        }
    }
}

impl From<WalletError> for ApiError {
    fn from(error: WalletError) -> Self {
        match error {
            WalletError::NotFound(what) => ApiError::not_found(what),
            WalletError::ForeignIdTaken => {
                ApiError::new(409, "FOREIGN_ID_TAKEN", "a wallet with this foreignId exists in this project")
            }
            WalletError::SameWallet => ApiError::validation("destination", "must be another wallet than the source"),
            WalletError::TypeMismatch => {
                ApiError::new(422, "BALANCE_TYPE_MISMATCH", "the wallets hold different balance types")
            }
            WalletError::Rejected(rejection) => rejection.into(),
            WalletError::AlreadyResolved(status) => {
                ApiError::new(409, "ALREADY_RESOLVED", format!("it is already resolved: {status}"))
            }
            WalletError::ExpireInPast => ApiError::validation("expire", "must be in the future"),
            WalletError::BadPage => ApiError::validation("page", error.to_string()),
            WalletError::KeyReused => ApiError::key_reused(),
            WalletError::Busy => ApiError::busy(),
            WalletError::Failed(fault) => fault.into(),
        }
    }
}
