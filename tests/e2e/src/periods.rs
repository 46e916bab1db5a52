//! Checks over periods that start after the data does: a stock must count everything before
//! a period, whatever its first day (series, unit profiles and rankings).

use chrono::{Datelike, NaiveDate};
use ioc_api::{RankingResponse, SeriesResponse, UnitProfile};
use ioc_domain::indicators::DEFINITIONS;
use ioc_reference::ReferenceData;
use ioc_simulator::Facts;

use crate::{compare_all, compare_values, contract, get_checked, ranking_differences};

fn day(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("date")
}

/// For a 10-day scenario starting on `start`: series (every indicator by day, for the province
/// and five units), unit profiles (every unit, and the period before, which starts before the
/// data) and rankings (every indicator, a day and an ISO week) over periods that start days
/// after the first event.
pub async fn later_period_differences(
    api: &str,
    facts: &Facts,
    reference: &ReferenceData,
    start: NaiveDate,
) -> Vec<String> {
    let client = reqwest::Client::new();
    let mut differences = Vec::new();
    let after = |days: u64| start + chrono::Days::new(days);
    let (from, to) = (after(3), after(9));
    let series_contract = contract("SeriesResponse");
    let mut scopes: Vec<Option<&str>> = vec![None];
    scopes.extend(["07900", "07894", "04828", "STP", "TTPVHCC"].map(Some));
    for unit in scopes {
        for definition in DEFINITIONS {
            let filter = unit.map(|u| format!("&unit={u}")).unwrap_or_default();
            let url = format!("{api}/v1/kpis/{}/series?bucket=day&from={from}&to={to}{filter}", definition.id);
            match get_checked::<SeriesResponse>(&client, &url, &series_contract).await {
                Ok(series) => {
                    if series.points.len() != 7 {
                        differences.push(format!("{url}: {} points", series.points.len()));
                    }
                    for point in &series.points {
                        let truth = facts.truth(reference, day(&point.from), day(&point.to));
                        let expected = unit.map_or(&truth.province, |code| &truth.units[code]);
                        let scope = format!("series {} {}", unit.unwrap_or("province"), point.from);
                        compare_values(&scope, std::slice::from_ref(&point.value), expected, &mut differences);
                    }
                }
                Err(error) => differences.push(error),
            }
        }
    }
    let profile_contract = contract("UnitProfile");
    let (from, to) = (after(4), after(9));
    let now = facts.truth(reference, from, to);
    let before = facts.truth(reference, start - chrono::Days::new(2), after(3));
    for code in now.units.keys() {
        let url = format!("{api}/v1/units/{code}?from={from}&to={to}");
        match get_checked::<UnitProfile>(&client, &url, &profile_contract).await {
            Ok(profile) => {
                compare_all(&format!("profile {code}"), &profile.indicators, &now.units[code], &mut differences);
                let scope = format!("profile {code} before");
                compare_all(&scope, &profile.previous_indicators, &before.units[code], &mut differences);
            }
            Err(error) => differences.push(error),
        }
    }
    let ranking_contract = contract("RankingResponse");
    let week_day = after(4);
    let monday = week_day - chrono::Days::new(u64::from(week_day.weekday().num_days_from_monday()));
    let named = [
        (after(6).to_string(), after(6), after(6)),
        (week_day.format("%G-W%V").to_string(), monday, monday + chrono::Days::new(6)),
    ];
    for (label, from, to) in named {
        let truth = facts.truth(reference, from, to);
        for definition in DEFINITIONS {
            let url = format!("{api}/v1/rankings/{}?period={label}", definition.id);
            match get_checked::<RankingResponse>(&client, &url, &ranking_contract).await {
                Ok(ranking) => ranking_differences(&ranking, &truth, definition.higher_is_better, &mut differences),
                Err(error) => differences.push(error),
            }
        }
    }
    differences
}
