//! The JSON answers of the wallet API (FPay's shapes, camelCase): wallets and pages of them,
//! and the pieces every FPay object shares (times, creators, pockets). Movements, attempts and
//! transactions are in [`super::movements`].

use super::collection::Collection;
use super::JsonDecimal;
use crate::domain::time::Millis;
use crate::domain::transactions::PocketState;
use crate::domain::wallets::{Wallet, CREATOR_TYPE};
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Timestamp {
    pub milliseconds: i64,
    pub seconds: i64,
}

/// A moment as FPay writes it: ISO-8601 and epoch numbers.
#[derive(Debug, Clone, Serialize)]
pub struct Time {
    pub iso8601: String,
    pub timestamp: Timestamp,
}

impl Time {
    pub fn new(at: Millis) -> Self {
        Self {
            iso8601: at.to_iso8601(),
            timestamp: Timestamp { milliseconds: at.epoch_ms(), seconds: at.epoch_ms().div_euclid(1000) },
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Creator {
    #[serde(rename = "_type")]
    pub kind: &'static str,
    pub account_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_access_id: Option<String>,
}

/// FPay's `mars` and `man` objects.
#[derive(Debug, Clone, Serialize)]
pub struct Alpha {
    pub alpha: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PocketBalance {
    pub available: JsonDecimal,
    pub locked_in: JsonDecimal,
    pub locked_out: JsonDecimal,
}

#[derive(Debug, Clone, Serialize)]
pub struct Volume {
    pub input: JsonDecimal,
    pub output: JsonDecimal,
    pub total: JsonDecimal,
}

#[derive(Debug, Clone, Serialize)]
pub struct Pocket {
    pub balance: PocketBalance,
    pub volume: Volume,
}

impl Pocket {
    pub fn of(state: &PocketState) -> Self {
        Self {
            balance: PocketBalance {
                available: JsonDecimal(state.available),
                locked_in: JsonDecimal(state.locked_in),
                locked_out: JsonDecimal(state.locked_out),
            },
            volume: Volume {
                input: JsonDecimal(state.volume_input),
                output: JsonDecimal(state.volume_output),
                total: JsonDecimal(state.volume_input + state.volume_output),
            },
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WalletResponse {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub foreign_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub foreign_data: Option<String>,
    pub is_main: bool,
    pub mars: Alpha,
    pub man: Alpha,
    pub creator: Creator,
    pub created_time: Time,
    pub main_pocket: Pocket,
    pub balance_type: String,
}

impl WalletResponse {
    /// `base_url`: the API's address as the request reached it (none for direct invocations).
    pub fn new(wallet: &Wallet, base_url: Option<&str>) -> Self {
        let (info, balance) = (&wallet.info, &wallet.balance);
        Self {
            id: balance.id.to_string(),
            url: base_url.map(|base| format!("{base}/v1.0/wallets/{}", balance.id)),
            name: info.name.to_string(),
            description: info.description.as_ref().map(ToString::to_string),
            foreign_id: info.foreign_id.as_ref().map(ToString::to_string),
            foreign_data: info.foreign_data.as_ref().map(ToString::to_string),
            is_main: info.is_main,
            mars: Alpha { alpha: info.numbers.mars.to_string() },
            man: Alpha { alpha: info.numbers.man.to_string() },
            creator: Creator {
                kind: CREATOR_TYPE,
                account_id: balance.project_id.to_string(),
                auth_access_id: info.creator_key_id.clone(),
            },
            created_time: Time::new(balance.created_at),
            main_pocket: Pocket::of(&PocketState::of(balance)),
            balance_type: balance.balance_type.to_string(),
        }
    }
}

/// A page of wallets: FPay's collection of Wallets (`url`, `items`, `pagination`).
pub type WalletPage = Collection<WalletResponse>;
