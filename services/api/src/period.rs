//! Query parameters of the indicator endpoints: a period of local dates and an optional unit.

use std::collections::HashMap;

use chrono::{Datelike, NaiveDate, TimeZone, Weekday};

use crate::error::ApiError;

/// A period of whole local days, `from` and `to` both included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    /// First day.
    pub from: NaiveDate,
    /// Last day (included).
    pub to: NaiveDate,
}

impl Period {
    /// Unix second of local midnight starting `from`.
    pub fn start_seconds(&self) -> i64 {
        local_midnight(self.from)
    }

    /// Unix second of local midnight after `to` (exclusive end).
    pub fn end_seconds(&self) -> i64 {
        local_midnight(self.to + chrono::Days::new(1))
    }

    /// The period as far as it has happened by the end of `today` (local): its days after today
    /// are left out. The rollups date some measures ahead of time (an open dossier is counted
    /// late from its due time, a dossier whose supplements have not come is counted returned at
    /// the end of the wait), as what will be true if nothing else happens; a period reaching past
    /// today would count them as if they had happened (a month's ranking would count every open
    /// dossier due before the month's end as late on its first day). A period that begins after
    /// today holds nothing that has happened: refused.
    pub fn as_of(self, today: NaiveDate) -> Result<Period, ApiError> {
        if self.from > today {
            return Err(ApiError::BadRequest(format!(
                "the period begins on {}, after today ({today}, Asia/Ho_Chi_Minh): nothing in it has happened yet",
                self.from
            )));
        }
        Ok(Period { from: self.from, to: self.to.min(today) })
    }

    /// The week still under way that the period would judge: `today`, when it is a Sunday in
    /// the period. A week is counted on its Sunday (the rollups date it there, with the classes
    /// held so far), and is judged once that day is over: until then the answers leave it out,
    /// its count of classes and its place in the denominator both.
    pub fn week_under_way(&self, today: NaiveDate) -> Option<NaiveDate> {
        (today.weekday() == Weekday::Sun && self.from <= today && today <= self.to).then_some(today)
    }

    /// Weeks the period judges: those ending in it ([`Period::weeks_ending`]) but the one still
    /// under way on `today` ([`Period::week_under_way`]).
    pub fn weeks_judged(&self, today: NaiveDate) -> u64 {
        self.weeks_ending() - u64::from(self.week_under_way(today).is_some())
    }

    /// Weeks (Monday to Sunday) that end in the period: its Sundays. A week belongs to the
    /// period its Sunday falls in.
    pub fn weeks_ending(&self) -> u64 {
        let to_sunday = |day: NaiveDate| u64::from(6 - day.weekday().num_days_from_monday());
        let first_sunday = self.from + chrono::Days::new(to_sunday(self.from));
        if first_sunday > self.to {
            0
        } else {
            (self.to - first_sunday).num_days().unsigned_abs() / 7 + 1
        }
    }
}

fn local_midnight(day: NaiveDate) -> i64 {
    let midnight = day.and_hms_opt(0, 0, 0).unwrap_or_default();
    ioc_domain::local_offset().from_local_datetime(&midnight).single().map(|time| time.timestamp()).unwrap_or_default()
}

/// The parsed parameters of `GET /v1/kpis`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KpiQuery {
    /// The period.
    pub period: Period,
    /// A unit code, or `None` for the whole province.
    pub unit: Option<String>,
}

const KNOWN: [&str; 3] = ["from", "to", "unit"];

impl KpiQuery {
    /// Parses and checks the parameters; `today` is the local date used for defaults and the
    /// last day answered ([`Period::as_of`]).
    ///
    /// Defaults: `to` is today, `from` is 1 January of `to`'s year.
    pub fn parse(params: &HashMap<String, String>, today: NaiveDate, max_range_days: i64) -> Result<Self, ApiError> {
        Self::parse_with(params, today, max_range_days, &[])
    }

    /// Like [`KpiQuery::parse`], accepting the endpoint's own parameters `extra` too.
    pub fn parse_with(
        params: &HashMap<String, String>,
        today: NaiveDate,
        max_range_days: i64,
        extra: &[&str],
    ) -> Result<Self, ApiError> {
        if let Some(unknown) =
            params.keys().find(|key| !KNOWN.contains(&key.as_str()) && !extra.contains(&key.as_str()))
        {
            let expected: Vec<&str> = KNOWN.iter().chain(extra).copied().collect();
            return Err(ApiError::BadRequest(format!(
                "unknown parameter {unknown:?}; expected {}",
                expected.join(", ")
            )));
        }
        let date = |name: &str| -> Result<Option<NaiveDate>, ApiError> {
            params
                .get(name)
                .map(|text| {
                    NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| {
                        ApiError::BadRequest(format!(
                            "{name}={text:?} is not a date; use YYYY-MM-DD (local time, Asia/Ho_Chi_Minh)"
                        ))
                    })
                })
                .transpose()
        };
        let to = date("to")?.unwrap_or(today);
        let from = date("from")?.unwrap_or_else(|| NaiveDate::from_ymd_opt(to.year(), 1, 1).unwrap_or(to));
        if from > to {
            return Err(ApiError::BadRequest(format!("from ({from}) is after to ({to})")));
        }
        if (to - from).num_days() + 1 > max_range_days {
            return Err(ApiError::BadRequest(format!(
                "the period is longer than {max_range_days} days; ask for a shorter one"
            )));
        }
        if from.year() < 2000 || to.year() > 2100 {
            return Err(ApiError::BadRequest("dates must be between 2000 and 2100".into()));
        }
        let unit = match params.get("unit").map(String::as_str) {
            None | Some("") | Some("province") => None,
            Some(code) => Some(code.to_owned()),
        };
        Ok(KpiQuery { period: Period { from, to }.as_of(today)?, unit })
    }
}

/// How a series groups days: calendar buckets of local time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bucket {
    /// One local day.
    Day,
    /// An ISO week, Monday to Sunday.
    Week,
    /// A calendar month.
    Month,
    /// A calendar quarter.
    Quarter,
    /// A calendar year.
    Year,
}

impl Bucket {
    /// Parses `day`, `week`, `month`, `quarter` or `year`.
    pub fn parse(text: &str) -> Result<Self, ApiError> {
        match text {
            "day" => Ok(Bucket::Day),
            "week" => Ok(Bucket::Week),
            "month" => Ok(Bucket::Month),
            "quarter" => Ok(Bucket::Quarter),
            "year" => Ok(Bucket::Year),
            other => {
                Err(ApiError::BadRequest(format!("unknown bucket {other:?}; use day, week, month, quarter or year")))
            }
        }
    }

    /// The name used in URLs.
    pub fn as_str(self) -> &'static str {
        match self {
            Bucket::Day => "day",
            Bucket::Week => "week",
            Bucket::Month => "month",
            Bucket::Quarter => "quarter",
            Bucket::Year => "year",
        }
    }

    /// ClickHouse expression of the first day of `day`'s bucket (same rule as [`Bucket::start_of`]).
    pub fn sql(self) -> &'static str {
        match self {
            Bucket::Day => "day",
            Bucket::Week => "toMonday(day)",
            Bucket::Month => "toStartOfMonth(day)",
            Bucket::Quarter => "toStartOfQuarter(day)",
            Bucket::Year => "toStartOfYear(day)",
        }
    }

    /// First day of the bucket holding `day`.
    pub fn start_of(self, day: NaiveDate) -> NaiveDate {
        let first = |month: u32| NaiveDate::from_ymd_opt(day.year(), month, 1).unwrap_or(day);
        match self {
            Bucket::Day => day,
            Bucket::Week => day - chrono::Days::new(u64::from(day.weekday().num_days_from_monday())),
            Bucket::Month => first(day.month()),
            Bucket::Quarter => first((day.month() - 1) / 3 * 3 + 1),
            Bucket::Year => first(1),
        }
    }

    /// First day of the bucket after the one starting on `start`.
    pub fn next(self, start: NaiveDate) -> NaiveDate {
        match self {
            Bucket::Day => start + chrono::Days::new(1),
            Bucket::Week => start + chrono::Days::new(7),
            Bucket::Month => start + chrono::Months::new(1),
            Bucket::Quarter => start + chrono::Months::new(3),
            Bucket::Year => start + chrono::Months::new(12),
        }
    }

    /// The buckets meeting `period`, each as (calendar start, the part of it inside `period`).
    pub fn split(self, period: Period) -> Vec<(NaiveDate, Period)> {
        let mut out = Vec::new();
        let mut start = self.start_of(period.from);
        while start <= period.to {
            let next = self.next(start);
            let last = (next - chrono::Days::new(1)).min(period.to);
            out.push((start, Period { from: start.max(period.from), to: last }));
            start = next;
        }
        out
    }
}

/// A named calendar period, as rankings take it: `2026`, `2026-Q3`, `2026-09`, `2026-W38` or
/// `2026-09-14`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NamedPeriod {
    /// Its kind.
    pub bucket: Bucket,
    /// Its days.
    pub period: Period,
}

impl NamedPeriod {
    /// Parses a period name.
    pub fn parse(text: &str) -> Result<Self, ApiError> {
        let wrong = || {
            ApiError::BadRequest(format!(
                "period={text:?} is not a period; use 2026, 2026-Q3, 2026-09, 2026-W38 or 2026-09-14"
            ))
        };
        let number = |part: &str| part.parse::<u32>().map_err(|_| wrong());
        // The year's range is checked before chrono sees it: a year past i32's range wrapped to a
        // negative one, and chrono's ISO week arithmetic overflowed on it (a panic in debug builds).
        let out_of_range = || ApiError::BadRequest("periods must be between 2000 and 2100".into());
        let number_year = |part: &str| match number(part)? {
            year @ 2000..=2100 => Ok(year as i32),
            _ => Err(out_of_range()),
        };
        let (bucket, from) = match text.split('-').collect::<Vec<_>>().as_slice() {
            [year] if year.len() == 4 => {
                (Bucket::Year, NaiveDate::from_ymd_opt(number_year(year)?, 1, 1).ok_or_else(wrong)?)
            }
            [year, quarter] if quarter.starts_with('Q') => {
                let q = number(&quarter[1..])?;
                if !(1..=4).contains(&q) {
                    return Err(wrong());
                }
                (Bucket::Quarter, NaiveDate::from_ymd_opt(number_year(year)?, (q - 1) * 3 + 1, 1).ok_or_else(wrong)?)
            }
            [year, week] if week.starts_with('W') => {
                let monday = NaiveDate::from_isoywd_opt(number_year(year)?, number(&week[1..])?, chrono::Weekday::Mon);
                (Bucket::Week, monday.ok_or_else(wrong)?)
            }
            [year, month] => {
                (Bucket::Month, NaiveDate::from_ymd_opt(number_year(year)?, number(month)?, 1).ok_or_else(wrong)?)
            }
            [_, _, _] => (Bucket::Day, NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| wrong())?),
            _ => return Err(wrong()),
        };
        if from.year() < 2000 || from.year() > 2100 {
            return Err(out_of_range());
        }
        let to = bucket.next(from) - chrono::Days::new(1);
        Ok(NamedPeriod { bucket, period: Period { from, to } })
    }

    /// The period of the same kind just before this one.
    pub fn previous(&self) -> NamedPeriod {
        let from = self.bucket.start_of(self.period.from - chrono::Days::new(1));
        NamedPeriod { bucket: self.bucket, period: Period { from, to: self.period.from - chrono::Days::new(1) } }
    }

    /// The period as far as it has happened by the end of `today` ([`Period::as_of`]); its
    /// name stays.
    pub fn as_of(self, today: NaiveDate) -> Result<NamedPeriod, ApiError> {
        Ok(NamedPeriod { bucket: self.bucket, period: self.period.as_of(today)? })
    }

    /// The canonical name, e.g. `2026-W38`.
    pub fn label(&self) -> String {
        let from = self.period.from;
        match self.bucket {
            Bucket::Year => format!("{}", from.year()),
            Bucket::Quarter => format!("{}-Q{}", from.year(), (from.month() - 1) / 3 + 1),
            Bucket::Month => from.format("%Y-%m").to_string(),
            Bucket::Week => format!("{}-W{:02}", from.iso_week().year(), from.iso_week().week()),
            Bucket::Day => from.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 28).expect("date")
    }

    #[test]
    fn a_local_day_starts_at_17_utc_the_day_before() {
        let query =
            KpiQuery::parse(&params(&[("from", "2026-10-01"), ("to", "2026-10-31")]), today(), 400).expect("valid");
        assert_eq!(query.period.start_seconds(), 1_790_787_600); // 2026-09-30T17:00:00Z
        assert_eq!(query.period.end_seconds(), 1_793_466_000); // 2026-10-31T17:00:00Z
    }

    #[test]
    fn defaults_to_the_year_to_date_of_the_province() {
        let query = KpiQuery::parse(&params(&[]), today(), 400).expect("valid");
        assert_eq!(query.period.from, NaiveDate::from_ymd_opt(2026, 1, 1).expect("date"));
        assert_eq!((query.period.to, query.unit), (today(), None));
    }

    fn day(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("date")
    }

    #[test]
    fn buckets_split_a_period_on_calendar_boundaries_and_clip_the_ends() {
        let period = Period { from: day("2026-03-04"), to: day("2026-04-02") };
        let weeks = Bucket::Week.split(period);
        assert_eq!(weeks.first().map(|w| (w.0, w.1.from)), Some((day("2026-03-02"), day("2026-03-04"))));
        assert_eq!(weeks.last().map(|w| (w.0, w.1.to)), Some((day("2026-03-30"), day("2026-04-02"))));
        assert_eq!(weeks.len(), 5);
        let quarters = Bucket::Quarter.split(period);
        assert_eq!(quarters.iter().map(|q| q.0).collect::<Vec<_>>(), vec![day("2026-01-01"), day("2026-04-01")]);
        assert_eq!(Bucket::Day.split(period).len(), 30);
        assert_eq!(Bucket::Year.split(period).len(), 1);
    }

    #[test]
    fn a_period_holds_the_weeks_whose_sunday_is_in_it() {
        let weeks = |from: &str, to: &str| Period { from: day(from), to: day(to) }.weeks_ending();
        // March 2026 starts on a Sunday and ends on a Tuesday: Sundays 1, 8, 15, 22, 29.
        assert_eq!(weeks("2026-03-01", "2026-03-31"), 5);
        assert_eq!(weeks("2026-03-02", "2026-03-08"), 1);
        assert_eq!(weeks("2026-03-02", "2026-03-07"), 0);
        assert_eq!(weeks("2026-03-08", "2026-03-08"), 1);
        assert_eq!(weeks("2026-01-01", "2026-12-31"), 52);
    }

    #[test]
    fn the_week_ending_today_is_judged_tomorrow() {
        let march = Period { from: day("2026-03-01"), to: day("2026-03-08") };
        // Sunday 8 March: the week of 2 to 8 March is under way all day.
        assert_eq!(march.week_under_way(day("2026-03-08")), Some(day("2026-03-08")));
        assert_eq!((march.weeks_ending(), march.weeks_judged(day("2026-03-08"))), (2, 1));
        // Monday 9 March: it is over.
        assert_eq!(march.week_under_way(day("2026-03-09")), None);
        assert_eq!(march.weeks_judged(day("2026-03-09")), 2);
        // A Sunday outside the period is no week of it.
        let before = Period { from: day("2026-03-01"), to: day("2026-03-07") };
        assert_eq!((before.week_under_way(day("2026-03-08")), before.weeks_judged(day("2026-03-08"))), (None, 1));
    }

    #[test]
    fn named_periods_and_the_one_before() {
        let week = NamedPeriod::parse("2026-W01").expect("week");
        assert_eq!((week.period.from, week.period.to), (day("2025-12-29"), day("2026-01-04")));
        assert_eq!(week.previous().label(), "2025-W52");
        let quarter = NamedPeriod::parse("2026-Q1").expect("quarter");
        assert_eq!((quarter.period.to, quarter.previous().label()), (day("2026-03-31"), "2025-Q4".to_owned()));
        let month = NamedPeriod::parse("2026-03").expect("month");
        assert_eq!((month.period.to, month.previous().label()), (day("2026-03-31"), "2026-02".to_owned()));
        assert_eq!(NamedPeriod::parse("2026-03-01").expect("day").previous().label(), "2026-02-28");
        assert_eq!(NamedPeriod::parse("2026").expect("year").period.to, day("2026-12-31"));
        for wrong in ["2026-Q5", "2026-13", "2026-W60", "26", "2026-02-30", "yesterday", ""] {
            assert!(NamedPeriod::parse(wrong).is_err(), "{wrong}");
        }
        // Years past i32's range, and far outside the stored one, in every form that has a year.
        for far in ["2147483648-W01", "4294967295-W01", "1999-W52", "2101-01", "2147483648-Q1", "9999", "1999-12-31"] {
            match NamedPeriod::parse(far) {
                Err(ApiError::BadRequest(message)) => {
                    assert!(message.contains("between 2000 and 2100"), "{far}: {message}")
                }
                other => panic!("{far}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_period_not_over_ends_today_and_one_not_begun_is_refused() {
        let query = KpiQuery::parse(&params(&[("from", "2026-11-01"), ("to", "2026-12-31")]), today(), 400);
        assert_eq!(query.expect("valid").period, Period { from: day("2026-11-01"), to: today() });
        let over = KpiQuery::parse(&params(&[("from", "2026-10-01"), ("to", "2026-10-31")]), today(), 400);
        assert_eq!(over.expect("valid").period.to, day("2026-10-31"));
        let year = NamedPeriod::parse("2026").expect("year").as_of(today()).expect("begun");
        assert_eq!((year.label(), year.period.to), ("2026".to_owned(), today()));
        assert_eq!(year.previous().period.to, day("2025-12-31"));
        let tomorrow = KpiQuery::parse(&params(&[("from", "2026-11-29"), ("to", "2026-11-29")]), today(), 400);
        assert!(tomorrow.unwrap_err().to_string().contains("after today (2026-11-28"));
        assert!(NamedPeriod::parse("2027").expect("year").as_of(today()).is_err());
    }

    #[test]
    fn bad_parameters_say_what_is_wrong() {
        let reason = |pairs: &[(&str, &str)]| KpiQuery::parse(&params(pairs), today(), 400).unwrap_err().to_string();
        assert!(reason(&[("from", "2026-13-01")]).contains("YYYY-MM-DD"));
        assert!(reason(&[("from", "2026-10-02"), ("to", "2026-10-01")]).contains("after"));
        assert!(reason(&[("from", "2020-01-01"), ("to", "2026-10-01")]).contains("longer than"));
        assert!(reason(&[("region", "x")]).contains("unknown parameter"));
    }
}
