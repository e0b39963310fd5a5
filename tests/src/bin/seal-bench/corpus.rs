//! The inputs: the 20 MiB corpus (10 MiB of random bytes, 10 MiB of a German invoice ledger)
//! generated from a fixed seed, in memory and on disk for 7-Zip, and the 100-byte tiny file.

use anyhow::{Context, Result};
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;

use crate::measure::group_digits;

/// The corpus seed: change it and every figure refers to different bytes.
pub const CORPUS_SEED: u64 = 20_260_115;

/// Each half of the corpus: 10 MiB random bytes, 10 MiB text.
pub const HALF_LEN: usize = 10 << 20;

/// The incompressible half: sealmail's trial deflate finds it does not shrink and stores it.
pub const RANDOM_NAME: &str = "scan.bin";

/// The compressible half: invoice ledger lines.
pub const TEXT_NAME: &str = "ledger.txt";

/// The "tiny file" of the per-call target.
pub const TINY_LEN: usize = 100;

/// The 20 MiB input, in memory and on disk (for 7-Zip).
pub struct Corpus {
    pub random: Vec<u8>,
    pub text: Vec<u8>,
    pub dir: tempfile::TempDir,
}

impl Corpus {
    pub fn generate(seed: u64) -> Result<Corpus> {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let mut random = vec![0u8; HALF_LEN];
        rng.fill_bytes(&mut random);
        let text = ledger_text(&mut rng, HALF_LEN);
        let dir = tempfile::tempdir().context("cannot create a temporary directory")?;
        std::fs::write(dir.path().join(RANDOM_NAME), &random)?;
        std::fs::write(dir.path().join(TEXT_NAME), &text)?;
        Ok(Corpus { random, text, dir })
    }

    pub fn files(&self) -> [(&'static str, &[u8]); 2] {
        [(RANDOM_NAME, &self.random), (TEXT_NAME, &self.text)]
    }

    pub fn len(&self) -> u64 {
        (self.random.len() + self.text.len()) as u64
    }

    /// FNV-1a over both halves: two runs with the same fingerprint sealed the same bytes.
    pub fn fingerprint(&self) -> u64 {
        let mut hash = 0xcbf2_9ce4_8422_2325u64;
        for byte in self.random.iter().chain(&self.text) {
            hash = (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3);
        }
        hash
    }
}

/// `len` bytes of a German invoice ledger (semicolon-separated, like a bookkeeping export):
/// dates, invoice numbers, customers, addresses, items, quantities and amounts all vary, and
/// one line in twelve is a free-text remark, so deflate sees the repetition of real records
/// (field names, vocabulary) but not one line repeated.
pub fn ledger_text(rng: &mut ChaCha20Rng, len: usize) -> Vec<u8> {
    let surnames: Vec<&str> =
        "Müller|Schmidt|Schneider|Fischer|Weber|Meyer|Wagner|Becker|Schulz|Hoffmann|Schäfer|Koch|Bauer|\
        Richter|Klein|Wolf|Schröder|Neumann|Schwarz|Zimmermann|Braun|Krüger|Hofmann|Hartmann|Lange|\
        Schmitt|Werner|Krause|Meier|Lehmann"
            .split('|')
            .collect();
    let trades: Vec<&str> =
        "Bau|Elektro|Logistik|Steuerberatung|Immobilien|Medizintechnik|Druckerei|Gartenbau|Software|\
        Handel|Metallbau|Catering|Reisen|Versicherungsmakler|Sanitär"
            .split('|')
            .collect();
    let forms: Vec<&str> = "GmbH|AG|KG|e.K.|GmbH & Co. KG|OHG|UG (haftungsbeschränkt)|GbR".split('|').collect();
    let streets: Vec<&str> = "Hauptstraße|Bahnhofstraße|Gartenweg|Schillerstraße|Goethestraße|Lindenallee|Am Markt|\
        Industriestraße|Kirchplatz|Mühlenweg|Friedrich-Ebert-Straße|Rosenstraße|Am Hafen"
        .split('|')
        .collect();
    let cities: Vec<&str> =
        "Berlin|Hamburg|München|Köln|Frankfurt am Main|Stuttgart|Düsseldorf|Leipzig|Dortmund|Essen|Bremen|\
        Dresden|Hannover|Nürnberg|Freiburg im Breisgau|Würzburg"
            .split('|')
            .collect();
    const ITEMS: &[(&str, &str)] = &[
        ("Beratung Datenschutz", "Std."),
        ("Wartungsvertrag Server", "Monat"),
        ("Lizenz Buchhaltungssoftware", "Stück"),
        ("Montage Elektroinstallation", "Std."),
        ("Kupferkabel NYM-J 3x1,5", "m"),
        ("Fahrtkosten", "km"),
        ("Druck Broschüre A4, 16 Seiten", "Stück"),
        ("Reinigung Büroflächen", "m²"),
        ("Entwicklung Schnittstelle", "Std."),
        ("Hosting Webshop", "Monat"),
        ("Schulung Mitarbeiter", "Tag"),
        ("Ersatzteil Pumpe", "Stück"),
        ("Transport Palette", "Stück"),
        ("Gutachten Brandschutz", "pauschal"),
    ];
    let status: Vec<&str> = "offen|bezahlt|bezahlt|bezahlt|gemahnt|teilbezahlt|storniert".split('|').collect();
    let words: Vec<&str> =
        "Zahlung|bitte|bis|zum|auf|das|Konto|der|Lieferung|erfolgt|gemäß|Angebot|vom|Skonto|innerhalb|von|\
        Tagen|Rückfrage|Ansprechpartner|Herr|Frau|Projekt|Abschlag|Schlussrechnung|Leistungszeitraum|\
        Reklamation|Gutschrift|folgt|separat|Mahnstufe|Verzugszinsen|vereinbart|telefonisch|Auftrag|Nr.|\
        Bestellung|Termin"
            .split('|')
            .collect();
    fn pick<T: Copy>(rng: &mut ChaCha20Rng, items: &[T]) -> T {
        items[rng.random_range(0..items.len())]
    }
    /// German notation: 1.234,56
    fn amount(cents: u64) -> String {
        format!("{},{:02}", group_digits(cents / 100, '.'), cents % 100)
    }

    let mut out = String::with_capacity(len + 512);
    out.push_str(
        "Datum;Rechnungsnr.;Kunde;Anschrift;Pos.;Leistung;Menge;Einheit;Einzelpreis;Netto;USt;Brutto;Status\n",
    );
    while out.len() < len {
        if rng.random_ratio(1, 12) {
            out.push_str("# Hinweis:");
            for _ in 0..rng.random_range(6..16) {
                out.push(' ');
                out.push_str(pick(rng, &words));
            }
            out.push_str(&format!(" {}.\n", rng.random_range(1000..99_999)));
            continue;
        }
        let (item, unit) = pick(rng, ITEMS);
        let quarter_units = rng.random_range(1..=400u64);
        let unit_cents = rng.random_range(150..=250_000u64);
        let net = quarter_units * unit_cents / 4;
        let vat_percent = if rng.random_ratio(1, 8) { 7 } else { 19 };
        let vat = net * vat_percent / 100;
        out.push_str(&format!(
            "{:02}.{:02}.{};RE-{}-{:05};{} {} {};{} {}, {:05} {};{};{};{},{:02};{};{} EUR;{} EUR;{} % {} EUR;{} EUR;{}\n",
            rng.random_range(1..=28),
            rng.random_range(1..=12),
            rng.random_range(2023..=2026),
            rng.random_range(2023..=2026),
            rng.random_range(1..100_000),
            pick(rng, &surnames),
            pick(rng, &trades),
            pick(rng, &forms),
            pick(rng, &streets),
            rng.random_range(1..180),
            rng.random_range(1067..99_999),
            pick(rng, &cities),
            rng.random_range(1..=12),
            item,
            quarter_units / 4,
            quarter_units % 4 * 25,
            unit,
            amount(unit_cents),
            amount(net),
            vat_percent,
            amount(vat),
            amount(net + vat),
            pick(rng, &status),
        ));
    }
    let mut bytes = out.into_bytes();
    bytes.truncate(len);
    bytes
}

pub fn tiny_text() -> Vec<u8> {
    b"Rechnung RE-2026-00042, Betrag 1.234,56 EUR, faellig am 15.02.2026. Vielen Dank fuer Ihren Auftrag!\n"[..TINY_LEN]
        .to_vec()
}
