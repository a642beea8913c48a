//! Juspay's customers: a merchant's customer, by our id (`cst_…`) or the merchant's own
//! `object_reference_id`, with the mobile number its wallet accounts default to.

use super::names::{NameError, ProjectId};
use super::orders::order_text;
use super::time::Millis;
use super::wallet_accounts::{is_random_id, random_id, CustomerId, MobileNumber};

/// Our id of a customer: `cst_` and 26 base32 characters. It is a [`CustomerId`] too: the
/// customer's wallet accounts are under it.
pub const CUSTOMER_PREFIX: &str = "cst_";

pub fn new_customer_id(bytes: [u8; 16]) -> CustomerId {
    CustomerId::ours(random_id(CUSTOMER_PREFIX, bytes))
}

/// Whether `text` has the shape of our customer ids (never an `object_reference_id`).
pub fn is_customer_id(text: &str) -> bool {
    is_random_id(text, CUSTOMER_PREFIX)
}

/// How a customer is named in a path: our id or the merchant's reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CustomerRef {
    Id(CustomerId),
    Reference(CustomerId),
}

impl CustomerRef {
    pub fn parse(text: &str) -> Result<Self, NameError> {
        let id = CustomerId::parse(text)?;
        Ok(if is_customer_id(text) { CustomerRef::Id(id) } else { CustomerRef::Reference(id) })
    }
}

/// The merchant's id for its customer: a [`CustomerId`] that is not shaped like ours, so a
/// path names one customer without guessing.
pub fn parse_reference(text: &str) -> Result<CustomerId, NameError> {
    match CustomerRef::parse(text)? {
        CustomerRef::Reference(id) => Ok(id),
        CustomerRef::Id(_) => Err(NameError("may not start with cst_ (the shape of Pocketbook's customer ids)")),
    }
}

/// `91`, `+44`: one to four digits, an optional `+`.
pub fn parse_country_code(text: &str) -> Result<String, NameError> {
    let digits = text.strip_prefix('+').unwrap_or(text);
    let ok = (1..=4).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit());
    ok.then(|| text.to_owned()).ok_or(NameError("must be 1-4 digits, optionally after a +"))
}

pub fn parse_email(text: &str) -> Result<String, NameError> {
    let ok = text.len() <= 254
        && text.split_once('@').is_some_and(|(user, host)| !user.is_empty() && !host.is_empty())
        && !text.chars().any(|c| c.is_whitespace() || c.is_control());
    ok.then(|| text.to_owned()).ok_or(NameError("must be an email address"))
}

pub fn parse_name(text: &str) -> Result<String, NameError> {
    if text.trim().is_empty() {
        return Err(NameError("must not be empty"));
    }
    order_text(text, 64)
}

/// What a customer create or update gives; every field optional in an update.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustomerFields {
    pub mobile_number: Option<MobileNumber>,
    pub mobile_country_code: Option<String>,
    pub email_address: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Customer {
    pub project: ProjectId,
    pub id: CustomerId,
    pub object_reference_id: CustomerId,
    pub mobile_number: MobileNumber,
    pub mobile_country_code: Option<String>,
    pub email_address: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

impl Customer {
    pub fn open(
        project: &ProjectId,
        id: CustomerId,
        object_reference_id: CustomerId,
        mobile_number: MobileNumber,
        fields: CustomerFields,
        now: Millis,
    ) -> Self {
        Self {
            project: project.clone(),
            id,
            object_reference_id,
            mobile_number,
            mobile_country_code: fields.mobile_country_code,
            email_address: fields.email_address,
            first_name: fields.first_name,
            last_name: fields.last_name,
            created_at: now,
            updated_at: now,
        }
    }

    /// The customer with every field `fields` gives replaced.
    pub fn updated(&self, fields: CustomerFields, now: Millis) -> Self {
        let pick = |new: Option<String>, old: &Option<String>| new.or_else(|| old.clone());
        Self {
            mobile_number: fields.mobile_number.unwrap_or_else(|| self.mobile_number.clone()),
            mobile_country_code: pick(fields.mobile_country_code, &self.mobile_country_code),
            email_address: pick(fields.email_address, &self.email_address),
            first_name: pick(fields.first_name, &self.first_name),
            last_name: pick(fields.last_name, &self.last_name),
            updated_at: now,
            ..self.clone()
        }
    }

    /// Whether creating it again with these fields asks for this very customer (a retry).
    pub fn same_as(&self, mobile_number: &MobileNumber, fields: &CustomerFields) -> bool {
        let same = |given: &Option<String>, kept: &Option<String>| given.is_none() || given == kept;
        self.mobile_number == *mobile_number
            && same(&fields.mobile_country_code, &self.mobile_country_code)
            && same(&fields.email_address, &self.email_address)
            && same(&fields.first_name, &self.first_name)
            && same(&fields.last_name, &self.last_name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_ids_and_merchant_references_never_mix() {
        let id = new_customer_id([7; 16]);
        assert!(is_customer_id(id.as_str()));
        assert_eq!(CustomerRef::parse(id.as_str()), Ok(CustomerRef::Id(id.clone())));
        assert!(matches!(CustomerRef::parse("alice@shop"), Ok(CustomerRef::Reference(_))));
        assert!(parse_reference(id.as_str()).is_err());
        assert!(parse_reference("cst_short").is_ok(), "only our exact shape is reserved");
    }

    #[test]
    fn contact_fields_are_checked() {
        assert!(parse_country_code("91").is_ok() && parse_country_code("+44").is_ok());
        assert!(parse_country_code("91a").is_err() && parse_country_code("+").is_err());
        assert!(parse_email("a@b.c").is_ok());
        assert!(parse_email("a b@c").is_err() && parse_email("@c").is_err() && parse_email("abc").is_err());
        assert!(parse_name("Ada").is_ok() && parse_name(" ").is_err() && parse_name("a\u{7}").is_err());
    }

    #[test]
    fn an_update_replaces_only_what_it_names_and_a_retry_is_recognised() {
        let now = Millis::from_epoch_ms(1);
        let mobile = MobileNumber::parse("9876543210").unwrap();
        let fields = CustomerFields { first_name: Some("Ada".into()), ..CustomerFields::default() };
        let customer = Customer::open(
            &ProjectId::parse("p").unwrap(),
            new_customer_id([1; 16]),
            parse_reference("ada").unwrap(),
            mobile.clone(),
            fields.clone(),
            now,
        );
        assert!(customer.same_as(&mobile, &fields));
        assert!(customer.same_as(&mobile, &CustomerFields::default()));
        assert!(!customer.same_as(&mobile, &CustomerFields { first_name: Some("Bob".into()), ..fields.clone() }));
        let later = Millis::from_epoch_ms(2);
        let updated =
            customer.updated(CustomerFields { last_name: Some("L".into()), ..CustomerFields::default() }, later);
        assert_eq!((updated.first_name.as_deref(), updated.last_name.as_deref()), (Some("Ada"), Some("L")));
        assert_eq!((updated.created_at, updated.updated_at), (now, later));
    }
}
