//! The digital-skills platforms: learners register and, most of them, get certified.

use chrono::{Duration, NaiveDate};
use ioc_events::{EventBody, LearnerRegistered, SkillsCertified, Source, TargetGroup};
use ioc_reference::{ReferenceData, Unit};
use rand::Rng;

use super::{draw_count, local_time, EventFactory, Scenario, UnitProfile};

/// Share of each group's population that registers per day at scale 1 (the 2026 campaign).
const DAILY_REGISTRATION_SHARE: f64 = 0.002;
const CERTIFIED_SHARE: f64 = 0.75;
const VNEID_CONFIRMED_SHARE: f64 = 0.8;

/// One day of registrations at `unit`, per target group.
pub fn day(
    factory: &mut EventFactory<'_>,
    scenario: &Scenario,
    day: NaiveDate,
    unit: &Unit,
    reference: &ReferenceData,
    profile: &UnitProfile,
) {
    for group in TargetGroup::ALL {
        let population = reference.denominator(&unit.code, group.as_str()).unwrap_or(0) as f64;
        let count = draw_count(factory.rng(), population * DAILY_REGISTRATION_SHARE * scenario.scale);
        for _ in 0..count {
            learner(factory, day, unit, group, profile);
        }
    }
}

fn learner(factory: &mut EventFactory<'_>, day: NaiveDate, unit: &Unit, group: TargetGroup, profile: &UnitProfile) {
    let learner_id = factory.entity_id("HV", unit);
    let household_ref = factory.entity_id("HGD", unit);
    let rng = factory.rng();
    let registered_at = local_time(day, rng.gen_range(6..22), rng.gen_range(0..60));
    let certified = rng.gen_bool(profile.rate(CERTIFIED_SHARE));
    let certified_at = registered_at + Duration::hours(rng.gen_range(24..24 * 21));
    let vneid_confirmed = rng.gen_bool(VNEID_CONFIRMED_SHARE);
    let citizen_id = format!("0{:02}{:09}", rng.gen_range(1..97), rng.gen_range(0..1_000_000_000_u64));
    factory.clear_identifiers.push(citizen_id.clone());
    let registered = LearnerRegistered {
        learner_id: learner_id.clone(),
        household_ref: household_ref.clone(),
        target_group: group,
        citizen_id: Some(citizen_id),
        citizen_ref: None,
    };
    if factory.emit(Source::Training, unit, registered_at, EventBody::LearnerRegistered(registered)) && certified {
        let certificate_id = factory.entity_id("CC", unit);
        let body = SkillsCertified { learner_id, household_ref, target_group: group, certificate_id, vneid_confirmed };
        factory.emit(Source::Training, unit, certified_at, EventBody::SkillsCertified(body));
    }
}
