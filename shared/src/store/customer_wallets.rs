//! Customer wallet accounts, wallet tokens, orders and the transaction index.
//!
//! A direct debit's *claim* — the token's one use, the account still linked under the token's
//! link version, the order, the transaction index — is a list of conditional writes that go
//! into one transaction: on their own, or inside the sandbox wallet's debit.

use super::attribute_names::{
    CREATED_AT, CURRENT_BALANCE, CUSTOMER_ID, EXPIRES_AT_MS, GATEWAY, ISSUED_AT, LAST_REFRESHED, LINKED, LINK_VERSION,
    MOBILE_NUMBER, ORDER_ID, PROJECT_ID, REFERENCE, USED_AT, WALLET_ID,
};
use super::attributes::{boolean, built, decimal, key, n, s, Item, Reader};
use super::keys::{self, ORDER_SK, PK, SK, TTL, TXN_SK, WALLET_ACCOUNTS_FIRST, WALLET_ACCOUNT_ID_SK, WALLET_TOKEN_SK};
use super::orders::{order_claim, order_from_item, order_index_item};
use super::{Store, StoreError};
use crate::domain::names::ProjectId;
use crate::domain::orders::Order;
use crate::domain::time::Millis;
use crate::domain::wallet_accounts::{
    CustomerId, Gateway, MobileNumber, OrderId, TokenGrant, WalletAccount, WalletAccountId,
};
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, CancellationReason, ConditionCheck, KeysAndAttributes, Put, TransactWriteItem, Update,
};
use std::collections::HashMap;

// ---- wallet accounts ----

fn account_item(account: &WalletAccount) -> Item {
    let mut item =
        key(keys::customer_pk(&account.project, &account.customer), keys::wallet_account_sk(account.gateway));
    let mut put = |name: &str, value: AttributeValue| {
        item.insert(name.to_owned(), value);
    };
    put(PROJECT_ID, s(account.project.as_str()));
    put(CUSTOMER_ID, s(account.customer.as_str()));
    put(WALLET_ID, s(account.id.as_str()));
    put(GATEWAY, s(account.gateway.as_str()));
    put(MOBILE_NUMBER, s(account.mobile.as_str()));
    put(LINKED, boolean(account.linked));
    put(CURRENT_BALANCE, decimal(account.current_balance));
    put(LINK_VERSION, n(account.link_version));
    put(CREATED_AT, n(account.created_at.epoch_ms()));
    if let Some(reference) = &account.reference {
        put(REFERENCE, s(reference));
    }
    if let Some(at) = account.last_refreshed {
        put(LAST_REFRESHED, n(at.epoch_ms()));
    }
    item
}

pub(super) fn account_from_item(item: &Item) -> Result<WalletAccount, StoreError> {
    let r = Reader::new(item, "wallet account");
    Ok(WalletAccount {
        project: r.parsed(PROJECT_ID, ProjectId::parse)?,
        customer: r.parsed(CUSTOMER_ID, CustomerId::parse)?,
        id: r.parsed(WALLET_ID, WalletAccountId::parse)?,
        gateway: r.parsed(GATEWAY, Gateway::parse)?,
        mobile: r.parsed(MOBILE_NUMBER, MobileNumber::parse)?,
        linked: matches!(item.get(LINKED), Some(AttributeValue::Bool(true))),
        reference: r.opt_str(REFERENCE)?.map(str::to_owned),
        current_balance: r.decimal(CURRENT_BALANCE)?,
        last_refreshed: r.opt_number(LAST_REFRESHED)?.map(Millis::from_epoch_ms),
        link_version: r.number(LINK_VERSION)?,
        created_at: Millis::from_epoch_ms(r.number(CREATED_AT)?),
    })
}

impl Store {
    /// Creates the account, and the index from its id to it, unless the customer already has
    /// one at this gateway (`false`). One transaction.
    pub async fn insert_wallet_account(&self, account: &WalletAccount) -> Result<bool, StoreError> {
        let mut pointer = key(keys::wallet_account_id_pk(&account.project, &account.id), WALLET_ACCOUNT_ID_SK);
        pointer.insert(CUSTOMER_ID.into(), s(account.customer.as_str()));
        pointer.insert(GATEWAY.into(), s(account.gateway.as_str()));
        self.insert_new(vec![account_item(account), pointer]).await
    }

    /// New items, all or none, in one transaction: `false` (nothing written) when the first
    /// one exists. The others are indexes of the first: they exist only if it does.
    pub(super) async fn insert_new(&self, items: Vec<Item>) -> Result<bool, StoreError> {
        let mut puts = Vec::new();
        for item in items {
            let put =
                Put::builder().table_name(&self.table).set_item(Some(item)).condition_expression(keys::item_absent());
            puts.push(TransactWriteItem::builder().put(built(put.build())?).build());
        }
        match self.client.transact_write_items().set_transact_items(Some(puts)).send().await {
            Ok(_) => Ok(true),
            Err(error) => match error.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(canceled))
                    if canceled.cancellation_reasons().first().and_then(|r| r.code())
                        == Some("ConditionalCheckFailed") =>
                {
                    Ok(false)
                }
                _ => Err(StoreError::sdk("TransactWriteItems", error)),
            },
        }
    }

    /// The account of this id, wherever its customer: the id's index, then the account.
    pub async fn wallet_account_by_id(
        &self,
        project: &ProjectId,
        id: &WalletAccountId,
    ) -> Result<Option<WalletAccount>, StoreError> {
        let Some(pointer) = self.get(key(keys::wallet_account_id_pk(project, id), WALLET_ACCOUNT_ID_SK)).await? else {
            return Ok(None);
        };
        let r = Reader::new(&pointer, "wallet account index");
        let customer = r.parsed(CUSTOMER_ID, CustomerId::parse)?;
        let gateway = r.parsed(GATEWAY, Gateway::parse)?;
        let account = self.get(key(keys::customer_pk(project, &customer), keys::wallet_account_sk(gateway))).await?;
        let account = account.as_ref().map(account_from_item).transpose()?;
        Ok(account.filter(|a| a.id == *id))
    }

    /// The items of these keys that exist, read consistently in one BatchGetItem (plus a
    /// round for each batch of unprocessed keys DynamoDB hands back under throttling).
    pub(super) async fn batch_get(&self, keys: Vec<Item>) -> Result<Vec<Item>, StoreError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut wanted = built(KeysAndAttributes::builder().set_keys(Some(keys)).consistent_read(true).build())?;
        let mut found = Vec::new();
        for _ in 0..4 {
            let output = self
                .client
                .batch_get_item()
                .request_items(&self.table, wanted.clone())
                .send()
                .await
                .map_err(|e| StoreError::sdk("BatchGetItem", e))?;
            if let Some(items) = output.responses.and_then(|mut r| r.remove(&self.table)) {
                found.extend(items);
            }
            match output.unprocessed_keys.and_then(|mut u| u.remove(&self.table)) {
                Some(rest) if !rest.keys.is_empty() => wanted = rest,
                _ => break,
            }
        }
        Ok(found)
    }

    /// One item by key, read consistently.
    pub(super) async fn get(&self, key: Item) -> Result<Option<Item>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StoreError::sdk("GetItem", e))?;
        Ok(output.item)
    }

    /// Replaces the account if nobody changed it since it was read at `read_version`
    /// (`false` otherwise).
    pub async fn replace_wallet_account(&self, account: &WalletAccount, read_version: u64) -> Result<bool, StoreError> {
        let values = [(":v", n(read_version)), (":id", s(account.id.as_str()))];
        self.put_account(account, format!("{LINK_VERSION} = :v AND {WALLET_ID} = :id"), values).await
    }

    /// Writes the account if `condition` holds: `false` when it does not.
    async fn put_account<const N: usize>(
        &self,
        account: &WalletAccount,
        condition: String,
        values: [(&str, AttributeValue); N],
    ) -> Result<bool, StoreError> {
        let mut put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(account_item(account)))
            .condition_expression(condition);
        for (name, value) in values {
            put = put.expression_attribute_values(name, value);
        }
        match put.send().await {
            Ok(_) => Ok(true),
            Err(error)
                if matches!(error.as_service_error(), Some(PutItemError::ConditionalCheckFailedException(_))) =>
            {
                Ok(false)
            }
            Err(error) => Err(StoreError::sdk("PutItem", error)),
        }
    }

    /// All of a customer's accounts, in gateway order: one Query.
    pub async fn wallet_accounts(
        &self,
        project: &ProjectId,
        customer: &CustomerId,
    ) -> Result<Vec<WalletAccount>, StoreError> {
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .consistent_read(true)
            .key_condition_expression(format!("{PK} = :pk AND begins_with({SK}, :w)"))
            .expression_attribute_values(":pk", s(keys::customer_pk(project, customer)))
            .expression_attribute_values(":w", s(WALLET_ACCOUNTS_FIRST))
            .send()
            .await
            .map_err(|e| StoreError::sdk("Query", e))?;
        output.items().iter().map(account_from_item).collect()
    }

    /// New tokens (and, for a refresh, the accounts' new balances) in one transaction.
    /// `false` when an account was delinked or relinked meanwhile: nothing was written.
    pub async fn issue_tokens(
        &self,
        tokens: &[(String, TokenGrant)],
        project: &ProjectId,
        refreshed: &[WalletAccount],
        now: Millis,
    ) -> Result<bool, StoreError> {
        let mut items = Vec::new();
        for (hash, grant) in tokens {
            items.push(TransactWriteItem::builder().put(self.token_put(project, hash, grant, now)?).build());
        }
        for account in refreshed {
            let update = Update::builder()
                .table_name(&self.table)
                .set_key(Some(key(
                    keys::customer_pk(project, &account.customer),
                    keys::wallet_account_sk(account.gateway),
                )))
                .update_expression(format!("SET {CURRENT_BALANCE} = :b, {LAST_REFRESHED} = :at"))
                .condition_expression(format!("{LINK_VERSION} = :v"))
                .expression_attribute_values(":b", decimal(account.current_balance))
                .expression_attribute_values(":at", n(account.last_refreshed.unwrap_or(now).epoch_ms()))
                .expression_attribute_values(":v", n(account.link_version));
            items.push(TransactWriteItem::builder().update(built(update.build())?).build());
        }
        if items.is_empty() {
            return Ok(true);
        }
        match self.client.transact_write_items().set_transact_items(Some(items)).send().await {
            Ok(_) => Ok(true),
            Err(error) => match error.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(canceled))
                    if canceled.cancellation_reasons().iter().any(|r| r.code() == Some("ConditionalCheckFailed")) =>
                {
                    Ok(false)
                }
                _ => Err(StoreError::sdk("TransactWriteItems", error)),
            },
        }
    }

    fn token_put(&self, project: &ProjectId, hash: &str, grant: &TokenGrant, now: Millis) -> Result<Put, StoreError> {
        let mut item = key(keys::wallet_token_pk(project, hash), WALLET_TOKEN_SK);
        item.insert(CUSTOMER_ID.into(), s(grant.customer.as_str()));
        item.insert(WALLET_ID.into(), s(grant.wallet_id.as_str()));
        item.insert(GATEWAY.into(), s(grant.gateway.as_str()));
        item.insert(LINK_VERSION.into(), n(grant.link_version));
        item.insert(REFERENCE.into(), s(&grant.reference));
        item.insert(EXPIRES_AT_MS.into(), n(grant.expires_at.epoch_ms()));
        item.insert(ISSUED_AT.into(), n(now.epoch_ms()));
        // TTL only tidies up, days later; `expiresAtMs` is what every use checks.
        item.insert(TTL.into(), n(grant.expires_at.epoch_seconds() + 1));
        built(
            Put::builder()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression(keys::item_absent())
                .build(),
        )
    }

    /// The token's grant and the order, in one BatchGetItem: a repeated order answers its
    /// status without touching the token, a new one needs the token's wallet.
    pub async fn token_and_order(
        &self,
        project: &ProjectId,
        token_hash: &str,
        order: &OrderId,
    ) -> Result<(Option<TokenGrant>, Option<Order>), StoreError> {
        let token_key = key(keys::wallet_token_pk(project, token_hash), WALLET_TOKEN_SK);
        let order_key = key(keys::order_pk(project, order), ORDER_SK);
        let found = self.batch_get(vec![token_key.clone(), order_key.clone()]).await?;
        let pick = |k: &HashMap<String, AttributeValue>| {
            found.iter().find(|item| item.get(PK) == k.get(PK) && item.get(SK) == k.get(SK))
        };
        let grant = pick(&token_key).map(grant_from_item).transpose()?;
        let order = pick(&order_key).map(order_from_item).transpose()?;
        Ok((grant, order))
    }
}

/// The writes that make a direct debit happen once: see the module doc.
#[derive(Debug, Clone)]
pub struct Claim {
    /// The SHA-256 of the token it uses.
    pub token_hash: String,
    pub link_version: u64,
    /// The order with its payment: a new one, or a NEW one as it was read at this version.
    pub order: Order,
    pub read_version: Option<u64>,
    pub now: Millis,
}

/// Why a claim did not land. Nothing of it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimRefused {
    /// Used, expired, unknown, or not this customer's wallet's.
    Token,
    /// The account was delinked (or relinked) since the token was issued.
    NotLinked,
    /// The order id was taken first, by this order as it is now.
    OrderExists(Option<Box<Order>>),
}

impl ClaimRefused {
    /// The claim's cancellation reasons (in [`claim_items`] order), when one of its
    /// conditions failed. The order wins over the token: a repeated order is not a bad token.
    pub(super) fn from_reasons(reasons: &[CancellationReason]) -> Result<Option<Self>, StoreError> {
        let failed = |i: usize| reasons.get(i).and_then(|r| r.code()) == Some("ConditionalCheckFailed");
        if failed(2) {
            let order = reasons.get(2).and_then(|r| r.item.as_ref()).map(order_from_item).transpose()?;
            return Ok(Some(ClaimRefused::OrderExists(order.map(Box::new))));
        }
        if failed(0) {
            return Ok(Some(ClaimRefused::Token));
        }
        if failed(1) {
            return Ok(Some(ClaimRefused::NotLinked));
        }
        Ok(None)
    }
}

fn grant_from_item(item: &Item) -> Result<TokenGrant, StoreError> {
    let r = Reader::new(item, "wallet token");
    Ok(TokenGrant {
        customer: r.parsed(CUSTOMER_ID, CustomerId::parse)?,
        wallet_id: r.parsed(WALLET_ID, WalletAccountId::parse)?,
        gateway: r.parsed(GATEWAY, Gateway::parse)?,
        link_version: r.number(LINK_VERSION)?,
        reference: r.str(REFERENCE)?.to_owned(),
        expires_at: Millis::from_epoch_ms(r.number(EXPIRES_AT_MS)?),
        used: item.contains_key(USED_AT),
    })
}

/// The claim's writes, for a transaction of their own or inside a sandbox debit. Their
/// order is fixed: see [`ClaimRefused::from_reasons`].
pub(super) fn claim_items(table: &str, claim: &Claim) -> Result<Vec<TransactWriteItem>, StoreError> {
    let order = &claim.order;
    let project = &order.project;
    let payment =
        order.payment.as_ref().ok_or_else(|| StoreError::Corrupt("a claim of an order without payment".into()))?;
    let consume = Update::builder()
        .table_name(table)
        .set_key(Some(key(keys::wallet_token_pk(project, &claim.token_hash), WALLET_TOKEN_SK)))
        .update_expression(format!("SET {USED_AT} = :now, {ORDER_ID} = :order"))
        .condition_expression(format!(
            "{} AND attribute_not_exists({USED_AT}) AND {EXPIRES_AT_MS} > :now \
             AND {CUSTOMER_ID} = :customer AND {WALLET_ID} = :wallet",
            keys::item_present()
        ))
        .expression_attribute_values(":now", n(claim.now.epoch_ms()))
        .expression_attribute_values(":order", s(order.order_id.as_str()))
        .expression_attribute_values(":customer", s(payment.customer.as_str()))
        .expression_attribute_values(":wallet", s(payment.wallet_id.as_str()));
    let linked = ConditionCheck::builder()
        .table_name(table)
        .set_key(Some(key(keys::customer_pk(project, &payment.customer), keys::wallet_account_sk(payment.gateway))))
        .condition_expression(format!("{LINKED} = :true AND {LINK_VERSION} = :v AND {WALLET_ID} = :wallet"))
        .expression_attribute_values(":true", boolean(true))
        .expression_attribute_values(":v", n(claim.link_version))
        .expression_attribute_values(":wallet", s(payment.wallet_id.as_str()));
    let mut index = key(keys::txn_pk(&payment.txn_id), TXN_SK);
    index.insert(PROJECT_ID.into(), s(project.as_str()));
    index.insert(ORDER_ID.into(), s(order.order_id.as_str()));
    let index_put = Put::builder().table_name(table).set_item(Some(index)).condition_expression(keys::item_absent());
    let mut items = vec![
        TransactWriteItem::builder().update(built(consume.build())?).build(),
        TransactWriteItem::builder().condition_check(built(linked.build())?).build(),
        order_claim(table, order, claim.read_version)?,
        TransactWriteItem::builder().put(built(index_put.build())?).build(),
    ];
    // An order created by its debit takes its place in the project's list now.
    if claim.read_version.is_none() {
        items.push(order_index_item(table, order)?);
    }
    Ok(items)
}
