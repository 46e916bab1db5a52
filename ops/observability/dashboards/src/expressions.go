package main

// expressions.json: every PromQL expression of the dashboards' panels and of the rule file,
// evaluable as is (Grafana's variables replaced by what "All" means), for the end-to-end test
// that runs them against a Prometheus scraping the real services.

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

const (
	observabilityDir = "ops/observability"
	rulesDir         = observabilityDir + "/rules"
	testsDir         = observabilityDir + "/tests"
	dashboardsDir    = observabilityDir + "/dashboards"
	expressionsFile  = observabilityDir + "/expressions.json"
	runbookFile      = "ops/runbook.md"
	chartDashboards  = "charts/ioc/dashboards"
	chartRules       = "charts/ioc/files/prometheus-rules"
	// Where runbook_url annotations point; a deployment rewrites this base (README.md).
	runbookBase = "https://ioc.example/runbook#"
	// Grafana's $__rate_interval is at least four scrape intervals; with the 15 s scrape of
	// prometheus.local.yml that is 1m, which also gives a short end-to-end run data soonest.
	rateIntervalForTests = "1m"
)

type expression struct {
	File string `json:"file"`
	Name string `json:"name"`
	Expr string `json:"expr"`
	// panel, alert, or record (a recording rule of the same file, which alerts build on).
	Kind string `json:"kind"`
	// NeedsData: returns at least one series on a healthy pipeline fed by the simulator, with
	// the API called at least once. Alerts never need data (a healthy system fires none).
	NeedsData bool `json:"needs_data"`
	// GrafanaExpr: the panel's query as written in the dashboard, with Grafana's variables.
	GrafanaExpr string `json:"grafana_expr,omitempty"`
	// Metrics: the metric names the expression reads, for a clear report of what is missing.
	Metrics []string `json:"metrics"`
}

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []rule `yaml:"rules"`
	} `yaml:"groups"`
}

type rule struct {
	Record      string            `yaml:"record"`
	Alert       string            `yaml:"alert"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

func ruleFiles(root string) ([]string, error) {
	files, err := filepath.Glob(filepath.Join(root, rulesDir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no rule file in %s", rulesDir)
	}
	sort.Strings(files)
	return files, nil
}

func readRules(path string) (ruleFile, error) {
	var rf ruleFile
	raw, err := os.ReadFile(path)
	if err != nil {
		return rf, err
	}
	decoder := yaml.NewDecoder(strings.NewReader(string(raw)))
	decoder.KnownFields(true)
	if err := decoder.Decode(&rf); err != nil {
		return rf, fmt.Errorf("%s: %w", path, err)
	}
	return rf, nil
}

var metricName = regexp.MustCompile(`\b(ioc_[a-z0-9_]+|process_[a-z0-9_]+|ioc:[a-z0-9_:]+|source:[a-z0-9_:]+|ALERTS)\b|\b(up)\{`)

func metricsOf(expr string) []string {
	seen := map[string]bool{}
	for _, m := range metricName.FindAllStringSubmatch(expr, -1) {
		name := m[1]
		if name == "" {
			name = m[2]
		}
		seen[name] = true
	}
	out := make([]string, 0, len(seen))
	for name := range seen {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// evaluable replaces Grafana's variables by what the dashboard's defaults ("All") mean.
func evaluable(expr string, spec dashboardSpec) string {
	return strings.NewReplacer(
		"$__rate_interval", rateIntervalForTests,
		"$source", ".*",
		"$job", strings.Join(spec.jobs, "|"),
	).Replace(expr)
}

func collectExpressions(root string) ([]expression, error) {
	var out []expression
	for _, spec := range allDashboards() {
		file := dashboardsDir + "/" + spec.file
		for _, r := range spec.rows {
			for _, p := range r.panels {
				for i, query := range p.queries {
					name := p.title
					if len(p.queries) > 1 {
						name = fmt.Sprintf("%s [%c]", p.title, 'A'+i)
					}
					expr := evaluable(query.expr, spec)
					out = append(out, expression{
						File: file, Name: name, Expr: expr, Kind: "panel", NeedsData: !query.optional,
						GrafanaExpr: query.expr, Metrics: metricsOf(expr),
					})
				}
			}
		}
	}
	files, err := ruleFiles(root)
	if err != nil {
		return nil, err
	}
	for _, path := range files {
		rf, err := readRules(path)
		if err != nil {
			return nil, err
		}
		rel, _ := filepath.Rel(root, path)
		count := map[string]int{}
		for _, g := range rf.Groups {
			for _, r := range g.Rules {
				count[r.Alert]++
			}
		}
		for _, g := range rf.Groups {
			for _, r := range g.Rules {
				expr := strings.TrimSpace(r.Expr)
				if r.Record != "" {
					name := r.Record
					if source := r.Labels["source"]; source != "" {
						name = fmt.Sprintf("%s{source=%q}", r.Record, source)
					}
					out = append(out, expression{File: rel, Name: name, Expr: expr, Kind: "record", NeedsData: true, Metrics: metricsOf(expr)})
					continue
				}
				name := r.Alert
				if count[r.Alert] > 1 {
					name = fmt.Sprintf("%s (%s)", r.Alert, r.Labels["severity"])
				}
				out = append(out, expression{File: rel, Name: name, Expr: expr, Kind: "alert", NeedsData: false, Metrics: metricsOf(expr)})
			}
		}
	}
	return out, nil
}

// panelRules: every panel query as a recording rule, so that promtool parses them all.
func panelRules(root string) ([]byte, error) {
	exprs, err := collectExpressions(root)
	if err != nil {
		return nil, err
	}
	type recording struct {
		Record string `yaml:"record"`
		Expr   string `yaml:"expr"`
	}
	var rules []recording
	for i, e := range exprs {
		if e.Kind != "panel" {
			continue
		}
		rules = append(rules, recording{Record: fmt.Sprintf("panel:check_%03d", i), Expr: e.Expr})
	}
	doc := map[string]any{"groups": []map[string]any{{"name": "panel-queries", "rules": rules}}}
	return yaml.Marshal(doc)
}
