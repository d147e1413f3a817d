//! MWS dates: Joda-Time `yyyy-MM-dd HH:mm:ss ZZZ`, where ZZZ is a zone id (MWS-FMT).

use std::str::FromStr;

use chrono::{DateTime, Datelike, FixedOffset, NaiveDateTime, TimeZone, Utc};

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
    let naive = NaiveDateTime::parse_from_str(local, "%Y-%m-%d %H:%M:%S").ok()?;
    // Joda's secondOfMinute is 0-59 (chrono reads 60 as a leap second) and `yyyy` is the year
    // of era, from 1.
    if naive.and_utc().timestamp_subsec_nanos() >= 1_000_000_000 || naive.year() < 1 {
        return None;
    }
    let zone = Zone::parse_id(zone)?;
    zone.to_utc(&naive)
}

/// Render an instant in `zone` as `yyyy-MM-dd HH:mm:ss <zone id>`.
pub fn format_mws_date(at: DateTime<Utc>, zone: &Zone) -> String {
    format!(
        "{} {}",
        zone.local(at).format("%Y-%m-%d %H:%M:%S"),
        zone.name()
    )
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
        match self {
            Zone::Named(tz) => tz.name().to_owned(),
            Zone::Offset(off) => off.to_string(),
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

    #[test]
    fn offsets_are_accepted_for_configuration_only() {
        assert!(Zone::parse("-06:00").is_some());
        assert!(Zone::parse_id("-06:00").is_none());
    }
}
