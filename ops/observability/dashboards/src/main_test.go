package main

import (
	"strings"
	"testing"
)

func TestAnchorsAreGitHubs(t *testing.T) {
	for heading, want := range map[string]string{
		"IocSourceSilent":                                           "iocsourcesilent",
		"Dead letters (ioc.dlq.v1)":                                 "dead-letters-iocdlqv1",
		"Dashboard numbers stale or wrong (rollups)":                "dashboard-numbers-stale-or-wrong-rollups",
		"Start here (on call)":                                      "start-here-on-call",
		"Reference data (units, denominators, procedures, targets)": "reference-data-units-denominators-procedures-targets",
	} {
		if got := anchor(heading); got != want {
			t.Errorf("anchor(%q) = %q, want %q", heading, got, want)
		}
	}
}

func TestEvaluableReplacesEveryGrafanaVariable(t *testing.T) {
	for _, spec := range allDashboards() {
		for _, r := range spec.rows {
			for _, p := range r.panels {
				for _, query := range p.queries {
					if e := evaluable(query.expr, spec); strings.Contains(e, "$") {
						t.Errorf("%s, %q: a Grafana variable is left in %q", spec.file, p.title, e)
					}
				}
			}
		}
	}
}

func TestMetricsOf(t *testing.T) {
	got := strings.Join(metricsOf(`sum by (source) (rate(ioc_ingest_events_total{source=~".*"}[1m])) or on(source) up{job="x"} * 0 and ioc:office_hours`), ",")
	if want := "ioc:office_hours,ioc_ingest_events_total,up"; got != want {
		t.Errorf("metricsOf = %s, want %s", got, want)
	}
}

func TestZeroFilledKeepsTheRealSeriesFirst(t *testing.T) {
	got := zeroFilled(rate("a_total", `source=~"$source"`, "source, reason"), "source", "b_total", `source=~"$source"`)
	want := "sum by (source, reason) (rate(a_total{source=~\"$source\"}[$__rate_interval]))\n" +
		"or on(source) (sum by (source) (rate(b_total{source=~\"$source\"}[$__rate_interval])) * 0)"
	if got != want {
		t.Errorf("zeroFilled =\n%s\nwant\n%s", got, want)
	}
}
