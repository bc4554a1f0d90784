//! Cron expressions read the way operators and plugin authors write them — POSIX / Vixie cron —
//! and evaluated in an account's IANA timezone.
//!
//! # Accepted forms
//!
//! Five fields, `minute hour day-of-month month day-of-week`:
//!
//! | field        | values                                                        | names       |
//! |--------------|---------------------------------------------------------------|-------------|
//! | minute       | `0`–`59`                                                      |             |
//! | hour         | `0`–`23`                                                      |             |
//! | day of month | `1`–`31`; `L` = the last day of the month                     |             |
//! | month        | `1`–`12`                                                      | `jan`–`dec` |
//! | day of week  | `0`–`7`: `0` and `7` are Sunday, `1` is Monday … `6` Saturday | `sun`–`sat` |
//!
//! Each field is `*`, a value, a range `a-b`, a step over `*` or over a range (`*/15`, `1-10/2`),
//! or a comma-separated list of these (`1,15`, `mon,wed,fri`, `0-5,30-35`). Names are
//! case-insensitive and may stand in ranges (`mon-fri`, `fri-sun`, `jun-aug`). The day-of-week
//! field also takes the n-th weekday of the month, `fri#2` (second Friday) or `fri#L` (last
//! Friday).
//!
//! **Day of month and day of week** (Vixie's rule): when both fields are restricted — neither
//! starts with `*` — a day that matches *either* fires; `0 0 13 * fri` fires on every 13th and on
//! every Friday. When one of them starts with `*` (`*`, `*/2`), a day must match both.
//!
//! Also accepted, with the same meaning of every field:
//! - six fields with a leading seconds field (`0`–`59`): `30 0 9 * * mon-fri` is 09:00:30 on
//!   weekdays;
//! - `@yearly` / `@annually` (`0 0 1 1 *`), `@monthly` (`0 0 1 * *`), `@weekly` (`0 0 * * 0`),
//!   `@daily` / `@midnight` (`0 0 * * *`), `@hourly` (`0 * * * *`).
//!
//! | expression        | fires                                             |
//! |-------------------|---------------------------------------------------|
//! | `0 9 * * 1-5`     | 09:00 Monday to Friday (same as `0 9 * * mon-fri`) |
//! | `*/15 * * * *`    | every quarter hour                                |
//! | `30 8 1 * *`      | 08:30 on the first of every month                 |
//! | `0 0 L * *`       | midnight on the last day of every month           |
//! | `0 20 * * fri#L`  | 20:00 on the last Friday of every month           |
//! | `0 12 * * 0,6`    | noon on Saturdays and Sundays                     |
//!
//! Anything else is refused as `invalid`, with a message that names the expression and lists the
//! accepted forms: Quartz syntax (`?`, a seventh "year" field, `15W`, `0/15`) — Quartz numbers
//! weekdays from 1 = Sunday, so a pasted Quartz expression is refused rather than silently moved by
//! a day —, full day names (`monday`), `@reboot`, and expressions over 512 bytes.
//!
//! # Daylight saving time
//!
//! Fields are wall-clock times in the account's zone. As in Vixie cron, a job is *fixed-time* when
//! its minute and hour fields (and seconds, if given) do not start with `*`, and an *interval* job
//! otherwise (`*/15 * * * *`, `0 * * * *`):
//! - **Spring forward** (a wall-clock hour is skipped): a fixed-time job whose time falls into the
//!   skipped hour fires once, at the first minute after the jump. In `America/New_York`,
//!   `30 2 * * *` fires at 03:00 EDT on the spring-forward day. An interval job's occurrences in the
//!   skipped hour do not happen.
//! - **Fall back** (a wall-clock hour repeats): a fixed-time job fires once, in the first pass.
//!   `30 1 * * *` fires at 01:30 EDT and not again at 01:30 EST. An interval job fires in both
//!   passes, so `*/15 * * * *` keeps firing every 15 real minutes.
//!
//! Zones without daylight saving time, such as `Asia/Shanghai`, never meet either case.
//!
//! # How
//!
//! This module reads the fields itself (names only in their own field, Vixie's `*` rule, errors
//! that say which field is wrong) and hands the resulting numeric expression to `croner`, which
//! finds the matching wall-clock times. The mapping from wall-clock times to instants is done here,
//! so the DST behaviour is Vixie's: `croner`'s own mapping treats a list such as `0,30 1 * * *` as
//! an interval job and would fire it twice on the fall-back day.

use std::fmt::Display;
use std::str::FromStr;

use chrono::{DateTime, LocalResult, NaiveDateTime, TimeDelta, TimeZone, Timelike};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};

use crate::error::{PlazaError, Result};

/// Longest expression accepted; a list of every minute and every hour still fits.
const MAX_EXPR_LEN: usize = 512;

/// Appended to every refusal, so that the message alone tells the author what to write.
const ACCEPTED: &str = "accepted: 5 fields `minute hour day-of-month month day-of-week` with \
    `*`, values, ranges, steps and lists (e.g. `0 9 * * mon-fri`; 0 and 7 are Sunday), the same \
    with a leading seconds field (6 fields), or @yearly, @annually, @monthly, @weekly, @daily, \
    @midnight, @hourly";

/// Wall-clock occurrences examined by one [`CronExpr::next_after`] at most. An every-second job
/// walks at most the length of a repeated (fall-back) range, two hours in the tz database.
const MAX_WALK: usize = 100_000;

/// Wall-clock minutes searched for the end of a skipped (spring-forward) range. The longest jump
/// in the tz database is a whole day (Samoa, December 2011).
const MAX_GAP_MINUTES: i64 = 26 * 60;

/// A parsed cron expression bound to a timezone.
#[derive(Debug, Clone)]
pub struct CronExpr {
    schedule: Cron,
    tz: Tz,
    /// Vixie's "not a wildcard job": fires once across a repeated hour, and after a skipped one.
    fixed_time: bool,
}

impl CronExpr {
    /// Parses `expr` (see the module docs for the accepted forms) for the IANA zone `timezone`.
    pub fn parse(expr: &str, timezone: &str) -> Result<Self> {
        let tz = Tz::from_str(timezone)
            .map_err(|_| PlazaError::invalid(format!("unknown timezone {timezone:?}")))?;
        let fields = Fields::parse(expr).map_err(|why| refusal(expr, why))?;
        let schedule = CronParser::builder()
            .seconds(Seconds::Optional)
            .year(Year::Disallowed)
            .build()
            .parse(&fields.for_croner())
            .map_err(|e| refusal(expr, e))?;
        Ok(CronExpr {
            schedule,
            tz,
            fixed_time: fields.is_fixed_time(),
        })
    }

    /// The first occurrence strictly after `after_ms` (ms since the epoch), or `None` if there is
    /// none (an expression such as `0 0 30 2 *` never fires). The search is bounded.
    pub fn next_after(&self, after_ms: u64) -> Option<u64> {
        let after = self
            .tz
            .timestamp_millis_opt(i64::try_from(after_ms).ok()?)
            .single()?;
        let next = self.next_instant_after(&after)?;
        u64::try_from(next.timestamp_millis()).ok()
    }

    /// Walks the matching wall-clock times in order and maps each to the instants it fires at.
    ///
    /// Instants grow with wall-clock time except inside a repeated range, whose second pass comes
    /// after the whole first pass. So the earliest instant of each wall-clock time never
    /// decreases along the walk: the first one past `after` ends the walk, and second-pass
    /// instants met before it are kept as candidates.
    fn next_instant_after(&self, after: &DateTime<Tz>) -> Option<DateTime<Tz>> {
        let mut wall = self.walk_start(after);
        let mut inclusive = true;
        let mut second_pass: Option<DateTime<Tz>> = None;
        for _ in 0..MAX_WALK {
            let Ok(found) = self.schedule.find_next_occurrence(&wall, inclusive) else {
                // Past croner's horizon (year 5000): nothing more to find.
                return second_pass;
            };
            wall = found;
            inclusive = false;
            match self.tz.from_local_datetime(&found) {
                LocalResult::Single(at) => {
                    if at > *after {
                        return Some(earliest(second_pass, at));
                    }
                }
                LocalResult::Ambiguous(first, second) => {
                    if !self.fixed_time && second > *after {
                        second_pass = Some(earliest(second_pass, second));
                    }
                    if first > *after {
                        return Some(earliest(second_pass, first));
                    }
                }
                LocalResult::None => {
                    let resumed = first_instant_after_gap(&self.tz, found)?;
                    if self.fixed_time && resumed > *after {
                        return Some(earliest(second_pass, resumed));
                    }
                    // Every other skipped time maps to the same instant (or to none): go on from
                    // the first wall-clock time after the jump.
                    wall = resumed.naive_local();
                    inclusive = true;
                }
            }
        }
        second_pass
    }

    /// Where the wall-clock walk for occurrences after `after` begins: at `after`'s own wall-clock
    /// second, or, when `after` lies in the first pass of a repeated range, as far back as that
    /// range is long — those wall-clock times come again, in the second pass, after `after`.
    fn walk_start(&self, after: &DateTime<Tz>) -> NaiveDateTime {
        let local = after.naive_local();
        let wall = local.with_nanosecond(0).unwrap_or(local);
        match self.tz.from_local_datetime(&wall) {
            LocalResult::Ambiguous(first, second) if *after < second => {
                wall.checked_sub_signed(second - first).unwrap_or(wall)
            }
            _ => wall,
        }
    }
}

fn earliest(candidate: Option<DateTime<Tz>>, at: DateTime<Tz>) -> DateTime<Tz> {
    candidate.map_or(at, |c| c.min(at))
}

/// The instant of the first whole wall-clock minute after the skipped range that `skipped` is in:
/// 03:00 for 02:30 on a day when 02:00 jumps to 03:00.
fn first_instant_after_gap(tz: &Tz, skipped: NaiveDateTime) -> Option<DateTime<Tz>> {
    let minute = skipped.with_second(0)?.with_nanosecond(0)?;
    (1..=MAX_GAP_MINUTES).find_map(|m| {
        let wall = minute.checked_add_signed(TimeDelta::minutes(m))?;
        match tz.from_local_datetime(&wall) {
            LocalResult::Single(at) => Some(at),
            LocalResult::Ambiguous(first, _) => Some(first),
            LocalResult::None => None,
        }
    })
}

fn refusal(expr: &str, why: impl Display) -> PlazaError {
    PlazaError::invalid(format!("cron expression {expr:?}: {why}; {ACCEPTED}"))
}

// ---------------------------------------------------------------------------------------------
// Reading the fields

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Second,
    Minute,
    Hour,
    DayOfMonth,
    Month,
    DayOfWeek,
}

const MONTH_NAMES: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const DAY_NAMES: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

impl Field {
    fn name(self) -> &'static str {
        match self {
            Field::Second => "second",
            Field::Minute => "minute",
            Field::Hour => "hour",
            Field::DayOfMonth => "day-of-month",
            Field::Month => "month",
            Field::DayOfWeek => "day-of-week",
        }
    }

    /// Smallest and largest value.
    fn bounds(self) -> (u32, u32) {
        match self {
            Field::Second | Field::Minute => (0, 59),
            Field::Hour => (0, 23),
            Field::DayOfMonth => (1, 31),
            Field::Month => (1, 12),
            Field::DayOfWeek => (0, 7),
        }
    }

    /// Names of the values, in order, and the value of the first.
    fn names(self) -> (&'static [&'static str], u32) {
        match self {
            Field::Month => (&MONTH_NAMES, 1),
            Field::DayOfWeek => (&DAY_NAMES, 0),
            _ => (&[], 0),
        }
    }
}

/// The six fields of an expression, each rewritten with numbers only, in the syntax croner reads.
struct Fields {
    second: String,
    minute: String,
    hour: String,
    day_of_month: String,
    month: String,
    day_of_week: String,
}

impl Fields {
    fn parse(expr: &str) -> std::result::Result<Fields, String> {
        if expr.len() > MAX_EXPR_LEN {
            return Err(format!("longer than {MAX_EXPR_LEN} bytes"));
        }
        if let Some(c) = expr
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || " \t*,-/#@".contains(*c)))
        {
            return Err(match c {
                '?' => "`?` is Quartz syntax; write `*`".to_string(),
                c => format!("character {c:?} is not part of a cron expression"),
            });
        }
        let text = expr.trim();
        let text = match text.strip_prefix('@') {
            Some(name) => expand_macro(name)?,
            None => text,
        };
        let parts: Vec<&str> = text.split_ascii_whitespace().collect();
        let (second, [minute, hour, day_of_month, month, day_of_week]) = match parts.as_slice() {
            &[minute, hour, dom, month, dow] => ("0", [minute, hour, dom, month, dow]),
            &[second, minute, hour, dom, month, dow] => (second, [minute, hour, dom, month, dow]),
            [] => return Err("empty".to_string()),
            parts if parts.len() == 7 => {
                return Err("7 fields: a year field is Quartz syntax and not supported".to_string());
            }
            parts => return Err(format!("{} fields", parts.len())),
        };
        Ok(Fields {
            second: normalise(Field::Second, second)?,
            minute: normalise(Field::Minute, minute)?,
            hour: normalise(Field::Hour, hour)?,
            day_of_month: normalise(Field::DayOfMonth, day_of_month)?,
            month: normalise(Field::Month, month)?,
            day_of_week: normalise(Field::DayOfWeek, day_of_week)?,
        })
    }

    /// Vixie: a job whose time-of-day fields are not wildcards.
    fn is_fixed_time(&self) -> bool {
        [&self.second, &self.minute, &self.hour]
            .iter()
            .all(|f| !f.starts_with('*'))
    }

    fn for_croner(&self) -> String {
        // croner applies the OR rule whenever neither day field is exactly `*`; Vixie applies it
        // only when neither starts with `*`. croner's `+` prefix asks for AND in the other cases
        // (`*/2` with `mon`).
        let and = (self.day_of_month.starts_with('*') || self.day_of_week.starts_with('*'))
            && self.day_of_month != "*"
            && self.day_of_week != "*";
        format!(
            "{} {} {} {} {} {}{}",
            self.second,
            self.minute,
            self.hour,
            self.day_of_month,
            self.month,
            if and { "+" } else { "" },
            self.day_of_week,
        )
    }
}

fn expand_macro(name: &str) -> std::result::Result<&'static str, String> {
    Ok(match name.to_ascii_lowercase().as_str() {
        "yearly" | "annually" => "0 0 1 1 *",
        "monthly" => "0 0 1 * *",
        "weekly" => "0 0 * * 0",
        "daily" | "midnight" => "0 0 * * *",
        "hourly" => "0 * * * *",
        "reboot" => return Err("@reboot is not supported: jobs run on a schedule".to_string()),
        _ => return Err(format!("unknown macro @{name}")),
    })
}

/// Checks one field and rewrites names as numbers.
fn normalise(field: Field, text: &str) -> std::result::Result<String, String> {
    let items = text
        .split(',')
        .map(|item| normalise_item(field, text, item))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(items.join(","))
}

fn normalise_item(field: Field, text: &str, item: &str) -> std::result::Result<String, String> {
    let name = field.name();
    if item.is_empty() {
        return Err(format!("{name} field `{text}` has an empty list item"));
    }
    if field == Field::DayOfMonth && item.eq_ignore_ascii_case("l") {
        return Ok("L".to_string());
    }
    if let Some((day, nth)) = item.split_once('#') {
        if field != Field::DayOfWeek {
            return Err(format!(
                "`{item}`: `#` (n-th weekday) belongs in the day-of-week field"
            ));
        }
        let day = value(field, day, false)?;
        let nth = match nth {
            "l" | "L" => "L".to_string(),
            "1" | "2" | "3" | "4" | "5" => nth.to_string(),
            _ => {
                return Err(format!(
                    "`{item}`: the n-th weekday is `#1` to `#5`, or `#L` for the last"
                ));
            }
        };
        return Ok(format!("{day}#{nth}"));
    }
    let (range, step) = match item.split_once('/') {
        Some((range, step)) => (range, Some(step)),
        None => (item, None),
    };
    let range = if range == "*" {
        "*".to_string()
    } else if let Some((low, high)) = range.split_once('-') {
        let (low, high) = (value(field, low, false)?, value(field, high, true)?);
        if low > high {
            return Err(format!("{name} range `{range}` runs backwards"));
        }
        format!("{low}-{high}")
    } else if let Some(step) = step {
        let (_, max) = field.bounds();
        return Err(format!(
            "`{item}`: a step goes over `*` or a range, e.g. `*/{step}` or `{range}-{max}/{step}`"
        ));
    } else {
        value(field, range, false)?.to_string()
    };
    match step {
        None => Ok(range),
        Some(step) => {
            let (min, max) = field.bounds();
            match step.parse::<u32>() {
                Ok(n)
                    if step.bytes().all(|b| b.is_ascii_digit())
                        && (1..=max - min + 1).contains(&n) =>
                {
                    Ok(format!("{range}/{n}"))
                }
                _ => Err(format!(
                    "{name} step `/{step}` must be a number from 1 to {}",
                    max - min + 1
                )),
            }
        }
    }
}

/// One value of a field: a number in the field's bounds or, in the month and day-of-week fields,
/// a three-letter name. `sun` ending a range is 7, so that `fri-sun` is Friday to Sunday.
fn value(field: Field, text: &str, ends_range: bool) -> std::result::Result<u32, String> {
    let name = field.name();
    let (min, max) = field.bounds();
    let (names, first) = field.names();
    let n = if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        text.parse::<u32>().unwrap_or(u32::MAX)
    } else if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(text)) {
        let n = first + i as u32;
        if field == Field::DayOfWeek && n == 0 && ends_range {
            7
        } else {
            n
        }
    } else if names.is_empty() {
        return Err(format!("{name} value `{text}` is not a number"));
    } else {
        return Err(format!(
            "{name} value `{text}` is neither a number nor one of {}",
            names.join(", ")
        ));
    };
    if n < min || n > max {
        return Err(format!("{name} value `{text}` is outside {min}-{max}"));
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Datelike, NaiveDate, Utc, Weekday};

    const MINUTE: u64 = 60_000;
    const HOUR: u64 = 60 * MINUTE;
    const DAY: u64 = 24 * HOUR;

    fn utc_ms(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> u64 {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0)
            .single()
            .expect("valid UTC time")
            .timestamp_millis() as u64
    }

    /// Every firing in `[from, until)`, by walking `next_after`; each must be later than the last.
    fn firings(expr: &str, tz: &str, from: u64, until: u64) -> Vec<DateTime<Tz>> {
        let cron = CronExpr::parse(expr, tz).expect("parses");
        let zone = Tz::from_str(tz).expect("zone");
        let mut out = Vec::new();
        let mut t = from;
        while let Some(next) = cron.next_after(t) {
            assert!(next > t, "{expr}: next_after({t}) = {next} is not later");
            if next >= until {
                break;
            }
            out.push(
                zone.timestamp_millis_opt(next as i64)
                    .single()
                    .expect("instant"),
            );
            t = next;
        }
        out
    }

    fn weekdays(times: &[DateTime<Tz>]) -> Vec<Weekday> {
        times.iter().map(|t| t.weekday()).collect()
    }

    /// How many firings fell on each local calendar day.
    fn per_local_day(times: &[DateTime<Tz>]) -> Vec<(NaiveDate, usize)> {
        let mut days: Vec<(NaiveDate, usize)> = Vec::new();
        for t in times {
            match days.last_mut() {
                Some((d, n)) if *d == t.date_naive() => *n += 1,
                _ => days.push((t.date_naive(), 1)),
            }
        }
        days
    }

    fn local(t: &DateTime<Tz>) -> String {
        t.format("%Y-%m-%d %H:%M:%S %Z").to_string()
    }

    #[test]
    fn weekday_ranges_and_names_are_monday_to_friday() {
        use Weekday::*;
        // Saturday 2026-03-07 00:00 UTC, for two weeks.
        let from = utc_ms(2026, 3, 7, 0, 0);
        let until = from + 14 * DAY;
        for expr in [
            "0 9 * * 1-5",
            "0 9 * * mon-fri",
            "0 9 * * MON-FRI",
            "0 9 * * Mon,Tue,Wed,Thu,Fri",
            "0 9 * * 1,2-3,thu-5",
        ] {
            let times = firings(expr, "UTC", from, until);
            assert_eq!(
                weekdays(&times),
                [Mon, Tue, Wed, Thu, Fri, Mon, Tue, Wed, Thu, Fri],
                "{expr}"
            );
            assert!(
                times.iter().all(|t| t.hour() == 9 && t.minute() == 0),
                "{expr}"
            );
        }
    }

    #[test]
    fn zero_and_seven_are_both_sunday() {
        use Weekday::*;
        let from = utc_ms(2026, 3, 7, 0, 0);
        let until = from + 21 * DAY;
        for expr in ["0 9 * * 0", "0 9 * * 7", "0 9 * * sun", "0 9 * * SUN"] {
            assert_eq!(
                weekdays(&firings(expr, "UTC", from, until)),
                [Sun, Sun, Sun],
                "{expr}"
            );
        }
        for expr in ["0 9 * * 5-7", "0 9 * * fri-sun", "0 9 * * 0,5,6"] {
            let days = weekdays(&firings(expr, "UTC", from, from + 7 * DAY));
            assert_eq!(days, [Sat, Sun, Fri], "{expr}");
        }
        // `*/2` over 0-7 is 0, 2, 4, 6: Sunday, Tuesday, Thursday, Saturday.
        let days = weekdays(&firings("0 9 * * */2", "UTC", from, from + 7 * DAY));
        assert_eq!(days, [Sat, Sun, Tue, Thu]);
    }

    #[test]
    fn day_of_month_and_day_of_week_both_restricted_fire_on_either() {
        let from = utc_ms(2026, 1, 1, 0, 0);
        let until = utc_ms(2027, 1, 1, 0, 0);
        let mut expected = Vec::new();
        let mut day = NaiveDate::from_ymd_opt(2026, 1, 1).expect("date");
        while day.year() == 2026 {
            if day.day() == 13 || day.weekday() == Weekday::Fri {
                expected.push(day);
            }
            day = day.succ_opt().expect("next day");
        }
        // 52 Fridays and 12 thirteenths, three of them Fridays (February, March, November).
        assert_eq!(expected.len(), 52 + 12 - 3);
        for expr in ["0 0 13 * 5", "0 0 13 * fri"] {
            let dates: Vec<NaiveDate> = firings(expr, "UTC", from, until)
                .iter()
                .map(|t| t.date_naive())
                .collect();
            assert_eq!(dates, expected, "{expr}");
        }
        // A day field starting with `*` makes it AND (Vixie): Fridays that are the 1st, 14th or 27th.
        let both = firings("0 0 */13 * fri", "UTC", from, until);
        assert!(!both.is_empty());
        for t in &both {
            assert_eq!(t.weekday(), Weekday::Fri, "{}", local(t));
            assert!([1, 14, 27].contains(&t.day()), "{}", local(t));
        }
        // Either field alone restricts on its own.
        assert!(
            firings("0 0 13 * *", "UTC", from, until)
                .iter()
                .all(|t| t.day() == 13)
        );
        assert_eq!(firings("0 0 13 * *", "UTC", from, until).len(), 12);
        let fridays = firings("0 0 * * 5", "UTC", from, until);
        assert_eq!(fridays.len(), 52);
        assert!(fridays.iter().all(|t| t.weekday() == Weekday::Fri));
    }

    #[test]
    fn steps_ranges_and_lists() {
        let from = utc_ms(2026, 3, 10, 10, 7);
        let minutes = |expr: &str, until: u64| -> Vec<u32> {
            firings(expr, "UTC", from, until)
                .iter()
                .map(|t| t.minute())
                .collect()
        };
        assert_eq!(minutes("*/15 * * * *", from + HOUR), [15, 30, 45, 0]);
        assert_eq!(minutes("1-10/2 * * * *", from + HOUR), [9, 1, 3, 5]);
        assert_eq!(minutes("0,20-22 * * * *", from + HOUR), [20, 21, 22, 0]);
        let hours: Vec<u32> = firings("0 */6 * * *", "UTC", from, from + DAY)
            .iter()
            .map(|t| t.hour())
            .collect();
        assert_eq!(hours, [12, 18, 0, 6]);
        let months: Vec<u32> = firings("0 0 1 jan-mar,oct * ", "UTC", from, from + 365 * DAY)
            .iter()
            .map(|t| t.month())
            .collect();
        assert_eq!(months, [10, 1, 2, 3]);
    }

    #[test]
    fn the_last_day_of_february_in_a_leap_year() {
        let leap = CronExpr::parse("0 0 29 2 *", "UTC").unwrap();
        let from = utc_ms(2027, 1, 1, 0, 0);
        let first = leap.next_after(from).unwrap();
        assert_eq!(first, utc_ms(2028, 2, 29, 0, 0));
        assert_eq!(leap.next_after(first).unwrap(), utc_ms(2032, 2, 29, 0, 0));

        let last = CronExpr::parse("0 0 L 2 *", "UTC").unwrap();
        assert_eq!(last.next_after(from).unwrap(), utc_ms(2027, 2, 28, 0, 0));
        let after_2027 = utc_ms(2027, 3, 1, 0, 0);
        assert_eq!(
            last.next_after(after_2027).unwrap(),
            utc_ms(2028, 2, 29, 0, 0)
        );
    }

    #[test]
    fn nth_weekday_of_the_month() {
        let from = utc_ms(2026, 1, 1, 0, 0);
        let until = utc_ms(2026, 4, 1, 0, 0);
        let days = |expr: &str| -> Vec<u32> {
            firings(expr, "UTC", from, until)
                .iter()
                .map(|t| t.day())
                .collect()
        };
        // Second Fridays and last Fridays of January to March 2026.
        assert_eq!(days("0 9 * * fri#2"), [9, 13, 13]);
        assert_eq!(days("0 9 * * 5#L"), [30, 27, 27]);
    }

    #[test]
    fn a_job_in_the_skipped_hour_fires_once_right_after_the_jump() {
        // America/New_York springs forward on 2026-03-08: 02:00 EST becomes 03:00 EDT (07:00 UTC).
        let ny = "America/New_York";
        let from = utc_ms(2026, 3, 7, 5, 0) - 1; // just before 2026-03-07 00:00 EST
        let until = utc_ms(2026, 3, 10, 4, 0); // 2026-03-10 00:00 EDT
        let jump = utc_ms(2026, 3, 8, 7, 0);
        for (expr, daily) in [("30 2 * * *", 1), ("0,30 2 * * *", 2), ("15 30 2 * * *", 1)] {
            let times = firings(expr, ny, from, until);
            let shown: Vec<String> = times.iter().map(local).collect();
            let days = per_local_day(&times);
            // Once on the jump day, however many of its times fall into the skipped hour.
            assert_eq!(
                days.iter().map(|(_, n)| *n).collect::<Vec<_>>(),
                [daily, 1, daily],
                "{expr}: {shown:?}"
            );
            let on_jump_day = &times[daily];
            assert_eq!(
                on_jump_day.timestamp_millis() as u64,
                jump,
                "{expr}: {shown:?}"
            );
            assert_eq!(local(on_jump_day), "2026-03-08 03:00:00 EDT");
        }
        // An interval job's occurrences in the skipped hour do not happen: 23 hours, 46 half-hours.
        let day_start = utc_ms(2026, 3, 8, 5, 0);
        let day_end = utc_ms(2026, 3, 9, 4, 0);
        let halves = firings("*/30 * * * *", ny, day_start - 1, day_end);
        assert_eq!(halves.len(), 46);
        assert!(halves.iter().all(|t| t.hour() != 2));
        // Real time between consecutive firings is 30 minutes throughout, across the jump.
        for pair in halves.windows(2) {
            assert_eq!((pair[1] - pair[0]).num_minutes(), 30, "{}", local(&pair[0]));
        }
    }

    #[test]
    fn a_job_in_the_repeated_hour_fires_once_and_interval_jobs_in_both_passes() {
        // America/New_York falls back on 2026-11-01: 02:00 EDT becomes 01:00 EST (06:00 UTC).
        let ny = "America/New_York";
        let from = utc_ms(2026, 10, 31, 4, 0) - 1; // just before 2026-10-31 00:00 EDT
        let until = utc_ms(2026, 11, 3, 5, 0); // 2026-11-03 00:00 EST
        let counts = |expr: &str| -> Vec<usize> {
            per_local_day(&firings(expr, ny, from, until))
                .iter()
                .map(|(_, n)| *n)
                .collect()
        };
        assert_eq!(counts("30 2 * * *"), [1, 1, 1]);
        assert_eq!(counts("30 1 * * *"), [1, 1, 1]);
        assert_eq!(counts("0,30 1 * * *"), [2, 2, 2]);
        assert_eq!(counts("0 * * * *"), [24, 25, 24]);
        assert_eq!(counts("*/15 * * * *"), [96, 100, 96]);

        // The fixed-time job fires in the first pass, 01:30 EDT.
        let fall = firings("30 1 * * *", ny, from, until);
        assert_eq!(local(&fall[1]), "2026-11-01 01:30:00 EDT");
        // Asked from inside the second pass, it is next due the day after.
        let cron = CronExpr::parse("30 1 * * *", ny).unwrap();
        let second_pass = utc_ms(2026, 11, 1, 6, 10); // 01:10 EST
        assert_eq!(
            cron.next_after(second_pass),
            Some(utc_ms(2026, 11, 2, 6, 30))
        );
        // Asked from late in the first pass, an interval job goes on into the second pass.
        let quarter = CronExpr::parse("*/15 * * * *", ny).unwrap();
        let first_pass = utc_ms(2026, 11, 1, 5, 50); // 01:50 EDT
        assert_eq!(
            quarter.next_after(first_pass),
            Some(utc_ms(2026, 11, 1, 6, 0))
        );
        let quarters = firings("*/15 * * * *", ny, from, until);
        for pair in quarters.windows(2) {
            assert_eq!((pair[1] - pair[0]).num_minutes(), 15, "{}", local(&pair[0]));
        }
    }

    #[test]
    fn next_after_is_always_later_around_transitions() {
        let exprs = [
            "* * * * *",
            "*/7 * * * *",
            "30 2 * * *",
            "30 1 * * *",
            "0,30 1,2 * * *",
            "0 * * * *",
            "*/20 * * * * *",
            "0 0 L * *",
        ];
        // Every 10 minutes and a few odd milliseconds over both 2026 transitions.
        let windows = [utc_ms(2026, 3, 8, 4, 0), utc_ms(2026, 11, 1, 3, 0)];
        for expr in exprs {
            let cron = CronExpr::parse(expr, "America/New_York").unwrap();
            for start in windows {
                for step in 0..(6 * 6) {
                    for jitter in [0, 1, 999, 59_999] {
                        let t = start + step * 10 * MINUTE + jitter;
                        let next = cron.next_after(t).expect("fires");
                        assert!(next > t, "{expr}: next_after({t}) = {next}");
                        assert!(next - t <= 32 * DAY, "{expr}: next_after({t}) = {next}");
                    }
                }
            }
        }
        let cron = CronExpr::parse("* * * * *", "UTC").unwrap();
        assert_eq!(cron.next_after(u64::MAX), None);
        assert_eq!(cron.next_after(0), Some(MINUTE));
    }

    #[test]
    fn an_expression_that_never_fires_ends_the_search() {
        for expr in ["0 0 30 2 *", "0 0 31 4,6,9,11 *"] {
            let cron = CronExpr::parse(expr, "UTC").unwrap();
            assert_eq!(cron.next_after(utc_ms(2026, 1, 1, 0, 0)), None, "{expr}");
        }
    }

    #[test]
    fn five_fields_in_shanghai_fire_at_local_time() {
        // 09:30 every day in Asia/Shanghai is 01:30 UTC.
        let c = CronExpr::parse("30 9 * * *", "Asia/Shanghai").unwrap();
        let midnight_utc = 1_764_028_800_000; // 2025-11-25T00:00:00Z
        let next = c.next_after(midnight_utc).unwrap();
        assert_eq!(next, midnight_utc + 90 * 60 * 1000);
        assert_eq!(c.next_after(next).unwrap(), next + 24 * 3600 * 1000);
    }

    #[test]
    fn the_weekday_is_the_local_one() {
        // 07:00 on Monday in Shanghai is 23:00 on Sunday in UTC.
        let from = utc_ms(2026, 3, 7, 0, 0);
        let times = firings("0 7 * * mon", "Asia/Shanghai", from, from + 14 * DAY);
        assert_eq!(times.len(), 2);
        for t in &times {
            assert_eq!(t.weekday(), Weekday::Mon);
            assert_eq!(t.hour(), 7);
            assert_eq!(t.with_timezone(&Utc).weekday(), Weekday::Sun);
            assert_eq!(t.with_timezone(&Utc).hour(), 23);
        }
    }

    #[test]
    fn six_fields_and_macros() {
        let from = utc_ms(2026, 3, 7, 0, 0); // a Saturday
        let with_seconds = firings("30 0 9 * * mon-fri", "UTC", from, from + 7 * DAY);
        assert_eq!(with_seconds.len(), 5);
        assert!(
            with_seconds
                .iter()
                .all(|t| (t.hour(), t.minute(), t.second()) == (9, 0, 30))
        );
        assert_eq!(weekdays(&with_seconds)[0], Weekday::Mon);

        let same = |a: &str, b: &str| {
            assert_eq!(
                firings(a, "UTC", from, from + 400 * DAY),
                firings(b, "UTC", from, from + 400 * DAY),
                "{a} = {b}"
            );
        };
        same("@yearly", "0 0 1 1 *");
        same("@annually", "0 0 1 1 *");
        same("@monthly", "0 0 1 * *");
        same("@weekly", "0 0 * * 0");
        same("@daily", "0 0 * * *");
        same("@midnight", "0 0 * * *");
        same("@Daily", "0 0 * * *");
        let hourly = CronExpr::parse("@hourly", "UTC").unwrap();
        assert_eq!(hourly.next_after(from + 1), Some(from + HOUR));
        assert_eq!(
            weekdays(&firings("@weekly", "UTC", from, from + 7 * DAY)),
            [Weekday::Sun]
        );
    }

    #[test]
    fn bad_expressions_are_refused_with_a_message_that_names_them() {
        for (expr, says) in [
            ("", "empty"),
            ("* *", "2 fields"),
            ("* * * * * * * *", "8 fields"),
            ("0 0 9 * * mon 2026", "year field"),
            ("61 * * * *", "minute value `61` is outside 0-59"),
            ("0 24 * * *", "hour value `24`"),
            ("0 9 0 * *", "day-of-month value `0`"),
            ("0 9 * 13 *", "month value `13`"),
            ("0 9 * * 8", "day-of-week value `8` is outside 0-7"),
            ("0 9 ? * mon", "`?` is Quartz syntax"),
            ("0 9 * * monday", "neither a number nor one of sun, mon"),
            ("0 9 * mon *", "month value `mon`"),
            ("0 9 jan * *", "day-of-month value `jan` is not a number"),
            ("0/15 * * * *", "a step goes over `*` or a range"),
            ("*/0 * * * *", "step `/0`"),
            ("*/61 * * * *", "step `/61`"),
            ("5-1 * * * *", "runs backwards"),
            ("0 9 * * mon,", "empty list item"),
            ("0 9 15W * *", "day-of-month value `15W`"),
            ("0 9 * * +mon", "'+'"),
            ("0 9 * * fri#6", "`#1` to `#5`"),
            ("0 9 1#2 * *", "belongs in the day-of-week field"),
            ("0 9 * * 1-5\n", "'\\n'"),
            ("0 9 * * 1–5", "'–'"),
            ("@reboot", "@reboot is not supported"),
            ("@fortnightly", "unknown macro @fortnightly"),
        ] {
            let err = CronExpr::parse(expr, "UTC").expect_err(expr).to_string();
            assert!(err.contains(&format!("{expr:?}")), "{expr}: {err}");
            assert!(err.contains(says), "{expr}: {err}");
            assert!(err.contains("accepted: 5 fields"), "{expr}: {err}");
        }
        let long = format!("0 9 * * {}", "1,".repeat(300));
        let err = CronExpr::parse(&long, "UTC")
            .expect_err("too long")
            .to_string();
        assert!(err.contains("longer than 512 bytes"), "{err}");
        let err = CronExpr::parse("* * * * *", "Mars/Base")
            .expect_err("zone")
            .to_string();
        assert!(err.contains("unknown timezone \"Mars/Base\""), "{err}");
    }
}
