//! ioc-ingest against the real local Kafka: every kind of bad request gets its status and a
//! reason, good events land on the source's topic pseudonymised, and an unreachable Kafka
//! yields 503 with Retry-After and nothing reported accepted.

use std::io::Write;
use std::time::Duration;

use flate2::write::GzEncoder;
use flate2::Compression;
use ioc_domain::Source;
use ioc_e2e::topic_reader::{first_messages, header};
use ioc_e2e::{ingest_config, kafka_brokers, on_stop, random_keys, random_name, spawn, Running};
use ioc_ingest::IngestConfig;
use ioc_kafka::KafkaConfig;
use rdkafka::Message;
use reqwest::header::{AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE, RETRY_AFTER};
use serde_json::{json, Value};

const EXAMPLE: &str = include_str!("../../../schemas/events/examples/valid/dossier.received.json");

fn example() -> Value {
    serde_json::from_str(EXAMPLE).expect("example parses")
}

async fn start(config: IngestConfig) -> Running {
    spawn(|listener, stopped| ioc_ingest::serve(config, listener, on_stop(stopped))).await
}

struct Ingest {
    running: Running,
    keys: std::collections::BTreeMap<Source, String>,
    kafka: KafkaConfig,
    client: reqwest::Client,
}

impl Ingest {
    async fn start(tune: impl FnOnce(&mut IngestConfig)) -> Ingest {
        ioc_service::init_logging();
        let kafka = KafkaConfig { brokers: kafka_brokers(), topic_prefix: random_name("t"), ..KafkaConfig::default() };
        kafka.ensure_topics(&[Source::Portal.topic(&kafka.topic_prefix)]).await.expect("topic created");
        let keys = random_keys();
        let mut config = ingest_config(&kafka, &keys);
        tune(&mut config);
        Ingest { running: start(config).await, keys, kafka, client: reqwest::Client::new() }
    }

    fn post(&self, source: &str, key: Option<&str>) -> reqwest::RequestBuilder {
        let request = self.client.post(format!("{}/v1/sources/{source}/events", self.running.url));
        match key {
            Some(key) => request.header(AUTHORIZATION, format!("Bearer {key}")),
            None => request,
        }
    }

    /// A portal request with the right key and no Content-Type yet.
    fn portal_bare(&self) -> reqwest::RequestBuilder {
        self.post("portal", Some(&self.keys[&Source::Portal]))
    }

    /// A portal NDJSON request with the right key.
    fn portal(&self) -> reqwest::RequestBuilder {
        self.portal_bare().header(CONTENT_TYPE, "application/x-ndjson")
    }
}

/// The answer's JSON, after checking it against what ingest's OpenAPI document
/// (schemas/ingest/openapi.json) says an answer with its status holds.
async fn documented_answer(response: reqwest::Response) -> Value {
    let status = response.status().as_u16();
    let schema = ioc_ingest::openapi::answer_schema(status)
        .unwrap_or_else(|| panic!("status {status} is not in schemas/ingest/openapi.json"));
    let body: Value = response.json().await.expect("a json answer");
    let contract = jsonschema::validator_for(&schema).expect("the document's schema compiles");
    let violations: Vec<String> = contract.iter_errors(&body).map(|e| e.to_string()).collect();
    assert!(violations.is_empty(), "{status} {body} breaks schemas/ingest/openapi.json: {violations:?}");
    body
}

async fn expect_error(response: reqwest::Response, status: u16, code: &str, mentions: &str) -> Value {
    assert_eq!(response.status(), status);
    let body = documented_answer(response).await;
    assert_eq!(body["error"], code, "{body}");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(message.contains(mentions), "message {message:?} should mention {mentions:?}");
    body
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(bytes).expect("gzip");
    encoder.finish().expect("gzip")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routing_and_authentication_errors() {
    let ingest = Ingest::start(|_| {}).await;
    let body = example().to_string();
    let unknown = ingest
        .post("parking", Some(&ingest.keys[&Source::Portal]))
        .header(CONTENT_TYPE, "application/x-ndjson")
        .body(body.clone());
    expect_error(unknown.send().await.expect("sent"), 404, "unknown_source", "parking").await;
    let not_utf8 = ingest
        .post("%FF", Some(&ingest.keys[&Source::Portal]))
        .header(CONTENT_TYPE, "application/x-ndjson")
        .body(body.clone());
    expect_error(not_utf8.send().await.expect("sent"), 404, "unknown_source", "portal").await;
    let nowhere = ingest.client.post(format!("{}/v1/events", ingest.running.url)).body(body.clone());
    expect_error(nowhere.send().await.expect("sent"), 404, "not_found", "POST /v1/sources/").await;
    let read = ingest.client.get(format!("{}/v1/sources/portal/events", ingest.running.url));
    let read = read.send().await.expect("sent");
    assert_eq!(read.headers().get("allow").map(|allow| allow.to_str().unwrap_or_default()), Some("POST"));
    expect_error(read, 405, "method_not_allowed", "POST").await;
    let document = ingest.client.get(format!("{}/openapi.json", ingest.running.url)).send().await.expect("sent");
    assert_eq!(document.json::<Value>().await.expect("json"), ioc_ingest::openapi::document());

    let missing = ingest.post("portal", None).header(CONTENT_TYPE, "application/x-ndjson").body(body.clone());
    expect_error(missing.send().await.expect("sent"), 401, "unauthenticated", "Authorization").await;

    let wrong =
        ingest.post("portal", Some("not-a-key")).header(CONTENT_TYPE, "application/x-ndjson").body(body.clone());
    expect_error(wrong.send().await.expect("sent"), 401, "unauthenticated", "unknown").await;

    let old_key = "portal-key-that-leaked".to_owned();
    let revoked = Ingest::start(|config| config.revoked_keys = vec![ioc_ingest::auth::digest(&old_key)]).await;
    let leaked = revoked.post("portal", Some(&old_key)).header(CONTENT_TYPE, "application/x-ndjson").body(body.clone());
    expect_error(leaked.send().await.expect("sent"), 401, "unauthenticated", "revoked").await;

    let other = ingest
        .post("portal", Some(&ingest.keys[&Source::Edoc]))
        .header(CONTENT_TYPE, "application/x-ndjson")
        .body(body);
    expect_error(other.send().await.expect("sent"), 403, "forbidden", "edoc").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_errors_say_what_is_wrong() {
    let ingest = Ingest::start(|config| {
        config.max_body_bytes = 16 * 1024;
        config.max_decompressed_bytes = 64 * 1024;
        config.max_events_per_request = 3;
    })
    .await;
    let line = example().to_string();

    let text = ingest.portal_bare().header(CONTENT_TYPE, "text/plain").body(line.clone());
    expect_error(text.send().await.expect("sent"), 415, "unsupported_media_type", "text/plain").await;
    let brotli = ingest.portal().header(CONTENT_ENCODING, "br").body(line.clone());
    expect_error(brotli.send().await.expect("sent"), 415, "unsupported_media_type", "br").await;

    let big = ingest.portal().body(format!("{line}\n").repeat(60));
    expect_error(big.send().await.expect("sent"), 413, "payload_too_large", "16384").await;
    let bomb = ingest.portal().header(CONTENT_ENCODING, "gzip").body(gzip(&vec![b' '; 10 * 1024 * 1024]));
    expect_error(bomb.send().await.expect("sent"), 413, "payload_too_large", "decompressed").await;
    let many = ingest.portal().body("{}\n".repeat(4));
    expect_error(many.send().await.expect("sent"), 413, "payload_too_large", "at most 3").await;

    let array = ingest.portal_bare().header(CONTENT_TYPE, "application/json").body(format!("[{line},"));
    expect_error(array.send().await.expect("sent"), 400, "malformed_body", "JSON array").await;
    let not_gzip = ingest.portal().header(CONTENT_ENCODING, "gzip").body(line.clone());
    expect_error(not_gzip.send().await.expect("sent"), 400, "malformed_body", "gzip").await;
    let mut trailing = gzip(line.as_bytes());
    trailing.extend_from_slice(b"not a gzip member");
    let garbage = ingest.portal().header(CONTENT_ENCODING, "gzip").body(trailing);
    expect_error(garbage.send().await.expect("sent"), 400, "malformed_body", "gzip").await;
    let latin1 = ingest.portal().body(vec![b'{', 0xe9, b'}']);
    expect_error(latin1.send().await.expect("sent"), 400, "malformed_body", "UTF-8").await;
    let empty = ingest.portal().body("\n\n");
    expect_error(empty.send().await.expect("sent"), 400, "malformed_body", "no events").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn valid_events_reach_kafka_pseudonymised_and_invalid_ones_are_reported_per_event() {
    let ingest = Ingest::start(|_| {}).await;
    let valid = example();
    let mut invalid = example();
    invalid["channel"] = json!("fax");
    invalid["event_id"] = json!("7f1c2a8e-5b3d-4c1e-9a0f-2d6b8e4c1aff");
    let mut foreign = example();
    foreign["event_id"] = json!("7f1c2a8e-5b3d-4c1e-9a0f-2d6b8e4c1afe");
    foreign["source"] = json!("edoc");
    // Valid by its schema, but ClickHouse's DateTime cannot hold it: it used to be accepted and
    // then dead-lettered by the processor, out of the source's sight.
    let mut unstorable = example();
    unstorable["event_id"] = json!("7f1c2a8e-5b3d-4c1e-9a0f-2d6b8e4c1afd");
    unstorable["due_at"] = json!("2200-01-01T17:00:00+07:00");

    // A JSON array, gzip-compressed: the other accepted framing.
    let body = serde_json::to_vec(&json!([valid, invalid, "not an event", foreign, unstorable])).expect("json");
    let response = ingest
        .portal_bare()
        .header(CONTENT_TYPE, "application/json")
        .header(CONTENT_ENCODING, "gzip")
        .body(gzip(&body))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    let answer = documented_answer(response).await;
    assert_eq!((answer["accepted"].as_u64(), answer["rejected"].as_u64()), (Some(1), Some(4)), "{answer}");
    let results = answer["results"].as_array().expect("results");
    assert_eq!(results[0]["status"], "accepted");
    assert_eq!(results[0]["event_id"], valid["event_id"]);
    assert!(results[1]["reason"].as_str().unwrap_or_default().contains("/channel"), "{answer}");
    assert!(results[2]["reason"].as_str().unwrap_or_default().contains("object"), "{answer}");
    assert!(results[3]["reason"].as_str().unwrap_or_default().contains("source"), "{answer}");
    let reason = results[4]["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("due_at 2200-01-01") && reason.contains("store can hold"), "{answer}");

    // Nothing acceptable at all: 422, still with a reason per event.
    let response = ingest.portal().body(format!("{invalid}\n")).send().await.expect("sent");
    assert_eq!(response.status(), 422);

    // The accepted event is on the portal topic, keyed by dossier, without the clear identifiers.
    let message = first_messages(&ingest.kafka, &Source::Portal.topic(&ingest.kafka.topic_prefix), 1).await.remove(0);
    assert_eq!(message.key(), Some(valid["dossier_id"].as_str().expect("id").as_bytes()));
    let raw = String::from_utf8_lossy(message.payload().expect("payload")).into_owned();
    for clear in [valid["applicant_id"].as_str().expect("id"), valid["applicant_phone"].as_str().expect("phone")] {
        assert!(!raw.contains(clear), "clear identifier {clear} on the topic: {raw}");
    }
    let stored: Value = serde_json::from_str(&raw).expect("json payload");
    assert_eq!(stored["applicant_ref"].as_str().map(str::len), Some(64));
    assert!(stored["received_at"].is_string());

    let metrics = ingest
        .client
        .get(format!("{}/metrics", ingest.running.url))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(metrics.contains("ioc_ingest_events_total{outcome=\"accepted\",source=\"portal\"} 1"), "{metrics}");
}

/// The first `count` messages on `ingest`'s portal topic, each as (key, framing header,
/// payload), sorted by key: the topic has several partitions, read in no set order.
async fn portal_messages(ingest: &Ingest, count: usize) -> Vec<(String, Option<String>, String)> {
    let text = |bytes: Option<&[u8]>| bytes.map(|b| String::from_utf8_lossy(b).into_owned()).unwrap_or_default();
    let mut messages: Vec<(String, Option<String>, String)> =
        first_messages(&ingest.kafka, &Source::Portal.topic(&ingest.kafka.topic_prefix), count)
            .await
            .iter()
            .map(|message| (text(message.key()), header(message, ioc_kafka::framing::FRAMING), text(message.payload())))
            .collect();
    messages.sort();
    messages
}

/// Five dossiers' events, the second invalid: a request's valid events go into messages of
/// `max_events_per_message`, one per line in the request's order, each keyed by its first
/// event's dossier; with 1, each event is a message of its own without the framing header.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_requests_events_share_messages_one_per_line_in_order() {
    let events: Vec<Value> = (0..5)
        .map(|n| {
            let mut event = example();
            event["event_id"] = json!(format!("7f1c2a8e-5b3d-4c1e-9a0f-2d6b8e4c1b0{n}"));
            event["dossier_id"] = json!(format!("H37.105-261005-000{n}"));
            if n == 1 {
                event["channel"] = json!("carrier pigeon");
            }
            event
        })
        .collect();
    let body: String = events.iter().map(|event| format!("{event}\n")).collect();
    let dossier = |n: usize| format!("H37.105-261005-000{n}");
    for (per_message, expected) in [(2, vec![vec![0, 2], vec![3, 4]]), (1, vec![vec![0], vec![2], vec![3], vec![4]])] {
        let ingest = Ingest::start(|config| config.max_events_per_message = per_message).await;
        let response = ingest.portal().body(body.clone()).send().await.expect("sent");
        let answer = documented_answer(response).await;
        assert_eq!((answer["accepted"].as_u64(), answer["rejected"].as_u64()), (Some(4), Some(1)), "{answer}");
        let messages = portal_messages(&ingest, expected.len()).await;
        for ((key, framing, payload), held) in messages.iter().zip(&expected) {
            assert_eq!(key, &dossier(held[0]), "keyed by its first event's dossier");
            let framed = per_message > 1;
            assert_eq!(framing.as_deref(), framed.then_some(ioc_kafka::framing::NDJSON), "{payload}");
            let dossiers: Vec<String> = ioc_kafka::framing::ndjson_lines(payload.as_bytes())
                .map(|(_, line)| serde_json::from_slice::<Value>(line).expect("a line is an event"))
                .map(|event| event["dossier_id"].as_str().expect("dossier").to_owned())
                .collect();
            assert_eq!(dossiers, held.iter().map(|&n| dossier(n)).collect::<Vec<_>>(), "per_message {per_message}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_trickled_slower_than_the_deadline_gets_408_and_frees_its_place() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let ingest = Ingest::start(|config| {
        config.body_read_timeout_ms = 300;
        config.max_in_flight_requests = 1;
    })
    .await;
    // Headers promising 1,000 bytes, then 10 of them, then nothing: the only place in flight
    // would be held for as long as the connection lived.
    let address = ingest.running.url.trim_start_matches("http://").to_owned();
    let mut slow = tokio::net::TcpStream::connect(&address).await.expect("connect");
    let head = format!(
        "POST /v1/sources/portal/events HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/x-ndjson\r\nContent-Length: 1000\r\n\r\n{{\"event_id",
        ingest.keys[&Source::Portal]
    );
    slow.write_all(head.as_bytes()).await.expect("write");
    let mut answer = String::new();
    let reading = async {
        let mut buffer = [0_u8; 4096];
        // Until the body's message is in (headers and body may come in separate reads) or EOF.
        while !answer.contains("body_read_timeout_ms") {
            let read = slow.read(&mut buffer).await.expect("read");
            if read == 0 {
                break;
            }
            answer.push_str(&String::from_utf8_lossy(&buffer[..read]));
        }
    };
    tokio::time::timeout(Duration::from_secs(10), reading).await.expect("an answer within 10 s, not a held request");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("request_timeout") && answer.contains("body_read_timeout_ms"), "{answer}");
    // Its place is free again: a whole request passes.
    let whole = ingest.portal().body(format!("{}\n", example())).send().await.expect("sent");
    assert_eq!(whole.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gzip_body_of_several_members_is_read_whole() {
    let ingest = Ingest::start(|_| {}).await;
    let first = example();
    let mut second = example();
    second["event_id"] = json!("7f1c2a8e-5b3d-4c1e-9a0f-2d6b8e4c1a01");
    // `cat a.gz b.gz`: gzip's own way of appending; each member is one event here.
    let mut body = gzip(format!("{first}\n").as_bytes());
    body.extend(gzip(format!("{second}\n").as_bytes()));
    let response = ingest.portal().header(CONTENT_ENCODING, "gzip").body(body).send().await.expect("sent");
    assert_eq!(response.status(), 200);
    let answer = documented_answer(response).await;
    assert_eq!((answer["accepted"].as_u64(), answer["rejected"].as_u64()), (Some(2), Some(0)), "{answer}");
    assert_eq!(answer["results"][1]["event_id"], second["event_id"], "{answer}");
    // The scheme's name in any case (RFC 9110): a sender writing "bearer" is not refused.
    let lower = ingest
        .post("portal", None)
        .header(CONTENT_TYPE, "application/x-ndjson")
        .header(AUTHORIZATION, format!("bearer {}", ingest.keys[&Source::Portal]))
        .body(format!("{first}\n"));
    assert_eq!(lower.send().await.expect("sent").status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_event_limits_refuse_only_the_offending_event_with_the_reason() {
    let ingest = Ingest::start(|config| {
        config.max_event_age_days = 30;
        config.max_string_chars = 100;
        config.max_depth = 2;
    })
    .await;
    let fresh = |id: &str| {
        let mut event = example();
        event["event_id"] = json!(id);
        event["occurred_at"] = json!(chrono::Utc::now().to_rfc3339());
        event
    };
    let good = fresh("00000000-0000-4000-8000-000000000001");
    let mut old = fresh("00000000-0000-4000-8000-000000000002");
    old["occurred_at"] = json!("2020-01-01T08:00:00+07:00");
    let mut future = fresh("00000000-0000-4000-8000-000000000003");
    future["occurred_at"] = json!((chrono::Utc::now() + chrono::Duration::hours(2)).to_rfc3339());
    let mut long = fresh("00000000-0000-4000-8000-000000000004");
    long["procedure_code"] = json!("x".repeat(5_000));
    let mut deep = fresh("00000000-0000-4000-8000-000000000005");
    deep["extra"] = json!({"a": {"b": {"c": 1}}});
    let body: String = [&good, &old, &future, &long, &deep].iter().map(|e| format!("{e}\n")).collect();
    let response = ingest.portal().body(body).send().await.expect("sent");
    assert_eq!(response.status(), 200);
    let answer = documented_answer(response).await;
    let reasons: Vec<&str> =
        answer["results"].as_array().expect("results").iter().map(|r| r["reason"].as_str().unwrap_or("")).collect();
    assert_eq!(answer["results"][0]["status"], "accepted", "{answer}");
    assert!(reasons[1].contains("days old"), "{answer}");
    assert!(reasons[2].contains("future"), "{answer}");
    assert!(reasons[3].contains("longer than 100"), "{answer}");
    assert!(reasons[4].contains("deeper than 2"), "{answer}");
    // The metrics count each refusal by its kind.
    let metrics =
        reqwest::get(format!("{}/metrics", ingest.running.url)).await.expect("metrics").text().await.expect("text");
    for (reason, count) in [("out_of_time", 2), ("over_limit", 2)] {
        let line = format!("ioc_ingest_rejected_events_total{{reason=\"{reason}\",source=\"portal\"}} {count}");
        assert!(metrics.lines().any(|l| l == line), "no `{line}` in:\n{metrics}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_over_its_rate_gets_429_and_others_are_not_slowed() {
    let ingest = Ingest::start(|config| {
        config
            .rate_limits
            .insert("portal".into(), ioc_ingest::config::RateLimit { events_per_second: 0.001, burst: 2.0 });
    })
    .await;
    let line = format!("{}\n", example());
    let first = ingest.portal().body(line.repeat(2)).send().await.expect("sent");
    assert_eq!(first.status(), 200);
    let second = ingest.portal().body(line.clone()).send().await.expect("sent");
    assert!(second.headers().get(RETRY_AFTER).is_some(), "{:?}", second.headers());
    expect_error(second, 429, "rate_limited", "portal").await;
    // More than the burst can never pass, however long the sender waits: 413, not 429.
    let over_burst = ingest.portal().body(line.repeat(3)).send().await.expect("sent");
    assert!(over_burst.headers().get(RETRY_AFTER).is_none(), "{:?}", over_burst.headers());
    expect_error(over_burst, 413, "payload_too_large", "at most 2 events").await;
    let mut edoc: Value =
        serde_json::from_str(include_str!("../../../schemas/events/examples/valid/work_record.closed.json"))
            .expect("example");
    edoc["occurred_at"] = json!(chrono::Utc::now().to_rfc3339());
    let other = ingest
        .post("edoc", Some(&ingest.keys[&Source::Edoc]))
        .header(CONTENT_TYPE, "application/x-ndjson")
        .body(format!("{edoc}\n").repeat(50));
    assert_eq!(other.send().await.expect("sent").status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_kafka_gives_503_with_retry_after_and_accepts_nothing() {
    let ingest = Ingest::start(|config| {
        config.kafka.brokers = "127.0.0.1:1".into();
        config.kafka.message_timeout_ms = 2_000;
    })
    .await;
    let response = ingest.portal().body(example().to_string()).send().await.expect("sent");
    assert_eq!(response.status(), 503);
    assert!(response.headers().get(RETRY_AFTER).is_some());
    let answer = documented_answer(response).await;
    assert_eq!((answer["accepted"].as_u64(), answer["unacknowledged"].as_u64()), (Some(0), Some(1)), "{answer}");
    assert_eq!(answer["results"][0]["status"], "unacknowledged");

    let ready = ingest.client.get(format!("{}/readyz", ingest.running.url)).send().await.expect("readyz");
    assert_eq!(ready.status(), 503);
    let health = ingest.client.get(format!("{}/healthz", ingest.running.url)).send().await.expect("healthz");
    assert_eq!(health.status(), 200);
}
