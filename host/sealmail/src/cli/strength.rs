//! The `--strength` argument: the WIT's password strengths, by their snake-case names
//! (`medium`, `high`, `very_high`, `maximum`), each with its WIT documentation as help.
//!
//! It must never keep its own list of strengths: a strength added to the WIT appears here.

use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use sealmail_core::bindings::password::Strength;
use sealmail_core::vocabulary::WitEnum;

/// The strength used when `--strength` is not given (the WIT's documented default).
pub const DEFAULT: &str = sealmail_core::vocabulary::names::strength::VERY_HIGH;

/// Parses `--strength` into a [`Strength`].
pub fn parser() -> impl TypedValueParser<Value = Strength> {
    PossibleValuesParser::new(Strength::CASES.iter().map(|case| PossibleValue::new(case.snake).help(case.docs)))
        .map(|name| Strength::from_snake_name(&name).expect("clap accepts only the possible values"))
}
