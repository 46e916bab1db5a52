//! Query parameters of the indicator endpoints: a period of local dates and an optional unit.

use std::collections::HashMap;

use chrono::{Datelike, NaiveDate, TimeZone};

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
}

fn local_midnight(day: NaiveDate) -> i64 {
    let midnight = day.and_hms_opt(0, 0, 0).unwrap_or_default();
    ioc_events::local_offset().from_local_datetime(&midnight).single().map(|time| time.timestamp()).unwrap_or_default()
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
    /// Parses and checks the parameters; `today` is the local date used for defaults.
    ///
    /// Defaults: `to` is today, `from` is 1 January of `to`'s year.
    pub fn parse(params: &HashMap<String, String>, today: NaiveDate, max_range_days: i64) -> Result<Self, ApiError> {
        if let Some(unknown) = params.keys().find(|key| !KNOWN.contains(&key.as_str())) {
            return Err(ApiError::BadRequest(format!("unknown parameter {unknown:?}; expected from, to, unit")));
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
        Ok(KpiQuery { period: Period { from, to }, unit })
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

    #[test]
    fn bad_parameters_say_what_is_wrong() {
        let reason = |pairs: &[(&str, &str)]| KpiQuery::parse(&params(pairs), today(), 400).unwrap_err().to_string();
        assert!(reason(&[("from", "2026-13-01")]).contains("YYYY-MM-DD"));
        assert!(reason(&[("from", "2026-10-02"), ("to", "2026-10-01")]).contains("after"));
        assert!(reason(&[("from", "2020-01-01"), ("to", "2026-10-01")]).contains("longer than"));
        assert!(reason(&[("region", "x")]).contains("unknown parameter"));
    }
}
