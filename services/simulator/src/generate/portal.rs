//! The public-service portal: dossiers received, digitised, paused for supplements, resolved,
//! returned, rated and complained about; the backlog of open dossiers at go-live; and dossiers a
//! commune passes on to a department, which reports a reception of its own.
//!
//! Each dossier is planned as a whole life first ([`plan`]), then sent: all of it for dossiers
//! received during the scenario, and for those received before it only what a source joining
//! the stream would send (its go-live snapshot and what follows).

use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate, Weekday};
use ioc_domain::{
    Channel, ComplaintKind, ComplaintSubject, DossierComplaintFiled, DossierDigitised, DossierPaid, DossierRated,
    DossierReceived, DossierRef, DossierResolved, DossierResultReturned, DossierSnapshot, EventBody, Outcome,
    PaymentMethod, ResultForm, Satisfaction, ServiceLevel, Source,
};
use ioc_reference::{Procedure, Unit, UnitKind};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::{draw_count, local_time, office_time, EventFactory, Scenario, UnitProfile};
use crate::truth::{Dossier, Pause};

/// Dossiers a working day for the whole province at scale 1 (about 1.4 million a year).
const DOSSIERS_PER_WORKING_DAY: f64 = 5_400.0;
/// Provincial rates from the province's 2025 figures (merged province).
const ONLINE_RATE: f64 = 0.866;
const ELECTRONIC_RESULT_RATE: f64 = 0.8697;
const DIGITISED_RATE: f64 = 0.8389;
/// Dossiers whose components were all reused from the data warehouse, none digitised anew.
const REUSED_ONLY_SHARE: f64 = 0.04;
/// Fee-bearing dossiers paid online (85% of people have e-payment accounts; not all use them).
const ONLINE_PAYMENT_RATE: f64 = 0.6;
/// Dossiers with 1, 2 or 3 supplement requests.
const SUPPLEMENT_SHARES: [f64; 3] = [0.05, 0.02, 0.01];
/// Dossiers whose (last) supplement request is never answered: returned after the wait.
const UNANSWERED_SHARE: f64 = 0.015;
const WITHDRAWN_SHARE: f64 = 0.02;
/// Sources are imperfect: a dossier withdrawn after its resolution, a resolution recorded after
/// a withdrawal, a withdrawal while waiting for supplements. Only the first ending counts.
const WITHDRAWN_AFTER_RESOLUTION_SHARE: f64 = 0.006;
const RESOLVED_AFTER_WITHDRAWAL_SHARE: f64 = 0.003;
const WITHDRAWN_WHILE_WAITING_SHARE: f64 = 0.2;
const RATED_SHARE: f64 = 0.3;
const ON_TIME_SHARE: f64 = 0.93;
/// Late dossiers are rated dissatisfied far more often, so counting one twice would show.
const DISSATISFIED_IF_LATE: f64 = 0.35;
const DISSATISFIED_IF_ON_TIME: f64 = 0.04;
/// Dossiers with feedback or a petition (more of them when late).
const COMPLAINT_IF_LATE: f64 = 0.10;
const COMPLAINT_IF_ON_TIME: f64 = 0.02;
/// Results returned a second time in the other form (a paper copy of an electronic result...).
const RETURNED_TWICE_SHARE: f64 = 0.05;
/// One dossier in this many is passed on by a commune to a provincial department ("liên thông"),
/// whose system reports a reception of the same dossier two hours later: the dossier stays the
/// commune's (its first reception), and the department's reception, which may reach the IOC
/// first, must not count it twice. Chosen by the dossier's serial, not drawn, so that every
/// other generated event of a seed stays as it was (`simulate`'s delivery faults, drawn per
/// event, do change after it).
const PASSED_ON_EVERY: u64 = 100;
const PASSED_ON_AFTER_HOURS: i64 = 2;
/// One dossier in this many stalls: it is resolved, and everything after its resolution
/// happens, a month to three months later than planned, so that it stays overdue across month
/// ends and its late events arrive long after its reception (the rollup then recomputes months
/// far back). Chosen by the serial (never together with `PASSED_ON_EVERY`: this one's serials
/// are odd multiples of 75), not drawn. Events it puts off past the scenario's end are not sent,
/// and an event not sent draws no id, so the ids and draws after it change with a seed's
/// scenario length (as they already did for any event planned past the end).
/// One dossier in this many that is rated is rated again two days later, the other way round:
/// its first rating counts (docs/indicators.md, 5.4). And one in this many that is paid is paid
/// again a day later by the other method (a fee settled in two parts): paid online if either
/// part was. Chosen by serial, and their event ids derived, so every other event stays as it was.
const SECOND_RATING_OR_PAYMENT_EVERY: u64 = 30;
const SECOND_RATING_AT: u64 = 7;
const SECOND_PAYMENT_AT: u64 = 19;
/// And one resolved dossier in this many gets a supplement request a day after its resolution
/// (a source's stray event): a request after the dossier ended is not part of its handling.
const REQUEST_AFTER_END_AT: u64 = 11;
/// Cases a source produces rarely, chosen by serial, not drawn (the events they add or remove
/// draw their ids, so the draws after them shift, as `stall`'s do). Of the dossiers whose every
/// supplement request was answered, two in `MID_PAUSE_EVERY` are resolved while their last
/// request waits: at `MID_PAUSE_RESUMED` the resume still comes after the resolution (a source
/// that records it anyway), at `MID_PAUSE_NEVER_RESUMED` it never comes. Either way the pause
/// runs at the resolution, which is on time if the request counted (docs/indicators.md).
const MID_PAUSE_EVERY: u64 = 6;
const MID_PAUSE_RESUMED: u64 = 1;
const MID_PAUSE_NEVER_RESUMED: u64 = 4;
/// Of the dossiers whose last request is never answered (and not withdrawn), one in
/// `LATE_ANSWER_EVERY` is answered all the same, after the waiting time, and resolved three days
/// later, with another request and resume in between (`LATE_ANSWER_AT`); another is resolved
/// after the waiting time with no answer at all (`RESOLVED_AFTER_RETURN_AT`). When the request
/// counted, both were returned at the wait's end and what comes after is not part of their
/// handling; a request made when the dossier was already late returns nothing, and the
/// resolution then counts, late.
const LATE_ANSWER_EVERY: u64 = 4;
const LATE_ANSWER_AT: u64 = 1;
const RESOLVED_AFTER_RETURN_AT: u64 = 3;
/// And one, received within the run, is withdrawn after the waiting time instead
/// (`WITHDRAWN_AFTER_RETURN_AT`; in the backlog too, when that comes after go-live): returned
/// at the wait's end, so the withdrawal changes nothing when the request counted. Its id is
/// derived (from the request's, or the snapshot's), so no draw shifts.
const WITHDRAWN_AFTER_RETURN_AT: u64 = 2;
/// Of the dossiers received within the run with two supplement requests or more, one in
/// `OVERLAP_EVERY` gets its last request while the one before still waits, halfway through
/// that one's pause (a desk asking for one more paper before the first came; the resumes stay
/// where they were, and a last request never answered stays so). The clock stops once over the
/// two waits, not for their sum (docs/indicators.md). Chosen by serial, after
/// `resolve_mid_pause`; never a `LATE_ANSWER_*` serial (those are odd). The move never takes an
/// event across the run's end. Those at `OVERLAP_RESOLVED_AT` in `OVERLAP_RESOLVED_EVERY` are
/// then resolved halfway through their last pause, which is never resumed: resolved while a
/// request made during the wait before still waits (its resume not sent, the draws after it
/// shift, as `stall`'s do).
const OVERLAP_EVERY: u64 = 2;
const OVERLAP_AT: u64 = 0;
const OVERLAP_RESOLVED_EVERY: u64 = 8;
const OVERLAP_RESOLVED_AT: u64 = 6;
/// One dossier of the backlog in this many that waits for supplements at go-live gets another
/// request, halfway between its waiting one and go-live, never answered: two requests wait at
/// go-live, and the source sends each at its own time (docs/indicators.md, "The backlog at
/// go-live"). Chosen by serial; the request added draws nothing, so every other event stays.
const BACKLOG_TWO_WAITING_EVERY: u64 = 3;
const BACKLOG_TWO_WAITING_AT: u64 = 1;
/// Days after its request a late answer comes: more than the waiting time.
const LATE_ANSWER_AFTER_DAYS: i64 = ioc_domain::rules::SUPPLEMENT_WAIT_DAYS as i64 + 1;
/// One online dossier in `NIGHT_EVERY` is submitted between midnight and 07:00 local time, which
/// is still the day before in UTC: its day is the local one.
const NIGHT_EVERY: u64 = 20;
const NIGHT_AT: u64 = 13;
/// One dossier of the backlog in `RESENT_RECEPTION_EVERY` also has its original reception sent
/// by the source after go-live (a resend of that one event): the reception wins over the
/// snapshot, whose summary of what happened before go-live still counts.
const RESENT_RECEPTION_EVERY: u64 = 20;
const RESENT_RECEPTION_AT: u64 = 7;
/// One dossier in this many that closed before go-live has its events after go-live sent all
/// the same (a result returned, a rating or a complaint that comes later): with neither a
/// reception nor a snapshot, nothing says when it was received or due, and they count nowhere
/// (docs/indicators.md, "The backlog at go-live"). Their ids are derived from the dossier's
/// serial, so no draw shifts.
const AFTER_CLOSE_EVERY: u64 = 4;
const AFTER_CLOSE_AT: u64 = 3;
const STALLED_EVERY: u64 = 150;
const STALLED_AT: u64 = 75;
/// Days a stalled dossier's resolution is put off: this many, plus up to 60 more by serial.
const STALLED_DAYS: i64 = 30;
/// Days before the scenario whose dossiers make the backlog at go-live.
pub const BACKLOG_DAYS: u32 = 45;

/// What the province's desks offer: the procedures, and the departments a commune passes
/// dossiers on to.
pub struct Desks<'a> {
    /// Every procedure of the reference data.
    pub procedures: &'a [Procedure],
    /// The provincial departments.
    pub departments: Vec<&'a Unit>,
}

/// One day of dossiers at `unit`.
pub fn day(
    factory: &mut EventFactory<'_>,
    scenario: &Scenario,
    day: NaiveDate,
    unit: &Unit,
    weight: f64,
    profile: &UnitProfile,
    desks: &Desks<'_>,
) {
    let Desks { procedures, departments } = desks;
    let go_live = scenario.go_live();
    for _ in 0..count(factory.rng(), scenario, day, weight) {
        let dossier_id = factory.entity_id("HS", unit);
        let serial = factory.next_serial;
        let Some(mut life) = plan(factory.rng(), &dossier_id, day, profile, procedures) else {
            continue;
        };
        if serial % STALLED_EVERY == STALLED_AT {
            stall(&mut life, Duration::days(STALLED_DAYS + (serial / STALLED_EVERY % 61) as i64));
        }
        match serial % MID_PAUSE_EVERY {
            MID_PAUSE_RESUMED => resolve_mid_pause(&mut life, false),
            MID_PAUSE_NEVER_RESUMED => resolve_mid_pause(&mut life, true),
            _ => {}
        }
        match serial % LATE_ANSWER_EVERY {
            LATE_ANSWER_AT => end_unanswered(&mut life, true),
            RESOLVED_AFTER_RETURN_AT => end_unanswered(&mut life, false),
            _ => {}
        }
        if serial % OVERLAP_EVERY == OVERLAP_AT
            && day >= scenario.start
            && overlap_last_request(&mut life, scenario.end())
            && serial % OVERLAP_RESOLVED_EVERY == OVERLAP_RESOLVED_AT
        {
            resolve_mid_pause(&mut life, true);
        }
        if day < scenario.start && serial % BACKLOG_TWO_WAITING_EVERY == BACKLOG_TWO_WAITING_AT {
            request_again_before(&mut life, go_live);
        }
        if serial % NIGHT_EVERY == NIGHT_AT && life.received.channel == Channel::Online {
            let hour = (serial / NIGHT_EVERY % 7) as u32;
            receive_at(&mut life, local_time(day, hour, (serial % 60) as u32));
        }
        if day >= scenario.start {
            let mut reception = None;
            let mut seconds = Vec::new();
            let second_at = serial % SECOND_RATING_OR_PAYMENT_EVERY;
            let withdrawn_after_wait = (serial % LATE_ANSWER_EVERY == WITHDRAWN_AFTER_RETURN_AT)
                .then(|| unanswered_last_request(&life))
                .flatten();
            for (at, body) in life.events {
                let received = matches!(body, EventBody::DossierReceived(_));
                let second = match &body {
                    EventBody::DossierRated(rated) if second_at == SECOND_RATING_AT => {
                        let satisfaction = match rated.satisfaction {
                            Satisfaction::Dissatisfied => Satisfaction::Satisfied,
                            _ => Satisfaction::Dissatisfied,
                        };
                        let again = DossierRated { dossier_id: rated.dossier_id.clone(), satisfaction };
                        Some((at + Duration::days(2), EventBody::DossierRated(again)))
                    }
                    EventBody::DossierPaid(paid) if second_at == SECOND_PAYMENT_AT => {
                        let method = match paid.method {
                            PaymentMethod::Online => PaymentMethod::Counter,
                            _ => PaymentMethod::Online,
                        };
                        let again = DossierPaid { method, ..paid.clone() };
                        Some((at + Duration::days(1), EventBody::DossierPaid(again)))
                    }
                    EventBody::DossierSupplementRequested(request) if Some(at) == withdrawn_after_wait => {
                        let withdrawn = DossierRef { dossier_id: request.dossier_id.clone() };
                        Some((at + Duration::days(LATE_ANSWER_AFTER_DAYS), EventBody::DossierWithdrawn(withdrawn)))
                    }
                    EventBody::DossierResolved(resolved) if second_at == REQUEST_AFTER_END_AT => {
                        let stray = DossierRef { dossier_id: resolved.dossier_id.clone() };
                        Some((at + Duration::days(1), EventBody::DossierSupplementRequested(stray)))
                    }
                    _ => None,
                };
                if factory.emit(Source::Portal, unit, at, body) {
                    let emitted = factory.events.last().map(|event| event.event_id);
                    if received {
                        reception = emitted;
                    }
                    if let (Some(second), Some(from)) = (second, emitted) {
                        seconds.push((second, from));
                    }
                }
            }
            for ((at, body), from) in seconds {
                factory.emit_derived(Source::Portal, unit, at, body, from);
            }
            let department = departments.get((serial / PASSED_ON_EVERY) as usize % departments.len().max(1));
            if let (Some(reception), Some(department)) = (reception, department) {
                if serial.is_multiple_of(PASSED_ON_EVERY) && unit.kind != UnitKind::Department {
                    let at = life.received_at + Duration::hours(PASSED_ON_AFTER_HOURS);
                    let body = EventBody::DossierReceived(life.received.clone());
                    factory.emit_derived(Source::Portal, department, at, body, reception);
                }
            }
        } else {
            let cases = BacklogCases {
                resend_reception: serial % RESENT_RECEPTION_EVERY == RESENT_RECEPTION_AT,
                withdrawn_after_wait: (serial % LATE_ANSWER_EVERY == WITHDRAWN_AFTER_RETURN_AT)
                    .then(|| unanswered_last_request(&life))
                    .flatten()
                    .map(|request| request + Duration::days(LATE_ANSWER_AFTER_DAYS)),
                after_close: (serial % AFTER_CLOSE_EVERY == AFTER_CLOSE_AT)
                    .then(|| uuid::Uuid::from_u64_pair(AFTER_CLOSE_EVERY, serial)),
            };
            send_backlog(factory, unit, life, go_live, &cases);
        }
    }
}

fn count(rng: &mut ChaCha8Rng, scenario: &Scenario, day: NaiveDate, weight: f64) -> u32 {
    let working = !matches!(day.weekday(), Weekday::Sat | Weekday::Sun);
    draw_count(rng, DOSSIERS_PER_WORKING_DAY * scenario.scale * weight * if working { 1.0 } else { 0.15 })
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

/// A dossier's whole life: its reception and every later event, in time order.
#[derive(Clone)]
struct Life {
    received: DossierReceived,
    received_at: DateTime<FixedOffset>,
    events: Vec<(DateTime<FixedOffset>, EventBody)>,
}

/// Plans one dossier received on `day`.
fn plan(
    rng: &mut ChaCha8Rng,
    dossier_id: &str,
    day: NaiveDate,
    profile: &UnitProfile,
    procedures: &[Procedure],
) -> Option<Life> {
    let procedure = draw_procedure(rng, procedures)?;
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
    let allowed_hours = (due_at - received_at).num_hours().max(1);
    let applicant_id = format!("0{:02}{:09}", rng.gen_range(1..97), rng.gen_range(0..1_000_000_000_u64));
    let applicant_phone = format!("09{:08}", rng.gen_range(0..100_000_000_u64));
    let received = DossierReceived {
        dossier_id: dossier_id.to_owned(),
        procedure_code: procedure.code.clone(),
        channel,
        service_level,
        due_at,
        fee_bearing: procedure.fee_bearing,
        applicant_id: Some(applicant_id),
        applicant_phone: Some(applicant_phone),
        applicant_ref: None,
        applicant_phone_ref: None,
    };
    let id = || DossierRef { dossier_id: dossier_id.to_owned() };
    let mut events: Vec<(DateTime<FixedOffset>, EventBody)> =
        vec![(received_at, EventBody::DossierReceived(received.clone()))];

    if rng.gen_bool(profile.rate(DIGITISED_RATE)) {
        let components = rng.gen_range(1..=5_u16);
        let body = if rng.gen_bool(REUSED_ONLY_SHARE) {
            DossierDigitised {
                dossier_id: dossier_id.to_owned(),
                components_digitised: 0,
                components_reused: components,
            }
        } else {
            let reused = rng.gen_range(0..=2_u16).min(components);
            DossierDigitised {
                dossier_id: dossier_id.to_owned(),
                components_digitised: components,
                components_reused: reused,
            }
        };
        events.push((received_at + Duration::minutes(20), EventBody::DossierDigitised(body)));
    }
    if procedure.fee_bearing {
        let method = if rng.gen_bool(profile.rate(ONLINE_PAYMENT_RATE)) {
            PaymentMethod::Online
        } else {
            PaymentMethod::Counter
        };
        let paid = DossierPaid { dossier_id: dossier_id.to_owned(), method, amount_vnd: 50_000 };
        events.push((received_at + Duration::minutes(10), EventBody::DossierPaid(paid)));
    }
    if rng.gen_bool(WITHDRAWN_SHARE) {
        let withdrawn_at = received_at + Duration::hours(12);
        events.push((withdrawn_at, EventBody::DossierWithdrawn(id())));
        if rng.gen_bool(RESOLVED_AFTER_WITHDRAWAL_SHARE / WITHDRAWN_SHARE) {
            let rejected = DossierResolved { dossier_id: dossier_id.to_owned(), outcome: Outcome::Rejected };
            events.push((withdrawn_at + Duration::days(1), EventBody::DossierResolved(rejected)));
        }
        return Some(Life { received, received_at, events });
    }

    // The clock runs `active` hours in all before the resolution (past `allowed_hours` when
    // late); supplement requests stop it at points of that run, each for a few days. A request
    // made after the allowed hours does not stop it by the rule, though the dossier waits.
    let on_time = rng.gen_bool(ON_TIME_SHARE);
    let active_hours = if on_time {
        rng.gen_range(2..allowed_hours.max(3))
    } else {
        rng.gen_range(allowed_hours + 8..allowed_hours + 120)
    };
    let mut requests = 0;
    let mut roll = rng.gen_range(0.0..1.0);
    for (index, share) in SUPPLEMENT_SHARES.iter().enumerate() {
        if roll < *share {
            requests = index + 1;
            break;
        }
        roll -= share;
    }
    let unanswered = rng.gen_bool(UNANSWERED_SHARE);
    if unanswered {
        requests = requests.max(1);
    }
    let mut offsets: Vec<i64> = (0..requests).map(|_| rng.gen_range(1..active_hours.max(2))).collect();
    offsets.sort_unstable();
    let mut paused = Duration::zero();
    for (index, offset) in offsets.iter().enumerate() {
        let requested = received_at + Duration::hours(*offset) + paused;
        events.push((requested, EventBody::DossierSupplementRequested(id())));
        if unanswered && index + 1 == offsets.len() {
            // Never answered, never resolved: returned once the wait is over, unless the
            // citizen withdraws it first.
            if rng.gen_bool(WITHDRAWN_WHILE_WAITING_SHARE) {
                events.push((requested + Duration::days(rng.gen_range(2..20)), EventBody::DossierWithdrawn(id())));
            }
            events.sort_by_key(|(at, _)| *at);
            return Some(Life { received, received_at, events });
        }
        let pause = Duration::hours(rng.gen_range(12..96));
        events.push((requested + pause, EventBody::DossierResumed(id())));
        paused += pause;
    }
    let resolved_at = received_at + Duration::hours(active_hours) + paused;
    let late = !on_time;
    let outcome = if rng.gen_bool(0.95) { Outcome::Approved } else { Outcome::Rejected };
    events.push((
        resolved_at,
        EventBody::DossierResolved(DossierResolved { dossier_id: dossier_id.to_owned(), outcome }),
    ));
    if rng.gen_bool(WITHDRAWN_AFTER_RESOLUTION_SHARE) {
        events.push((resolved_at + Duration::days(1), EventBody::DossierWithdrawn(id())));
    }
    let electronic = rng.gen_bool(profile.rate(ELECTRONIC_RESULT_RATE));
    let returned_at = resolved_at + Duration::minutes(45);
    let form = |electronic: bool| if electronic { ResultForm::Electronic } else { ResultForm::Paper };
    let returned = DossierResultReturned { dossier_id: dossier_id.to_owned(), result_form: form(electronic) };
    events.push((returned_at, EventBody::DossierResultReturned(returned)));
    if rng.gen_bool(RETURNED_TWICE_SHARE) {
        let again = DossierResultReturned { dossier_id: dossier_id.to_owned(), result_form: form(!electronic) };
        events.push((returned_at + Duration::days(1), EventBody::DossierResultReturned(again)));
    }
    if rng.gen_bool(RATED_SHARE) {
        let dissatisfied = rng.gen_bool(if late { DISSATISFIED_IF_LATE } else { DISSATISFIED_IF_ON_TIME });
        let satisfaction = if dissatisfied {
            Satisfaction::Dissatisfied
        } else {
            match rng.gen_range(0..100) {
                0..=34 => Satisfaction::VerySatisfied,
                35..=89 => Satisfaction::Satisfied,
                _ => Satisfaction::Neutral,
            }
        };
        let rated = DossierRated { dossier_id: dossier_id.to_owned(), satisfaction };
        events.push((returned_at + Duration::hours(3), EventBody::DossierRated(rated)));
    }
    if rng.gen_bool(if late { COMPLAINT_IF_LATE } else { COMPLAINT_IF_ON_TIME }) {
        let kind = if rng.gen_bool(0.5) { ComplaintKind::Report } else { ComplaintKind::Petition };
        let subject = match rng.gen_range(0..10) {
            0..=2 => ComplaintSubject::Reception,
            3..=7 => ComplaintSubject::Handling,
            _ => ComplaintSubject::Regulation,
        };
        // During the handling or after the result.
        let at = received_at + (resolved_at - received_at) * rng.gen_range(1..=12) / 10;
        let complaint = DossierComplaintFiled { dossier_id: dossier_id.to_owned(), kind, subject };
        events.push((at, EventBody::DossierComplaintFiled(complaint)));
    }
    events.sort_by_key(|(at, _)| *at);
    Some(Life { received, received_at, events })
}

/// Puts off a dossier's resolution, and everything after it, by `delay`; a dossier withdrawn
/// before its resolution, or never resolved, is left as it is.
fn stall(life: &mut Life, delay: Duration) {
    let resolved =
        life.events.iter().find(|(_, body)| matches!(body, EventBody::DossierResolved(_))).map(|(at, _)| *at);
    let withdrawn =
        life.events.iter().find(|(_, body)| matches!(body, EventBody::DossierWithdrawn(_))).map(|(at, _)| *at);
    let Some(resolved) = resolved else { return };
    if withdrawn.is_some_and(|withdrawn| withdrawn < resolved) {
        return;
    }
    for (at, _) in life.events.iter_mut().filter(|(at, _)| *at >= resolved) {
        *at += delay;
    }
    life.events.sort_by_key(|(at, _)| *at);
}

/// The instants of a dossier's events of one kind, in time order.
fn times_of(life: &Life, what: fn(&EventBody) -> bool) -> Vec<DateTime<FixedOffset>> {
    life.events.iter().filter(|(_, body)| what(body)).map(|(at, _)| *at).collect()
}

/// Moves the resolution of a dossier whose every request was answered into its last pause,
/// halfway between the request and the resume, with everything after the resolution (results,
/// ratings) moved as much; `drop_resume` removes the resume, which then never comes. A
/// dossier without an answered request or a resolution after it is left as it is.
fn resolve_mid_pause(life: &mut Life, drop_resume: bool) {
    let requests = times_of(life, |b| matches!(b, EventBody::DossierSupplementRequested(_)));
    let resumes = times_of(life, |b| matches!(b, EventBody::DossierResumed(_)));
    let resolutions = times_of(life, |b| matches!(b, EventBody::DossierResolved(_)));
    let (Some(&request), Some(&resume), Some(&resolved)) = (requests.last(), resumes.last(), resolutions.first())
    else {
        return;
    };
    if requests.len() != resumes.len() || resume > resolved {
        return;
    }
    let moved = request + (resume - request) / 2;
    let shift = resolved - moved;
    for (at, _) in life.events.iter_mut().filter(|(at, _)| *at >= resolved) {
        *at -= shift;
    }
    if drop_resume {
        life.events.retain(|(at, body)| !(matches!(body, EventBody::DossierResumed(_)) && *at == resume));
    }
    life.events.sort_by_key(|(at, _)| *at);
}

/// Moves a dossier's last supplement request into the pause before it, halfway between the
/// request before and its resume, and says whether it did: a dossier with one request, no
/// resume for the request before the last, or a last request not before `end`, is left as it is.
fn overlap_last_request(life: &mut Life, end: DateTime<FixedOffset>) -> bool {
    let requests = times_of(life, |b| matches!(b, EventBody::DossierSupplementRequested(_)));
    let resumes = times_of(life, |b| matches!(b, EventBody::DossierResumed(_)));
    let Some(before) = requests.len().checked_sub(2) else {
        return false;
    };
    let (previous, last) = (requests[before], requests[before + 1]);
    let Some(&resume) = resumes.get(before) else {
        return false;
    };
    if last <= resume || last >= end {
        return false;
    }
    let moved = previous + (resume - previous) / 2;
    if let Some((at, _)) = life
        .events
        .iter_mut()
        .find(|(at, body)| *at == last && matches!(body, EventBody::DossierSupplementRequested(_)))
    {
        *at = moved;
    }
    life.events.sort_by_key(|(at, _)| *at);
    true
}

/// Adds a request, never answered, halfway between the request still waiting at `go_live` (its
/// resume, the k-th request pairing with the k-th resume, comes later or never) and `go_live`.
fn request_again_before(life: &mut Life, go_live: DateTime<FixedOffset>) {
    let requests = times_of(life, |b| matches!(b, EventBody::DossierSupplementRequested(_)));
    let resumes = times_of(life, |b| matches!(b, EventBody::DossierResumed(_)));
    let waiting = requests
        .iter()
        .enumerate()
        .find(|(k, at)| **at < go_live && resumes.get(*k).is_none_or(|resume| *resume >= go_live));
    let Some((_, &request)) = waiting else { return };
    let ended = life.events.iter().any(|(at, body)| {
        *at < go_live && matches!(body, EventBody::DossierResolved(_) | EventBody::DossierWithdrawn(_))
    });
    if ended || requests.iter().any(|at| *at > request && *at < go_live) {
        return;
    }
    let again = DossierRef { dossier_id: life.received.dossier_id.clone() };
    life.events.push((request + (go_live - request) / 2, EventBody::DossierSupplementRequested(again)));
    life.events.sort_by_key(|(at, _)| *at);
}

/// The dossier's last event, when it is a supplement request that nothing answers or ends.
fn unanswered_last_request(life: &Life) -> Option<DateTime<FixedOffset>> {
    let ends = |body: &EventBody| {
        matches!(body, EventBody::DossierResolved(_) | EventBody::DossierWithdrawn(_) | EventBody::DossierResumed(_))
    };
    let (request, _) =
        life.events.last().filter(|(_, body)| matches!(body, EventBody::DossierSupplementRequested(_)))?;
    (!life.events.iter().any(|(at, body)| ends(body) && at > request)).then_some(*request)
}

/// Ends a dossier whose last request is never answered (nor the dossier withdrawn) with a
/// resolution after the waiting time: `answered` first sends the late resume, then another
/// request and its resume the next days, then the resolution; otherwise the resolution alone
/// comes that many days after the request. The result is returned 45 minutes after it.
fn end_unanswered(life: &mut Life, answered: bool) {
    let Some(request) = unanswered_last_request(life) else { return };
    let id = || DossierRef { dossier_id: life.received.dossier_id.clone() };
    let late = request + Duration::days(LATE_ANSWER_AFTER_DAYS);
    let mut after = Vec::new();
    if answered {
        after.push((late, EventBody::DossierResumed(id())));
        after.push((late + Duration::days(1), EventBody::DossierSupplementRequested(id())));
        after.push((late + Duration::days(2), EventBody::DossierResumed(id())));
    }
    let resolved_at = late + Duration::days(if answered { 3 } else { 0 });
    let resolved = DossierResolved { dossier_id: life.received.dossier_id.clone(), outcome: Outcome::Approved };
    after.push((resolved_at, EventBody::DossierResolved(resolved)));
    let returned =
        DossierResultReturned { dossier_id: life.received.dossier_id.clone(), result_form: ResultForm::Electronic };
    after.push((resolved_at + Duration::minutes(45), EventBody::DossierResultReturned(returned)));
    life.events.extend(after);
}

/// Moves a dossier's reception to `at`, earlier on the same day: its clock starts there.
fn receive_at(life: &mut Life, at: DateTime<FixedOffset>) {
    if at >= life.received_at {
        return;
    }
    for (event_at, body) in &mut life.events {
        if matches!(body, EventBody::DossierReceived(_)) {
            *event_at = at;
        }
    }
    life.received_at = at;
}

/// What a snapshot at `go_live` says of the events before it, which are not sent: components
/// digitised and reused, how the fee was paid (online if any part was), and what a complaint
/// was about (reception or handling if any was).
#[derive(Default)]
struct BeforeGoLive {
    components_digitised: Option<u16>,
    components_reused: Option<u16>,
    payment_method: Option<PaymentMethod>,
    complaint_subject: Option<ComplaintSubject>,
}

impl BeforeGoLive {
    fn of(events: &[(DateTime<FixedOffset>, EventBody)], go_live: DateTime<FixedOffset>) -> BeforeGoLive {
        let mut before = BeforeGoLive::default();
        let add = |sum: Option<u16>, n: u16| {
            let total = sum.unwrap_or(0).saturating_add(n);
            (total > 0).then_some(total)
        };
        for (_, body) in events.iter().filter(|(at, _)| *at < go_live) {
            match body {
                EventBody::DossierDigitised(d) => {
                    before.components_digitised = add(before.components_digitised, d.components_digitised);
                    before.components_reused = add(before.components_reused, d.components_reused);
                }
                EventBody::DossierPaid(p) if before.payment_method != Some(PaymentMethod::Online) => {
                    before.payment_method = Some(p.method);
                }
                EventBody::DossierComplaintFiled(c)
                    if !before.complaint_subject.is_some_and(|subject| subject.about_the_dossier()) =>
                {
                    before.complaint_subject = Some(c.subject);
                }
                _ => {}
            }
        }
        before
    }
}

/// Sends what a source joining the stream at `go_live` sends of a dossier received before: a
/// snapshot of it if it is still open then (with the clock time already paused), every
/// supplement request still waiting at its own time, and everything after; and the rare
/// `cases` (their ids derived, so no draw changes).
fn send_backlog(
    factory: &mut EventFactory<'_>,
    unit: &Unit,
    life: Life,
    go_live: DateTime<FixedOffset>,
    cases: &BacklogCases,
) {
    let go_live_at = go_live.timestamp();
    let before: Vec<_> = life.events.iter().filter(|(at, _)| *at < go_live).cloned().collect();
    let history = dossier_of(&life, &before);
    if !history.open_at(go_live_at) {
        if let Some(from) = cases.after_close {
            let after = life.events.into_iter().filter(|(at, _)| *at >= go_live);
            for (nth, (at, body)) in (0..=u8::MAX).zip(after) {
                factory.emit_derived(Source::Portal, unit, at, body, super::nth(from, nth));
            }
        }
        return;
    }
    let waiting = waiting_at_go_live(&history);
    let paused_seconds = paused_at_go_live(&history.pauses(), waiting.first().copied());
    let received = &life.received;
    let before = BeforeGoLive::of(&life.events, go_live);
    let snapshot = DossierSnapshot {
        dossier_id: received.dossier_id.clone(),
        procedure_code: received.procedure_code.clone(),
        channel: received.channel,
        service_level: received.service_level,
        dossier_received_at: life.received_at,
        due_at: received.due_at,
        fee_bearing: received.fee_bearing,
        paused_seconds: u32::try_from(paused_seconds.max(0)).unwrap_or(u32::MAX),
        components_digitised: before.components_digitised,
        components_reused: before.components_reused,
        payment_method: before.payment_method,
        complaint_subject: before.complaint_subject,
    };
    let snapshot_sent = factory.emit(Source::Portal, unit, go_live, EventBody::DossierSnapshot(snapshot));
    let snapshot_id = factory.events.last().map(|e| e.event_id).filter(|_| snapshot_sent);
    if let (true, Some(from)) = (cases.resend_reception, snapshot_id) {
        let body = EventBody::DossierReceived(life.received.clone());
        factory.emit_derived(Source::Portal, unit, life.received_at, body, from);
    }
    // The ids: one request still waiting draws its id as any event, as the only one sent did
    // before every waiting request was (the pause left running by the requests before go-live,
    // `unanswered`); the others derive theirs from the snapshot's, so that the events drawn
    // after stay as they were.
    let unanswered = history.pauses().last().filter(|pause| pause.until.is_none()).map(|pause| pause.requested);
    let mut nth = 0;
    for (at, body) in life.events {
        let still_waiting = at < go_live
            && matches!(body, EventBody::DossierSupplementRequested(_))
            && waiting.contains(&at.timestamp());
        if at >= go_live || (still_waiting && Some(at.timestamp()) == unanswered) {
            factory.emit(Source::Portal, unit, at, body);
        } else if let (true, Some(from)) = (still_waiting, snapshot_id) {
            nth += 1;
            factory.emit_derived(Source::Portal, unit, at, body, super::nth(from, nth));
        }
    }
    if let (Some(at), Some(from)) = (cases.withdrawn_after_wait.filter(|at| *at >= go_live), snapshot_id) {
        let withdrawn = DossierRef { dossier_id: received.dossier_id.clone() };
        factory.emit_derived(
            Source::Portal,
            unit,
            at,
            EventBody::DossierWithdrawn(withdrawn),
            super::nth(from, u8::MAX),
        );
    }
}

/// What else a source sends of one dossier of the backlog (the rare cases, chosen by serial).
#[derive(Debug, Default)]
struct BacklogCases {
    /// Its original reception too, after go-live (`RESENT_RECEPTION_EVERY`).
    resend_reception: bool,
    /// A withdrawal then, if after go-live (`WITHDRAWN_AFTER_RETURN_AT`).
    withdrawn_after_wait: Option<DateTime<FixedOffset>>,
    /// Closed before go-live: its events after go-live, their ids derived from this
    /// (`AFTER_CLOSE_EVERY`); otherwise nothing of it is sent.
    after_close: Option<uuid::Uuid>,
}

/// The requests still waiting at go-live: those whose resume (the k-th request pairs with the
/// k-th resume) had not come. Each is sent as its own event at its own time, so that the
/// requests and resumes after go-live pair as they did in the dossier's life; sending only the
/// first, when two overlapping requests waited, paired the second resume with the next request
/// after go-live and left that one's wait without an end.
fn waiting_at_go_live(history: &Dossier) -> Vec<i64> {
    history.requests.iter().skip(history.resumes.len()).copied().collect()
}

/// The clock time the completed pauses stopped before go-live, as a snapshot says it: counted
/// only up to the first request still waiting (its own pause covers the rest of any that
/// overlapped it; counted in both, those hours would count twice).
fn paused_at_go_live(pauses: &[Pause], first_waiting: Option<i64>) -> i64 {
    pauses
        .iter()
        .filter(|pause| pause.until.is_some())
        .map(|pause| pause.seconds_before(first_waiting.unwrap_or(i64::MAX)))
        .sum()
}

/// The ground truth's view of a dossier from some of its events, to know its state at go-live.
fn dossier_of(life: &Life, events: &[(DateTime<FixedOffset>, EventBody)]) -> Dossier {
    let mut dossier = Dossier {
        received_at: life.received_at.timestamp(),
        tracked_from: life.received_at.timestamp(),
        due_at: life.received.due_at.timestamp(),
        ..Dossier::default()
    };
    for (at, body) in events {
        let at = at.timestamp();
        match body {
            EventBody::DossierSupplementRequested(_) => dossier.requests.push(at),
            EventBody::DossierResumed(_) => dossier.resumes.push(at),
            EventBody::DossierResolved(_) => dossier.resolution = dossier.resolution.or(Some(at)),
            EventBody::DossierWithdrawn(_) => dossier.withdrawal = dossier.withdrawal.or(Some(at)),
            _ => {}
        }
    }
    dossier
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_counts_completed_pauses_up_to_the_request_still_waiting() {
        // Waiting for supplements 0..5; a second request at 2 still waits at go-live: the
        // snapshot says 2, and the request's own pause runs from 2.
        let overlapped =
            [Pause { requested: 0, from: 0, until: Some(5) }, Pause { requested: 2, from: 5, until: None }];
        assert_eq!(paused_at_go_live(&overlapped, Some(2)), 2);
        let apart = [Pause { requested: 0, from: 0, until: Some(5) }, Pause { requested: 7, from: 7, until: None }];
        assert_eq!(paused_at_go_live(&apart, Some(7)), 5);
        let answered =
            [Pause { requested: 0, from: 0, until: Some(5) }, Pause { requested: 7, from: 7, until: Some(9) }];
        assert_eq!(paused_at_go_live(&answered, None), 7);
        let two_waiting = Dossier { requests: vec![0, 2, 7], resumes: vec![5], ..Dossier::default() };
        assert_eq!(waiting_at_go_live(&two_waiting), [2, 7], "the second and third requests wait");
    }

    /// What a source sends of a dossier at go-live (its snapshot, the requests still waiting,
    /// everything after) must tell the same as the dossier's whole life from then on: when it
    /// ends, and its clock (so whether it is late) at every instant after. Checked on planned
    /// lives, with the simulator's overlapping, unanswered and mid-pause cases, and go-live at
    /// each day of their lives; the whole life is read by the ground truth's rules, which
    /// follow docs/indicators.md, not by the pipeline's SQL.
    #[test]
    fn what_the_backlog_sends_tells_the_dossier_as_it_lived() {
        use rand::SeedableRng;
        let reference = ioc_reference::ReferenceData::load(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schemas/reference"),
        )
        .expect("reference");
        let unit = reference.units[0].clone();
        let profile = UnitProfile { skew: 0.0 };
        let day = NaiveDate::from_ymd_opt(2026, 6, 1).expect("day");
        let far = local_time(day + Duration::days(400), 0, 0);
        let mut rng = ChaCha8Rng::seed_from_u64(61);
        let (mut checked, mut waiting_together) = (0, 0);
        for n in 0..4_000_u64 {
            let id = format!("HS-{n}");
            let Some(mut life) = plan(&mut rng, &id, day, &profile, &reference.procedures) else { continue };
            match n % 6 {
                0 | 1 => {
                    overlap_last_request(&mut life, far);
                }
                2 => resolve_mid_pause(&mut life, n % 12 == 2),
                3 => end_unanswered(&mut life, n % 12 == 3),
                4 => {
                    if let Some(request) = unanswered_last_request(&life) {
                        let withdrawn = DossierRef { dossier_id: id.clone() };
                        life.events.push((
                            request + Duration::days(LATE_ANSWER_AFTER_DAYS),
                            EventBody::DossierWithdrawn(withdrawn),
                        ));
                    }
                }
                _ => {}
            }
            let lived = dossier_of(&life, &life.events);
            let last = life.events.last().map_or(life.received_at, |(at, _)| *at);
            for days in 1..=(last - life.received_at).num_days() + 1 {
                let go_live = local_time(day + Duration::days(days), 0, 5);
                let before =
                    dossier_of(&life, &life.events.iter().filter(|(at, _)| *at < go_live).cloned().collect::<Vec<_>>());
                let mut draws = ChaCha8Rng::seed_from_u64(n);
                let mut factory = EventFactory::new(&mut draws, far, 0);
                send_backlog(&mut factory, &unit, life.clone(), go_live, &BacklogCases::default());
                let go_live_at = go_live.timestamp();
                if factory.events.is_empty() {
                    assert!(!lived.open_at(go_live_at), "{id} open at go-live {go_live} but not sent");
                    continue;
                }
                let requests_waiting = before.requests.len().saturating_sub(before.resumes.len());
                waiting_together += usize::from(requests_waiting >= 2);
                let facts = crate::truth::Facts::from_events(&factory.events);
                let sent = &facts.dossiers[&id];
                let context = || format!("{id}, go-live {go_live}: lived {lived:?}, sent {sent:?}");
                assert_eq!(sent.closed_at(), lived.closed_at(), "ends: {}", context());
                let mut at = go_live_at;
                while at < last.timestamp() + 40 * 86_400 {
                    assert_eq!(sent.active_seconds(at), lived.active_seconds(at), "clock at {at}: {}", context());
                    at += 3 * 3_600;
                }
                checked += 1;
            }
        }
        assert!(checked > 1_000, "{checked} go-lives checked");
        assert!(waiting_together > 0, "no dossier with two requests waiting at go-live among {checked}");
    }
}
