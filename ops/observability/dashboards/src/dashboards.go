package main

// What each dashboard shows. Queries follow three habits:
//   - rates use Grafana's $__rate_interval, and every query filters on the `source` variable
//     where the metric has a source (tables are <source>_events);
//   - a counter with labels exists only after its first increment, so an error panel adds a zero
//     for each source (or table, route) that has traffic but no error yet: "0", not "No data";
//   - metrics that may legitimately be absent (canary, process metrics) are marked optional and
//     show a text instead of "No data".

import (
	"fmt"
	"strings"
)

const (
	bySource = `source=~"$source"`
	byTable  = `table=~"($source)_events"`
	byJob    = `job=~"$job"`
	// Routes that are probes or the metrics endpoint, left out of the API's error and latency
	// figures as they are in the alert rules.
	notProbes = `route!~"/healthz|/readyz|/metrics"`
)

// rate: per-second rate of a counter, summed by the given labels.
func rate(metric, selector, by string) string {
	return fmt.Sprintf("sum by (%s) (rate(%s{%s}[$__rate_interval]))", by, metric, selector)
}

// zeroFilled: expr, or a zero for each `key` seen in `fill` (a counter that moves with traffic)
// for which expr has no series yet.
func zeroFilled(expr, key, fill, fillSelector string) string {
	return fmt.Sprintf("%s\nor on(%s) (%s * 0)", expr, key, rate(fill, fillSelector, key))
}

// quantile of a histogram over $__rate_interval, by the given labels.
func quantile(phi, histogram, selector, by string) string {
	by = strings.TrimSpace(by + ", le")
	by = strings.TrimPrefix(by, ", ")
	return fmt.Sprintf("histogram_quantile(%s, sum by (%s) (rate(%s_bucket{%s}[$__rate_interval])))", phi, by, histogram, selector)
}

func ageOf(gauge string) string {
	return fmt.Sprintf("time() - max by (source) (%s{%s} > 0)", gauge, bySource)
}

var (
	newestEventAge = ageOf("ioc_processor_newest_event_timestamp_seconds")
	rollupAge      = ageOf("ioc_processor_rollup_covered_until_timestamp_seconds")
	missingEvents  = fmt.Sprintf("max by (source) (ioc_processor_completeness_missing_events{%s})", bySource)
	consumerLag    = fmt.Sprintf("sum by (source) (max by (source, partition) (ioc_processor_consumer_lag{%s}))", bySource)
)

// Panels every dashboard ends with: is the process there, and what does it use.
func resourcesRow() row {
	return row{title: "Resources", panels: []panel{
		{
			kind: timeSeries, title: "Targets up", unit: unitShort,
			description: "1 per scraped instance that answered /metrics (Prometheus' `up`). 0: IocServiceDown.",
			queries:     []query{q(fmt.Sprintf("up{%s}", byJob), "{{job}} {{instance}}")},
		},
		{
			kind: timeSeries, title: "Resident memory", unit: unitBytes,
			description: "process_resident_memory_bytes, if the service exports process metrics.",
			queries:     []query{optionalQ(fmt.Sprintf("process_resident_memory_bytes{%s}", byJob), "{{job}} {{instance}}")},
			noValue:     "process metrics not exported",
		},
		{
			kind: timeSeries, title: "CPU used (cores)", unit: unitShort,
			description: "rate(process_cpu_seconds_total), if the service exports process metrics.",
			queries: []query{optionalQ(
				fmt.Sprintf("rate(process_cpu_seconds_total{%s}[$__rate_interval])", byJob), "{{job}} {{instance}}")},
			noValue: "process metrics not exported",
		},
	}}
}

func overview() dashboardSpec {
	return dashboardSpec{
		file:  "ioc-overview.json",
		uid:   "ioc-overview",
		title: "IOC pipeline: overview",
		description: "Start here (ops/runbook.md, \"Start here\"): is every source flowing, fresh and complete, " +
			"and where do errors appear. Details in the ingest, processor and API dashboards.",
		jobs: []string{"ioc-ingest", "ioc-processor", "ioc-api"}, allJobs: true,
		rows: []row{
			{title: "Now", panels: []panel{
				{
					kind: singleStat, title: "Firing IOC alerts", unit: unitShort, width: 4, thresholds: []float64{1},
					description: "Alerts of rules/ioc-alerts.yaml firing now, in the Prometheus that evaluates them. Read the list in Alertmanager or Prometheus' Alerts page.",
					queries:     []query{q(`count(ALERTS{alertname=~"Ioc.+", alertstate="firing"}) or vector(0)`, "firing")},
				},
				{
					kind: singleStat, title: "Newest stored event, age now", unit: unitSeconds, width: 5, thresholds: []float64{20 * 60, 4 * 3600},
					description: "How long ago the newest event stored in ClickHouse happened, per source. Thresholds of IocSourceSilent depend on the source and on office hours.",
					queries:     []query{q(newestEventAge, "{{source}}")},
				},
				{
					kind: singleStat, title: "Dashboard numbers, behind now", unit: unitSeconds, width: 5, thresholds: []float64{5 * 60, 15 * 60},
					description: "Age of the rollups' covered_until: events stored before it are in the IOC dashboard's numbers. Normally about 35 s; IocRollupStalled at 15 min.",
					queries:     []query{q(rollupAge, "{{source}}")},
				},
				{
					kind: singleStat, title: "Missing events (must be 0)", unit: unitShort, width: 5, thresholds: []float64{1},
					description: "Events acknowledged to a source and consumed, but neither stored nor dead-lettered. Anything above 0 is IocEventsMissing.",
					queries:     []query{q(missingEvents, "{{source}}")},
				},
				{
					kind: singleStat, title: "Services up", unit: unitShort, width: 5, thresholds: nil,
					description: "Scraped instances answering, per job.",
					queries:     []query{q(fmt.Sprintf("sum by (job) (up{%s})", byJob), "{{job}}")},
				},
			}},
			{title: "Flow per source", panels: []panel{
				{
					kind: timeSeries, title: "Events received by ingest, by outcome", unit: unitPerSecond,
					description: "accepted: acknowledged by Kafka and answered 2xx; rejected: 4xx (the source's fault); unacknowledged: Kafka did not acknowledge, 503.",
					queries:     []query{q(rate("ioc_ingest_events_total", bySource, "source, outcome"), "{{source}} {{outcome}}")},
				},
				{
					kind: timeSeries, title: "Rows stored per second, by table", unit: unitPerSecond,
					description: "Rows the processor inserted into ClickHouse (redeliveries included).",
					queries:     []query{q(rate("ioc_processor_rows_written_total", byTable, "table"), "{{table}}")},
				},
				{
					kind: timeSeries, title: "Consumer lag (messages behind)", unit: unitShort, thresholds: []float64{100},
					description: "Messages in Kafka not yet stored and committed, per source. IocConsumerLagGrowing: above 100 messages (of up to 500 events each) and growing.",
					queries:     []query{q(consumerLag, "{{source}}")},
				},
			}},
			{title: "Freshness and completeness", panels: []panel{
				{
					kind: timeSeries, title: "Newest stored event age", unit: unitSeconds,
					description: "Event time of the newest stored event, as an age. Grows at night when communes are quiet.",
					queries:     []query{q(newestEventAge, "{{source}}")},
				},
				{
					kind: timeSeries, title: "Dashboard numbers behind the clock", unit: unitSeconds, thresholds: []float64{5 * 60, 15 * 60},
					description: "Age of the rollups' covered_until (v_rollup_state in ClickHouse).",
					queries:     []query{q(rollupAge, "{{source}}")},
				},
				{
					kind: timeSeries, title: "Completeness: acknowledged and stored events", unit: unitShort,
					description: "The events of the Kafka messages below the committed position, each event of a message of several counted: acknowledged must equal stored (rows or dead letters); the difference is the missing count.",
					queries: []query{
						q(fmt.Sprintf("max by (source) (ioc_processor_completeness_acknowledged_events{%s})", bySource), "{{source}} acknowledged"),
						q(fmt.Sprintf("max by (source) (ioc_processor_completeness_stored_events{%s})", bySource), "{{source}} stored"),
						q(missingEvents, "{{source}} missing"),
					},
				},
				{
					kind: timeSeries, title: "Canary: acknowledgement to API", unit: unitSeconds, thresholds: []float64{60, 300}, width: 24,
					description: "Seconds from a canary event's acknowledgement to its effect in the API, and since the last canary event that made it. Only when the canary runs (off by default). IocCanarySlow above 5 min, IocCanaryFailing 15 min after the last success.",
					queries: []query{
						optionalQ(fmt.Sprintf("max by (source) (ioc_canary_freshness_seconds{%s})", bySource), "{{source}} freshness"),
						optionalQ(fmt.Sprintf("time() - max by (source) (ioc_canary_last_success_timestamp_seconds{%s})", bySource), "{{source}} since last success"),
					},
					noValue: "canary off",
				},
			}},
			{title: "Errors", panels: []panel{
				{
					kind: timeSeries, title: "Ingest 5xx answers per second", unit: unitRequestsPerSec,
					description: "503: Kafka did not acknowledge, or ingest is saturated; 500: a bug. IocIngestErrors above 5 %.",
					queries: []query{q(zeroFilled(rate("ioc_ingest_requests_total", bySource+`, status=~"5.."`, "source, status"),
						"source", "ioc_ingest_requests_total", bySource), "{{source}} {{status}}")},
				},
				{
					kind: timeSeries, title: "Events rejected per second, by reason", unit: unitPerSecond,
					description: "malformed, over_limit, contract, out_of_time, wrong_source: the source gets a 4xx saying why.",
					queries: []query{q(zeroFilled(rate("ioc_ingest_rejected_events_total", bySource, "source, reason"),
						"source", "ioc_ingest_events_total", bySource), "{{source}} {{reason}}")},
				},
				{
					kind: timeSeries, title: "Dead letters per second, by reason", unit: unitPerSecond,
					description: "Messages the processor could not decode or store, sent to ioc.dlq.v1 (`ioc-processor dlq list`).",
					queries: []query{q(zeroFilled(rate("ioc_processor_dead_letters_total", bySource, "source, reason"),
						"source", "ioc_processor_batch_rows_count", bySource), "{{source}} {{reason}}")},
				},
				{
					kind: timeSeries, title: "Processor failures per second", unit: unitPerSecond,
					description: "Failed inserts (retried), failed rollup cycles (retried), failed commits (harmless redelivery), Kafka consumer errors.",
					queries: []query{
						q(zeroFilled(rate("ioc_processor_insert_failures_total", byTable, "table"),
							"table", "ioc_processor_rows_written_total", byTable), "insert {{table}}"),
						q(zeroFilled(rate("ioc_processor_rollup_failures_total", bySource, "source"),
							"source", "ioc_processor_rollup_seconds_count", bySource), "rollup {{source}}"),
						q(zeroFilled(rate("ioc_processor_commit_failures_total", bySource, "source"),
							"source", "ioc_processor_commit_seconds_count", bySource), "commit {{source}}"),
						q(zeroFilled(rate("ioc_processor_consumer_errors_total", bySource, "source"),
							"source", "ioc_processor_batch_rows_count", bySource), "kafka {{source}}"),
					},
				},
				{
					kind: timeSeries, title: "API 5xx answers per second", unit: unitRequestsPerSec,
					description: "Failed answers of the dashboard's API, per route (probes left out). IocApiErrors above 5 %.",
					queries: []query{q(zeroFilled(rate("ioc_api_requests_total", notProbes+`, status=~"5.."`, "route"),
						"route", "ioc_api_requests_total", notProbes), "{{route}}")},
				},
				{
					kind: timeSeries, title: "Sources paused (ClickHouse refusing inserts)", unit: unitShort,
					description: "1 while the processor holds a batch it cannot insert and has paused the source's partitions.",
					queries:     []query{q(fmt.Sprintf("max by (source) (ioc_processor_paused{%s})", bySource), "{{source}}")},
				},
			}},
			{title: "Latency", panels: []panel{
				{
					kind: timeSeries, title: "Ingest request duration, 95th percentile", unit: unitSeconds, width: 6,
					description: "From request received to answer, which waits for Kafka's acknowledgement.",
					queries:     []query{q(quantile("0.95", "ioc_ingest_request_duration_seconds", bySource, "source"), "{{source}}")},
				},
				{
					kind: timeSeries, title: "Kafka acknowledgement, 95th percentile", unit: unitSeconds, width: 6,
					description: "From events produced to Kafka acknowledging all of them (acks=all).",
					queries:     []query{q(quantile("0.95", "ioc_ingest_kafka_ack_seconds", bySource, "source"), "{{source}}")},
				},
				{
					kind: timeSeries, title: "Batch insert, 95th percentile", unit: unitSeconds, width: 6,
					description: "One batch insert into ClickHouse, retries included.",
					queries:     []query{q(quantile("0.95", "ioc_processor_batch_write_seconds", byTable, "table"), "{{table}}")},
				},
				{
					kind: timeSeries, title: "API request duration, 95th percentile", unit: unitSeconds, width: 6,
					description: "Per route, probes left out. IocApiSlow above 2 s.",
					queries:     []query{q(quantile("0.95", "ioc_api_request_duration_seconds", notProbes, "route"), "{{route}}")},
				},
			}},
			resourcesRow(),
		},
	}
}

func ingest() dashboardSpec {
	return dashboardSpec{
		file:        "ioc-ingest.json",
		uid:         "ioc-ingest",
		title:       "IOC pipeline: ingest",
		description: "ioc-ingest: HTTP from the source systems to Kafka. Runbook: ops/runbook.md.",
		jobs:        []string{"ioc-ingest"},
		rows: []row{
			{title: "Requests", panels: []panel{
				{
					kind: timeSeries, title: "Requests per second, by status", unit: unitRequestsPerSec,
					description: "HTTP answers to the sources; source \"unknown\" when the request did not say or prove which source it is.",
					queries:     []query{q(rate("ioc_ingest_requests_total", bySource, "source, status"), "{{source}} {{status}}")},
				},
				{
					kind: timeSeries, title: "Request duration", unit: unitSeconds,
					description: "Request received to answered, all sources selected.",
					queries: []query{
						q(quantile("0.5", "ioc_ingest_request_duration_seconds", bySource, ""), "p50"),
						q(quantile("0.95", "ioc_ingest_request_duration_seconds", bySource, ""), "p95"),
						q(quantile("0.99", "ioc_ingest_request_duration_seconds", bySource, ""), "p99"),
					},
				},
				{
					kind: timeSeries, title: "Requests in flight", unit: unitShort,
					description: "Requests being answered now, per replica; beyond max_in_flight_requests ingest answers 503 (saturated).",
					queries:     []query{q("sum by (instance) (ioc_ingest_in_flight_requests)", "{{instance}}")},
				},
				{
					kind: timeSeries, title: "HTTP connections open", unit: unitShort,
					description: "Per replica; at connections.max_open (512) ingest stops accepting and new connections wait in the listen queue.",
					queries:     []query{q("sum by (instance) (ioc_ingest_http_connections_open)", "{{instance}}")},
				},
				{
					kind: timeSeries, title: "Received bytes per second", unit: unitBytesPerSecond,
					description: "Request bodies, per source.",
					queries:     []query{q(rate("ioc_ingest_received_bytes_total", bySource, "source"), "{{source}}")},
				},
				{
					kind: timeSeries, title: "5xx answers per second", unit: unitRequestsPerSec,
					description: "IocIngestErrors above 5 % of a source's requests.",
					queries: []query{q(zeroFilled(rate("ioc_ingest_requests_total", bySource+`, status=~"5.."`, "source, status"),
						"source", "ioc_ingest_requests_total", bySource), "{{source}} {{status}}")},
				},
			}},
			{title: "Events", panels: []panel{
				{
					kind: timeSeries, title: "Events per second, by outcome", unit: unitPerSecond,
					description: "accepted, rejected (4xx), unacknowledged (Kafka did not acknowledge, 503).",
					queries:     []query{q(rate("ioc_ingest_events_total", bySource, "source, outcome"), "{{source}} {{outcome}}")},
				},
				{
					kind: timeSeries, title: "Rejected events per second, by reason", unit: unitPerSecond,
					description: "Why events were refused: malformed, over_limit, contract, out_of_time, wrong_source.",
					queries: []query{q(zeroFilled(rate("ioc_ingest_rejected_events_total", bySource, "source, reason"),
						"source", "ioc_ingest_events_total", bySource), "{{source}} {{reason}}")},
				},
				{
					kind: timeSeries, title: "Share of events rejected", unit: unitRatio,
					description: "IocIngestRejectingEvents above 50 % for 15 min.",
					queries: []query{q(fmt.Sprintf("(%s)\n/ %s",
						zeroFilled(rate("ioc_ingest_events_total", bySource+`, outcome="rejected"`, "source"), "source", "ioc_ingest_events_total", bySource),
						rate("ioc_ingest_events_total", bySource, "source")), "{{source}}")},
				},
			}},
			{title: "Kafka", panels: []panel{
				{
					kind: timeSeries, title: "Kafka acknowledgement time", unit: unitSeconds,
					description: "Events produced to all of them acknowledged (acks=all).",
					queries: []query{
						q(quantile("0.5", "ioc_ingest_kafka_ack_seconds", bySource, ""), "p50"),
						q(quantile("0.95", "ioc_ingest_kafka_ack_seconds", bySource, ""), "p95"),
						q(quantile("0.99", "ioc_ingest_kafka_ack_seconds", bySource, ""), "p99"),
					},
				},
				{
					kind: timeSeries, title: "Delivery errors per second, by reason", unit: unitPerSecond,
					description: "encode, refused, not_acknowledged, cancelled. IocIngestKafkaUnacknowledged when events go unacknowledged for 5 min.",
					queries: []query{q(zeroFilled(rate("ioc_ingest_delivery_errors_total", bySource, "source, reason"),
						"source", "ioc_ingest_events_total", bySource), "{{source}} {{reason}}")},
				},
				{
					kind: timeSeries, title: "Producer queue (messages)", unit: unitShort,
					description: "librdkafka's queue per replica; normally drains within milliseconds. Never empty while answering 503: IocIngestProducerStuck.",
					queries:     []query{q("sum by (instance) (ioc_ingest_producer_queue_messages)", "{{instance}}")},
				},
				{
					kind: timeSeries, title: "Producer queue (bytes)", unit: unitBytes,
					description: "Full at kafka.producer_queue_kbytes: ingest then refuses new events with 503.",
					queries:     []query{q("sum by (instance) (ioc_ingest_producer_queue_bytes)", "{{instance}}")},
				},
			}},
			resourcesRow(),
		},
	}
}

func processor() dashboardSpec {
	return dashboardSpec{
		file:        "ioc-processor.json",
		uid:         "ioc-processor",
		title:       "IOC pipeline: processor",
		description: "ioc-processor: Kafka to ClickHouse, the rollups, completeness. Runbook: ops/runbook.md; delivery: services/processor/ARCHITECTURE.md.",
		jobs:        []string{"ioc-processor"},
		rows: []row{
			{title: "Throughput", panels: []panel{
				{
					kind: timeSeries, title: "Rows stored per second, by table", unit: unitPerSecond,
					queries: []query{q(rate("ioc_processor_rows_written_total", byTable, "table"), "{{table}}")},
				},
				{
					kind: timeSeries, title: "Rows per batch", unit: unitShort,
					description: "Median and 95th percentile; batches close at batch_max_rows, after batch_max_wait_ms, or after batch_live_wait_ms when they hold live traffic.",
					queries: []query{
						q(quantile("0.5", "ioc_processor_batch_rows", bySource, "source"), "{{source}} p50"),
						q(quantile("0.95", "ioc_processor_batch_rows", bySource, "source"), "{{source}} p95"),
					},
				},
				{
					kind: timeSeries, title: "Batch insert time, 95th percentile", unit: unitSeconds,
					description: "One batch insert, retries included: long while ClickHouse refuses inserts.",
					queries:     []query{q(quantile("0.95", "ioc_processor_batch_write_seconds", byTable, "table"), "{{table}}")},
				},
				{
					kind: timeSeries, title: "Consumer lag by partition", unit: unitShort, thresholds: []float64{100}, width: 24,
					description: "Kafka messages behind the end of each partition (the group's committed offset against the broker's high watermark); a message holds 1 to max_events_per_message (500) events.",
					queries:     []query{q(fmt.Sprintf("max by (source, partition) (ioc_processor_consumer_lag{%s})", bySource), "{{source}} #{{partition}}")},
				},
			}},
			{title: "Failures", panels: []panel{
				{
					kind: timeSeries, title: "Insert failures per second, by table", unit: unitPerSecond,
					description: "Failed attempts, each retried with backoff; IocInsertFailing when they last 10 min.",
					queries: []query{q(zeroFilled(rate("ioc_processor_insert_failures_total", byTable, "table"),
						"table", "ioc_processor_rows_written_total", byTable), "{{table}}")},
				},
				{
					kind: timeSeries, title: "Sources paused", unit: unitShort,
					description: "1 while the source's partitions are paused because ClickHouse refuses inserts.",
					queries:     []query{q(fmt.Sprintf("max by (source) (ioc_processor_paused{%s})", bySource), "{{source}}")},
				},
				{
					kind: timeSeries, title: "Dead letters per second, by reason", unit: unitPerSecond,
					description: "no_payload, undecodable, unknown_framing, wrong_topic, wrong_table, time_out_of_range. `ioc-processor dlq list` shows them.",
					queries: []query{q(zeroFilled(rate("ioc_processor_dead_letters_total", bySource, "source, reason"),
						"source", "ioc_processor_batch_rows_count", bySource), "{{source}} {{reason}}")},
				},
				{
					kind: timeSeries, title: "Commit time, 95th percentile", unit: unitSeconds,
					queries: []query{q(quantile("0.95", "ioc_processor_commit_seconds", bySource, "source"), "{{source}}")},
				},
				{
					kind: timeSeries, title: "Commit failures per second", unit: unitPerSecond,
					description: "After a rebalance, for instance; the rows are stored and their redelivery is harmless.",
					queries: []query{q(zeroFilled(rate("ioc_processor_commit_failures_total", bySource, "source"),
						"source", "ioc_processor_commit_seconds_count", bySource), "{{source}}")},
				},
				{
					kind: timeSeries, title: "Kafka consumer errors per second", unit: unitPerSecond,
					description: "Broker connection losses and the like; a burst per broker restart is normal.",
					queries: []query{q(zeroFilled(rate("ioc_processor_consumer_errors_total", bySource, "source"),
						"source", "ioc_processor_batch_rows_count", bySource), "{{source}}")},
				},
			}},
			{title: "Rollups and completeness", panels: []panel{
				{
					kind: timeSeries, title: "Rollup cycle time", unit: unitSeconds,
					description: "Rounds of one cycle per source, starting at most every rollup_interval_ms (at once after a longer round); the first cycles after a start resume from the recorded progress or recompute everything.",
					queries: []query{
						q(quantile("0.5", "ioc_processor_rollup_seconds", bySource, "source"), "{{source}} p50"),
						q(quantile("0.95", "ioc_processor_rollup_seconds", bySource, "source"), "{{source}} p95"),
					},
				},
				{
					kind: timeSeries, title: "Rollup failures per second", unit: unitPerSecond,
					description: "Each failed cycle is retried from the same point; the log says \"rollup cycle failed\".",
					queries: []query{q(zeroFilled(rate("ioc_processor_rollup_failures_total", bySource, "source"),
						"source", "ioc_processor_rollup_seconds_count", bySource), "{{source}}")},
				},
				{
					kind: timeSeries, title: "Dashboard numbers behind the clock", unit: unitSeconds, thresholds: []float64{5 * 60, 15 * 60},
					description: "Age of covered_until: every event dated (inserted_at) before it is in the dashboard's numbers.",
					queries:     []query{q(rollupAge, "{{source}}")},
				},
				{
					kind: timeSeries, title: "Newest stored event age", unit: unitSeconds,
					queries: []query{q(newestEventAge, "{{source}}")},
				},
				{
					kind: timeSeries, title: "Completeness: acknowledged and stored events", unit: unitShort,
					description: "Offsets below the committed position (acknowledged) against those stored as rows or dead letters.",
					queries: []query{
						q(fmt.Sprintf("max by (source) (ioc_processor_completeness_acknowledged_events{%s})", bySource), "{{source}} acknowledged"),
						q(fmt.Sprintf("max by (source) (ioc_processor_completeness_stored_events{%s})", bySource), "{{source}} stored"),
					},
				},
				{
					kind: timeSeries, title: "Missing events (must stay 0)", unit: unitShort, thresholds: []float64{1},
					description: "Acknowledged minus stored. Above 0 for 10 min: IocEventsMissing.",
					queries:     []query{q(missingEvents, "{{source}}")},
				},
				{
					kind: timeSeries, title: "Events of units the reference data does not list", unit: unitShort, thresholds: []float64{1},
					description: "Stored events whose unit code is not in ref_units: the province's totals count them, no unit does. Above 0 for 15 min: IocUnknownUnits.",
					queries:     []query{q(fmt.Sprintf("max by (source) (ioc_processor_unknown_unit_events{%s})", bySource), "{{source}}")},
				},
			}},
			resourcesRow(),
		},
	}
}

func api() dashboardSpec {
	return dashboardSpec{
		file:        "ioc-api.json",
		uid:         "ioc-api",
		title:       "IOC pipeline: API",
		description: "ioc-api: the dashboard's JSON API, reading pre-aggregated measures from ClickHouse. Runbook: ops/runbook.md.",
		jobs:        []string{"ioc-api"},
		rows: []row{
			{title: "Requests", panels: []panel{
				{
					kind: timeSeries, title: "Requests per second, by route and status", unit: unitRequestsPerSec,
					queries: []query{q(rate("ioc_api_requests_total", `route!=""`, "route, status"), "{{route}} {{status}}")},
				},
				{
					kind: timeSeries, title: "5xx answers per second, by route", unit: unitRequestsPerSec,
					description: "Probes and /metrics left out (/readyz answers 503 by design while ClickHouse is away).",
					queries: []query{q(zeroFilled(rate("ioc_api_requests_total", notProbes+`, status=~"5.."`, "route"),
						"route", "ioc_api_requests_total", notProbes), "{{route}}")},
				},
				{
					kind: timeSeries, title: "Request duration, 95th percentile, by route", unit: unitSeconds,
					queries: []query{q(quantile("0.95", "ioc_api_request_duration_seconds", notProbes, "route"), "{{route}}")},
				},
				{
					kind: timeSeries, title: "HTTP connections open", unit: unitShort,
					description: "Per replica; at connections.max_open (512) the API stops accepting and new connections wait in the listen queue.",
					queries:     []query{q("sum by (instance) (ioc_api_http_connections_open)", "{{instance}}")},
				},
				{
					kind: timeSeries, title: "Request duration, all routes", unit: unitSeconds, thresholds: []float64{1, 2}, width: 24,
					description: "Probes left out. IocApiSlow when the 95th percentile stays above 2 s.",
					queries: []query{
						q(quantile("0.5", "ioc_api_request_duration_seconds", notProbes, ""), "p50"),
						q(quantile("0.95", "ioc_api_request_duration_seconds", notProbes, ""), "p95"),
						q(quantile("0.99", "ioc_api_request_duration_seconds", notProbes, ""), "p99"),
					},
				},
			}},
			{title: "ClickHouse", panels: []panel{
				{
					kind: timeSeries, title: "ClickHouse query time, 95th percentile", unit: unitSeconds, width: 12,
					description: "totals, series, reference, units, rollup_progress: the API's queries on the measures.",
					queries:     []query{q(quantile("0.95", "ioc_api_clickhouse_seconds", `query!=""`, "query"), "{{query}}")},
				},
				{
					kind: timeSeries, title: "ClickHouse queries per second", unit: unitPerSecond, width: 12,
					queries: []query{q(rate("ioc_api_clickhouse_seconds_count", `query!=""`, "query"), "{{query}}")},
				},
			}},
			resourcesRow(),
		},
	}
}

func allDashboards() []dashboardSpec {
	return []dashboardSpec{overview(), ingest(), processor(), api()}
}
