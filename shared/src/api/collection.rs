//! FPay's collection (the SDK's `RestCollection`): a page of any listing, with the pages around
//! it. Each [`Page`] carries the query string that reads it, already percent-encoded and
//! starting with `?`: FPay's SDK fetches a page by appending `queryString` to the listing's
//! path as it is, so it repeats every parameter of the listing (in the order the SDK writes
//! them: `filter`, `limit`, `sortBy`) and ends with the page's token (`page`).
//!
//! ```json
//! {"url": "https://host/v1.0/wallets?limit=2&page=MjoxNz...",
//!  "items": [...],
//!  "pagination": {
//!    "currentPage": {"index": 2, "url": "https://host/v1.0/wallets?limit=2&page=MjoxNz...", "queryString": "?limit=2&page=MjoxNz..."},
//!    "previousPage": {"index": 1, ...}, "nextPage": {"index": 3, ...},
//!    "startedTime": "2026-12-06T23:27:00.000Z", "nbItemsOnCurrentPage": 2, "nbItemsPerPage": 2}}
//! ```
//!
//! `previousPage` is absent on the first page and `nextPage` when no items follow: never
//! `null` (the SDK would try to read a page out of it).

use crate::domain::page_token::{PageLink, PageLinks};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::Serialize;

/// The query parameter that carries a page's token.
pub const PAGE_PARAMETER: &str = "page";

/// What a query value keeps as it is: the unreserved characters of RFC 3986. The rest is
/// percent-encoded, a space as `%20` and `+` as `%2B` (the edge decodes a query as a form).
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// Where a listing's pages are: the API's address as the request reached it (none for a direct
/// invocation: the pages' URLs are then relative), the listing's path, and the parameters
/// every page of it repeats, in order (those the request gave, with their text as given).
#[derive(Debug, Clone)]
pub struct Listing<'a> {
    pub base_url: Option<&'a str>,
    pub path: &'a str,
    pub parameters: Vec<(&'a str, String)>,
}

impl Listing<'_> {
    /// `?name=value&...&page=<token>`, percent-encoded.
    pub fn query_string(&self, token: &str) -> String {
        let parameters = self.parameters.iter().map(|(name, value)| (*name, value.as_str()));
        let parts: Vec<String> = parameters
            .chain([(PAGE_PARAMETER, token)])
            .map(|(name, value)| format!("{}={}", encode(name), encode(value)))
            .collect();
        format!("?{}", parts.join("&"))
    }

    pub fn page(&self, link: &PageLink) -> Page {
        let query_string = self.query_string(&link.token);
        Page {
            index: link.index,
            url: format!("{}{}{query_string}", self.base_url.unwrap_or_default(), self.path),
            query_string,
        }
    }
}

fn encode(text: &str) -> String {
    utf8_percent_encode(text, QUERY_VALUE).to_string()
}

/// FPay's `Page`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Page {
    /// 1 for the first page, +1 per page.
    pub index: u64,
    pub url: String,
    pub query_string: String,
}

/// FPay's `Pagination`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Pagination {
    pub current_page: Page,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_page: Option<Page>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page: Option<Page>,
    /// When the walk through the pages started (the same on all its pages).
    pub started_time: String,
    pub nb_items_on_current_page: usize,
    /// The page size asked for.
    pub nb_items_per_page: usize,
}

/// FPay's `RestCollection` of `T`.
#[derive(Debug, Clone, Serialize)]
pub struct Collection<T> {
    /// This page's URL.
    pub url: String,
    pub items: Vec<T>,
    pub pagination: Pagination,
}

impl<T> Collection<T> {
    pub fn new(listing: &Listing<'_>, pages: &PageLinks, per_page: usize, items: Vec<T>) -> Self {
        let current_page = listing.page(&pages.current);
        Self {
            url: current_page.url.clone(),
            pagination: Pagination {
                previous_page: pages.previous.as_ref().map(|link| listing.page(link)),
                next_page: pages.next.as_ref().map(|link| listing.page(link)),
                current_page,
                started_time: pages.started_at.to_iso8601(),
                nb_items_on_current_page: items.len(),
                nb_items_per_page: per_page,
            },
            items,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::to_json;
    use crate::domain::time::Millis;

    fn link(index: u64, token: &str) -> PageLink {
        PageLink { index, token: token.to_owned() }
    }

    fn listing(base_url: Option<&str>) -> Listing<'_> {
        Listing {
            base_url,
            path: "/v1.0/wallets",
            parameters: vec![
                ("filter", "foreignId = a or name = \"R+D/2\"".to_owned()),
                ("limit", "1".to_owned()),
                ("sortBy", "foreignId:ASC".to_owned()),
            ],
        }
    }

    #[test]
    fn pages_carry_every_parameter_percent_encoded_and_the_token_last() {
        let page = listing(Some("https://host")).page(&link(2, "MjoxOmE6.x-Y_z"));
        let query = "?filter=foreignId%20%3D%20a%20or%20name%20%3D%20%22R%2BD%2F2%22&limit=1&sortBy=foreignId%3AASC\
                     &page=MjoxOmE6.x-Y_z";
        assert_eq!(
            page,
            Page { index: 2, url: format!("https://host/v1.0/wallets{query}"), query_string: query.into() }
        );
        // Without a base URL (a direct invocation), the URL is relative.
        let relative = listing(None).page(&link(2, "t"));
        assert_eq!(relative.url, format!("/v1.0/wallets{}", relative.query_string));
        let bare = Listing { base_url: None, path: "/v1.0/wallets", parameters: vec![] };
        assert_eq!(bare.page(&link(1, "t")).query_string, "?page=t");
    }

    #[test]
    fn absent_pages_are_left_out_never_null() {
        let pages = PageLinks {
            current: link(1, "one"),
            previous: None,
            next: None,
            started_at: Millis::from_epoch_ms(1_700_000_000_000),
        };
        let first: Collection<u8> = Collection::new(&listing(None), &pages, 25, vec![7, 8]);
        let json: serde_json::Value = serde_json::from_str(&to_json(&first)).expect("JSON");
        assert_eq!(json["url"], json["pagination"]["currentPage"]["url"]);
        assert_eq!(json["items"], serde_json::json!([7, 8]));
        let pagination = json["pagination"].as_object().expect("an object");
        let mut keys: Vec<&str> = pagination.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["currentPage", "nbItemsOnCurrentPage", "nbItemsPerPage", "startedTime"]);
        assert_eq!(pagination["startedTime"], "2023-11-14T22:13:20.000Z");
        assert_eq!(
            (pagination["nbItemsOnCurrentPage"].as_u64(), pagination["nbItemsPerPage"].as_u64()),
            (Some(2), Some(25))
        );

        let middle = PageLinks {
            current: link(2, "two"),
            previous: Some(link(1, "one")),
            next: Some(link(3, "three")),
            ..pages
        };
        let json: serde_json::Value =
            serde_json::from_str(&to_json(&Collection::new(&listing(None), &middle, 1, vec![1u8]))).expect("JSON");
        assert_eq!(json["pagination"]["previousPage"]["index"], 1);
        assert_eq!(json["pagination"]["nextPage"]["index"], 3);
        assert!(json["pagination"]["nextPage"]["queryString"].as_str().is_some_and(|q| q.ends_with("&page=three")));
    }
}
