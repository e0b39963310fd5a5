//! How the structured harnesses read their bytes: fields separated by the ASCII record
//! separator (0x1E), each read as UTF-8 (lossily). A separator keeps hand-written seeds
//! readable (`printf 'a\x1eb'`) and lets libFuzzer's mutations (insert, erase, splice) move
//! text between fields the way a length prefix would not.

/// The field separator (ASCII RS).
pub(crate) const SEP: u8 = 0x1e;

/// The fields of one input, in order; missing fields read as empty.
pub(crate) struct Fields<'a> {
    raw: Vec<&'a [u8]>,
}

impl<'a> Fields<'a> {
    /// Splits `data` at every [`SEP`].
    pub(crate) fn split(data: &'a [u8]) -> Self {
        Self { raw: data.split(|&b| b == SEP).collect() }
    }

    /// Field `i` as bytes (empty when missing).
    pub(crate) fn bytes(&self, i: usize) -> &'a [u8] {
        self.raw.get(i).copied().unwrap_or_default()
    }

    /// Field `i` as text, invalid UTF-8 replaced by U+FFFD.
    pub(crate) fn text(&self, i: usize) -> String {
        String::from_utf8_lossy(self.bytes(i)).into_owned()
    }

    /// Whether field `i` is present at all (possibly empty).
    pub(crate) fn has(&self, i: usize) -> bool {
        i < self.raw.len()
    }

    /// How many fields there are.
    pub(crate) fn len(&self) -> usize {
        self.raw.len()
    }

    /// Bit `bit` of the flag bytes in field `i` (little-endian across its bytes).
    pub(crate) fn flag(&self, i: usize, bit: usize) -> bool {
        self.bytes(i).get(bit / 8).is_some_and(|b| b & (1 << (bit % 8)) != 0)
    }
}
