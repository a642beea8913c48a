//! Every failure a caller can see, with its HTTP status, mapped once here.

use crate::domain::api_keys::KeyRefusal;
use crate::domain::operation::Rejection;
use crate::domain::request_signature::SignatureError;
use crate::engine::{EngineError, Fault};
use crate::services::{
    CallbackError, CustomerError, DirectDebitError, ListTransactionsError, OrderError, WalletAccountError, WalletError,
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
    /// Whose error body the answer is in: the action's facade.
    pub shape: ErrorShape,
    /// A 429's `Retry-After`, when it is not [`RETRY_AFTER_SECONDS`].
    pub retry_after_seconds: Option<u32>,
}

/// The error bodies of the facades.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ErrorShape {
    /// `{"error": {"code", "message", "field"}}`: the balances and the wallets.
    #[default]
    Pocketbook,
    /// Juspay's `{"status", "error_code", "error_message", "status_id"}`.
    Juspay,
}

/// Seconds a BALANCE_BUSY caller should wait before trying again.
pub const RETRY_AFTER_SECONDS: u32 = 1;

impl ApiError {
    fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            field: None,
            detail: None,
            own_body: None,
            shape: ErrorShape::Pocketbook,
            retry_after_seconds: None,
        }
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

    pub fn unsupported_media_type(message: impl Into<String>) -> Self {
        Self::new(415, "UNSUPPORTED_MEDIA_TYPE", message)
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

    /// A signed request's nonce that was used already (with this key).
    pub fn nonce_reused() -> Self {
        Self::new(401, "NONCE_REUSED", "this Finalse-Nonce was already used with this API key; sign anew")
    }

    pub fn forbidden(scope: &str) -> Self {
        Self::new(403, "FORBIDDEN", format!("this API key lacks the '{scope}' scope"))
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(404, "NOT_FOUND", format!("{what} not found"))
    }

    /// A method and path no route serves.
    pub fn no_route(method: &str, path: &str) -> Self {
        Self::new(404, "NOT_FOUND", format!("no route serves {method} {path}"))
    }

    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(413, "PAYLOAD_TOO_LARGE", format!("the body exceeds {limit} bytes"))
    }

    /// A known key that no longer works.
    pub fn key_refused(refusal: KeyRefusal) -> Self {
        match refusal {
            KeyRefusal::Revoked => Self::new(401, "KEY_REVOKED", "this API key was revoked"),
            KeyRefusal::Expired => Self::new(401, "KEY_EXPIRED", "this API key's end date has passed"),
        }
    }

    /// The key made `limit` requests in this minute already.
    pub fn rate_limited(limit: u32, retry_after: u32) -> Self {
        let message = format!("this API key may make {limit} requests a minute; retry in {retry_after} s");
        Self { retry_after_seconds: Some(retry_after), ..Self::new(429, "RATE_LIMITED", message) }
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

    /// The error in the body shape of `shape`, for the refusals a facade makes itself. A missing
    /// key, a missing scope, an oversized body and a fault stay in our shape on every route:
    /// deployed, API Gateway answers most of those in its own shape before any function runs,
    /// so no client of a facade can rely on the facade's shape for them.
    pub fn in_shape(self, shape: ErrorShape) -> Self {
        match self.status {
            401 | 403 | 413 | 500 => self,
            _ => Self { shape, ..self },
        }
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(409, code, message)
    }

    /// Worth a retry by the platform: contention and faults, never a refusal.
    pub fn is_transient(&self) -> bool {
        self.status == 429 || self.status >= 500
    }

    pub fn retry_after(&self) -> Option<u32> {
        (self.status == 429).then_some(self.retry_after_seconds.unwrap_or(RETRY_AFTER_SECONDS))
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
        match self.shape {
            ErrorShape::Pocketbook => {
                let mut error = json!({ "code": self.code, "message": message });
                if let Some(field) = &self.field {
                    error["field"] = json!(field);
                }
                json!({ "error": error }).to_string()
            }
            ErrorShape::Juspay => {
                // Juspay answers an unknown order with status NOT_FOUND (40).
                let (status, status_id) = match self.status {
                    404 => ("NOT_FOUND", Some(40)),
                    429 => ("error", None),
                    400..=499 => ("invalid_request_error", None),
                    _ => ("error", None),
                };
                let mut error = json!({ "status": status, "error_code": self.code, "error_message": message });
                if let Some(id) = status_id {
                    error["status_id"] = json!(id);
                }
                if let Some(field) = &self.field {
                    error["field"] = json!(field);
                }
                error.to_string()
            }
        }
    }
}

/// A request with a key that signs whose signature does not hold: missing, malformed, not the
/// request's, or its nonce too far from now.
impl From<SignatureError> for ApiError {
    fn from(error: SignatureError) -> Self {
        let code = match error {
            SignatureError::OutsideWindow => "NONCE_OUT_OF_WINDOW",
            SignatureError::Missing
            | SignatureError::Malformed(_)
            | SignatureError::SignedHeaderAbsent(_)
            | SignatureError::MustBeSigned(_)
            | SignatureError::Mismatch => "BAD_SIGNATURE",
        };
        ApiError::new(401, code, error.to_string())
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
            WalletAccountError::MobileRequired => {
                ApiError::validation("mobile_number", "is required (there is no customer of this id to take it from)")
            }
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
            DirectDebitError::AmountMismatch(amount) => {
                ApiError::validation("amount", format!("must be the order's amount, {amount}"))
            }
            DirectDebitError::AmountRequired => {
                ApiError::validation("amount", "is required unless the order was created first")
            }
            DirectDebitError::Conflict => ApiError::conflict("CONFLICT", "the order changed meanwhile; retry"),
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
            OrderError::Refused(message) => ApiError::new(400, "INVALID_REQUEST", message),
            OrderError::Conflict => ApiError::conflict("CONFLICT", "the order changed meanwhile; retry"),
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
            CallbackError::Conflict => ApiError::conflict("CONFLICT", message),
            CallbackError::Failed(fault) => fault.into(),
        }
    }
}

impl From<CustomerError> for ApiError {
    fn from(error: CustomerError) -> Self {
        let message = error.to_string();
        match error {
            CustomerError::NotFound => ApiError::not_found("customer"),
            CustomerError::ReferenceTaken(_) => ApiError::conflict("CUSTOMER_EXISTS", message),
            CustomerError::Conflict => ApiError::conflict("CONFLICT", message),
            CustomerError::Failed(fault) => fault.into(),
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
            WalletError::CurrencyMismatch { given, wallets } => ApiError::validation(
                "amount",
                format!("is in {given}, but the wallets of this movement hold {wallets}: write it in {wallets}"),
            ),
            WalletError::Rejected(rejection) => rejection.into(),
            WalletError::AlreadyResolved(status) => {
                ApiError::new(409, "ALREADY_RESOLVED", format!("it is already resolved: {status}"))
            }
            WalletError::CounterpartMissing => {
                ApiError::validation("using", "is required: name the wallet that receives or pays")
            }
            WalletError::CounterpartDiffers => {
                ApiError::validation("using", "must be the wallet named when it was created, or left out")
            }
            WalletError::CounterpartIsOtherSide => {
                ApiError::validation("using", "must be another wallet than the one on the movement's other side")
            }
            WalletError::AmbiguousReference => ApiError::conflict(
                "AMBIGUOUS_FOREIGN_ID",
                "several movements of this kind have this foreignId: name one by its id",
            ),
            WalletError::ExpireInPast => ApiError::validation("expire", "must be in the future"),
            WalletError::ExpireTooFar => ApiError::validation("expire", "must be at most 90 days after its creation"),
            WalletError::BadPage => ApiError::validation("page", error.to_string()),
            WalletError::KeyReused => ApiError::key_reused(),
            WalletError::Busy => ApiError::busy(),
            WalletError::Failed(fault) => fault.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape_of(error: ApiError) -> ErrorShape {
        error.in_shape(ErrorShape::Juspay).shape
    }

    #[test]
    fn a_facade_shapes_its_own_refusals_and_leaves_platform_answers_in_ours() {
        assert_eq!(shape_of(ApiError::validation("amount", "required")), ErrorShape::Juspay);
        assert_eq!(shape_of(ApiError::not_found("order")), ErrorShape::Juspay);
        assert_eq!(shape_of(ApiError::busy()), ErrorShape::Juspay);
        assert_eq!(shape_of(ApiError::provider_unavailable("down")), ErrorShape::Juspay);
        assert_eq!(shape_of(ApiError::unauthorized()), ErrorShape::Pocketbook);
        assert_eq!(shape_of(ApiError::forbidden("write")), ErrorShape::Pocketbook);
        assert_eq!(shape_of(ApiError::payload_too_large(10)), ErrorShape::Pocketbook);
        assert_eq!(shape_of(ApiError::internal("boom")), ErrorShape::Pocketbook);
    }

    #[test]
    fn juspay_bodies_carry_status_code_message_and_field() {
        let body: serde_json::Value =
            serde_json::from_str(&ApiError::validation("amount", "required").in_shape(ErrorShape::Juspay).body("r"))
                .unwrap_or_default();
        assert_eq!(body["status"], "invalid_request_error");
        assert_eq!(body["error_code"], "VALIDATION_ERROR");
        assert_eq!(body["field"], "amount");
        let body: serde_json::Value =
            serde_json::from_str(&ApiError::not_found("order").in_shape(ErrorShape::Juspay).body("r"))
                .unwrap_or_default();
        assert_eq!((body["status"].as_str(), body["status_id"].as_i64()), (Some("NOT_FOUND"), Some(40)));
    }
}
