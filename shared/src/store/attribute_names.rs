//! The name of every item attribute, written once. Every reader, writer and expression of the
//! store uses these; an attribute several kinds of items carry is one name. The key
//! attributes (`pk`, `sk`) and the TTL attribute are in [`super::keys`].
//!
//! Changing a value here changes the table's format: items already stored keep the old name.

// ---- on many kinds of items ----

/// The owning project: heads, API keys, wallet accounts, orders, the transaction index and
/// the expiry schedule.
pub(super) const PROJECT_ID: &str = "projectId";
/// Creation time (ms): heads, wallet index items, movements, history entries, idempotency
/// records, API keys, wallet accounts and orders.
pub(super) const CREATED_AT: &str = "createdAt";
/// Last change (ms): heads, movements and orders.
pub(super) const UPDATED_AT: &str = "updatedAt";
/// A wallet's id: wallet index items and foreign id items (a balance id); wallet accounts,
/// wallet tokens and orders (a wallet account id).
pub(super) const WALLET_ID: &str = "walletId";
/// History entries, movements and orders.
pub(super) const AMOUNT: &str = "amount";
/// Movements and orders (a status name); idempotency records (an HTTP status).
pub(super) const STATUS: &str = "status";
/// Heads and movements.
pub(super) const BALANCE_TYPE: &str = "balanceType";
/// The sequence number: history entries and credits.
pub(super) const SEQ: &str = "seq";

// ---- the balance head ----

pub(super) const BALANCE_ID: &str = "balanceId";
/// The head; a wallet update rewrites it too.
pub(super) const BALANCE_NAME: &str = "balanceName";
pub(super) const BALANCE_MIN_LIMIT: &str = "balanceMinLimit";
pub(super) const BALANCE_AMOUNT: &str = "balanceAmount";
pub(super) const TRANSACTIONS_COUNT: &str = "transactionsCount";
pub(super) const TRANSACTIONS_CHECKSUM: &str = "transactionsChecksum";
pub(super) const UPDATE_TOKEN: &str = "updateToken";
pub(super) const CREDITS_LIVE: &str = "creditsLive";
pub(super) const CREDITS_DEBT: &str = "creditsDebt";
pub(super) const NEXT_EXPIRY: &str = "nextExpiry";
/// The write counter of heads and orders (every write is conditioned on the one it read).
pub(super) const VERSION: &str = "version";
/// The pockets (absent on heads written before wallets existed).
pub(super) const LOCKED_IN: &str = "lockedIn";
pub(super) const LOCKED_OUT: &str = "lockedOut";
pub(super) const VOLUME_INPUT: &str = "volumeInput";
pub(super) const VOLUME_OUTPUT: &str = "volumeOutput";
/// `volumeInput + volumeOutput`, written with them: the sort index of `mainPocket.volume.total`
/// needs the sum as an attribute of its own (absent on heads no commit wrote since it exists).
pub(super) const VOLUME_TOTAL: &str = "volumeTotal";
/// The lock: its holder, its lease's end (ms) and the flag readers see.
pub(super) const LOCK_OWNER: &str = "lockOwner";
pub(super) const LOCK_EXPIRES_AT: &str = "lockExpiresAt";
pub(super) const IN_PROGRESS: &str = "transactionInProgress";

// ---- a wallet's attributes: on its head and on its index item ----

pub(super) const WALLET_NAME: &str = "walletName";
pub(super) const WALLET_DESCRIPTION: &str = "walletDescription";
pub(super) const WALLET_FOREIGN_ID: &str = "walletForeignId";
pub(super) const WALLET_FOREIGN_DATA: &str = "walletForeignData";
pub(super) const WALLET_IS_MAIN: &str = "walletIsMain";
pub(super) const WALLET_CREATOR_KEY_ID: &str = "walletCreatorKeyId";
pub(super) const WALLET_MARS: &str = "walletMars";
pub(super) const WALLET_MAN: &str = "walletMan";

// ---- a wallet head's keys in the wallet sort indexes (`super::wallet_sort_index`) ----

/// The project, on wallet heads only: the partition of every sort index, so that the indexes
/// hold a project's wallets and no plain balance.
pub(super) const WALLET_PROJECT: &str = "walletProject";
/// Index values of fields a key cannot hold as they are: optional texts (an absent value must
/// still be indexed, and sort first), a long description (a key attribute holds 1,024 bytes)
/// and a boolean (keys are strings, numbers or binary).
pub(super) const WALLET_SORT_DESCRIPTION: &str = "walletSortDescription";
pub(super) const WALLET_SORT_FOREIGN_ID: &str = "walletSortForeignId";
pub(super) const WALLET_SORT_IS_MAIN: &str = "walletSortIsMain";
pub(super) const WALLET_SORT_CREATOR_KEY_ID: &str = "walletSortCreatorKeyId";

// ---- history entries ----

/// The transaction id.
pub(super) const ID: &str = "id";
/// The entry kind.
pub(super) const TYPE: &str = "type";
pub(super) const REQUEST_TIME: &str = "requestTimeEpoch";
pub(super) const EXPIRED_AT: &str = "expiredAt";
pub(super) const SESSION: &str = "session";
pub(super) const MAIN_TX_ID: &str = "mainTxId";
pub(super) const SUBJECT: &str = "subject";
pub(super) const BALANCE_AFTER: &str = "balanceAfter";
pub(super) const CHECKSUM: &str = "checksum";

// ---- expiring credits ----

pub(super) const TX_ID: &str = "txId";
/// The credit's expiry (ms).
pub(super) const EXPIRY: &str = "expiry";
pub(super) const REMAINING: &str = "remaining";

// ---- idempotency records ----

pub(super) const FINGERPRINT: &str = "fingerprint";
pub(super) const BODY: &str = "body";

// ---- API keys ----

pub(super) const KEY_ID: &str = "keyId";
pub(super) const SCOPES: &str = "scopes";
/// A key's signing secret, sealed (absent on keys that do not sign).
pub(super) const SIGNING_SECRET: &str = "signingSecret";
/// The key's first characters, to tell keys apart in a listing (never the key).
pub(super) const KEY_PREFIX: &str = "keyPrefix";
/// On a key's index item: the SHA-256 of the key, the record's address.
pub(super) const KEY_HASH: &str = "keyHash";
pub(super) const VALID_UNTIL: &str = "validUntil";
pub(super) const REVOKED_AT: &str = "revokedAt";
pub(super) const RATE_LIMIT: &str = "rateLimit";
pub(super) const LAST_USED_AT: &str = "lastUsedAt";
/// A rate window's request count.
pub(super) const REQUESTS: &str = "requests";

// ---- wallet accounts, wallet tokens, orders, the transaction index ----

/// Wallet accounts, wallet tokens and orders.
pub(super) const CUSTOMER_ID: &str = "customerId";
/// Wallet accounts, wallet tokens and orders.
pub(super) const GATEWAY: &str = "gateway";
/// Wallet accounts (optional), wallet tokens and orders.
pub(super) const REFERENCE: &str = "reference";
/// Wallet accounts and wallet tokens.
pub(super) const LINK_VERSION: &str = "linkVersion";
/// The end of a token's or an order's time (ms); not the TTL, which only tidies up.
pub(super) const EXPIRES_AT_MS: &str = "expiresAtMs";
/// Orders, the transaction index, and a used wallet token (the order that used it).
pub(super) const ORDER_ID: &str = "orderId";
/// Wallet accounts.
pub(super) const MOBILE_NUMBER: &str = "mobileNumber";
pub(super) const LINKED: &str = "linked";
pub(super) const CURRENT_BALANCE: &str = "currentBalance";
pub(super) const LAST_REFRESHED: &str = "lastRefreshed";
/// Wallet tokens.
pub(super) const ISSUED_AT: &str = "issuedAt";
pub(super) const USED_AT: &str = "usedAt";
/// Orders.
pub(super) const TXN_ID: &str = "txnId";
pub(super) const ORDER_UID: &str = "orderUid";
pub(super) const CURRENCY: &str = "currency";
/// The merchant's fields of an order (a map under their Juspay names: `customer_email`,
/// `udf1`, `metadata.<key>`, ...).
pub(super) const DETAILS: &str = "details";
/// An order's refunds: a list of maps of `refundId`, `requestId`, `amount`, `status`,
/// `createdAt`.
pub(super) const REFUNDS: &str = "refunds";
pub(super) const REFUND_ID: &str = "refundId";
pub(super) const REQUEST_ID: &str = "requestId";
/// Customers.
pub(super) const OBJECT_REFERENCE_ID: &str = "objectReferenceId";
pub(super) const MOBILE_COUNTRY_CODE: &str = "mobileCountryCode";
pub(super) const EMAIL_ADDRESS: &str = "emailAddress";
pub(super) const FIRST_NAME: &str = "firstName";
pub(super) const LAST_NAME: &str = "lastName";
pub(super) const AUTH_METHOD: &str = "authMethod";
pub(super) const AUTH_URL: &str = "authUrl";
pub(super) const AUTH_PARAMS: &str = "authParams";

// ---- movements and the expiry schedule ----

/// Movements.
pub(super) const KIND: &str = "kind";
pub(super) const SOURCE: &str = "source";
pub(super) const DESTINATION: &str = "destination";
/// The movement's own reference (not a wallet's foreign id).
pub(super) const FOREIGN_ID: &str = "foreignId";
pub(super) const REASON: &str = "reason";
/// A movement's expiry (ms), on the movement and its schedule entry. Not the TTL attribute:
/// a record must outlive its expiry.
pub(super) const EXPIRES_ON: &str = "expiresOn";
/// The expiry schedule.
pub(super) const MOVEMENT_ID: &str = "movementId";
/// A deposit's account outside Pocketbook (`CI MtnMoney +225...`).
pub(super) const ORIGIN: &str = "origin";
pub(super) const LOCKS_IN: &str = "locksIn";
pub(super) const H1_FR: &str = "h1Fr";
pub(super) const H1_EN: &str = "h1En";
pub(super) const DESCRIPTION: &str = "description";
pub(super) const FOREIGN_DATA: &str = "foreignData";
pub(super) const CREATOR_KEY_ID: &str = "creatorKeyId";
pub(super) const COMPLETED_AT: &str = "completedAt";

/// Transactions (beside KIND, SOURCE, DESTINATION, AMOUNT, ...): the number within the
/// movement, the wallet's side, and its pocket before and after.
pub(super) const NUMBER: &str = "n";
pub(super) const DC: &str = "dc";
pub(super) const BEFORE_AVAILABLE: &str = "beforeAvailable";
pub(super) const BEFORE_LOCKED_IN: &str = "beforeLockedIn";
pub(super) const BEFORE_LOCKED_OUT: &str = "beforeLockedOut";
pub(super) const BEFORE_VOLUME_INPUT: &str = "beforeVolumeInput";
pub(super) const BEFORE_VOLUME_OUTPUT: &str = "beforeVolumeOutput";
pub(super) const AFTER_AVAILABLE: &str = "afterAvailable";
pub(super) const AFTER_LOCKED_IN: &str = "afterLockedIn";
pub(super) const AFTER_LOCKED_OUT: &str = "afterLockedOut";
pub(super) const AFTER_VOLUME_INPUT: &str = "afterVolumeInput";
pub(super) const AFTER_VOLUME_OUTPUT: &str = "afterVolumeOutput";

// ---- webhooks (endpoints and deliveries; beside PROJECT_ID, CREATED_AT, STATUS, KIND, BODY, DESCRIPTION) ----

pub(super) const WEBHOOK_ID: &str = "webhookId";
pub(super) const WEBHOOK_URL: &str = "url";
/// The event kinds an endpoint wants (`*` for all), a list.
pub(super) const WEBHOOK_EVENTS: &str = "events";
/// The endpoint's signing secret, sealed and bound to its id.
pub(super) const WEBHOOK_SECRET: &str = "sealedSecret";
pub(super) const EVENT_ID: &str = "eventId";
pub(super) const ATTEMPTS: &str = "attempts";
pub(super) const LAST_STATUS: &str = "lastStatus";
pub(super) const LAST_ATTEMPT_AT: &str = "lastAttemptAt";
pub(super) const NEXT_ATTEMPT_AT: &str = "nextAttemptAt";
pub(super) const DELIVERED_AT: &str = "deliveredAt";

#[cfg(test)]
mod tests {
    use super::super::keys::{PK, SK, TTL};
    use super::*;
    use std::collections::HashSet;

    /// Every constant of this module, and the key and TTL attributes.
    const ALL: &[&str] = &[
        PROJECT_ID,
        CREATED_AT,
        UPDATED_AT,
        WALLET_ID,
        AMOUNT,
        STATUS,
        BALANCE_TYPE,
        SEQ,
        BALANCE_ID,
        BALANCE_NAME,
        BALANCE_MIN_LIMIT,
        BALANCE_AMOUNT,
        TRANSACTIONS_COUNT,
        TRANSACTIONS_CHECKSUM,
        UPDATE_TOKEN,
        CREDITS_LIVE,
        CREDITS_DEBT,
        NEXT_EXPIRY,
        VERSION,
        LOCKED_IN,
        LOCKED_OUT,
        VOLUME_INPUT,
        VOLUME_OUTPUT,
        VOLUME_TOTAL,
        LOCK_OWNER,
        LOCK_EXPIRES_AT,
        IN_PROGRESS,
        WALLET_NAME,
        WALLET_DESCRIPTION,
        WALLET_FOREIGN_ID,
        WALLET_FOREIGN_DATA,
        WALLET_IS_MAIN,
        WALLET_CREATOR_KEY_ID,
        WALLET_MARS,
        WALLET_MAN,
        WALLET_PROJECT,
        WALLET_SORT_DESCRIPTION,
        WALLET_SORT_FOREIGN_ID,
        WALLET_SORT_IS_MAIN,
        WALLET_SORT_CREATOR_KEY_ID,
        ID,
        TYPE,
        REQUEST_TIME,
        EXPIRED_AT,
        SESSION,
        MAIN_TX_ID,
        SUBJECT,
        BALANCE_AFTER,
        CHECKSUM,
        TX_ID,
        EXPIRY,
        REMAINING,
        FINGERPRINT,
        BODY,
        KEY_ID,
        SCOPES,
        SIGNING_SECRET,
        KEY_PREFIX,
        KEY_HASH,
        VALID_UNTIL,
        REVOKED_AT,
        RATE_LIMIT,
        LAST_USED_AT,
        REQUESTS,
        CUSTOMER_ID,
        GATEWAY,
        REFERENCE,
        LINK_VERSION,
        EXPIRES_AT_MS,
        ORDER_ID,
        MOBILE_NUMBER,
        LINKED,
        CURRENT_BALANCE,
        LAST_REFRESHED,
        ISSUED_AT,
        USED_AT,
        TXN_ID,
        ORDER_UID,
        CURRENCY,
        DETAILS,
        REFUNDS,
        REFUND_ID,
        ORIGIN,
        LOCKS_IN,
        H1_FR,
        H1_EN,
        DESCRIPTION,
        FOREIGN_DATA,
        CREATOR_KEY_ID,
        COMPLETED_AT,
        NUMBER,
        DC,
        BEFORE_AVAILABLE,
        BEFORE_LOCKED_IN,
        BEFORE_LOCKED_OUT,
        BEFORE_VOLUME_INPUT,
        BEFORE_VOLUME_OUTPUT,
        AFTER_AVAILABLE,
        AFTER_LOCKED_IN,
        AFTER_LOCKED_OUT,
        AFTER_VOLUME_INPUT,
        AFTER_VOLUME_OUTPUT,
        REQUEST_ID,
        OBJECT_REFERENCE_ID,
        MOBILE_COUNTRY_CODE,
        EMAIL_ADDRESS,
        FIRST_NAME,
        LAST_NAME,
        AUTH_METHOD,
        AUTH_URL,
        AUTH_PARAMS,
        KIND,
        SOURCE,
        DESTINATION,
        FOREIGN_ID,
        REASON,
        EXPIRES_ON,
        MOVEMENT_ID,
        WEBHOOK_ID,
        WEBHOOK_URL,
        WEBHOOK_EVENTS,
        WEBHOOK_SECRET,
        EVENT_ID,
        ATTEMPTS,
        LAST_STATUS,
        LAST_ATTEMPT_AT,
        NEXT_ATTEMPT_AT,
        DELIVERED_AT,
        PK,
        SK,
        TTL,
    ];

    #[test]
    fn no_two_attributes_share_a_name() {
        let mut seen = HashSet::new();
        for name in ALL {
            assert!(seen.insert(*name), "attribute name {name:?} is defined twice");
        }
    }

    #[test]
    fn the_list_holds_every_constant_of_this_module() {
        let declared = include_str!("attribute_names.rs")
            .lines()
            .filter(|line| line.starts_with("pub(super) const ") && line.contains(": &str = "))
            .count();
        // The three in `keys` are not declared here.
        assert_eq!(ALL.len(), declared + 3);
    }
}
