//! Group commit's items in a balance's partition: a waiting operation's ticket `Q#<ticket>`,
//! and once a batch has settled it, its answer `R#<ticket>`. A batch's transaction deletes
//! the ticket (on condition that it is still there) and puts the answer beside the entry it
//! answers, so a ticket is settled at most once, and a waiter that withdraws its ticket first
//! keeps every batch from settling it.

use super::attribute_names::{AMOUNT, BODY, CREATED_AT, FINGERPRINT, SESSION, STATUS, SUBJECT, TYPE};
use super::attributes::{built, decimal, key, n, s, Item, Reader};
use super::balances::{new_head_item, HeadRecord};
use super::history::{entry_from_item, entry_item};
use super::keys::{self, HEAD_SK, PK, SK, TTL};
use super::wallets::batch_get;
use super::{put_new, Store, StoreError};
use crate::domain::money::Amount;
use crate::domain::names::{BalanceId, IdempotencyKey, ProjectId, Subject};
use crate::domain::operation::{Operation, OperationRequest, Rejection, TtlSeconds};
use crate::domain::packing::MAX_TRANSACTION_ITEMS;
use crate::domain::queue::{Queued, QueuedKey, Settled, Ticket, KEEP_SECONDS};
use crate::domain::time::Millis;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, TransactWriteItem};
use std::collections::{HashMap, HashSet};

const TICKETS_FIRST: &str = "Q#";
const TICKETS_LAST: &str = "Q$";
const ANSWER_PREFIX: &str = "R#";

// Attributes of tickets and answers only.
const TTL_SECONDS: &str = "ttlSeconds";
const DEADLINE: &str = "deadline";
const UPDATE_TOKEN_GIVEN: &str = "givenUpdateToken";
const IDEMPOTENCY_KEY: &str = "idempotencyKey";
const FORM: &str = "form";
const HEAD: &str = "head";
const ENTRY: &str = "entry";
const REASON: &str = "reason";
const HTTP_STATUS: &str = "httpStatus";

const APPLIED: &str = "APPLIED";
const REJECTED: &str = "REJECTED";
const REPLAYED: &str = "REPLAYED";
const KEY_REUSED: &str = "KEY_REUSED";
const EXPIRED: &str = "EXPIRED";

fn ticket_sk(ticket: &Ticket) -> String {
    format!("{TICKETS_FIRST}{}", ticket.as_str())
}

fn answer_sk(ticket: &Ticket) -> String {
    format!("{ANSWER_PREFIX}{}", ticket.as_str())
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("group commit item: {what}"))
}

fn ticket_item(project: &ProjectId, balance: BalanceId, queued: &Queued, now: Millis) -> Item {
    let mut item = key(keys::balance_pk(project, balance), ticket_sk(&queued.ticket));
    let request = &queued.request;
    let (kind, amount, ttl) = match request.operation {
        Operation::Inc { amount, ttl } => ("INC", amount, ttl),
        Operation::Dec { amount } => ("DEC", amount, None),
    };
    item.insert(TYPE.into(), s(kind));
    item.insert(AMOUNT.into(), decimal(amount.value()));
    if let Some(ttl) = ttl {
        item.insert(TTL_SECONDS.into(), n(ttl.seconds()));
    }
    if let Some(subject) = &request.subject {
        item.insert(SUBJECT.into(), s(subject.as_str()));
    }
    if let Some(token) = &request.update_token {
        item.insert(UPDATE_TOKEN_GIVEN.into(), s(token));
    }
    item.insert(SESSION.into(), s(&request.session));
    if let Some(queued_key) = &queued.key {
        item.insert(IDEMPOTENCY_KEY.into(), s(queued_key.key.as_str()));
        item.insert(FINGERPRINT.into(), s(&queued_key.fingerprint));
    }
    item.insert(FORM.into(), s(&queued.form));
    item.insert(CREATED_AT.into(), n(now.epoch_ms()));
    item.insert(DEADLINE.into(), n(queued.expires_at.epoch_ms()));
    item.insert(TTL.into(), n(queued.expires_at.plus_seconds(KEEP_SECONDS).epoch_seconds()));
    item
}

fn queued_from_item(item: &Item) -> Result<Queued, StoreError> {
    let r = Reader::new(item, "group commit ticket");
    let sk = r.str(SK)?;
    let ticket = Ticket::from_stored(sk.strip_prefix(TICKETS_FIRST).ok_or_else(|| corrupt("ticket key"))?.to_owned());
    let amount = Amount::new(r.decimal(AMOUNT)?).map_err(|_| corrupt("amount"))?;
    let operation = match r.str(TYPE)? {
        "INC" => {
            let ttl = r.opt_number::<u64>(TTL_SECONDS)?;
            let ttl = ttl.map(|seconds| TtlSeconds::new(seconds).ok_or_else(|| corrupt("ttl"))).transpose()?;
            Operation::Inc { amount, ttl }
        }
        "DEC" => Operation::Dec { amount },
        _ => return Err(corrupt("type")),
    };
    let subject = match r.opt_str(SUBJECT)? {
        Some(text) => Subject::parse(text).map_err(|_| corrupt("subject"))?,
        None => None,
    };
    let key = match r.opt_str(IDEMPOTENCY_KEY)? {
        Some(text) => Some(QueuedKey {
            key: IdempotencyKey::parse(text).map_err(|_| corrupt("idempotency key"))?,
            fingerprint: r.str(FINGERPRINT)?.to_owned(),
        }),
        None => None,
    };
    Ok(Queued {
        ticket,
        request: OperationRequest {
            operation,
            subject,
            update_token: r.opt_str(UPDATE_TOKEN_GIVEN)?.map(str::to_owned),
            session: r.str(SESSION)?.to_owned(),
        },
        key,
        form: r.str(FORM)?.to_owned(),
        expires_at: Millis::from_epoch_ms(r.number(DEADLINE)?),
    })
}

fn answer_item(project: &ProjectId, balance: BalanceId, ticket: &Ticket, settled: &Settled, now: Millis) -> Item {
    let mut item = key(keys::balance_pk(project, balance), answer_sk(ticket));
    match settled {
        Settled::Applied { balance: after, entry } => {
            item.insert(STATUS.into(), s(APPLIED));
            item.insert(HEAD.into(), AttributeValue::M(new_head_item(after)));
            item.insert(ENTRY.into(), AttributeValue::M(entry_item(project, balance, entry)));
        }
        Settled::Rejected(rejection) => {
            item.insert(STATUS.into(), s(REJECTED));
            item.insert(REASON.into(), s(rejection.code()));
        }
        Settled::Replayed { status, body } => {
            item.insert(STATUS.into(), s(REPLAYED));
            item.insert(HTTP_STATUS.into(), n(*status));
            item.insert(BODY.into(), s(body));
        }
        Settled::KeyReused => {
            item.insert(STATUS.into(), s(KEY_REUSED));
        }
        Settled::Expired => {
            item.insert(STATUS.into(), s(EXPIRED));
        }
    }
    item.insert(CREATED_AT.into(), n(now.epoch_ms()));
    item.insert(TTL.into(), n(now.plus_seconds(KEEP_SECONDS).epoch_seconds()));
    item
}

fn settled_from_item(item: &Item) -> Result<Settled, StoreError> {
    let r = Reader::new(item, "group commit answer");
    let map = |name: &str| match item.get(name) {
        Some(AttributeValue::M(map)) => Ok(map),
        _ => Err(corrupt(name)),
    };
    Ok(match r.str(STATUS)? {
        APPLIED => {
            let mut head = map(HEAD)?.clone();
            head.insert(super::attribute_names::VERSION.into(), n(0));
            Settled::Applied {
                balance: Box::new(HeadRecord::from_item(&head)?.balance),
                entry: Box::new(entry_from_item(map(ENTRY)?)?),
            }
        }
        REJECTED => Settled::Rejected(Rejection::from_code(r.str(REASON)?).ok_or_else(|| corrupt("reason"))?),
        REPLAYED => Settled::Replayed { status: r.number(HTTP_STATUS)?, body: r.str(BODY)?.to_owned() },
        KEY_REUSED => Settled::KeyReused,
        EXPIRED => Settled::Expired,
        _ => return Err(corrupt("status")),
    })
}

/// The two items that settle a ticket inside a batch's transaction: the ticket's deletion,
/// on condition that it is still there (its waiter has not withdrawn, no batch settled it),
/// and its answer.
pub(super) fn settle_items(
    table: &str,
    project: &ProjectId,
    balance: BalanceId,
    ticket: &Ticket,
    settled: &Settled,
    now: Millis,
) -> Result<Vec<TransactWriteItem>, StoreError> {
    let delete = Delete::builder()
        .table_name(table)
        .set_key(Some(key(keys::balance_pk(project, balance), ticket_sk(ticket))))
        .condition_expression(keys::item_present());
    Ok(vec![
        TransactWriteItem::builder().delete(built(delete.build())?).build(),
        put_new(table, answer_item(project, balance, ticket, settled, now))?,
    ])
}

/// What one look at waiting tickets shows.
#[derive(Debug, Default)]
pub struct TicketState {
    /// The answers of those a batch settled.
    pub settled: HashMap<Ticket, Settled>,
    /// Those that still wait.
    pub waiting: HashSet<Ticket>,
    /// The head, for its lock.
    pub head: Option<HeadRecord>,
}

/// What withdrawing a ticket found.
#[derive(Debug)]
pub enum Withdrawal {
    /// It was still waiting and is gone now: nothing was or will be applied for it.
    Withdrawn,
    /// A batch had taken it already: its answer.
    Settled(Settled),
}

impl Store {
    /// Puts a waiting operation's ticket: one PutItem.
    pub async fn enqueue(
        &self,
        project: &ProjectId,
        balance: BalanceId,
        queued: &Queued,
        now: Millis,
    ) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(ticket_item(project, balance, queued, now)))
            .condition_expression(keys::item_absent())
            .send()
            .await
            .map_err(|e| StoreError::sdk("PutItem", e))?;
        Ok(())
    }

    /// Puts the tickets of operations that must keep their order (one SQS batch's records for
    /// the balance, with consecutive tickets): one transaction per 100, so that a batch holder
    /// sees each hundred whole or not at all, and never a later ticket without an earlier one.
    pub async fn enqueue_together(
        &self,
        project: &ProjectId,
        balance: BalanceId,
        queued: &[Queued],
        now: Millis,
    ) -> Result<(), StoreError> {
        for chunk in queued.chunks(MAX_TRANSACTION_ITEMS) {
            let puts = chunk.iter().map(|queued| put_new(&self.table, ticket_item(project, balance, queued, now)));
            self.transact(puts.collect::<Result<_, _>>()?).await?;
        }
        Ok(())
    }

    /// The tickets waiting on a balance, oldest first: one Query (strongly consistent, so a
    /// ticket settled by a transaction before it is never seen again).
    pub async fn queued(
        &self,
        project: &ProjectId,
        balance: BalanceId,
        limit: usize,
    ) -> Result<Vec<Queued>, StoreError> {
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk AND #sk BETWEEN :first AND :last")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#sk", SK)
            .expression_attribute_values(":pk", s(keys::balance_pk(project, balance)))
            .expression_attribute_values(":first", s(TICKETS_FIRST))
            .expression_attribute_values(":last", s(TICKETS_LAST))
            .consistent_read(true)
            .limit(limit.clamp(1, 1000) as i32)
            .send()
            .await
            .map_err(|e| StoreError::sdk("Query", e))?;
        output.items().iter().map(queued_from_item).collect()
    }

    /// Waiting tickets' states and the head's lock: one BatchGetItem (per 100 keys: the
    /// head, and each ticket and its answer).
    pub async fn ticket_state(
        &self,
        project: &ProjectId,
        balance: BalanceId,
        tickets: &[Ticket],
    ) -> Result<TicketState, StoreError> {
        let pk = keys::balance_pk(project, balance);
        let mut keys = vec![key(pk.clone(), HEAD_SK)];
        for ticket in tickets {
            keys.extend([key(pk.clone(), ticket_sk(ticket)), key(pk.clone(), answer_sk(ticket))]);
        }
        let mut state = TicketState::default();
        for item in batch_get(self, keys).await? {
            let sk = match item.get(SK) {
                Some(AttributeValue::S(sk)) => sk,
                _ => return Err(corrupt("an item without its key")),
            };
            if sk == HEAD_SK {
                state.head = Some(HeadRecord::from_item(&item)?);
            } else if let Some(ticket) = sk.strip_prefix(TICKETS_FIRST) {
                state.waiting.insert(Ticket::from_stored(ticket.to_owned()));
            } else if let Some(ticket) = sk.strip_prefix(ANSWER_PREFIX) {
                state.settled.insert(Ticket::from_stored(ticket.to_owned()), settled_from_item(&item)?);
            } else {
                return Err(corrupt("unexpected item"));
            }
        }
        Ok(state)
    }

    /// A ticket's answer, if it has one: one GetItem.
    pub async fn settled(
        &self,
        project: &ProjectId,
        balance: BalanceId,
        ticket: &Ticket,
    ) -> Result<Option<Settled>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::balance_pk(project, balance), answer_sk(ticket))))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StoreError::sdk("GetItem", e))?;
        output.item.as_ref().map(settled_from_item).transpose()
    }

    /// Takes a waiting ticket back, unless a batch has taken it: one DeleteItem, and one
    /// GetItem of the answer when the ticket was gone.
    pub async fn withdraw(
        &self,
        project: &ProjectId,
        balance: BalanceId,
        ticket: &Ticket,
    ) -> Result<Withdrawal, StoreError> {
        let deleted = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::balance_pk(project, balance), ticket_sk(ticket))))
            .condition_expression(keys::item_present())
            .send()
            .await;
        match deleted {
            Ok(_) => Ok(Withdrawal::Withdrawn),
            Err(error)
                if matches!(error.as_service_error(), Some(DeleteItemError::ConditionalCheckFailedException(_))) =>
            {
                // The batch that deleted the ticket put its answer in the same transaction.
                match self.settled(project, balance, ticket).await? {
                    Some(settled) => Ok(Withdrawal::Settled(settled)),
                    None => Err(corrupt("a ticket gone without its answer")),
                }
            }
            Err(error) => Err(StoreError::sdk("DeleteItem", error)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn project() -> ProjectId {
        ProjectId::parse("p1").unwrap()
    }

    #[test]
    fn a_ticket_reads_back_as_it_was_written() {
        let queued = Queued {
            ticket: Ticket::new(Millis::from_epoch_ms(5_000)),
            request: OperationRequest {
                operation: Operation::Inc {
                    amount: Amount::new("1.25".parse().unwrap()).unwrap(),
                    ttl: TtlSeconds::new(60),
                },
                subject: Subject::parse("order-1").unwrap(),
                update_token: Some("tok".into()),
                session: "s-1".into(),
            },
            key: Some(QueuedKey { key: IdempotencyKey::parse("k-1").unwrap(), fingerprint: "ab".into() }),
            form: "execute-operation".into(),
            expires_at: Millis::from_epoch_ms(9_000),
        };
        let item = ticket_item(&project(), BalanceId::new(Uuid::new_v4()), &queued, Millis::from_epoch_ms(5_000));
        assert_eq!(queued_from_item(&item).unwrap(), queued);
    }

    #[test]
    fn every_refusal_reads_back_as_it_was_written() {
        let id = BalanceId::new(Uuid::new_v4());
        let ticket = Ticket::new(Millis::from_epoch_ms(1_000));
        for settled in [
            Settled::Rejected(Rejection::InsufficientFunds),
            Settled::Replayed { status: 200, body: "{\"a\":1}".into() },
            Settled::KeyReused,
            Settled::Expired,
        ] {
            let item = answer_item(&project(), id, &ticket, &settled, Millis::from_epoch_ms(2_000));
            assert_eq!(item.get(SK), Some(&s(answer_sk(&ticket))));
            assert_eq!(settled_from_item(&item).unwrap(), settled);
        }
    }
}
