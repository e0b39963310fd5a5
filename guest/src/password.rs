//! Password generation for Secure Document Handling (docs/secure-documents.md#passwords).
//!
//! Passwords are read aloud and typed by people, so the alphabet is ASCII letters and digits
//! without look-alikes; they protect an archive against offline guessing, so every character
//! is drawn uniformly from a CSPRNG. This module never logs, stores or returns a password
//! anywhere but to its caller.

use rand::{CryptoRng, RngCore};

/// `A–Z a–z 2–9` minus the look-alikes `O o l I` (and `0 1`, never in the range): 56 symbols,
/// log2(56) ≈ 5.8 bits per character.
pub const ALPHABET: &[u8; 56] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789";

/// How long a password is (Retarus' `password.type` values; `Maximum` is sealmail's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PasswordStrength {
    /// 8 characters (≈ 46 bits).
    Medium,
    /// 10 characters (≈ 58 bits).
    High,
    /// 15 characters (≈ 87 bits); the default.
    VeryHigh,
    /// 20 characters (≈ 116 bits).
    Maximum,
}

impl PasswordStrength {
    /// Every strength, weakest first.
    pub const ALL: [PasswordStrength; 4] = [Self::Medium, Self::High, Self::VeryHigh, Self::Maximum];

    /// The number of characters of a password of this strength.
    pub const fn length(self) -> usize {
        match self {
            Self::Medium => 8,
            Self::High => 10,
            Self::VeryHigh => 15,
            Self::Maximum => 20,
        }
    }

    /// The name used in requests and on the command line.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Medium => "medium",
            Self::High => "high",
            Self::VeryHigh => "very_high",
            Self::Maximum => "maximum",
        }
    }

    /// Parses a `password.type` value. `strong` is *not* accepted here: it is an alias the
    /// request validator resolves (with a warning), not a name of its own.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// Draws one index in `0..n` uniformly by rejection sampling: bytes at or above the largest
/// multiple of `n` that fits in a byte are thrown away, so every index has exactly the same
/// number of byte values mapping to it (`byte % n` alone would favour the low indices).
pub fn uniform_index<R: RngCore + ?Sized>(rng: &mut R, n: u8) -> u8 {
    debug_assert!(n > 0);
    // The largest multiple of n that is at most 256: bytes below it map evenly.
    let limit = 256 - 256 % u16::from(n);
    loop {
        let mut byte = [0u8; 1];
        rng.fill_bytes(&mut byte);
        if u16::from(byte[0]) < limit {
            return byte[0] % n;
        }
    }
}

/// Generates a password of `strength` from `rng`.
///
/// Each character is drawn uniformly from [`ALPHABET`]; a password that lacks an upper-case
/// letter, a lower-case letter or a digit is redrawn whole. Redrawing whole (rather than
/// patching one position) keeps the result uniform over all passwords that have every class.
pub fn generate<R: RngCore + CryptoRng + ?Sized>(rng: &mut R, strength: PasswordStrength) -> String {
    // Wiped when dropped: the drafts redrawn and the buffer the password is copied from.
    let mut chars = zeroize::Zeroizing::new(vec![0u8; strength.length()]);
    loop {
        for c in chars.iter_mut() {
            *c = ALPHABET[usize::from(uniform_index(rng, ALPHABET.len() as u8))];
        }
        if has_every_class(&chars) {
            // The alphabet is ASCII, so this is valid UTF-8.
            return chars.iter().map(|&b| char::from(b)).collect();
        }
    }
}

fn has_every_class(chars: &[u8]) -> bool {
    chars.iter().any(u8::is_ascii_uppercase)
        && chars.iter().any(u8::is_ascii_lowercase)
        && chars.iter().any(u8::is_ascii_digit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    #[test]
    fn alphabet_has_56_distinct_unambiguous_symbols() {
        let mut seen = std::collections::BTreeSet::new();
        for &c in ALPHABET {
            assert!(c.is_ascii_alphanumeric());
            assert!(!b"0O1lIo".contains(&c), "look-alike {}", c as char);
            assert!(seen.insert(c));
        }
        assert_eq!(seen.len(), 56);
    }

    #[test]
    fn lengths_alphabet_and_classes() {
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        for (strength, len) in [
            (PasswordStrength::Medium, 8),
            (PasswordStrength::High, 10),
            (PasswordStrength::VeryHigh, 15),
            (PasswordStrength::Maximum, 20),
        ] {
            for _ in 0..2_000 {
                let p = generate(&mut rng, strength);
                assert_eq!(p.len(), len);
                assert!(p.bytes().all(|b| ALPHABET.contains(&b)), "{p}");
                assert!(has_every_class(p.as_bytes()), "{p}");
            }
        }
    }

    #[test]
    fn names_round_trip() {
        for s in PasswordStrength::ALL {
            assert_eq!(PasswordStrength::from_name(s.name()), Some(s));
        }
        assert_eq!(PasswordStrength::from_name("strong"), None);
    }

    /// Pearson's chi-square statistic of `draws` samples of `sample` over 56 symbols.
    fn chi_square(draws: usize, mut sample: impl FnMut() -> u8) -> f64 {
        let mut counts = [0u64; 56];
        for _ in 0..draws {
            counts[usize::from(sample())] += 1;
        }
        let expected = draws as f64 / 56.0;
        counts.iter().map(|&c| (c as f64 - expected).powi(2) / expected).sum()
    }

    /// Critical value of chi-square with 55 degrees of freedom at p = 0.001: a fair sampler
    /// exceeds it once in a thousand seeds; the seed is fixed, so the test is deterministic.
    const CHI2_55_P001: f64 = 93.17;

    #[test]
    fn sampler_is_uniform_by_chi_square() {
        let mut rng = ChaCha20Rng::seed_from_u64(2026);
        let stat = chi_square(200_000, || uniform_index(&mut rng, 56));
        assert!(stat < CHI2_55_P001, "chi-square {stat:.1} ≥ {CHI2_55_P001}");
    }

    #[test]
    fn chi_square_catches_a_modulo_biased_sampler() {
        // The classic mistake: 256 % 56 = 32, so indices 0..32 come up 5/4 as often.
        let mut rng = ChaCha20Rng::seed_from_u64(2026);
        let stat = chi_square(200_000, || {
            let mut b = [0u8; 1];
            rng.fill_bytes(&mut b);
            b[0] % 56
        });
        assert!(stat > CHI2_55_P001 * 10.0, "biased sampler passed: {stat:.1}");
    }

    #[test]
    fn generated_characters_are_uniform() {
        // End to end: the characters of real passwords, not just the sampler. Class
        // redraws skew this slightly for short passwords; at 20 characters the skew is
        // far below what 100,000 draws can see.
        let mut rng = ChaCha20Rng::seed_from_u64(99);
        let mut pool = Vec::new();
        while pool.len() < 100_000 {
            pool.extend(generate(&mut rng, PasswordStrength::Maximum).into_bytes());
        }
        let mut it = pool.into_iter();
        let stat = chi_square(100_000, || {
            let c = it.next().unwrap_or(b'A');
            ALPHABET.iter().position(|&a| a == c).unwrap_or(0) as u8
        });
        assert!(stat < CHI2_55_P001, "chi-square {stat:.1}");
    }

    #[test]
    fn uniform_index_rejects_only_the_biased_zone() {
        // For n = 56 the accepted bytes are 0..=223 (224 = 4 × 56).
        struct Seq(std::vec::IntoIter<u8>);
        impl RngCore for Seq {
            fn next_u32(&mut self) -> u32 {
                unimplemented!()
            }
            fn next_u64(&mut self) -> u64 {
                unimplemented!()
            }
            fn fill_bytes(&mut self, dst: &mut [u8]) {
                for d in dst {
                    *d = self.0.next().expect("sequence exhausted");
                }
            }
        }
        let mut rng = Seq(vec![255, 224, 223, 0].into_iter());
        assert_eq!(uniform_index(&mut rng, 56), 223 % 56);
        assert_eq!(uniform_index(&mut rng, 56), 0);
    }
}
