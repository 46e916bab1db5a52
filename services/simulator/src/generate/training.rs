//! The digital-skills platforms: learners register and, most of them, complete a course and
//! get certified; communes hold "Bình dân học vụ số" classes every week.

use chrono::{Datelike, Duration, NaiveDate, Weekday};
use ioc_domain::{
    ClassHeld, ClassTopic, CourseCompleted, EventBody, LearnerRegistered, SkillsCertified, SkillsVneidConfirmed,
    Source, TargetGroup,
};
use ioc_reference::{ReferenceData, Unit, UnitKind};
use rand::Rng;

use super::{draw_count, local_time, office_time, EventFactory, Scenario, UnitProfile};

/// Classes a commune holds per working day (about two a week), whatever the scale: every
/// commune runs them, the programme asks for weekly classes.
const CLASSES_PER_WORKING_DAY: f64 = 0.4;
/// One class in this many is reported again four days later (in the next week when it was held
/// from Thursday on) with another topic and attendance: it counts once, on its first report's
/// day and week, with that report's topic and attendance (docs/indicators.md, "Weekly classes
/// in every commune"). Chosen by the class's serial, not drawn, so that every other event of a
/// seed stays as it was.
const REPORTED_AGAIN_EVERY: u64 = 25;
const REPORTED_AGAIN_AFTER_DAYS: i64 = 4;
const REPORTED_AGAIN_MORE_ATTENDEES: u32 = 5;
/// One certified learner in this many gets a second certificate (another course) two days later,
/// in another group, of the other adult age and with the VNeID confirmation the other way: the
/// learner counts once, as the first says (docs/indicators.md). Chosen by the learner's serial,
/// its event id derived, so every other event stays as it was.
const CERTIFIED_AGAIN_EVERY: u64 = 40;
const CERTIFIED_AGAIN_AFTER_DAYS: i64 = 2;
/// One class in this many is held at 06:00-06:59 local time, which is still the day before in
/// UTC (and on a Monday, the week before): it counts on its local day and week. One learner in
/// this many who is confirmed on VNeID later is certified by the platform's nightly run at
/// 00:05 instead, with the confirmation stamped `CONFIRMED_EARLY_MINUTES` before it, the day
/// before (VNeID's clock ahead of the platform's): the learner counts as confirmed from the
/// certificate's day on, not the day before. Both by serial.
const EARLY_EVERY: u64 = 10;
const EARLY_AT: u64 = 3;
const CERTIFIED_EARLY_AT_MINUTE: u32 = 5;
const CONFIRMED_EARLY_MINUTES: i64 = 10;
/// One learner in this many is a member of the household of the last learner registered in
/// another unit (the first unit, by code, with one) (trained where they work, not where they live): the household belongs to the
/// unit of its first certified member, whichever it is. By serial.
const ELSEWHERE_EVERY: u64 = 20;
const ELSEWHERE_AT: u64 = 11;
/// Classes a provincial department holds for its staff per working day.
const DEPARTMENT_CLASSES_PER_WORKING_DAY: f64 = 0.1;

/// Share of each group's population that registers per day at scale 1 (the 2026 campaign).
const DAILY_REGISTRATION_SHARE: f64 = 0.002;
const CERTIFIED_SHARE: f64 = 0.75;
/// Certificates confirmed on VNeID with the certificate; some more are confirmed days later.
const VNEID_CONFIRMED_SHARE: f64 = 0.6;
const VNEID_CONFIRMED_LATER_SHARE: f64 = 0.25;
/// Students of adult age (university and vocational students, synthetic).
const STUDENT_ADULT_SHARE: f64 = 0.3;

/// One day at `unit`: its registrations, per target group, and its classes.
pub fn day(
    factory: &mut EventFactory<'_>,
    scenario: &Scenario,
    day: NaiveDate,
    unit: &Unit,
    reference: &ReferenceData,
    profile: &UnitProfile,
) {
    let households = reference.denominator(&unit.code, "household").unwrap_or(0);
    let size = |measure: &str| reference.denominator(&unit.code, measure).unwrap_or(0) as f64;
    for group in TargetGroup::ALL {
        // The community's adults are the people of adult age not counted in another group.
        let population = match group {
            TargetGroup::Adult => {
                (size("adult") - size("civil_servant") - size("worker") - size("student") * STUDENT_ADULT_SHARE)
                    .max(0.0)
            }
            other => size(other.as_str()),
        };
        let count = draw_count(factory.rng(), population * DAILY_REGISTRATION_SHARE * scenario.scale);
        for _ in 0..count {
            learner(factory, day, unit, group, profile, households);
        }
    }
    // Departments hold a few classes for their own staff; they are not communes, so these
    // count as classes but not toward weekly classes in every commune.
    let per_day =
        if unit.kind == UnitKind::Department { DEPARTMENT_CLASSES_PER_WORKING_DAY } else { CLASSES_PER_WORKING_DAY };
    classes(factory, day, unit, per_day);
}

/// The classes `unit` holds on `day`, `per_day` on average on a working day, whatever the scale.
pub fn classes(factory: &mut EventFactory<'_>, day: NaiveDate, unit: &Unit, per_day: f64) {
    if matches!(day.weekday(), Weekday::Sat | Weekday::Sun) {
        return;
    }
    let classes = draw_count(factory.rng(), per_day);
    for _ in 0..classes {
        class(factory, day, unit);
    }
}

fn class(factory: &mut EventFactory<'_>, day: NaiveDate, unit: &Unit) {
    let class_id = factory.entity_id("LH", unit);
    let serial = factory.next_serial;
    let rng = factory.rng();
    let office = office_time(rng, day);
    let at = if serial % EARLY_EVERY == EARLY_AT { local_time(day, 6, (serial % 60) as u32) } else { office };
    let topic = ClassTopic::ALL[rng.gen_range(0..ClassTopic::ALL.len())];
    let attendees = rng.gen_range(12..=60);
    let held = ClassHeld { class_id: class_id.clone(), topic, attendees };
    let emitted = factory.emit(Source::Training, unit, at, EventBody::ClassHeld(held));
    let first_report = factory.events.last().map(|event| event.event_id);
    if let (true, Some(first_report)) = (emitted && serial.is_multiple_of(REPORTED_AGAIN_EVERY), first_report) {
        let other_topic = ClassTopic::ALL
            [(ClassTopic::ALL.iter().position(|t| *t == topic).unwrap_or(0) + 1) % ClassTopic::ALL.len()];
        let again = ClassHeld { class_id, topic: other_topic, attendees: attendees + REPORTED_AGAIN_MORE_ATTENDEES };
        let at = at + Duration::days(REPORTED_AGAIN_AFTER_DAYS);
        factory.emit_derived(Source::Training, unit, at, EventBody::ClassHeld(again), first_report);
    }
}

fn learner(
    factory: &mut EventFactory<'_>,
    day: NaiveDate,
    unit: &Unit,
    group: TargetGroup,
    profile: &UnitProfile,
    households: u64,
) {
    let learner_id = factory.entity_id("HV", unit);
    let serial = factory.next_serial;
    // Learners live in the unit's households ("Gia đình số" counts households with a certified
    // member), so several learners can share one.
    let household = factory.rng().gen_range(0..households.max(1));
    let own = format!("HGD-{}-{household:07}", unit.code);
    let elsewhere = (serial % ELSEWHERE_EVERY == ELSEWHERE_AT)
        .then(|| factory.last_households.iter().find(|(other, _)| **other != unit.code))
        .flatten()
        .map(|(_, household)| household.clone());
    let household_ref = elsewhere.unwrap_or(own);
    factory.last_households.insert(unit.code.clone(), household_ref.clone());
    let rng = factory.rng();
    let registered_at = local_time(day, rng.gen_range(6..22), rng.gen_range(0..60));
    let certified = rng.gen_bool(profile.rate(CERTIFIED_SHARE));
    let drawn_certified_at = registered_at + Duration::hours(rng.gen_range(24..24 * 21));
    let vneid_confirmed = rng.gen_bool(VNEID_CONFIRMED_SHARE);
    let confirmed_later = !vneid_confirmed && rng.gen_bool(VNEID_CONFIRMED_LATER_SHARE / (1.0 - VNEID_CONFIRMED_SHARE));
    let confirmed_early = confirmed_later && serial % EARLY_EVERY == EARLY_AT;
    let certified_at = if confirmed_early {
        local_time(drawn_certified_at.date_naive(), 0, CERTIFIED_EARLY_AT_MINUTE)
    } else {
        drawn_certified_at
    };
    // Students must say whether they are of adult age; other groups may, or leave the default.
    let of_adult_age = match group {
        TargetGroup::Student => Some(rng.gen_bool(STUDENT_ADULT_SHARE)),
        other if rng.gen_bool(0.5) => Some(other.of_adult_age_by_default()),
        _ => None,
    };
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
        let completed = CourseCompleted { learner_id: learner_id.clone(), course_code: "BDHVS-CB-01".into() };
        factory.emit(Source::Training, unit, certified_at - Duration::hours(2), EventBody::CourseCompleted(completed));
        let certificate_id = factory.entity_id("CC", unit);
        let confirmation_delay = Duration::hours(factory.rng().gen_range(6..24 * 10));
        let body = SkillsCertified {
            learner_id: learner_id.clone(),
            household_ref,
            target_group: group,
            certificate_id: certificate_id.clone(),
            vneid_confirmed,
            of_adult_age,
        };
        // The second certificate says otherwise on everything the first one decides: the
        // learner's group and adult age (a pupil's is not, a worker's is: the schema ties them
        // to the group), and the VNeID confirmation.
        let again = serial.is_multiple_of(CERTIFIED_AGAIN_EVERY).then(|| SkillsCertified {
            certificate_id: format!("{certificate_id}-2"),
            target_group: if body.of_adult_age() { TargetGroup::Pupil } else { TargetGroup::Worker },
            of_adult_age: None,
            vneid_confirmed: !vneid_confirmed,
            ..body.clone()
        });
        let certificate_emitted = factory.emit(Source::Training, unit, certified_at, EventBody::SkillsCertified(body));
        if let (true, Some(again), Some(first)) =
            (certificate_emitted, again, factory.events.last().map(|event| event.event_id))
        {
            let at = certified_at + Duration::days(CERTIFIED_AGAIN_AFTER_DAYS);
            factory.emit_derived(Source::Training, unit, at, EventBody::SkillsCertified(again), first);
        }
        if certificate_emitted && confirmed_later {
            let confirmed = SkillsVneidConfirmed { learner_id, certificate_id };
            let at = if confirmed_early {
                certified_at - Duration::minutes(CONFIRMED_EARLY_MINUTES)
            } else {
                certified_at + confirmation_delay
            };
            factory.emit(Source::Training, unit, at, EventBody::SkillsVneidConfirmed(confirmed));
        }
    }
}
