//! The `address` target: [`parse_mailbox`] and [`check_address`] on any text.

use crate::request::address::{check_address, parse_mailbox};

/// Parses `data` (lossy UTF-8) as a mailbox and as a bare address, and checks:
///
/// - an accepted mailbox's address and display name carry no control character (CR, LF,
///   NUL, …: they become header values), the address is ASCII, at most 254 octets, passes
///   [`check_address`], and parses back to itself without a display name;
/// - a display name, when kept, is not blank;
/// - when both accept `data`, [`parse_mailbox`] keeps the address [`check_address`] saw.
pub fn address_target(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(mailbox) = parse_mailbox(&text) {
        let address = &mailbox.address;
        assert!(!address.chars().any(char::is_control), "control character in accepted address {address:?}");
        assert!(address.is_ascii() && address.len() <= 254, "accepted address {address:?} is not short ASCII");
        assert_eq!(check_address(address), Ok(()), "parse_mailbox accepted {address:?} but check_address refuses it");
        if let Some(name) = &mailbox.name {
            assert!(!name.chars().any(char::is_control), "control character in display name {name:?}");
            assert!(!name.trim().is_empty(), "empty display name kept: {name:?}");
        }
        let again =
            parse_mailbox(address).unwrap_or_else(|e| panic!("accepted address {address:?} does not re-parse: {e}"));
        assert_eq!((again.name, &again.address), (None, address), "re-parsing changed {address:?}");
    }
    if check_address(&text).is_ok()
        && let Ok(mailbox) = parse_mailbox(&text)
    {
        assert_eq!(mailbox.address, text.trim(), "parse_mailbox changed the address");
    }
}
