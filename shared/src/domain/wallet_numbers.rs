//! A wallet's two short names, FPay's `mars` and `man`: besides its id (a UUID) and its
//! merchant-chosen `foreignId`, each names the wallet wherever a wallet is named (read,
//! source, destination), and each is short enough to read out over the phone and type.
//!
//! - `man` (money account number): 12 digits in three groups, `4821-0937-5514`; the last digit
//!   is a Luhn check digit, so that a mistyped digit or two swapped neighbours name nothing
//!   instead of another wallet.
//! - `mars` (money account reference string): 8 characters of Crockford's base32 in two
//!   groups, `7KQ3-9PDW`: no `I`, `L`, `O` or `U`, and read case-insensitively, with `O` as
//!   `0` and `I`/`L` as `1`, as people say and type them.
//!
//! Both are drawn at random when the wallet is made and never change; unique per project
//! because the creating transaction writes an item per name on the condition that it does
//! not exist yet (a clash, rare, draws again). Both shapes are reserved: a `foreignId` cannot
//! take one, as it cannot take a UUID, so naming a wallet is never ambiguous.

use super::names::BalanceId;
use sha2::{Digest, Sha256};
use std::fmt;

/// Crockford's base32 alphabet.
const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Mars(String);

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Man(String);

/// A wallet's `mars` and `man`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalletNumbers {
    pub mars: Mars,
    pub man: Man,
}

impl Mars {
    /// 40 bits as 8 base32 characters, `XXXX-XXXX`.
    fn from_bits(bits: u64) -> Self {
        let chars: String = (0..8).rev().map(|i| CROCKFORD[((bits >> (i * 5)) & 31) as usize] as char).collect();
        Self(format!("{}-{}", &chars[..4], &chars[4..]))
    }

    /// `XXXX-XXXX` in any letter case, `O` read as `0` and `I`/`L` as `1`: the canonical form.
    pub fn parse(text: &str) -> Option<Self> {
        let bytes = text.as_bytes();
        if bytes.len() != 9 || bytes[4] != b'-' {
            return None;
        }
        let mut canonical = String::with_capacity(9);
        for (i, &byte) in bytes.iter().enumerate() {
            if i == 4 {
                canonical.push('-');
                continue;
            }
            let upper = match byte.to_ascii_uppercase() {
                b'O' => b'0',
                b'I' | b'L' => b'1',
                other => other,
            };
            if !CROCKFORD.contains(&upper) {
                return None;
            }
            canonical.push(upper as char);
        }
        Some(Self(canonical))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Man {
    /// 11 digits of `value` and their Luhn check digit, `NNNN-NNNN-NNNN`.
    fn from_value(value: u64) -> Self {
        let digits = format!("{:011}", value % 100_000_000_000);
        let all = format!("{digits}{}", luhn_check_digit(&digits));
        Self(format!("{}-{}-{}", &all[..4], &all[4..8], &all[8..]))
    }

    /// `NNNN-NNNN-NNNN` whose last digit checks the others.
    pub fn parse(text: &str) -> Option<Self> {
        let bytes = text.as_bytes();
        let shaped = bytes.len() == 14
            && bytes.iter().enumerate().all(|(i, b)| if i == 4 || i == 9 { *b == b'-' } else { b.is_ascii_digit() });
        if !shaped {
            return None;
        }
        let digits: String = text.chars().filter(char::is_ascii_digit).collect();
        let (body, check) = digits.split_at(11);
        (check.chars().next() == Some(luhn_check_digit(body))).then(|| Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The digit that makes `digits` followed by it pass the Luhn check.
fn luhn_check_digit(digits: &str) -> char {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            match i % 2 {
                0 => match d * 2 {
                    doubled if doubled > 9 => doubled - 9,
                    doubled => doubled,
                },
                _ => d,
            }
        })
        .sum();
    char::from(b'0' + ((10 - sum % 10) % 10) as u8)
}

impl WalletNumbers {
    /// From 16 random bytes: 40 bits for `mars`, 64 for `man`.
    pub fn from_random(bytes: [u8; 16]) -> Self {
        let mut mars = [0u8; 8];
        mars[3..].copy_from_slice(&bytes[..5]);
        let mut man = [0u8; 8];
        man.copy_from_slice(&bytes[8..]);
        Self { mars: Mars::from_bits(u64::from_be_bytes(mars)), man: Man::from_value(u64::from_be_bytes(man)) }
    }

    /// A wallet's names, drawn from its id (random, but a project's main wallet's id is the
    /// same for every request that makes it, so they all make the same names) and the
    /// `attempt`: a clash with another wallet's names draws again with the next attempt.
    pub fn of(wallet: BalanceId, attempt: u32) -> Self {
        Self::derived(&wallet.to_string(), attempt)
    }

    fn derived(seed: &str, attempt: u32) -> Self {
        let digest = Sha256::digest(format!("pocketbook wallet numbers\n{seed}\n{attempt}").as_bytes());
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        Self::from_random(bytes)
    }
}

/// Whether `text` has the shape of a `mars` or a `man` (reserved: no `foreignId` has it).
pub fn is_wallet_number(text: &str) -> bool {
    Mars::parse(text).is_some() || is_man_shaped(text)
}

/// Twelve digits in groups of four, whether or not the check digit is right: a foreign id
/// of that shape would read as a mistyped `man`.
fn is_man_shaped(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 14
        && bytes.iter().enumerate().all(|(i, b)| if i == 4 || i == 9 { *b == b'-' } else { b.is_ascii_digit() })
}

impl fmt::Display for Mars {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for Man {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_names_have_their_shapes_and_read_back() {
        let numbers = WalletNumbers::from_random([7; 16]);
        assert_eq!(numbers.mars.as_str().len(), 9);
        assert_eq!(numbers.man.as_str().len(), 14);
        assert_eq!(Mars::parse(numbers.mars.as_str()), Some(numbers.mars.clone()));
        assert_eq!(Man::parse(numbers.man.as_str()), Some(numbers.man.clone()));
        assert!(is_wallet_number(numbers.mars.as_str()) && is_wallet_number(numbers.man.as_str()));
    }

    #[test]
    fn a_mars_is_read_as_people_write_it() {
        assert_eq!(Mars::parse("7kq3-9pdw"), Mars::parse("7KQ3-9PDW"));
        assert_eq!(Mars::parse("O1IL-0000").map(|m| m.0), Some("0111-0000".to_owned()));
        assert_eq!(Mars::parse("7KQ3-9PDU"), None, "no U in Crockford's alphabet");
        assert_eq!(Mars::parse("7KQ39PDW"), None);
        assert_eq!(Mars::parse("7KQ3-9PD"), None);
    }

    #[test]
    fn a_man_with_a_wrong_digit_names_nothing() {
        // 7992739871 is the classic Luhn example (check digit 3), padded to 11 digits.
        assert_eq!(luhn_check_digit("07992739871"), '3');
        assert!(Man::parse("0799-2739-8713").is_some());
        assert!(Man::parse("0799-2739-8714").is_none());
        assert!(Man::parse("0799-2739-8731").is_none(), "two swapped neighbours");
        assert!(is_wallet_number("0799-2739-8714"), "still reserved for foreign ids");
        assert!(!is_wallet_number("crm-42") && !is_wallet_number("0799-2739-871"));
    }

    #[test]
    fn derived_names_are_the_same_for_every_caller_and_differ_by_attempt() {
        assert_eq!(WalletNumbers::derived("p", 0), WalletNumbers::derived("p", 0));
        assert_ne!(WalletNumbers::derived("p", 0), WalletNumbers::derived("p", 1));
        assert_ne!(WalletNumbers::derived("p", 0), WalletNumbers::derived("q", 0));
    }

    proptest! {
        #[test]
        fn every_drawn_name_parses_back_to_itself(bytes in any::<[u8; 16]>()) {
            let numbers = WalletNumbers::from_random(bytes);
            prop_assert_eq!(Mars::parse(numbers.mars.as_str()), Some(numbers.mars.clone()));
            prop_assert_eq!(Mars::parse(&numbers.mars.as_str().to_lowercase()), Some(numbers.mars.clone()));
            prop_assert_eq!(Man::parse(numbers.man.as_str()), Some(numbers.man.clone()));
        }

        #[test]
        fn any_one_digit_typo_in_a_man_is_caught(bytes in any::<[u8; 16]>(), position in 0usize..12, delta in 1u8..10) {
            let man = WalletNumbers::from_random(bytes).man;
            let mut digits: Vec<u8> = man.as_str().bytes().filter(u8::is_ascii_digit).collect();
            digits[position] = b'0' + (digits[position] - b'0' + delta) % 10;
            let typed: String = digits.iter().map(|&d| d as char).collect();
            let typed = format!("{}-{}-{}", &typed[..4], &typed[4..8], &typed[8..]);
            prop_assert!(Man::parse(&typed).is_none());
        }
    }
}
