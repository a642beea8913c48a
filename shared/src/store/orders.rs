//! Orders: the order item (the merchant's fields, its payment, its refunds), the project's
//! order index for the list, and our transaction id → order index.

use super::attribute_names::{
    AMOUNT, AUTH_METHOD, AUTH_PARAMS, AUTH_URL, CREATED_AT, CURRENCY, CUSTOMER_ID, DETAILS, EXPIRES_AT_MS, GATEWAY,
    ORDER_ID, ORDER_UID, PROJECT_ID, REFERENCE, REFUNDS, REFUND_ID, REQUEST_ID, STATUS, TXN_ID, UPDATED_AT, VERSION,
    WALLET_ID,
};
use super::attributes::{built, decimal, key, n, s, Item, Reader};
use super::keys::{self, ORDER_SK, TXN_SK};
use super::{Store, StoreError};
use crate::domain::names::ProjectId;
use crate::domain::orders::{
    Authentication, Order, OrderDetails, OrderUid, Payment, Refund, RefundId, RefundRequestId, RefundStatus,
    CURRENCY as INR, UDFS,
};
use crate::domain::time::Millis;
use crate::domain::wallet_accounts::{
    CustomerId, Gateway, OrderId, PaymentAmount, PaymentStatus, TxnId, WalletAccountId,
};
use aws_sdk_dynamodb::types::{AttributeValue, Put, ReturnValuesOnConditionCheckFailure, Select, TransactWriteItem};
use std::collections::HashMap;

const CUSTOMER_ID_FIELD: &str = "customer_id";
const TEXT_FIELDS: [&str; 4] = ["customer_email", "customer_phone", "return_url", "description"];
const METADATA_PREFIX: &str = "metadata.";

fn details_map(details: &OrderDetails) -> AttributeValue {
    let mut map = HashMap::new();
    if let Some(customer) = &details.customer_id {
        map.insert(CUSTOMER_ID_FIELD.to_owned(), s(customer.as_str()));
    }
    let texts = [&details.customer_email, &details.customer_phone, &details.return_url, &details.description];
    for (name, value) in TEXT_FIELDS.iter().zip(texts) {
        if let Some(value) = value {
            map.insert((*name).to_owned(), s(value));
        }
    }
    for (i, udf) in details.udf.iter().enumerate() {
        if let Some(value) = udf {
            map.insert(format!("udf{}", i + 1), s(value));
        }
    }
    for (name, value) in &details.metadata {
        map.insert(format!("{METADATA_PREFIX}{name}"), s(value));
    }
    AttributeValue::M(map)
}

fn details_from(item: &Item) -> Result<OrderDetails, StoreError> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("order attribute {DETAILS}: {what}"));
    let map = match item.get(DETAILS) {
        None => return Ok(OrderDetails::default()),
        Some(AttributeValue::M(map)) => map,
        Some(_) => return Err(corrupt("not a map")),
    };
    let text = |name: &str| map.get(name).and_then(|v| v.as_s().ok()).cloned();
    let mut udf: [Option<String>; UDFS] = Default::default();
    for (i, slot) in udf.iter_mut().enumerate() {
        *slot = text(&format!("udf{}", i + 1));
    }
    let mut metadata: Vec<(String, String)> = map
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix(METADATA_PREFIX)?.to_owned(), v.as_s().ok()?.clone())))
        .collect();
    metadata.sort();
    Ok(OrderDetails {
        customer_id: text(CUSTOMER_ID_FIELD)
            .map(|c| CustomerId::parse(&c).map_err(|_| corrupt("customer_id")))
            .transpose()?,
        customer_email: text(TEXT_FIELDS[0]),
        customer_phone: text(TEXT_FIELDS[1]),
        return_url: text(TEXT_FIELDS[2]),
        description: text(TEXT_FIELDS[3]),
        udf,
        metadata,
    })
}

fn refund_map(refund: &Refund) -> AttributeValue {
    AttributeValue::M(HashMap::from([
        (REFUND_ID.to_owned(), s(refund.id.as_str())),
        (REQUEST_ID.to_owned(), s(refund.request.as_str())),
        (AMOUNT.to_owned(), decimal(refund.amount.value())),
        (STATUS.to_owned(), s(refund.status.as_str())),
        (CREATED_AT.to_owned(), n(refund.created_at.epoch_ms())),
    ]))
}

fn refunds_from(item: &Item) -> Result<Vec<Refund>, StoreError> {
    let values = match item.get(REFUNDS) {
        None => return Ok(Vec::new()),
        Some(AttributeValue::L(values)) => values,
        Some(_) => return Err(StoreError::Corrupt(format!("order attribute {REFUNDS}: not a list"))),
    };
    values
        .iter()
        .map(|value| {
            let map = value.as_m().map_err(|_| StoreError::Corrupt(format!("order {REFUNDS}: not a map")))?;
            let r = Reader::new(map, "refund");
            Ok(Refund {
                id: r.parsed(REFUND_ID, RefundId::parse)?,
                request: r.parsed(REQUEST_ID, RefundRequestId::parse)?,
                amount: PaymentAmount::new(r.decimal(AMOUNT)?)
                    .ok_or_else(|| StoreError::Corrupt("refund amount: not a payment amount".into()))?,
                status: r.parsed(STATUS, |t| RefundStatus::parse(t).ok_or(()))?,
                created_at: Millis::from_epoch_ms(r.number(CREATED_AT)?),
            })
        })
        .collect()
}

pub(super) fn order_item(order: &Order) -> Item {
    let mut item = key(keys::order_pk(&order.project, &order.order_id), ORDER_SK);
    let mut put = |name: &str, value: AttributeValue| {
        item.insert(name.to_owned(), value);
    };
    put(PROJECT_ID, s(order.project.as_str()));
    put(ORDER_ID, s(order.order_id.as_str()));
    put(ORDER_UID, s(order.uid.as_str()));
    put(AMOUNT, decimal(order.amount.value()));
    put(CURRENCY, s(INR));
    put(DETAILS, details_map(&order.details));
    put(STATUS, s(order.status.as_str()));
    put(VERSION, n(order.version));
    put(CREATED_AT, n(order.created_at.epoch_ms()));
    put(UPDATED_AT, n(order.updated_at.epoch_ms()));
    put(EXPIRES_AT_MS, n(order.expires_at.epoch_ms()));
    if !order.refunds.is_empty() {
        put(REFUNDS, AttributeValue::L(order.refunds.iter().map(refund_map).collect()));
    }
    if let Some(payment) = &order.payment {
        put(TXN_ID, s(payment.txn_id.as_str()));
        put(CUSTOMER_ID, s(payment.customer.as_str()));
        put(WALLET_ID, s(payment.wallet_id.as_str()));
        put(GATEWAY, s(payment.gateway.as_str()));
        put(REFERENCE, s(&payment.reference));
        if let Some(auth) = &payment.authentication {
            put(AUTH_METHOD, s(&auth.method));
            put(AUTH_URL, s(&auth.url));
            if !auth.params.is_empty() {
                let params = auth.params.iter().map(|(k, v)| (k.clone(), s(v))).collect();
                put(AUTH_PARAMS, AttributeValue::M(params));
            }
        }
    }
    item
}

fn payment_from(item: &Item) -> Result<Option<Payment>, StoreError> {
    let r = Reader::new(item, "order");
    if r.opt_str(TXN_ID)?.is_none() {
        return Ok(None);
    }
    let authentication = match (r.opt_str(AUTH_METHOD)?, r.opt_str(AUTH_URL)?) {
        (Some(method), Some(url)) => {
            let mut params: Vec<(String, String)> = match item.get(AUTH_PARAMS) {
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
    Ok(Some(Payment {
        txn_id: r.parsed(TXN_ID, TxnId::parse)?,
        customer: r.parsed(CUSTOMER_ID, CustomerId::parse)?,
        wallet_id: r.parsed(WALLET_ID, WalletAccountId::parse)?,
        gateway: r.parsed(GATEWAY, Gateway::parse)?,
        reference: r.str(REFERENCE)?.to_owned(),
        authentication,
    }))
}

pub(super) fn order_from_item(item: &Item) -> Result<Order, StoreError> {
    let r = Reader::new(item, "order");
    Ok(Order {
        project: r.parsed(PROJECT_ID, ProjectId::parse)?,
        order_id: r.parsed(ORDER_ID, OrderId::parse)?,
        uid: r.parsed(ORDER_UID, OrderUid::parse)?,
        amount: PaymentAmount::new(r.decimal(AMOUNT)?)
            .ok_or_else(|| StoreError::Corrupt(format!("order attribute {AMOUNT}: not a payment amount")))?,
        details: details_from(item)?,
        payment: payment_from(item)?,
        status: r.parsed(STATUS, |t| PaymentStatus::parse(t).ok_or(()))?,
        refunds: refunds_from(item)?,
        version: r.number(VERSION)?,
        created_at: Millis::from_epoch_ms(r.number(CREATED_AT)?),
        updated_at: Millis::from_epoch_ms(r.number(UPDATED_AT)?),
        expires_at: Millis::from_epoch_ms(r.number(EXPIRES_AT_MS)?),
    })
}

/// The order written if `condition` (over `values`, with `#status` for the reserved word)
/// holds; a refusal sends the order as it is.
fn order_put(
    table: &str,
    order: &Order,
    condition: String,
    values: Vec<(&str, AttributeValue)>,
) -> Result<TransactWriteItem, StoreError> {
    let mut put = Put::builder()
        .table_name(table)
        .set_item(Some(order_item(order)))
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
    if condition.contains("#status") {
        put = put.expression_attribute_names("#status", STATUS);
    }
    for (name, value) in values {
        put = put.expression_attribute_values(name, value);
    }
    Ok(TransactWriteItem::builder().put(built(put.condition_expression(condition).build())?).build())
}

/// A new order: the order (its id not taken) and its place in the project's list.
pub(super) fn new_order_items(table: &str, order: &Order) -> Result<Vec<TransactWriteItem>, StoreError> {
    Ok(vec![order_put(table, order, keys::item_absent(), Vec::new())?, order_index_item(table, order)?])
}

pub(super) fn order_index_item(table: &str, order: &Order) -> Result<TransactWriteItem, StoreError> {
    let mut index =
        key(keys::order_index_pk(&order.project), keys::order_index_sk(order.created_at.epoch_ms(), &order.order_id));
    index.insert(ORDER_ID.into(), s(order.order_id.as_str()));
    let put = Put::builder().table_name(table).set_item(Some(index)).condition_expression(keys::item_absent());
    Ok(TransactWriteItem::builder().put(built(put.build())?).build())
}

/// `order` over the version `read_version` it was made from, if nobody wrote since.
pub(super) fn order_change(table: &str, order: &Order, read_version: u64) -> Result<TransactWriteItem, StoreError> {
    order_put(table, order, format!("{VERSION} = :v"), vec![(":v", n(read_version))])
}

/// The order put of a direct debit's claim: a new order, or a NEW one still as it was read.
pub(super) fn order_claim(
    table: &str,
    order: &Order,
    read_version: Option<u64>,
) -> Result<TransactWriteItem, StoreError> {
    match read_version {
        None => order_put(table, order, keys::item_absent(), Vec::new()),
        Some(read) => order_put(
            table,
            order,
            format!("{VERSION} = :v AND #status = :new"),
            vec![(":v", n(read)), (":new", s(PaymentStatus::New.as_str()))],
        ),
    }
}

/// Moves an order from `from` to its new state if it is still in `from`. A pending order
/// moves on only while its time has not run out, and expires only once it has.
pub(super) fn order_transition(
    table: &str,
    order: &Order,
    from: PaymentStatus,
    now: Millis,
) -> Result<TransactWriteItem, StoreError> {
    let pending = from == PaymentStatus::PendingVbv;
    // `status` is a reserved word: it needs a placeholder.
    let condition = match (pending, order.status) {
        (true, PaymentStatus::AuthenticationFailed) => format!("#status = :from AND {EXPIRES_AT_MS} <= :now"),
        (true, _) => format!("#status = :from AND {EXPIRES_AT_MS} > :now"),
        (false, _) => "#status = :from".to_owned(),
    };
    let mut values = vec![(":from", s(from.as_str()))];
    if pending {
        values.push((":now", n(now.epoch_ms())));
    }
    order_put(table, order, condition, values)
}

impl Store {
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
        Ok(Some((r.parsed(PROJECT_ID, ProjectId::parse)?, r.parsed(ORDER_ID, OrderId::parse)?)))
    }

    /// Up to `count` of the project's orders, newest first, after skipping `offset`; and how
    /// many it has. Juspay's list is by offset, so the index is read from the newest to
    /// `offset + count` (a Query, one more per MB), then the orders in one BatchGetItem.
    pub async fn orders_page(
        &self,
        project: &ProjectId,
        count: usize,
        offset: usize,
    ) -> Result<(Vec<Order>, usize), StoreError> {
        let pk = keys::order_index_pk(project);
        let query = || {
            self.client
                .query()
                .table_name(&self.table)
                .key_condition_expression(format!("{} = :pk", keys::PK))
                .expression_attribute_values(":pk", s(pk.clone()))
        };
        let mut total = 0usize;
        let mut start = None;
        loop {
            let output = query()
                .select(Select::Count)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| StoreError::sdk("Query", e))?;
            total += usize::try_from(output.count).unwrap_or(0);
            start = output.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        let mut ids = Vec::new();
        let mut start = None;
        while ids.len() < offset + count {
            let limit = i32::try_from(offset + count - ids.len()).unwrap_or(i32::MAX);
            let output = query()
                .scan_index_forward(false)
                .limit(limit)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| StoreError::sdk("Query", e))?;
            for item in output.items() {
                ids.push(Reader::new(item, "order index").parsed(ORDER_ID, OrderId::parse)?);
            }
            start = output.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        let wanted: Vec<OrderId> = ids.into_iter().skip(offset).take(count).collect();
        let mut orders = self.orders(project, &wanted).await?;
        orders.sort_by_key(|o| wanted.iter().position(|id| *id == o.order_id));
        Ok((orders, total))
    }

    /// The orders of these ids that exist, in one BatchGetItem.
    async fn orders(&self, project: &ProjectId, ids: &[OrderId]) -> Result<Vec<Order>, StoreError> {
        let keys = ids.iter().map(|id| key(keys::order_pk(project, id), ORDER_SK)).collect();
        self.batch_get(keys).await?.iter().map(order_from_item).collect()
    }
}
