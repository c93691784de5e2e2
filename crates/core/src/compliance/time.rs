//! Period arithmetic in China time (UTC+8 fixed; China has had no DST since 1991).

pub const MINUTE_MS: i64 = 60_000;
pub const HOUR_MS: i64 = 3_600_000;
pub const DAY_MS: i64 = 86_400_000;
const OFFSET_MS: i64 = 8 * HOUR_MS;

/// Start of the clock hour containing `t`.
pub fn hour_start(t: i64) -> i64 {
    t.div_euclid(HOUR_MS).saturating_mul(HOUR_MS)
}

/// Start (00:00 China time) of the day containing `t`.
pub fn day_start(t: i64) -> i64 {
    // Saturating: absurd instants (near i64::MIN/MAX) must not overflow.
    t.saturating_add(OFFSET_MS).div_euclid(DAY_MS).saturating_mul(DAY_MS).saturating_sub(OFFSET_MS)
}

/// The China-time calendar date of `t`.
pub fn date_of(t: i64) -> jiff::civil::Date {
    let days = t.saturating_add(OFFSET_MS).div_euclid(DAY_MS);
    // 1970-01-01 plus `days`; saturates on absurd inputs instead of panicking.
    jiff::civil::date(1970, 1, 1)
        .checked_add(jiff::Span::new().days(days.clamp(-3_000_000, 3_000_000)))
        .unwrap_or(jiff::civil::date(1970, 1, 1))
}

/// Start (00:00 China time, epoch ms) of the civil `date`.
pub fn date_start(date: jiff::civil::Date) -> i64 {
    let epoch = jiff::civil::date(1970, 1, 1);
    let days = (date - epoch).get_days() as i64;
    days.saturating_mul(DAY_MS).saturating_sub(OFFSET_MS)
}

/// Start of the calendar month (China time) containing `t`.
pub fn month_start(t: i64) -> i64 {
    let d = date_of(t);
    date_start(d.first_of_month())
}

/// Start of the calendar month after the one containing `t`.
pub fn next_month_start(t: i64) -> i64 {
    let d = date_of(t).first_of_month();
    date_start(d.checked_add(jiff::Span::new().months(1)).unwrap_or(d))
}

/// Start of the calendar year (China time) containing `t`.
pub fn year_start(t: i64) -> i64 {
    date_start(jiff::civil::date(date_of(t).year(), 1, 1))
}

/// Start of the calendar year after the one containing `t`.
pub fn next_year_start(t: i64) -> i64 {
    let first = jiff::civil::date(date_of(t).year(), 1, 1);
    date_start(first.checked_add(jiff::Span::new().years(1)).unwrap_or(first))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn years_in_china_time() {
        // 2026-01-01 00:30 China time is still 2025 in UTC.
        let t = date_start(jiff::civil::date(2026, 1, 1)) + 1_800_000;
        assert_eq!(date_of(year_start(t)), jiff::civil::date(2026, 1, 1));
        assert_eq!(date_of(next_year_start(t)), jiff::civil::date(2027, 1, 1));
        assert_eq!(year_start(t - 3_600_000), date_start(jiff::civil::date(2025, 1, 1)));
    }

    #[test]
    fn periods_in_china_time() {
        // 2026-11-29 08:30 at UTC+8 = 00:30 UTC.
        let t = 1_795_912_200_000;
        assert_eq!(hour_start(t), 1_795_910_400_000);
        // 00:00 China time on 2026-11-29 = 2026-11-28 16:00 UTC.
        assert_eq!(day_start(t), 1_795_881_600_000);
        assert_eq!(date_of(t), jiff::civil::date(2026, 11, 29));
        assert_eq!(date_start(jiff::civil::date(2026, 11, 29)), day_start(t));
        assert_eq!(date_of(month_start(t)), jiff::civil::date(2026, 11, 1));
        assert_eq!(date_of(next_month_start(t)), jiff::civil::date(2026, 12, 1));
        // 23:59 China time stays in its day.
        assert_eq!(day_start(day_start(t) + DAY_MS - 1), day_start(t));
    }
}
