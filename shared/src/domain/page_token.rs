//! Pagination tokens: opaque to clients (encrypted, not only signed), tamper-evident, and
//! bound to what they page over.
//!
//! A token is `base64url(nonce ‖ ciphertext ‖ tag)`: the payload encrypted with
//! XChaCha20-Poly1305, with a *scope* the token is only valid in (the project, the route, the
//! balance, the filter and sort) as associated data. The scope is never in the token: a token
//! copied to another balance, another project, another route or another query fails to open,
//! exactly like a token with a flipped bit; and what it holds (cursors, a walk's start time)
//! cannot be read out of it.
//!
//! The nonce is synthetic (an HMAC of the scope and payload under a second key, as in SIV
//! constructions): sealing stays pure (no randomness), the same page always gets the same
//! token, and a nonce never repeats for two different payloads. Opening checks it again.
//!
//! A [`PagePosition`] is what a token of a walk through pages (FPay's collections) seals: the
//! page's 1-based index, when the walk started, and where the page reads from: the start, after
//! a cursor (the next page) or before one (the previous page). A previous page is read
//! backwards from the first item of the page it precedes, so tokens stay small however long
//! the walk.

use super::time::Millis;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

const NONCE_BYTES: usize = 24;
/// Domain separation of the two keys derived from the configured secret.
const CIPHER_CONTEXT: &[u8] = b"pocketbook/page-tokens/cipher/v1";
const NONCE_CONTEXT: &[u8] = b"pocketbook/page-tokens/nonce/v1";

/// The keys tokens are sealed with, derived from the configured secret.
#[derive(Clone)]
pub struct TokenKey {
    cipher: [u8; 32],
    nonce: [u8; 32],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the pagination token is malformed, altered, or from another listing")]
pub struct BadToken;

/// HMAC-SHA-256 of the parts, each length-prefixed, so that ("ab", "c") and ("a", "bc") differ.
fn mac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC takes keys of any length, so this cannot fail; the fallback keeps it panic-free.
    let Ok(mut mac) = HmacSha256::new_from_slice(key) else { return [0; 32] };
    for part in parts {
        mac.update(&(part.len() as u64).to_be_bytes());
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// The associated data of a scope: its parts, length-prefixed.
fn associated_data(scope: &[&str]) -> Vec<u8> {
    scope.iter().flat_map(|part| (part.len() as u64).to_be_bytes().into_iter().chain(part.bytes())).collect()
}

impl TokenKey {
    pub fn new(secret: &[u8]) -> Self {
        Self { cipher: mac(secret, &[CIPHER_CONTEXT]), nonce: mac(secret, &[NONCE_CONTEXT]) }
    }

    fn synthetic_nonce(&self, aad: &[u8], payload: &[u8]) -> [u8; NONCE_BYTES] {
        let full = mac(&self.nonce, &[aad, payload]);
        let mut nonce = [0u8; NONCE_BYTES];
        nonce.copy_from_slice(&full[..NONCE_BYTES]);
        nonce
    }

    pub fn seal(&self, scope: &[&str], payload: &[u8]) -> String {
        let aad = associated_data(scope);
        let nonce = self.synthetic_nonce(&aad, payload);
        let cipher = XChaCha20Poly1305::new(&Key::from(self.cipher));
        // Encryption fails only for payloads of many gigabytes; a page position is a few bytes.
        let sealed = cipher.encrypt(&XNonce::from(nonce), Payload { msg: payload, aad: &aad }).unwrap_or_default();
        let mut bytes = nonce.to_vec();
        bytes.extend(sealed);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    pub fn open(&self, scope: &[&str], token: &str) -> Result<Vec<u8>, BadToken> {
        let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| BadToken)?;
        if bytes.len() <= NONCE_BYTES {
            return Err(BadToken);
        }
        let (nonce, sealed) = bytes.split_at(NONCE_BYTES);
        let nonce: [u8; NONCE_BYTES] = nonce.try_into().map_err(|_| BadToken)?;
        let aad = associated_data(scope);
        let cipher = XChaCha20Poly1305::new(&Key::from(self.cipher));
        let payload = cipher.decrypt(&XNonce::from(nonce), Payload { msg: sealed, aad: &aad }).map_err(|_| BadToken)?;
        // Only this key's sealing makes this nonce for this payload.
        if self.synthetic_nonce(&aad, &payload) != nonce {
            return Err(BadToken);
        }
        Ok(payload)
    }
}

/// Where a page of a walk reads from. The cursors are the listing's own (opaque here).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reading {
    /// The first page: from the start of the listing.
    First,
    /// A next page: the items right after the item this cursor was taken from.
    After(String),
    /// A previous page: the `limit` items right before the item this cursor was taken from.
    Before(String),
}

/// A page of a walk: its index (1 for the first page, +1 per page), when the walk started (the
/// same on every page of it), and where it reads from. `First` is always index 1, `After` and
/// `Before` always 2 or more: decoding refuses anything else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PagePosition {
    index: u64,
    started_at: Millis,
    reading: Reading,
}

/// A page a listing links to: its index and the token that reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageLink {
    pub index: u64,
    pub token: String,
}

/// The pages around a page a listing answers, for rendering: its own, the previous one (none
/// on the first page), the next one (only when more items follow), and when the walk started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageLinks {
    pub current: PageLink,
    pub previous: Option<PageLink>,
    pub next: Option<PageLink>,
    pub started_at: Millis,
}

/// The positions of the pages beside one, see [`PagePosition::neighbours`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Neighbours {
    pub previous: Option<PagePosition>,
    pub next: Option<PagePosition>,
}

impl PagePosition {
    /// The first page of a walk starting now.
    pub fn first(started_at: Millis) -> Self {
        Self { index: 1, started_at, reading: Reading::First }
    }

    /// The first page of the same walk (same start time).
    pub fn restart(&self) -> Self {
        Self::first(self.started_at)
    }

    pub fn index(&self) -> u64 {
        self.index
    }

    pub fn started_at(&self) -> Millis {
        self.started_at
    }

    pub fn reading(&self) -> &Reading {
        &self.reading
    }

    /// Whether the page reads backwards (a previous page): the listing then takes the items
    /// nearest before the cursor, and gives them back in the listing's order.
    pub fn is_backward(&self) -> bool {
        matches!(self.reading, Reading::Before(_))
    }

    /// The pages beside this one, from what it found: `ends`, the cursors of its first and
    /// last item in the listing's order (none when it found nothing), and `more_beyond`,
    /// whether more items lie past it in its reading direction (after its last item when read
    /// forwards, before its first when read backwards).
    ///
    /// - next: after the last item, index + 1; when read forwards only if more items follow,
    ///   when read backwards whenever it found items (the page it was reached from follows).
    /// - previous: none on index 1; the first page from index 2; otherwise the page before the
    ///   first item, index - 1. When there is nothing to read backwards from (an empty page, or
    ///   a backward page with nothing before it: the listing changed under the walk), the first
    ///   page.
    pub fn neighbours(&self, ends: Option<(&str, &str)>, more_beyond: bool) -> Neighbours {
        let backward = self.is_backward();
        let next = match ends {
            Some((_, last)) if more_beyond || backward => Some(Self {
                index: self.index.saturating_add(1),
                started_at: self.started_at,
                reading: Reading::After(last.to_owned()),
            }),
            _ => None,
        };
        let previous = match (self.index, ends) {
            (0 | 1, _) => None,
            (2, _) => Some(self.restart()),
            (index, Some((first, _))) if !backward || more_beyond => {
                Some(Self { index: index - 1, started_at: self.started_at, reading: Reading::Before(first.to_owned()) })
            }
            _ => Some(self.restart()),
        };
        Neighbours { previous, next }
    }

    /// Where a listing reads: the page a token names, or the first page of a walk starting now.
    pub fn resume(key: &TokenKey, scope: &[&str], token: Option<&str>, now: Millis) -> Result<Self, BadToken> {
        match token {
            Some(token) => Self::open(key, scope, token),
            None => Ok(Self::first(now)),
        }
    }

    /// This page's links, sealed for `scope`: itself and its [`PagePosition::neighbours`].
    pub fn links(&self, key: &TokenKey, scope: &[&str], ends: Option<(&str, &str)>, more_beyond: bool) -> PageLinks {
        let neighbours = self.neighbours(ends, more_beyond);
        let link = |p: &PagePosition| PageLink { index: p.index(), token: p.seal(key, scope) };
        PageLinks {
            current: link(self),
            previous: neighbours.previous.as_ref().map(link),
            next: neighbours.next.as_ref().map(link),
            started_at: self.started_at,
        }
    }

    /// The token of this page, valid in `scope` only.
    pub fn seal(&self, key: &TokenKey, scope: &[&str]) -> String {
        key.seal(scope, self.encode().as_bytes())
    }

    /// Reads a token [`PagePosition::seal`] wrote for `scope`.
    pub fn open(key: &TokenKey, scope: &[&str], token: &str) -> Result<Self, BadToken> {
        let payload = key.open(scope, token)?;
        Self::decode(&String::from_utf8(payload).map_err(|_| BadToken)?)
    }

    /// `index:startedMs:kind:cursor`, kind `f` (first, no cursor), `a` (after) or `b` (before).
    fn encode(&self) -> String {
        let (kind, cursor) = match &self.reading {
            Reading::First => ("f", ""),
            Reading::After(cursor) => ("a", cursor.as_str()),
            Reading::Before(cursor) => ("b", cursor.as_str()),
        };
        format!("{}:{}:{kind}:{cursor}", self.index, self.started_at.epoch_ms())
    }

    fn decode(text: &str) -> Result<Self, BadToken> {
        let mut parts = text.splitn(4, ':');
        let mut part = || parts.next().ok_or(BadToken);
        let (index, started, kind, cursor) = (part()?, part()?, part()?, part()?);
        let index: u64 = index.parse().map_err(|_| BadToken)?;
        let started_at = Millis::from_epoch_ms(started.parse().map_err(|_| BadToken)?);
        let reading = match (kind, index) {
            ("f", 1) if cursor.is_empty() => Reading::First,
            ("a", 2..) => Reading::After(cursor.to_owned()),
            ("b", 2..) => Reading::Before(cursor.to_owned()),
            _ => return Err(BadToken),
        };
        let position = Self { index, started_at, reading };
        // One text per position: a token is the only spelling of its page.
        match position.encode() == text {
            true => Ok(position),
            false => Err(BadToken),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key() -> TokenKey {
        TokenKey::new(b"test key")
    }

    #[test]
    fn a_sealed_token_opens_in_its_scope_only() {
        let token = key().seal(&["p1", "b1", "desc"], b"42");
        assert_eq!(key().open(&["p1", "b1", "desc"], &token), Ok(b"42".to_vec()));
        assert_eq!(key().open(&["p1", "b1", "asc"], &token), Err(BadToken));
        assert_eq!(key().open(&["p2", "b1", "desc"], &token), Err(BadToken));
        assert_eq!(key().open(&["p1b", "1", "desc"], &token), Err(BadToken));
        assert_eq!(TokenKey::new(b"other").open(&["p1", "b1", "desc"], &token), Err(BadToken));
    }

    proptest! {
        #[test]
        fn any_altered_character_is_detected(position in 0usize..40, replacement in "[A-Za-z0-9_.-]") {
            let token = key().seal(&["p", "b"], b"d:123");
            let position = position % token.len();
            let mut altered = token.clone();
            altered.replace_range(position..=position, &replacement);
            prop_assume!(altered != token);
            prop_assert_eq!(key().open(&["p", "b"], &altered), Err(BadToken));
        }

        #[test]
        fn garbage_never_panics(token in ".{0,80}") {
            let _ = key().open(&["p"], &token);
            let _ = PagePosition::open(&key(), &["p"], &token);
            let _ = PagePosition::decode(&token);
        }
    }

    // -----------------------------------------------------------------------------------------
    // Page positions: a model listing (distinct numbers in order; a cursor is a number's text)
    // read the way the wallet listing reads it.

    const SCOPE: [&str; 3] = ["project", "wallets", "name:ASC"];

    /// What the listing gives for a position: the page's items in order, whether more lie
    /// beyond it in its reading direction, and the position it really read (a backward page
    /// with nothing before its cursor reads the first page instead).
    fn read(items: &[u32], position: &PagePosition, limit: usize) -> (Vec<u32>, bool, PagePosition) {
        let cursor = |c: &String| c.parse::<u32>().expect("a cursor the model wrote");
        let mut page: Vec<u32> = match position.reading() {
            Reading::First => items.to_vec(),
            Reading::After(c) => items.iter().copied().filter(|&i| i > cursor(c)).collect(),
            Reading::Before(c) => items.iter().rev().copied().filter(|&i| i < cursor(c)).collect(),
        };
        if position.is_backward() && page.is_empty() {
            return read(items, &position.restart(), limit);
        }
        let more = page.len() > limit;
        page.truncate(limit);
        if position.is_backward() {
            page.reverse();
        }
        (page, more, position.clone())
    }

    /// The neighbours of what `read` found, through tokens: sealed, then opened again.
    fn linked(page: &[u32], more: bool, position: &PagePosition) -> Result<Neighbours, TestCaseError> {
        let (first, last) = (page.first().map(u32::to_string), page.last().map(u32::to_string));
        let ends = first.as_deref().zip(last.as_deref());
        let through = |p: Option<PagePosition>| -> Result<Option<PagePosition>, TestCaseError> {
            let Some(p) = p else { return Ok(None) };
            let opened = PagePosition::open(&key(), &SCOPE, &p.seal(&key(), &SCOPE));
            prop_assert_eq!(opened.as_ref(), Ok(&p));
            Ok(opened.ok())
        };
        let Neighbours { previous, next } = position.neighbours(ends, more);
        Ok(Neighbours { previous: through(previous)?, next: through(next)? })
    }

    fn arb_items() -> impl Strategy<Value = Vec<u32>> {
        prop::collection::btree_set(0u32..1_000, 0..60).prop_map(|set| set.into_iter().collect())
    }

    fn arb_position() -> impl Strategy<Value = PagePosition> {
        let reading =
            prop_oneof![Just(Reading::First), ".{0,40}".prop_map(Reading::After), ".{0,40}".prop_map(Reading::Before),];
        (reading, 2u64..u64::MAX, any::<i64>()).prop_map(|(reading, index, started)| PagePosition {
            index: if reading == Reading::First { 1 } else { index },
            started_at: Millis::from_epoch_ms(started),
            reading,
        })
    }

    #[test]
    fn a_changed_index_or_start_fails_the_tag() {
        let position = PagePosition {
            index: 3,
            started_at: Millis::from_epoch_ms(1_000),
            reading: Reading::After(r#"["t:Rent","t:abc"]"#.to_owned()),
        };
        let token = position.seal(&key(), &SCOPE);
        assert_eq!(PagePosition::open(&key(), &SCOPE, &token), Ok(position.clone()));
        // Sealing a changed position makes another token; no byte of the old one can be changed
        // into it (any_altered_character_is_detected), and nothing of the payload shows.
        let text = URL_SAFE_NO_PAD.decode(&token).expect("base64url");
        assert!(!text.windows(4).any(|w| w == b"Rent"), "the cursor is not readable in the token");
        for (index, started) in [(4, 1_000), (3, 999)] {
            let changed = PagePosition { index, started_at: Millis::from_epoch_ms(started), ..position.clone() };
            assert_ne!(changed.seal(&key(), &SCOPE), token);
        }
        // Well sealed, but not a position: a bare cursor (a token of before pages had indexes).
        let bare = key().seal(&SCOPE, br#"["t:Rent","t:abc"]"#);
        assert_eq!(PagePosition::open(&key(), &SCOPE, &bare), Err(BadToken));
    }

    #[test]
    fn only_the_one_spelling_of_a_position_decodes() {
        assert!(PagePosition::decode("1:5:f:").is_ok());
        assert!(PagePosition::decode("2:-5:b:x:y").is_ok());
        for text in
            ["", "1:5:f", "1:5:f:x", "2:5:f:", "1:5:a:x", "1:5:b:x", "0:5:a:x", "01:5:f:", "+2:5:a:x", "2:05:a:x"]
        {
            assert_eq!(PagePosition::decode(text), Err(BadToken), "{text:?}");
        }
    }

    proptest! {
        #[test]
        fn positions_travel_in_tokens_unchanged(position in arb_position()) {
            prop_assert_eq!(PagePosition::decode(&position.encode()), Ok(position.clone()));
            let token = position.seal(&key(), &SCOPE);
            prop_assert!(token.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)), "URL-safe: {}", token);
            prop_assert_eq!(PagePosition::open(&key(), &SCOPE, &token), Ok(position.clone()));
            prop_assert_eq!(PagePosition::open(&key(), &["project", "wallets", "name:DESC"], &token), Err(BadToken));
        }

        #[test]
        fn neighbours_count_pages_by_one(position in arb_position(), ends in prop::option::of(("[0-9]{1,3}", "[0-9]{1,3}")), more in any::<bool>()) {
            let Neighbours { previous, next } =
                position.neighbours(ends.as_ref().map(|(a, b)| (a.as_str(), b.as_str())), more);
            let index = position.index();
            if let Some(next) = &next {
                prop_assert_eq!(next.index(), index.saturating_add(1));
                prop_assert!(matches!(next.reading(), Reading::After(_)));
            }
            prop_assert_eq!(next.is_some(), ends.is_some() && (more || position.is_backward()));
            prop_assert_eq!(previous.is_some(), index > 1);
            if let Some(previous) = &previous {
                // One page back, or back to the first page when there is nothing to read back from.
                prop_assert!(previous.index() == index - 1 || previous.reading() == &Reading::First);
                prop_assert_eq!(previous.index() == 1, previous.reading() == &Reading::First);
            }
            for p in previous.iter().chain(&next) {
                prop_assert_eq!(p.started_at(), position.started_at());
            }
        }

        /// Forwards from the first page: every item once, in order, indexes 1, 2, 3...; a next
        /// page exactly when items remain; and from every page, its previous page is exactly
        /// the page before it (with its index), whose next page is this one again.
        #[test]
        fn a_walk_visits_every_item_once_and_steps_back_exactly(items in arb_items(), limit in 1usize..8, started in any::<i64>()) {
            let mut pages: Vec<(PagePosition, Vec<u32>, Neighbours)> = Vec::new();
            let mut position = PagePosition::first(Millis::from_epoch_ms(started));
            loop {
                let (page, more, read_as) = read(&items, &position, limit);
                prop_assert_eq!(&read_as, &position, "a forward page reads where it says");
                let neighbours = linked(&page, more, &position)?;
                let next = neighbours.next.clone();
                pages.push((position, page, neighbours));
                prop_assert!(pages.len() <= items.len().max(1), "the walk never ends");
                match next {
                    Some(next) => position = next,
                    None => break,
                }
            }
            let visited: Vec<u32> = pages.iter().flat_map(|(_, page, _)| page.clone()).collect();
            prop_assert_eq!(&visited, &items);
            for (i, (position, page, neighbours)) in pages.iter().enumerate() {
                prop_assert_eq!(position.index(), i as u64 + 1);
                prop_assert_eq!(position.started_at(), Millis::from_epoch_ms(started));
                prop_assert_eq!(page.len(), if i + 1 < pages.len() { limit } else { items.len() - i * limit });
                prop_assert_eq!(neighbours.next.is_some(), i + 1 < pages.len());
                let Some(previous) = &neighbours.previous else {
                    prop_assert_eq!(i, 0, "only the first page has no previous page");
                    continue;
                };
                let (back, more, read_as) = read(&items, previous, limit);
                let (before_position, before_page, _) = &pages[i - 1];
                prop_assert_eq!(previous.index(), before_position.index());
                prop_assert_eq!(&back, before_page, "page {} steps back to page {}", i + 1, i);
                prop_assert_eq!(&read_as, previous);
                let again = linked(&back, more, previous)?;
                prop_assert_eq!(again.previous.is_some(), i > 1);
                let forward = again.next.expect("a page before another has a next page");
                prop_assert_eq!(forward.index(), position.index());
                prop_assert_eq!(&read(&items, &forward, limit).0, page, "and forward again to page {}", i + 1);
                if let (Some(back_again), Some(earlier)) = (&again.previous, i.checked_sub(2).map(|j| &pages[j])) {
                    prop_assert_eq!(&read(&items, back_again, limit).0, &earlier.1, "two pages back");
                }
            }
        }
    }
}
