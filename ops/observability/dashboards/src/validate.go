package main

// Checks of what is committed: the dashboards against Grafana's schema (the foundation SDK's
// types, generated from it, decoded strictly and validated), the conventions the README
// promises, and the rules' links to the runbook and coverage by the unit tests.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"gopkg.in/yaml.v3"
)

type findings []string

func (f *findings) add(format string, args ...any) { *f = append(*f, fmt.Sprintf(format, args...)) }

func validate(root string) findings {
	var f findings
	validateDashboards(root, &f)
	alerts := validateRules(root, &f)
	validateTests(root, alerts, &f)
	return f
}

func validateDashboards(root string, f *findings) {
	plugins.RegisterDefaultPlugins()
	files, _ := filepath.Glob(filepath.Join(root, dashboardsDir, "*.json"))
	if len(files) == 0 {
		f.add("no dashboard in %s: run ops/observability/build-dashboards", dashboardsDir)
	}
	for _, path := range files {
		rel, _ := filepath.Rel(root, path)
		raw, err := os.ReadFile(path)
		if err != nil {
			f.add("%s: %v", rel, err)
			continue
		}
		var d dashboard.Dashboard
		if err := sdkError(d.UnmarshalJSONStrict(raw)); err != nil {
			f.add("%s does not match Grafana's dashboard schema (strict decoding): %v", rel, err)
			continue
		}
		if err := sdkError(d.Validate()); err != nil {
			f.add("%s does not match Grafana's dashboard schema: %v", rel, err)
		}
		// Strict decoding refuses unknown fields only in some places (queries); a round trip
		// through the schema's types drops any field they do not know, wherever it is. (The
		// plain decoder here: the SDK's strict one decodes rows into values it cannot encode.)
		var plain dashboard.Dashboard
		if err := json.Unmarshal(raw, &plain); err != nil {
			f.add("%s does not match Grafana's dashboard schema: %v", rel, err)
		} else if unknown := roundTripLoss(raw, plain); unknown != "" {
			f.add("%s has fields Grafana's dashboard schema does not know: %s", rel, unknown)
		}
		checkConventions(rel, raw, f)
	}
}

// roundTripLoss: where the JSON re-encoded from the decoded dashboard differs from the file ("" if
// nowhere).
func roundTripLoss(raw []byte, d dashboard.Dashboard) string {
	again, err := json.Marshal(d)
	if err != nil {
		return err.Error()
	}
	var before, after any
	if json.Unmarshal(raw, &before) != nil || json.Unmarshal(again, &after) != nil {
		return "unreadable JSON"
	}
	return firstDifference("", before, after)
}

func firstDifference(path string, a, b any) string {
	switch av := a.(type) {
	case map[string]any:
		bv, ok := b.(map[string]any)
		if !ok {
			return path
		}
		keys := make([]string, 0, len(av))
		for k := range av {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if _, ok := bv[k]; !ok {
				return path + "." + k
			}
			if d := firstDifference(path+"."+k, av[k], bv[k]); d != "" {
				return d
			}
		}
		return ""
	case []any:
		bv, ok := b.([]any)
		if !ok || len(bv) != len(av) {
			return path
		}
		for i := range av {
			if d := firstDifference(fmt.Sprintf("%s[%d]", path, i), av[i], bv[i]); d != "" {
				return d
			}
		}
		return ""
	default:
		if fmt.Sprint(a) != fmt.Sprint(b) {
			return path
		}
		return ""
	}
}

// sdkError: the SDK returns its error list as an error even when the list is empty (a non-nil
// interface holding a nil slice); only a non-empty list is an error.
func sdkError(err error) error {
	var list cog.BuildErrors
	if errors.As(err, &list) && len(list) == 0 {
		return nil
	}
	return err
}

// The conventions, read from the JSON as Grafana reads it.
func checkConventions(rel string, raw []byte, f *findings) {
	var d struct {
		UID        string `json:"uid"`
		Templating struct {
			List []struct {
				Name  string          `json:"name"`
				Type  string          `json:"type"`
				Query json.RawMessage `json:"query"`
			} `json:"list"`
		} `json:"templating"`
		Panels []struct {
			Type       string `json:"type"`
			Title      string `json:"title"`
			Datasource *struct {
				Type string `json:"type"`
				UID  string `json:"uid"`
			} `json:"datasource"`
			FieldConfig struct {
				Defaults struct {
					Unit string `json:"unit"`
				} `json:"defaults"`
			} `json:"fieldConfig"`
			Targets []struct {
				Expr       string `json:"expr"`
				Datasource *struct {
					UID string `json:"uid"`
				} `json:"datasource"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		f.add("%s: %v", rel, err)
		return
	}
	if d.UID == "" {
		f.add("%s: no uid (links and provisioning need a stable one)", rel)
	}
	vars := map[string]string{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v.Type
		if v.Name == "datasource" && !bytes.Contains(v.Query, []byte(`"prometheus"`)) {
			f.add("%s: variable datasource is not of plugin type prometheus (query %s)", rel, v.Query)
		}
	}
	for name, typ := range map[string]string{"datasource": "datasource", "source": "custom", "job": "custom"} {
		if vars[name] != typ {
			f.add("%s: variable %q should be of type %s, is %q", rel, name, typ, vars[name])
		}
	}
	titles := map[string]bool{}
	for _, p := range d.Panels {
		if p.Type == "row" {
			continue
		}
		if titles[p.Title] {
			f.add("%s: two panels titled %q (expressions.json names panels by title)", rel, p.Title)
		}
		titles[p.Title] = true
		if p.Datasource == nil || p.Datasource.UID != datasourceUID || p.Datasource.Type != "prometheus" {
			f.add("%s: panel %q does not read the ${datasource} Prometheus", rel, p.Title)
		}
		if p.FieldConfig.Defaults.Unit == "" {
			f.add("%s: panel %q has no unit", rel, p.Title)
		}
		if len(p.Targets) == 0 {
			f.add("%s: panel %q has no query", rel, p.Title)
		}
		for _, t := range p.Targets {
			if t.Datasource == nil || t.Datasource.UID != datasourceUID {
				f.add("%s: a query of panel %q does not read ${datasource}", rel, p.Title)
			}
			if strings.TrimSpace(t.Expr) == "" {
				f.add("%s: panel %q has an empty query", rel, p.Title)
			}
		}
	}
}

// GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens.
func anchor(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(heading)) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || ('a' <= r && r <= 'z') || ('0' <= r && r <= '9') || r > 127:
			b.WriteRune(r)
		}
	}
	return b.String()
}

var internalLink = regexp.MustCompile(`\]\(#([^)\s]+)\)`)

var heading = regexp.MustCompile(`(?m)^#{1,6}\s+(.+?)\s*#*\s*$`)

func runbookAnchors(root string) (map[string]bool, error) {
	raw, err := os.ReadFile(filepath.Join(root, runbookFile))
	if err != nil {
		return nil, err
	}
	anchors := map[string]bool{}
	inFence := false
	for _, line := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			inFence = !inFence
			continue
		}
		if m := heading.FindStringSubmatch(line); m != nil && !inFence {
			text := strings.NewReplacer("`", "", "*", "").Replace(m[1])
			anchors[anchor(text)] = true
		}
	}
	return anchors, nil
}

// alertKey: an alert and its severity (one name may have two rules, as IocSourceSilent does).
type alertKey struct{ name, severity string }

func validateRules(root string, f *findings) []alertKey {
	anchors, err := runbookAnchors(root)
	if err != nil {
		f.add("cannot read the runbook: %v", err)
	} else {
		// The runbook's own links between sections, which its alert sections use a lot.
		raw, _ := os.ReadFile(filepath.Join(root, runbookFile))
		for _, m := range internalLink.FindAllStringSubmatch(string(raw), -1) {
			if !anchors[m[1]] {
				f.add("%s links to #%s, which is no heading of it", runbookFile, m[1])
			}
		}
	}
	files, err := ruleFiles(root)
	if err != nil {
		f.add("%v", err)
		return nil
	}
	var alerts []alertKey
	for _, path := range files {
		rel, _ := filepath.Rel(root, path)
		rf, err := readRules(path)
		if err != nil {
			f.add("%v", err)
			continue
		}
		for _, g := range rf.Groups {
			for _, r := range g.Rules {
				if r.Alert == "" {
					continue
				}
				severity := r.Labels["severity"]
				if severity != "critical" && severity != "warning" {
					f.add("%s: alert %s: label severity is %q, not critical or warning", rel, r.Alert, severity)
				}
				for _, a := range []string{"summary", "description", "runbook_url"} {
					if strings.TrimSpace(r.Annotations[a]) == "" {
						f.add("%s: alert %s has no %s annotation", rel, r.Alert, a)
					}
				}
				url := r.Annotations["runbook_url"]
				if url != "" {
					if !strings.HasPrefix(url, runbookBase) {
						f.add("%s: alert %s: runbook_url %q does not start with %s", rel, r.Alert, url, runbookBase)
					} else if a := strings.TrimPrefix(url, runbookBase); anchors != nil && !anchors[a] {
						f.add("%s: alert %s: runbook_url anchor #%s is no heading of %s (add a section \"%s\")", rel, r.Alert, a, runbookFile, r.Alert)
					}
				}
				alerts = append(alerts, alertKey{r.Alert, severity})
			}
		}
	}
	return alerts
}

type testFile struct {
	Tests []struct {
		Name          string `yaml:"name"`
		AlertRuleTest []struct {
			EvalTime  string `yaml:"eval_time"`
			Alertname string `yaml:"alertname"`
			ExpAlerts []struct {
				ExpLabels map[string]string `yaml:"exp_labels"`
			} `yaml:"exp_alerts"`
		} `yaml:"alert_rule_test"`
	} `yaml:"tests"`
}

// Every alert (each severity of it) fires in some test, and every alert name is shown not
// firing at some time.
func validateTests(root string, alerts []alertKey, f *findings) {
	files, _ := filepath.Glob(filepath.Join(root, testsDir, "*.test.yaml"))
	fires := map[alertKey]bool{}
	clears := map[string]bool{}
	for _, path := range files {
		raw, err := os.ReadFile(path)
		if err != nil {
			f.add("%v", err)
			continue
		}
		var tf testFile
		if err := yaml.Unmarshal(raw, &tf); err != nil {
			f.add("%s: %v", path, err)
			continue
		}
		for _, t := range tf.Tests {
			for _, a := range t.AlertRuleTest {
				if len(a.ExpAlerts) == 0 {
					clears[a.Alertname] = true
				}
				for _, e := range a.ExpAlerts {
					fires[alertKey{a.Alertname, e.ExpLabels["severity"]}] = true
				}
			}
		}
	}
	var missing []string
	for _, a := range alerts {
		if !fires[a] {
			missing = append(missing, fmt.Sprintf("%s (severity %s) never fires in %s", a.name, a.severity, testsDir))
		}
		if !clears[a.name] {
			missing = append(missing, fmt.Sprintf("%s is never shown not firing (exp_alerts: []) in %s", a.name, testsDir))
		}
	}
	sort.Strings(missing)
	for _, m := range dedupe(missing) {
		f.add("%s", m)
	}
}

func dedupe(in []string) []string {
	var out []string
	for i, s := range in {
		if i == 0 || s != in[i-1] {
			out = append(out, s)
		}
	}
	return out
}
