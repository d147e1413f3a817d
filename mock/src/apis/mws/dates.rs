//! MWS dates: Joda-Time `yyyy-MM-dd HH:mm:ss ZZZ`, where ZZZ is a zone id (MWS-FMT).

use std::str::FromStr;

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, TimeZone, Timelike, Utc};

use crate::timefmt::push_digits;

/// Length of the `yyyy-MM-dd HH:mm:ss` part.
const LOCAL_LEN: usize = 19;

/// Parse `2024-06-10 17:13:31 UTC` or `2024-06-10 11:13:31 America/Denver` to an instant.
/// A local time that a DST change skips is refused; one it repeats takes the earlier instant.
pub fn parse_mws_date(text: &str) -> Option<DateTime<Utc>> {
    if text.len() <= LOCAL_LEN + 1 || !text.is_char_boundary(LOCAL_LEN) {
        return None;
    }
    let (local, rest) = text.split_at(LOCAL_LEN);
    let zone = rest.strip_prefix(' ')?;
    let naive = match fixed_width(local.as_bytes()) {
        // Every digit where the pattern has one: what chrono's parser reads from such a text,
        // without interpreting the format string on every call.
        Some([y, mo, d, h, mi, s]) => {
            NaiveDate::from_ymd_opt(y as i32, mo, d)?.and_hms_opt(h, mi, s)?
        }
        None => NaiveDateTime::parse_from_str(local, "%Y-%m-%d %H:%M:%S").ok()?,
    };
    // Joda's secondOfMinute is 0-59 (chrono reads 60 as a leap second) and `yyyy` is the year
    // of era, from 1.
    if naive.and_utc().timestamp_subsec_nanos() >= 1_000_000_000 || naive.year() < 1 {
        return None;
    }
    let zone = Zone::parse_id(zone)?;
    zone.to_utc(&naive)
}

/// `yyyy-MM-dd HH:mm:ss` with a digit at every digit position: year, month, day, hour,
/// minute, second. Anything else (signs, short fields) is left to chrono's parser.
fn fixed_width(local: &[u8]) -> Option<[u32; 6]> {
    const SEPARATORS: [(usize, u8); 5] = [(4, b'-'), (7, b'-'), (10, b' '), (13, b':'), (16, b':')];
    if local.len() != LOCAL_LEN || SEPARATORS.iter().any(|&(at, c)| local[at] != c) {
        return None;
    }
    let number = |from: usize, to: usize| {
        local[from..to].iter().try_fold(0u32, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    Some([
        number(0, 4)?,
        number(5, 7)?,
        number(8, 10)?,
        number(11, 13)?,
        number(14, 16)?,
        number(17, 19)?,
    ])
}

/// Render an instant in `zone` as `yyyy-MM-dd HH:mm:ss <zone id>`.
pub fn format_mws_date(at: DateTime<Utc>, zone: &Zone) -> String {
    let mut out = String::with_capacity(LOCAL_LEN + 1 + 16);
    write_mws_date(at, zone, &mut out);
    out
}

/// [`format_mws_date`], appended to `out`.
pub fn write_mws_date(at: DateTime<Utc>, zone: &Zone, out: &mut String) {
    let local = zone.local(at);
    let year = local.year();
    if (0..=9999).contains(&year) {
        // What chrono's `%Y-%m-%d %H:%M:%S` writes for a four-digit year, without
        // interpreting the format string on every call.
        let fields = [
            (year as u32, 4, '-'),
            (local.month(), 2, '-'),
            (local.day(), 2, ' '),
            (local.hour(), 2, ':'),
            (local.minute(), 2, ':'),
            (local.second(), 2, ' '),
        ];
        for (n, width, separator) in fields {
            push_digits(out, n, width);
            out.push(separator);
        }
    } else {
        use std::fmt::Write as _;
        let _ = write!(out, "{} ", local.format("%Y-%m-%d %H:%M:%S"));
    }
    zone.push_name(out);
}

/// A zone: an IANA/Joda id (`UTC`, `America/Denver`) or a fixed offset (`-06:00`).
#[derive(Debug, Clone)]
pub enum Zone {
    Named(chrono_tz::Tz),
    Offset(FixedOffset),
}

impl Zone {
    /// A zone id as MWS accepts it in dates (ids only, no offsets).
    pub fn parse_id(id: &str) -> Option<Zone> {
        chrono_tz::Tz::from_str(id).ok().map(Zone::Named)
    }

    /// A zone id or a `+HH:MM` / `-HH:MM` offset (for configuration).
    pub fn parse(text: &str) -> Option<Zone> {
        if let Some(z) = Self::parse_id(text) {
            return Some(z);
        }
        DateTime::parse_from_rfc3339(&format!("2000-01-01T00:00:00{text}"))
            .ok()
            .map(|d| Zone::Offset(*d.offset()))
    }

    pub fn name(&self) -> String {
        let mut out = String::new();
        self.push_name(&mut out);
        out
    }

    /// [`Zone::name`], appended to `out`.
    pub fn push_name(&self, out: &mut String) {
        match self {
            Zone::Named(tz) => out.push_str(tz.name()),
            Zone::Offset(off) => {
                use std::fmt::Write as _;
                let _ = write!(out, "{off}");
            }
        }
    }

    pub fn local(&self, at: DateTime<Utc>) -> DateTime<FixedOffset> {
        match self {
            Zone::Named(tz) => at.with_timezone(tz).fixed_offset(),
            Zone::Offset(off) => at.with_timezone(off),
        }
    }

    fn to_utc(&self, naive: &NaiveDateTime) -> Option<DateTime<Utc>> {
        match self {
            Zone::Named(tz) => tz
                .from_local_datetime(naive)
                .earliest()
                .map(|d| d.with_timezone(&Utc)),
            Zone::Offset(off) => off
                .from_local_datetime(naive)
                .earliest()
                .map(|d| d.with_timezone(&Utc)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_utc_and_named_zones_to_the_same_instant() {
        let utc = parse_mws_date("2024-06-10 17:13:31 UTC").unwrap();
        let denver = parse_mws_date("2024-06-10 11:13:31 America/Denver").unwrap();
        assert_eq!(utc, denver);
        assert_eq!(
            format_mws_date(denver, &Zone::parse("UTC").unwrap()),
            "2024-06-10 17:13:31 UTC"
        );
    }

    #[test]
    fn refuses_malformed_dates() {
        for bad in [
            "",
            "2024-06-10 17:13:31",
            "2024-06-10T17:13:31 UTC",
            "2024-02-30 17:13:31 UTC",
            "2024-06-10 17:13:31 Mars/Olympus",
            "2024-06-10 17:13:31  UTC",
            "2024-06-10 17:13:3é UTC",
            "2024-06-10 17:13:60 UTC",
            "2016-12-31 23:59:60 UTC",
            "0000-06-10 00:00:00 UTC",
            "2024-06-10 24:00:00 UTC",
        ] {
            assert!(parse_mws_date(bad).is_none(), "{bad:?} was accepted");
        }
    }

    /// The parse and format as chrono's format strings do them (what the fast paths replace).
    fn parse_reference(text: &str) -> Option<DateTime<Utc>> {
        if text.len() <= LOCAL_LEN + 1 || !text.is_char_boundary(LOCAL_LEN) {
            return None;
        }
        let (local, rest) = text.split_at(LOCAL_LEN);
        let naive = NaiveDateTime::parse_from_str(local, "%Y-%m-%d %H:%M:%S").ok()?;
        if naive.and_utc().timestamp_subsec_nanos() >= 1_000_000_000 || naive.year() < 1 {
            return None;
        }
        Zone::parse_id(rest.strip_prefix(' ')?)?.to_utc(&naive)
    }

    fn format_reference(at: DateTime<Utc>, zone: &Zone) -> String {
        format!(
            "{} {}",
            zone.local(at).format("%Y-%m-%d %H:%M:%S"),
            zone.name()
        )
    }

    #[test]
    fn the_fast_paths_agree_with_chrono_format_strings() {
        let zones = ["UTC", "America/Denver", "Asia/Kolkata", "+05:30", "-06:00"];
        let mut texts: Vec<String> = [
            "2024-06-10 17:13:31 UTC",
            "0001-01-01 00:00:00 UTC",
            "0001-01-01 00:00:00 Asia/Tokyo",
            "9999-12-31 23:59:59 America/Denver",
            "2024-02-29 12:00:00 UTC",
            "2023-02-29 12:00:00 UTC",
            "2024-03-10 02:30:00 America/Denver",
            "2024-11-03 01:30:00 America/Denver",
            "+024-06-10 17:13:31 UTC",
            "2024-6-10 17:13:31  UTC",
            "2024-06-1017:13:31 UTC",
            "2024/06/10 17:13:31 UTC",
            " 2024-06-10 17:13:3 UTC",
            "2024-13-10 17:13:31 UTC",
            "2024-00-10 17:13:31 UTC",
            "2024-06-00 17:13:31 UTC",
            "2024-06-10 17:60:31 UTC",
            "2024-06-10 23:59:60 UTC",
            "0000-01-01 00:00:00 UTC",
            "2024-06-10 17:13:31 utc",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        for i in 0..2000u32 {
            let (y, mo, d) = (i * 37 % 10_000, i % 14, i * 7 % 33);
            let (h, mi, s) = (i % 26, i * 11 % 62, i * 13 % 62);
            texts.push(format!(
                "{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02} America/Denver"
            ));
        }
        for text in &texts {
            assert_eq!(parse_mws_date(text), parse_reference(text), "{text:?}");
        }
        for zone in zones.map(|z| Zone::parse(z).unwrap()) {
            for secs in [
                -62_135_596_800i64,
                -62_135_596_800 + 3600,
                0,
                1_718_039_611,
                253_402_300_799,
                253_402_300_799 - 3600,
            ] {
                let at = DateTime::from_timestamp(secs, 0).unwrap();
                assert_eq!(format_mws_date(at, &zone), format_reference(at, &zone));
            }
        }
    }

    #[test]
    fn offsets_are_accepted_for_configuration_only() {
        assert!(Zone::parse("-06:00").is_some());
        assert!(Zone::parse_id("-06:00").is_none());
    }
}
