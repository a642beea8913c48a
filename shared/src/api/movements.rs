//! FPay's objects for what moves money: Deposit, Transfer, QuasiTransfer, FundRequest (one
//! shape with the parts each kind has), Attempt and Transaction, exactly as finalse-sdk
//! parses them (tests/clients/FPAY_WIRE.md §6): optional keys are left out, never `null`.

use super::wallets::{Creator, Pocket, Time, WalletResponse};
use super::JsonDecimal;
use crate::domain::money_accounts::PocketKind;
use crate::domain::movements::{Account, FailureReason, Movement, MovementKind, MovementStatus, H1};
use crate::domain::names::{BalanceType, ProjectId};
use crate::domain::transactions::{attempt_id, Attempt, AttemptStatus, Transaction};
use crate::domain::wallets::{Wallet, CREATOR_TYPE};
use rust_decimal::Decimal;
use serde::Serialize;

/// The country FPay's own accounts (and so Pocketbook's wallets) are in: FPay is Ivorian.
const HOME_COUNTRY: &str = "CI";
/// What names Pocketbook as a money account's provider.
const PROVIDER_KEY: &str = "Pocketbook";

#[derive(Debug, Clone, Serialize)]
pub struct CurrencyResponse {
    pub code: String,
    pub unit: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct AmountResponse {
    pub value: JsonDecimal,
    pub currency: CurrencyResponse,
}

impl AmountResponse {
    pub fn new(value: Decimal, balance_type: &BalanceType) -> Self {
        let code = balance_type.to_string();
        // The CFA franc's people-facing unit; any other type is its own unit.
        let unit = if code == "XOF" || code == "XAF" { "FCFA".to_owned() } else { code.clone() };
        Self { value: JsonDecimal(value), currency: CurrencyResponse { code, unit } }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct FeesValue {
    pub fixe: JsonDecimal,
    pub percent: JsonDecimal,
}

/// Pocketbook charges no fees; FPay's object is there all the same.
#[derive(Debug, Clone, Serialize)]
pub struct Fees {
    pub value: FeesValue,
    pub amount: AmountResponse,
}

#[derive(Debug, Clone, Serialize)]
pub struct CountryCode {
    pub alpha2: &'static str,
    pub alpha3: &'static str,
    pub numeric: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct CountryResponse {
    pub code: CountryCode,
    pub name: &'static str,
}

impl CountryResponse {
    fn of(country: &celes::Country) -> Self {
        Self {
            code: CountryCode { alpha2: country.alpha2, alpha3: country.alpha3, numeric: country.value },
            // celes 2.8 spells Côte d'Ivoire "Coted Ivoire"; FPay's home country is named right.
            name: if country.alpha2 == "CI" { "Côte d'Ivoire" } else { country.long_name },
        }
    }

    fn home() -> Self {
        match celes::Country::from_alpha2(HOME_COUNTRY) {
            Ok(country) => Self::of(&country),
            // celes knows every ISO 3166 country; this only keeps the request path panic-free.
            Err(_) => Self { code: CountryCode { alpha2: "CI", alpha3: "CIV", numeric: 384 }, name: "Côte d'Ivoire" },
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Provider {
    pub country: CountryResponse,
    pub key: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Identifier {
    pub value: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MoneyAccount {
    pub balance_type: &'static str,
    pub provider: Provider,
    pub identifier: Identifier,
}

impl MoneyAccount {
    pub fn new(account: &Account) -> Self {
        let pocketbook = |key: &str, name: &str| Provider {
            country: CountryResponse::home(),
            key: key.to_owned(),
            name: name.to_owned(),
        };
        match account {
            Account::Wallet { id, pocket } => Self {
                balance_type: pocket.as_str(),
                provider: pocketbook(PROVIDER_KEY, PROVIDER_KEY),
                identifier: Identifier { value: id.to_string() },
            },
            Account::MobileMoney(mobile) => Self {
                balance_type: PocketKind::Available.as_str(),
                provider: Provider {
                    country: CountryResponse::of(mobile.country()),
                    key: mobile.provider().to_owned(),
                    name: mobile.provider_name().to_owned(),
                },
                identifier: Identifier { value: mobile.number().to_owned() },
            },
            Account::Outside => Self {
                balance_type: PocketKind::Available.as_str(),
                provider: pocketbook("Outside", "Outside Pocketbook"),
                identifier: Identifier { value: "unspecified".to_owned() },
            },
        }
    }
}

/// A movement's source or destination: FPay's `Single` (one account and its amount).
#[derive(Debug, Clone, Serialize)]
pub struct Side {
    #[serde(rename = "_type")]
    pub kind: &'static str,
    pub amount: AmountResponse,
    pub account: MoneyAccount,
}

#[derive(Debug, Clone, Serialize)]
pub struct LocalizedText {
    pub fr: &'static str,
    pub en: &'static str,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Cancelled {
    pub after_timeout: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct StatusResponse {
    #[serde(rename = "_type")]
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<LocalizedText>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cancelled: Option<Cancelled>,
}

impl StatusResponse {
    fn of(status: MovementStatus, kind: MovementKind) -> Self {
        let (reason, cancelled) = match status {
            MovementStatus::Successful => (None, None),
            MovementStatus::Processing if kind == MovementKind::FundRequest => {
                (Some(LocalizedText { fr: "En attente du payeur", en: "Waiting for the payer" }), None)
            }
            MovementStatus::Processing => {
                (Some(LocalizedText { fr: "En attente du destinataire", en: "Waiting for the receiver" }), None)
            }
            MovementStatus::Failure(FailureReason::Cancelled) => {
                (Some(LocalizedText { fr: "Annulé", en: "Cancelled" }), Some(Cancelled { after_timeout: false }))
            }
            MovementStatus::Failure(FailureReason::Expired) => {
                (Some(LocalizedText { fr: "Expiré", en: "Expired" }), Some(Cancelled { after_timeout: true }))
            }
        };
        Self { kind: status.as_str(), reason, cancelled }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct H1Response {
    pub fr: String,
    pub en: String,
}

impl H1Response {
    fn of(h1: &H1) -> Self {
        Self { fr: h1.fr.clone(), en: h1.en.clone() }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct LightAttempt {
    pub id: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Purpose {
    #[serde(rename = "_type")]
    pub kind: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct QrCode {
    /// What the code encodes: Pocketbook draws no image.
    pub src: String,
}

/// Where a quasi-transfer is received, or a fund request sent.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SecurePay {
    pub purpose: Purpose,
    pub link: String,
    pub qr_code: QrCode,
}

#[derive(Debug, Clone, Serialize)]
pub struct DurationParts {
    pub w: i64,
    pub d: i64,
    pub h: i64,
    pub m: i64,
    pub s: i64,
    pub ms: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct DurationResponse {
    pub iso8601: String,
    pub seconds: i64,
    pub milliseconds: i64,
    pub part: DurationParts,
}

impl DurationResponse {
    pub fn new(ms: i64) -> Self {
        let ms = ms.max(0);
        let (w, rest) = (ms / 604_800_000, ms % 604_800_000);
        let (d, rest) = (rest / 86_400_000, rest % 86_400_000);
        let (h, rest) = (rest / 3_600_000, rest % 3_600_000);
        let (m, rest) = (rest / 60_000, rest % 60_000);
        let (s, milli) = (rest / 1000, rest % 1000);
        let days = w * 7 + d;
        let mut time: String = [(h, "H"), (m, "M")]
            .into_iter()
            .filter(|(value, _)| *value > 0)
            .map(|(value, suffix)| format!("{value}{suffix}"))
            .collect();
        if milli > 0 {
            time.push_str(&format!("{s}.{milli:03}S"));
        } else if s > 0 || (days == 0 && time.is_empty()) {
            time.push_str(&format!("{s}S"));
        }
        let days = if days > 0 { format!("{days}D") } else { String::new() };
        let time = if time.is_empty() { time } else { format!("T{time}") };
        Self {
            iso8601: format!("P{days}{time}"),
            seconds: ms / 1000,
            milliseconds: ms,
            part: DurationParts { w, d, h, m, s, ms: milli },
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ExpireResponse {
    pub delay: DurationResponse,
    pub time: Time,
}

/// A deposit, transfer, quasi-transfer or fund request in FPay's shape, with the parts its kind
/// has: `attempt` for the kinds done at once, `securePay` and `expire` for the pending kinds, a
/// pending kind's other side once it is known.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MovementResponse {
    pub id: String,
    /// Pocketbook's own: the kind (FPay tells them apart by the route).
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub url: String,
    pub creator: Creator,
    pub created_time: Time,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completed_time: Option<Time>,
    pub updated_time: Time,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub h1_descriptor: Option<H1Response>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<Side>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination: Option<Side>,
    pub fees: Fees,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempt: Option<LightAttempt>,
    pub amount: AmountResponse,
    pub balance_type: String,
    pub sending: &'static str,
    pub status: StatusResponse,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secure_pay: Option<SecurePay>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expire: Option<ExpireResponse>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub foreign_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub foreign_data: Option<String>,
}

/// The path of a kind's routes.
pub fn kind_path(kind: MovementKind) -> &'static str {
    match kind {
        MovementKind::Deposit => "/v1.0/deposits",
        MovementKind::Transfer => "/v1.0/transfers",
        MovementKind::QuasiTransfer => "/v1.0/quasi-transfers",
        MovementKind::FundRequest => "/v1.0/fund-requests",
    }
}

/// `base_url` + `path`, or the path alone for a direct invocation.
fn url(base_url: Option<&str>, path: &str) -> String {
    format!("{}{path}", base_url.unwrap_or_default())
}

impl MovementResponse {
    pub fn new(movement: &Movement, project: &ProjectId, base_url: Option<&str>) -> Self {
        let (kind, balance_type) = (movement.kind, &movement.balance_type);
        let amount = || AmountResponse::new(movement.amount.value(), balance_type);
        let single = |account: Account| Side { kind: "Single", amount: amount(), account: MoneyAccount::new(&account) };
        let wallet = |id| Account::Wallet { id, pocket: PocketKind::Available };
        let source = match kind {
            MovementKind::Deposit => {
                Some(single(movement.origin.clone().map_or(Account::Outside, Account::MobileMoney)))
            }
            _ => movement.source.map(|id| single(wallet(id))),
        };
        let path = format!("{}/{}", kind_path(kind), movement.id);
        let secure_pay = match kind {
            MovementKind::QuasiTransfer => Some(("Receive", "receive")),
            MovementKind::FundRequest => Some(("Send", "send")),
            _ => None,
        }
        .map(|(purpose, command)| {
            let link = url(base_url, &format!("{path}/{command}"));
            SecurePay { purpose: Purpose { kind: purpose }, qr_code: QrCode { src: link.clone() }, link }
        });
        Self {
            id: movement.id.to_string(),
            kind: kind.as_str(),
            url: url(base_url, &path),
            creator: Creator {
                kind: CREATOR_TYPE,
                account_id: project.to_string(),
                auth_access_id: movement.creator_key_id.clone(),
            },
            created_time: Time::new(movement.created_at),
            completed_time: movement.completed_at.map(Time::new),
            updated_time: Time::new(movement.updated_at),
            h1_descriptor: movement.notes.h1.as_ref().map(H1Response::of),
            source,
            destination: movement.destination.map(|id| single(wallet(id))),
            fees: Fees {
                value: FeesValue { fixe: JsonDecimal(Decimal::ZERO), percent: JsonDecimal(Decimal::ZERO) },
                amount: AmountResponse::new(Decimal::ZERO, balance_type),
            },
            attempt: (!kind.is_pending_kind()).then(|| LightAttempt { id: attempt_id(movement.id) }),
            amount: amount(),
            balance_type: balance_type.to_string(),
            sending: match movement.status {
                MovementStatus::Successful => "TotallyDone",
                _ => "NotYetDone",
            },
            status: StatusResponse::of(movement.status, kind),
            secure_pay,
            expire: movement.expires_at.map(|at| ExpireResponse {
                delay: DurationResponse::new(at.epoch_ms() - movement.created_at.epoch_ms()),
                time: Time::new(at),
            }),
            description: movement.notes.description.as_ref().map(ToString::to_string),
            foreign_id: movement.foreign_id.as_ref().map(ToString::to_string),
            foreign_data: movement.notes.foreign_data.as_ref().map(ToString::to_string),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AttemptResponse {
    pub id: String,
    pub url: String,
    pub created_time: Time,
    pub parent_type: &'static str,
    pub parent_id: String,
    pub status: Purpose,
    /// No multi-factor step: a key's request is its own authorisation.
    pub validations: Vec<serde_json::Value>,
}

impl AttemptResponse {
    pub fn new(attempt: &Attempt, base_url: Option<&str>) -> Self {
        let id = attempt.id();
        Self {
            url: url(base_url, &format!("/v1.0/attempts/{id}")),
            id,
            created_time: Time::new(attempt.created_at),
            parent_type: attempt.parent.as_str(),
            parent_id: attempt.movement.to_string(),
            status: Purpose {
                kind: match attempt.status {
                    AttemptStatus::Successful => "Successful",
                },
            },
            validations: Vec::new(),
        }
    }
}

/// The transaction's wallet as it is now, and its pocket around the transaction.
#[derive(Debug, Clone, Serialize)]
pub struct TransactionWallet {
    #[serde(flatten)]
    pub wallet: WalletResponse,
    pub before: Pocket,
    pub after: Pocket,
}

#[derive(Debug, Clone, Serialize)]
pub struct Parent {
    #[serde(rename = "_type")]
    pub kind: &'static str,
    #[serde(flatten)]
    pub movement: MovementResponse,
}

#[derive(Debug, Clone, Serialize)]
pub struct Details {
    #[serde(rename = "_type")]
    pub kind: &'static str,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TransactionResponse {
    pub id: String,
    pub url: String,
    pub created_time: Time,
    pub h1: H1Response,
    pub details: Details,
    pub dc: &'static str,
    pub parent: Parent,
    pub source: MoneyAccount,
    pub destination: MoneyAccount,
    pub amount: AmountResponse,
    pub status: Purpose,
    pub wallet: TransactionWallet,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub foreign_data: Option<String>,
}

impl TransactionResponse {
    pub fn new(transaction: &Transaction, wallet: &Wallet, parent: &Movement, base_url: Option<&str>) -> Self {
        let id = transaction.id.to_string();
        let project = &wallet.balance.project_id;
        let details = match (&transaction.source, &transaction.destination) {
            (Account::MobileMoney(_), _) | (_, Account::MobileMoney(_)) => "MobileMoneyTransfer",
            _ => "FPayTransfer",
        };
        Self {
            url: url(base_url, &format!("/v1.0/transactions/{id}")),
            id,
            created_time: Time::new(transaction.id.at),
            h1: H1Response::of(&transaction.h1),
            details: Details { kind: details },
            dc: transaction.dc.as_str(),
            parent: Parent { kind: parent.kind.as_str(), movement: MovementResponse::new(parent, project, base_url) },
            source: MoneyAccount::new(&transaction.source),
            destination: MoneyAccount::new(&transaction.destination),
            amount: AmountResponse::new(transaction.amount.value(), &transaction.balance_type),
            status: Purpose { kind: "Successful" },
            wallet: TransactionWallet {
                wallet: WalletResponse::new(wallet, base_url),
                before: Pocket::of(&transaction.before),
                after: Pocket::of(&transaction.after),
            },
            description: transaction.description.as_ref().map(ToString::to_string),
            foreign_data: transaction.foreign_data.as_ref().map(ToString::to_string),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_iso_8601_and_in_parts() {
        assert_eq!(DurationResponse::new(7_200_000).iso8601, "PT2H");
        assert_eq!(DurationResponse::new(5_400_000).iso8601, "PT1H30M");
        assert_eq!(DurationResponse::new(45_000).iso8601, "PT45S");
        assert_eq!(DurationResponse::new(0).iso8601, "PT0S");
        assert_eq!(DurationResponse::new(8 * 86_400_000).iso8601, "P8D");
        assert_eq!(DurationResponse::new(1_500).iso8601, "PT1.500S");
        let parts = DurationResponse::new(8 * 86_400_000 + 3_723_004).part;
        assert_eq!((parts.w, parts.d, parts.h, parts.m, parts.s, parts.ms), (1, 1, 1, 2, 3, 4));
    }
}
