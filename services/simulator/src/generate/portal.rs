//! The public-service portal: dossiers received, digitised, resolved and returned.

use chrono::{Datelike, Duration, NaiveDate, Weekday};
use ioc_events::{
    Channel, DossierDigitised, DossierPaid, DossierRated, DossierReceived, DossierRef, DossierResolved,
    DossierResultReturned, EventBody, Outcome, PaymentMethod, ResultForm, Satisfaction, ServiceLevel, Source,
};
use ioc_reference::{Procedure, Unit};
use rand::Rng;

use super::{draw_count, local_time, office_time, EventFactory, Scenario, UnitProfile};

/// Dossiers a working day for the whole province at scale 1 (about 1.4 million a year).
const DOSSIERS_PER_WORKING_DAY: f64 = 5_400.0;
/// Provincial rates from DOMAIN.md (2025, merged province).
const ONLINE_RATE: f64 = 0.866;
const ELECTRONIC_RESULT_RATE: f64 = 0.8697;
const DIGITISED_RATE: f64 = 0.8389;
/// Fee-bearing dossiers paid online (85% of people have e-payment accounts; not all use them).
const ONLINE_PAYMENT_RATE: f64 = 0.6;
const SUPPLEMENT_SHARE: f64 = 0.08;
const WITHDRAWN_SHARE: f64 = 0.02;
const RATED_SHARE: f64 = 0.3;
const ON_TIME_SHARE: f64 = 0.93;

/// One day of dossiers at `unit`.
pub fn day(
    factory: &mut EventFactory<'_>,
    scenario: &Scenario,
    day: NaiveDate,
    unit: &Unit,
    weight: f64,
    profile: &UnitProfile,
    procedures: &[Procedure],
) {
    let working = !matches!(day.weekday(), Weekday::Sat | Weekday::Sun);
    let expected = DOSSIERS_PER_WORKING_DAY * scenario.scale * weight * if working { 1.0 } else { 0.15 };
    let count = draw_count(factory.rng(), expected);
    for _ in 0..count {
        dossier(factory, day, unit, profile, procedures);
    }
}

/// Draws a procedure with the catalogue's weights.
fn draw_procedure<'p>(rng: &mut impl Rng, procedures: &'p [Procedure]) -> Option<&'p Procedure> {
    let total: u32 = procedures.iter().map(|p| p.weight).sum();
    if total == 0 {
        return procedures.first();
    }
    let mut pick = rng.gen_range(0..total);
    procedures.iter().find(|p| {
        if pick < p.weight {
            true
        } else {
            pick -= p.weight;
            false
        }
    })
}

fn dossier(
    factory: &mut EventFactory<'_>,
    day: NaiveDate,
    unit: &Unit,
    profile: &UnitProfile,
    procedures: &[Procedure],
) {
    let dossier_id = factory.entity_id("HS", unit);
    let rng = factory.rng();
    let Some(procedure) = draw_procedure(rng, procedures) else {
        return;
    };
    let received_at = office_time(rng, day);
    let channel = if rng.gen_bool(profile.rate(ONLINE_RATE)) {
        Channel::Online
    } else if rng.gen_bool(0.9) {
        Channel::InPerson
    } else {
        Channel::Post
    };
    let service_level = match procedure.service_level.as_str() {
        "full_online" => ServiceLevel::FullOnline,
        "partial_online" => ServiceLevel::PartialOnline,
        _ => ServiceLevel::Offline,
    };
    // Legal time limits are in working days; the simulator counts calendar days.
    let legal_days = i64::from(procedure.legal_days.max(1));
    let due_at = local_time(day + Duration::days(legal_days), 17, 0);
    let fee_bearing = procedure.fee_bearing;
    let applicant_id = format!("0{:02}{:09}", rng.gen_range(1..97), rng.gen_range(0..1_000_000_000_u64));
    let applicant_phone = format!("09{:08}", rng.gen_range(0..100_000_000_u64));
    let digitised = rng.gen_bool(profile.rate(DIGITISED_RATE));
    let components = rng.gen_range(1..=5_u16);
    let reused = rng.gen_range(0..=2_u16).min(components);
    // Most dossiers finish before their due time (DOMAIN.md's provinces report over 90% on
    // time), some after it.
    let hours_to_resolve = if rng.gen_bool(ON_TIME_SHARE) {
        rng.gen_range(2..(legal_days * 24).max(3))
    } else {
        rng.gen_range(legal_days * 24 + 8..legal_days * 24 + 120)
    };
    let approved = rng.gen_bool(0.95);
    let electronic = rng.gen_bool(profile.rate(ELECTRONIC_RESULT_RATE));
    let paid_online = rng.gen_bool(profile.rate(ONLINE_PAYMENT_RATE));
    let supplemented = rng.gen_bool(SUPPLEMENT_SHARE);
    let withdrawn = rng.gen_bool(WITHDRAWN_SHARE);
    let rating = rng.gen_bool(RATED_SHARE).then(|| match rng.gen_range(0..100) {
        0..=29 => Satisfaction::VerySatisfied,
        30..=84 => Satisfaction::Satisfied,
        85..=94 => Satisfaction::Neutral,
        _ => Satisfaction::Dissatisfied,
    });

    factory.clear_identifiers.push(applicant_id.clone());
    factory.clear_identifiers.push(applicant_phone.clone());
    let received = DossierReceived {
        dossier_id: dossier_id.clone(),
        procedure_code: procedure.code.clone(),
        channel,
        service_level,
        due_at,
        fee_bearing,
        applicant_id: Some(applicant_id),
        applicant_phone: Some(applicant_phone),
        applicant_ref: None,
        applicant_phone_ref: None,
    };
    if !factory.emit(Source::Portal, unit, received_at, EventBody::DossierReceived(received)) {
        return;
    }
    if digitised {
        let body = DossierDigitised {
            dossier_id: dossier_id.clone(),
            components_digitised: components,
            components_reused: reused,
        };
        factory.emit(Source::Portal, unit, received_at + Duration::minutes(20), EventBody::DossierDigitised(body));
    }
    if fee_bearing {
        let method = if paid_online { PaymentMethod::Online } else { PaymentMethod::Counter };
        let paid = DossierPaid { dossier_id: dossier_id.clone(), method, amount_vnd: 50_000 };
        factory.emit(Source::Portal, unit, received_at + Duration::minutes(10), EventBody::DossierPaid(paid));
    }
    if withdrawn {
        let body = DossierRef { dossier_id };
        factory.emit(Source::Portal, unit, received_at + Duration::hours(12), EventBody::DossierWithdrawn(body));
        return;
    }
    // A supplement request pauses the clock for a day and delays the resolution by two.
    let mut resolved_at = received_at + Duration::hours(hours_to_resolve);
    if supplemented {
        let requested = DossierRef { dossier_id: dossier_id.clone() };
        factory.emit(
            Source::Portal,
            unit,
            received_at + Duration::hours(24),
            EventBody::DossierSupplementRequested(requested),
        );
        let resumed = DossierRef { dossier_id: dossier_id.clone() };
        factory.emit(Source::Portal, unit, received_at + Duration::hours(48), EventBody::DossierResumed(resumed));
        resolved_at += Duration::hours(48);
    }
    let outcome = if approved { Outcome::Approved } else { Outcome::Rejected };
    let resolved = DossierResolved { dossier_id: dossier_id.clone(), outcome };
    if factory.emit(Source::Portal, unit, resolved_at, EventBody::DossierResolved(resolved)) {
        let result_form = if electronic { ResultForm::Electronic } else { ResultForm::Paper };
        let returned = DossierResultReturned { dossier_id: dossier_id.clone(), result_form };
        let returned_at = resolved_at + Duration::minutes(45);
        if factory.emit(Source::Portal, unit, returned_at, EventBody::DossierResultReturned(returned)) {
            if let Some(satisfaction) = rating {
                let rated = DossierRated { dossier_id, satisfaction };
                factory.emit(Source::Portal, unit, returned_at + Duration::hours(3), EventBody::DossierRated(rated));
            }
        }
    }
}
