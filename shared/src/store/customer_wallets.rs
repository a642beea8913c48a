//! Customer wallet accounts, wallet tokens, orders and the transaction index.
//!
//! A direct debit's *claim* — the token's one use, the account still linked under the token's
//! link version, the order, the transaction index — is a list of conditional writes that go
//! into one transaction: on their own, or inside the sandbox wallet's debit.

use super::attributes::{boolean, built, decimal, key, n, s, Item, Reader};
use super::keys::{self, ORDER_SK, PK, SK, TTL, TXN_SK, WALLET_ACCOUNTS_FIRST, WALLET_TOKEN_SK};
use super::{Store, StoreError};
use crate::domain::names::ProjectId;
use crate::domain::time::Millis;
use crate::domain::wallet_accounts::{
    Authentication, CustomerId, Gateway, MobileNumber, Order, OrderId, PaymentAmount, PaymentStatus, TokenGrant, TxnId,
    WalletAccount, WalletAccountId,
};
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, CancellationReason, ConditionCheck, KeysAndAttributes, Put, ReturnValuesOnConditionCheckFailure,
    TransactWriteItem, Update,
};
use std::collections::HashMap;

// ---- wallet accounts ----

fn account_item(account: &WalletAccount) -> Item {
    let mut item =
        key(keys::customer_pk(&account.project, &account.customer), keys::wallet_account_sk(account.gateway));
    let mut put = |name: &str, value: AttributeValue| {
        item.insert(name.to_owned(), value);
    };
    put("projectId", s(account.project.as_str()));
    put("customerId", s(account.customer.as_str()));
    put("walletId", s(account.id.as_str()));
    put("gateway", s(account.gateway.as_str()));
    put("mobileNumber", s(account.mobile.as_str()));
    put("linked", boolean(account.linked));
    put("currentBalance", decimal(account.current_balance));
    put("linkVersion", n(account.link_version));
    put("createdAt", n(account.created_at.epoch_ms()));
    if let Some(reference) = &account.reference {
        put("reference", s(reference));
    }
    if let Some(at) = account.last_refreshed {
        put("lastRefreshed", n(at.epoch_ms()));
    }
    item
}

fn account_from_item(item: &Item) -> Result<WalletAccount, StoreError> {
    let r = Reader::new(item, "wallet account");
    Ok(WalletAccount {
        project: r.parsed("projectId", ProjectId::parse)?,
        customer: r.parsed("customerId", CustomerId::parse)?,
        id: r.parsed("walletId", WalletAccountId::parse)?,
        gateway: r.parsed("gateway", Gateway::parse)?,
        mobile: r.parsed("mobileNumber", MobileNumber::parse)?,
        linked: matches!(item.get("linked"), Some(AttributeValue::Bool(true))),
        reference: r.opt_str("reference")?.map(str::to_owned),
        current_balance: r.decimal("currentBalance")?,
        last_refreshed: r.opt_number("lastRefreshed")?.map(Millis::from_epoch_ms),
        link_version: r.number("linkVersion")?,
        created_at: Millis::from_epoch_ms(r.number("createdAt")?),
    })
}

impl Store {
    /// Creates the account unless the customer already has one at this gateway (`false`).
    pub async fn insert_wallet_account(&self, account: &WalletAccount) -> Result<bool, StoreError> {
        self.put_account(account, "attribute_not_exists(pk)", []).await
    }

    /// Replaces the account if nobody changed it since it was read at `read_version`
    /// (`false` otherwise).
    pub async fn replace_wallet_account(&self, account: &WalletAccount, read_version: u64) -> Result<bool, StoreError> {
        let values = [(":v", n(read_version)), (":id", s(account.id.as_str()))];
        self.put_account(account, "linkVersion = :v AND walletId = :id", values).await
    }

    /// Writes the account if `condition` holds: `false` when it does not.
    async fn put_account<const N: usize>(
        &self,
        account: &WalletAccount,
        condition: &str,
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
            .key_condition_expression("pk = :pk AND begins_with(sk, :w)")
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
                .update_expression("SET currentBalance = :b, lastRefreshed = :at")
                .condition_expression("linkVersion = :v")
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
        item.insert("customerId".into(), s(grant.customer.as_str()));
        item.insert("walletId".into(), s(grant.wallet_id.as_str()));
        item.insert("gateway".into(), s(grant.gateway.as_str()));
        item.insert("linkVersion".into(), n(grant.link_version));
        item.insert("reference".into(), s(&grant.reference));
        item.insert("expiresAtMs".into(), n(grant.expires_at.epoch_ms()));
        item.insert("issuedAt".into(), n(now.epoch_ms()));
        // TTL only tidies up, days later; `expiresAtMs` is what every use checks.
        item.insert(TTL.into(), n(grant.expires_at.epoch_seconds() + 1));
        built(
            Put::builder()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(pk)")
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
        let mut wanted = built(
            KeysAndAttributes::builder().keys(token_key.clone()).keys(order_key.clone()).consistent_read(true).build(),
        )?;
        let mut found: Vec<Item> = Vec::new();
        // Unprocessed keys come back under throttling; two items need at most a few rounds.
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
        let pick = |k: &HashMap<String, AttributeValue>| {
            found.iter().find(|item| item.get(PK) == k.get(PK) && item.get(SK) == k.get(SK))
        };
        let grant = pick(&token_key).map(grant_from_item).transpose()?;
        let order = pick(&order_key).map(order_from_item).transpose()?;
        Ok((grant, order))
    }

    pub async fn order(&self, project: &ProjectId, order: &OrderId) -> Result<Option<Order>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::order_pk(project, order), ORDER_SK)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StoreError::sdk("GetItem", e))?;
        output.item.as_ref().map(order_from_item).transpose()
    }

    /// The project and order of one of our transaction ids.
    pub async fn order_of_txn(&self, txn: &TxnId) -> Result<Option<(ProjectId, OrderId)>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::txn_pk(txn), TXN_SK)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StoreError::sdk("GetItem", e))?;
        let Some(item) = output.item else { return Ok(None) };
        let r = Reader::new(&item, "transaction index");
        Ok(Some((r.parsed("projectId", ProjectId::parse)?, r.parsed("orderId", OrderId::parse)?)))
    }

    /// The claim's writes, for a transaction of their own or inside a sandbox debit. Their
    /// order is fixed: see [`ClaimRefused::from_reasons`].
    pub fn claim_items(&self, claim: &Claim<'_>) -> Result<Vec<TransactWriteItem>, StoreError> {
        let order = &claim.order;
        let project = &order.project;
        let consume = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(keys::wallet_token_pk(project, claim.token_hash), WALLET_TOKEN_SK)))
            .update_expression("SET usedAt = :now, orderId = :order")
            .condition_expression(
                "attribute_exists(pk) AND attribute_not_exists(usedAt) AND expiresAtMs > :now \
                 AND customerId = :customer AND walletId = :wallet",
            )
            .expression_attribute_values(":now", n(claim.now.epoch_ms()))
            .expression_attribute_values(":order", s(order.order_id.as_str()))
            .expression_attribute_values(":customer", s(order.customer.as_str()))
            .expression_attribute_values(":wallet", s(order.wallet_id.as_str()));
        let linked = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(key(keys::customer_pk(project, &order.customer), keys::wallet_account_sk(order.gateway))))
            .condition_expression("linked = :true AND linkVersion = :v AND walletId = :wallet")
            .expression_attribute_values(":true", boolean(true))
            .expression_attribute_values(":v", n(claim.link_version))
            .expression_attribute_values(":wallet", s(order.wallet_id.as_str()));
        let order_put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(order_item(order)))
            .condition_expression("attribute_not_exists(pk)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        let mut index = key(keys::txn_pk(&order.txn_id), TXN_SK);
        index.insert("projectId".into(), s(project.as_str()));
        index.insert("orderId".into(), s(order.order_id.as_str()));
        let index_put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(index))
            .condition_expression("attribute_not_exists(pk)");
        Ok(vec![
            TransactWriteItem::builder().update(built(consume.build())?).build(),
            TransactWriteItem::builder().condition_check(built(linked.build())?).build(),
            TransactWriteItem::builder().put(built(order_put.build())?).build(),
            TransactWriteItem::builder().put(built(index_put.build())?).build(),
        ])
    }

    /// The claim on its own (providers whose wallets are elsewhere): one transaction.
    pub async fn write_claim(&self, claim: &Claim<'_>) -> Result<(), ClaimError> {
        let items = self.claim_items(claim).map_err(ClaimError::Store)?;
        match self.client.transact_write_items().set_transact_items(Some(items)).send().await {
            Ok(_) => Ok(()),
            Err(error) => {
                if let Some(TransactWriteItemsError::TransactionCanceledException(canceled)) = error.as_service_error()
                {
                    if let Some(refused) =
                        ClaimRefused::from_reasons(canceled.cancellation_reasons()).map_err(ClaimError::Store)?
                    {
                        return Err(ClaimError::Refused(refused));
                    }
                }
                Err(ClaimError::Store(StoreError::sdk("TransactWriteItems", error)))
            }
        }
    }

    /// Moves an order from `from` to its new state if it is still in `from`. A pending order
    /// moves on only while its time has not run out, and expires only once it has.
    pub fn order_transition(
        &self,
        order: &Order,
        from: PaymentStatus,
        now: Millis,
    ) -> Result<TransactWriteItem, StoreError> {
        let pending = from == PaymentStatus::PendingVbv;
        let condition = match (pending, order.status) {
            (true, PaymentStatus::AuthenticationFailed) => "#status = :from AND expiresAtMs <= :now",
            (true, _) => "#status = :from AND expiresAtMs > :now",
            (false, _) => "#status = :from",
        };
        let mut put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(order_item(order)))
            .condition_expression(condition)
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":from", s(from.as_str()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        if pending {
            put = put.expression_attribute_values(":now", n(now.epoch_ms()));
        }
        Ok(TransactWriteItem::builder().put(built(put.build())?).build())
    }

    /// [`Self::order_transition`] on its own: `Err(Some(order))` with the order as it is when
    /// the transition no longer applies.
    pub async fn transition_order(
        &self,
        order: &Order,
        from: PaymentStatus,
        now: Millis,
    ) -> Result<Result<(), Option<Order>>, StoreError> {
        let item = self.order_transition(order, from, now)?;
        match self.client.transact_write_items().transact_items(item).send().await {
            Ok(_) => Ok(Ok(())),
            Err(error) => {
                if let Some(TransactWriteItemsError::TransactionCanceledException(canceled)) = error.as_service_error()
                {
                    if let Some(reason) = canceled.cancellation_reasons().first() {
                        if reason.code() == Some("ConditionalCheckFailed") {
                            return Ok(Err(reason.item.as_ref().map(order_from_item).transpose()?));
                        }
                    }
                }
                Err(StoreError::sdk("TransactWriteItems", error))
            }
        }
    }
}

/// The writes that make a direct debit happen once: see the module doc.
pub struct Claim<'a> {
    pub token_hash: &'a str,
    pub link_version: u64,
    pub order: Order,
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

#[derive(Debug, thiserror::Error)]
pub enum ClaimError {
    #[error("claim refused: {0:?}")]
    Refused(ClaimRefused),
    #[error(transparent)]
    Store(StoreError),
}

impl ClaimRefused {
    /// The claim's cancellation reasons (in [`Store::claim_items`] order), when one of its
    /// conditions failed. The order wins over the token: a repeated order is not a bad token.
    pub fn from_reasons(reasons: &[CancellationReason]) -> Result<Option<Self>, StoreError> {
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
        customer: r.parsed("customerId", CustomerId::parse)?,
        wallet_id: r.parsed("walletId", WalletAccountId::parse)?,
        gateway: r.parsed("gateway", Gateway::parse)?,
        link_version: r.number("linkVersion")?,
        reference: r.str("reference")?.to_owned(),
        expires_at: Millis::from_epoch_ms(r.number("expiresAtMs")?),
        used: item.contains_key("usedAt"),
    })
}

fn order_item(order: &Order) -> Item {
    let mut item = key(keys::order_pk(&order.project, &order.order_id), ORDER_SK);
    let mut put = |name: &str, value: AttributeValue| {
        item.insert(name.to_owned(), value);
    };
    put("projectId", s(order.project.as_str()));
    put("orderId", s(order.order_id.as_str()));
    put("txnId", s(order.txn_id.as_str()));
    put("merchantId", s(&order.merchant_id));
    put("customerId", s(order.customer.as_str()));
    put("walletId", s(order.wallet_id.as_str()));
    put("gateway", s(order.gateway.as_str()));
    put("reference", s(&order.reference));
    put("amount", decimal(order.amount.value()));
    put("status", s(order.status.as_str()));
    put("createdAt", n(order.created_at.epoch_ms()));
    put("updatedAt", n(order.updated_at.epoch_ms()));
    put("expiresAtMs", n(order.expires_at.epoch_ms()));
    if let Some(auth) = &order.authentication {
        put("authMethod", s(&auth.method));
        put("authUrl", s(&auth.url));
        if !auth.params.is_empty() {
            let params = auth.params.iter().map(|(k, v)| (k.clone(), s(v))).collect();
            put("authParams", AttributeValue::M(params));
        }
    }
    item
}

fn order_from_item(item: &Item) -> Result<Order, StoreError> {
    let r = Reader::new(item, "order");
    let authentication = match (r.opt_str("authMethod")?, r.opt_str("authUrl")?) {
        (Some(method), Some(url)) => {
            let mut params: Vec<(String, String)> = match item.get("authParams") {
                Some(AttributeValue::M(map)) => {
                    map.iter().filter_map(|(k, v)| v.as_s().ok().map(|v| (k.clone(), v.clone()))).collect()
                }
                _ => Vec::new(),
            };
            params.sort();
            Some(Authentication { method: method.to_owned(), url: url.to_owned(), params })
        }
        _ => None,
    };
    Ok(Order {
        project: r.parsed("projectId", ProjectId::parse)?,
        order_id: r.parsed("orderId", OrderId::parse)?,
        txn_id: r.parsed("txnId", TxnId::parse)?,
        merchant_id: r.str("merchantId")?.to_owned(),
        customer: r.parsed("customerId", CustomerId::parse)?,
        wallet_id: r.parsed("walletId", WalletAccountId::parse)?,
        gateway: r.parsed("gateway", Gateway::parse)?,
        reference: r.str("reference")?.to_owned(),
        amount: PaymentAmount::new(r.decimal("amount")?)
            .ok_or_else(|| StoreError::Corrupt("order attribute amount: not a payment amount".into()))?,
        status: r.parsed("status", |t| PaymentStatus::parse(t).ok_or(()))?,
        authentication,
        created_at: Millis::from_epoch_ms(r.number("createdAt")?),
        updated_at: Millis::from_epoch_ms(r.number("updatedAt")?),
        expires_at: Millis::from_epoch_ms(r.number("expiresAtMs")?),
    })
}
