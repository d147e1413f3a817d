//! Timestamps in a vendor's strftime format, compiled once ([`TimeFormat`]). chrono's
//! `format(&str)` parses the format on every call; a mock writes one or more timestamps per
//! request, so the usual items are written here by hand and anything else is left to chrono.

use chrono::format::{Fixed, Item, Numeric, Pad, StrftimeItems};
use chrono::{DateTime, Datelike, FixedOffset, Timelike, Utc};

/// A strftime format, parsed once. Deserialises from its text (a spec's rule), which is
/// refused there if chrono cannot parse it.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(try_from = "String")]
pub struct TimeFormat {
    items: Vec<Item<'static>>,
}

impl TimeFormat {
    /// Parse `format` (chrono's strftime syntax); an error names what chrono refused.
    pub fn new(format: &str) -> Result<Self, String> {
        StrftimeItems::new(format)
            .parse_to_owned()
            .map(|items| Self { items })
            .map_err(|e| format!("bad time format '{format}': {e}"))
    }

    /// `at` (UTC) in this format, as chrono writes it.
    pub fn utc(&self, at: DateTime<Utc>) -> String {
        self.format(&at.fixed_offset())
    }

    /// `local` in this format, as chrono writes it.
    pub fn format(&self, local: &DateTime<FixedOffset>) -> String {
        let mut out = String::with_capacity(32);
        self.write(local, &mut out);
        out
    }

    /// Append `local` in this format to `out`, as chrono writes it.
    pub fn write(&self, local: &DateTime<FixedOffset>, out: &mut String) {
        use std::fmt::Write as _;
        let start = out.len();
        if !self.write_usual(local, out) {
            out.truncate(start);
            let _ = write!(out, "{}", local.format_with_items(self.items.iter()));
        }
    }

    /// The usual items (zero-padded numbers of a four-digit year, literals, milliseconds, a
    /// whole-minute `%:z` offset) written by hand; `false` (with `out` partly written) for any
    /// other, which [`TimeFormat::write`] leaves to chrono.
    fn write_usual(&self, local: &DateTime<FixedOffset>, out: &mut String) -> bool {
        for item in &self.items {
            match item {
                Item::Literal(text) | Item::Space(text) => out.push_str(text),
                Item::OwnedLiteral(text) | Item::OwnedSpace(text) => out.push_str(text),
                Item::Numeric(numeric, Pad::Zero) => {
                    let (n, width) = match numeric {
                        Numeric::Year if (0..=9999).contains(&local.year()) => {
                            (local.year() as u32, 4)
                        }
                        Numeric::Month => (local.month(), 2),
                        Numeric::Day => (local.day(), 2),
                        Numeric::Hour => (local.hour(), 2),
                        Numeric::Minute => (local.minute(), 2),
                        Numeric::Second => (local.second(), 2),
                        _ => return false,
                    };
                    push_digits(out, n, width);
                }
                Item::Fixed(Fixed::Nanosecond3) => {
                    out.push('.');
                    push_digits(out, local.nanosecond() % 1_000_000_000 / 1_000_000, 3);
                }
                Item::Fixed(Fixed::TimezoneOffsetColon) => {
                    let offset = local.offset().local_minus_utc();
                    if offset % 60 != 0 {
                        return false;
                    }
                    out.push(if offset < 0 { '-' } else { '+' });
                    let minutes = offset.unsigned_abs() / 60;
                    push_digits(out, minutes / 60, 2);
                    out.push(':');
                    push_digits(out, minutes % 60, 2);
                }
                _ => return false,
            }
        }
        true
    }
}

impl TryFrom<String> for TimeFormat {
    type Error = String;

    fn try_from(format: String) -> Result<Self, String> {
        Self::new(&format)
    }
}

/// `n` as exactly `width` decimal digits, zero-padded (the caller keeps `n` below
/// `10^width`): the fixed-width fields of dates and timestamps.
pub fn push_digits(out: &mut String, n: u32, width: u32) {
    for place in (0..width).rev() {
        out.push(char::from(b'0' + (n / 10u32.pow(place) % 10) as u8));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every format and instant below is written exactly as chrono writes it, by hand where
    /// the items allow and by chrono otherwise.
    #[test]
    fn writes_what_chrono_writes() {
        let offsets = [0, 19_800, -21_600, 31_500, -3_600 * 12, 45];
        let formats = [
            "%Y-%m-%dT%H:%M:%S%.3f%:z",
            "%Y-%m-%dT%H:%M:%S%.3f+0000",
            "%Y-%m-%d %H:%M:%S+00:00 %:z",
            "%d/%m/%Y %H.%M.%S",
            "%Y-%m-%dT%H:%M:%S%z",
            "%a, %d %b %Y %H:%M:%S GMT",
        ];
        let mut usual = 0;
        for format in formats {
            let compiled = TimeFormat::new(format).unwrap();
            for offset in offsets {
                let zone = FixedOffset::east_opt(offset).unwrap();
                for secs in [
                    -62_135_596_800i64,
                    -2_208_988_800,
                    -1,
                    0,
                    1_718_039_611,
                    253_402_300_799,
                ] {
                    for nanos in [0, 999_000_000, 1_500_000, 123_456_789] {
                        let at = DateTime::from_timestamp(secs, nanos)
                            .unwrap()
                            .with_timezone(&zone);
                        let want = at.format(format).to_string();
                        let mut got = String::from("kept ");
                        compiled.write(&at, &mut got);
                        assert_eq!(got, format!("kept {want}"), "{format} {offset} {secs}");
                        if compiled.write_usual(&at, &mut String::new()) {
                            usual += 1;
                        }
                    }
                }
            }
        }
        // The vendors' formats in whole-minute zones take the hand-written path.
        assert!(usual >= 2 * 5 * 6 * 4, "{usual}");
        assert_eq!(
            TimeFormat::new("%Y-%m-%dT%H:%M:%S%.3f+0000")
                .unwrap()
                .utc(DateTime::from_timestamp(1_718_039_611, 5_000_000).unwrap()),
            "2024-06-10T17:13:31.005+0000"
        );
        assert!(TimeFormat::new("%Q").is_err());
    }
}
