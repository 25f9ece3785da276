//! RFC 5322 dates (`Tue, 1 Jul 2003 10:52:37 +0200`), with the obsolete forms that real mail
//! still carries (two-digit years, zone names, missing weekday or seconds). The one date parser:
//! `message` parses the Date field with it once (`Message::date`; mail-parser keeps the field
//! raw), and the rules read the receive time of the newest `Received:` with it.

/// Parses a date to Unix seconds (UTC). `None` when it is not a date.
pub fn parse(s: &str) -> Option<i64> {
    let s = s.split('(').next()?.trim();
    let s = match s.split_once(',') {
        Some((_, rest)) => rest,
        None => s,
    };
    let mut it = s.split_whitespace();
    let day: i64 = it.next()?.parse().ok()?;
    let month = month(it.next()?)?;
    let year: i64 = it.next()?.parse().ok()?;
    let year = match year {
        0..=49 => 2000 + year,
        50..=999 => 1900 + year,
        y => y,
    };
    let time = it.next()?;
    let mut hms = time.split(':');
    let h: i64 = hms.next()?.parse().ok()?;
    let m: i64 = hms.next()?.parse().ok()?;
    let sec: i64 = hms.next().map_or(Some(0), |v| v.parse().ok())?;
    if !(1..=31).contains(&day) || h > 23 || m > 59 || sec > 60 {
        return None;
    }
    let offset = it.next().map_or(Some(0), zone)?;
    Some(days_from_civil(year, month, day) * 86400 + h * 3600 + m * 60 + sec - offset)
}

/// Whether a date that `parse` accepted ends in a numeric zone (`+0200`: what every modern
/// mailer writes), not a zone name or none.
pub fn has_numeric_zone(s: &str) -> bool {
    let t = s.split('(').next().unwrap_or("").trim();
    t.split_whitespace().last().is_some_and(|z| z.len() == 5 && z.starts_with(['+', '-']))
}

fn month(m: &str) -> Option<i64> {
    let names = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
    let l = m.get(..3)?.to_ascii_lowercase();
    names.iter().position(|n| *n == l).map(|i| i as i64 + 1)
}

fn zone(z: &str) -> Option<i64> {
    if let Some(sign) = z.strip_prefix('+').map(|r| (1, r)).or_else(|| z.strip_prefix('-').map(|r| (-1, r))) {
        let (sg, digits) = sign;
        if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let v: i64 = digits.parse().ok()?;
        return Some(sg * ((v / 100) * 3600 + (v % 100) * 60));
    }
    let hours = match z.to_ascii_uppercase().as_str() {
        "UT" | "UTC" | "GMT" | "Z" => 0,
        "EST" => -5,
        "EDT" => -4,
        "CST" => -6,
        "CDT" => -5,
        "MST" => -7,
        "MDT" => -6,
        "PST" => -8,
        "PDT" => -7,
        "CET" | "MET" => 1,
        "CEST" | "MEST" => 2,
        _ => 0, // unknown zone names count as UTC (RFC 5322 obs-zone)
    };
    Some(hours * 3600)
}

/// Days since 1970-01-01 (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_common_forms() {
        assert_eq!(parse("Thu, 01 Jan 1970 00:00:00 +0000"), Some(0));
        assert_eq!(parse("Tue, 1 Jul 2003 10:52:37 +0200"), Some(1057049557));
        assert_eq!(parse("1 Jul 03 10:52 GMT"), Some(1057056720));
        assert_eq!(parse("Tue, 1 Jul 2003 10:52:37 +0200 (CEST)"), Some(1057049557));
        assert_eq!(parse("yesterday"), None);
        assert_eq!(parse("Tue, 41 Jul 2003 10:52:37 +0200"), None);
        assert!(has_numeric_zone("Tue, 1 Jul 2003 10:52:37 +0200"));
        assert!(has_numeric_zone("Tue, 1 Jul 2003 10:52:37 +0200 (CEST)"));
        assert!(!has_numeric_zone("Tue, 1 Jul 2003 10:52:37 GMT"));
    }
}
