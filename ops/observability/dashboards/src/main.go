// Command dashboards builds the IOC pipeline's Grafana dashboards with Grafana's foundation SDK,
// lists every PromQL expression of the dashboards and alert rules (expressions.json), copies
// dashboards and rules into the Helm chart, and checks all of it.
//
//	go run . build           --root REPO   write every generated file
//	go run . check-generated --root REPO   fail if a generated file differs from what build writes
//	go run . validate        --root REPO   schema and convention checks (validate.go)
//	go run . panel-rules     --root REPO   print every panel query as a recording rule (for promtool)
//
// ops/observability/build-dashboards and ops/observability/check run these.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: dashboards build|check-generated|validate|panel-rules --root REPO")
		os.Exit(2)
	}
	command := os.Args[1]
	flags := flag.NewFlagSet(command, flag.ExitOnError)
	root := flags.String("root", "", "the repository's root directory")
	_ = flags.Parse(os.Args[2:])
	if *root == "" {
		fmt.Fprintln(os.Stderr, "--root is required: the repository's root directory")
		os.Exit(2)
	}
	if err := run(command, *root); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(command, root string) error {
	switch command {
	case "build":
		outputs, err := generate(root)
		if err != nil {
			return err
		}
		for _, path := range sortedKeys(outputs) {
			full := filepath.Join(root, path)
			if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(full, outputs[path], 0o644); err != nil {
				return err
			}
			fmt.Println("wrote", path)
		}
		for _, stale := range staleFiles(root, outputs) {
			if err := os.Remove(filepath.Join(root, stale)); err != nil {
				return err
			}
			fmt.Println("removed", stale, "(no longer generated)")
		}
		return nil
	case "check-generated":
		outputs, err := generate(root)
		if err != nil {
			return err
		}
		var problems []string
		for _, path := range sortedKeys(outputs) {
			current, err := os.ReadFile(filepath.Join(root, path))
			switch {
			case err != nil:
				problems = append(problems, fmt.Sprintf("%s is missing", path))
			case !bytes.Equal(current, outputs[path]):
				problems = append(problems, fmt.Sprintf("%s differs from what its source makes", path))
			}
		}
		for _, stale := range staleFiles(root, outputs) {
			problems = append(problems, fmt.Sprintf("%s is no longer generated", stale))
		}
		if len(problems) > 0 {
			return fmt.Errorf("%s\nrun ops/observability/build-dashboards and keep its output with your change", strings.Join(problems, "\n"))
		}
		fmt.Printf("%d generated files up to date\n", len(outputs))
		return nil
	case "validate":
		problems := validate(root)
		if len(problems) > 0 {
			return fmt.Errorf("%d problems:\n%s", len(problems), strings.Join(problems, "\n"))
		}
		fmt.Println("dashboards, rules and tests valid")
		return nil
	case "panel-rules":
		out, err := panelRules(root)
		if err != nil {
			return err
		}
		_, err = os.Stdout.Write(out)
		return err
	default:
		return fmt.Errorf("unknown command %q: build, check-generated, validate or panel-rules", command)
	}
}

// generate: every file the generator owns, by path from the repository's root.
func generate(root string) (map[string][]byte, error) {
	outputs := map[string][]byte{}
	for _, spec := range allDashboards() {
		d, err := buildDashboard(spec)
		if err != nil {
			return nil, err
		}
		raw, err := json.MarshalIndent(d, "", "  ")
		if err != nil {
			return nil, fmt.Errorf("dashboard %s: %w", spec.file, err)
		}
		raw = append(raw, '\n')
		outputs[dashboardsDir+"/"+spec.file] = raw
		// The chart ships the same dashboards in a ConfigMap for Grafana's sidecar.
		outputs[chartDashboards+"/"+spec.file] = raw
	}
	exprs, err := collectExpressions(root)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	encoder := json.NewEncoder(&buf)
	encoder.SetEscapeHTML(false)
	encoder.SetIndent("", "  ")
	if err := encoder.Encode(exprs); err != nil {
		return nil, err
	}
	outputs[expressionsFile] = buf.Bytes()
	// The chart's PrometheusRule takes its groups from these copies of the rule files.
	files, err := ruleFiles(root)
	if err != nil {
		return nil, err
	}
	for _, path := range files {
		raw, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		outputs[chartRules+"/"+filepath.Base(path)] = raw
	}
	return outputs, nil
}

// staleFiles: files in the generator's output folders that it no longer makes. In the chart's
// folders only the names this generator uses (ioc-*) are its own.
func staleFiles(root string, outputs map[string][]byte) []string {
	var stale []string
	for _, pattern := range []string{
		dashboardsDir + "/*.json",
		chartDashboards + "/ioc-*.json",
		chartRules + "/ioc-*.yaml",
	} {
		matches, _ := filepath.Glob(filepath.Join(root, pattern))
		for _, m := range matches {
			rel, _ := filepath.Rel(root, m)
			if _, ok := outputs[rel]; !ok {
				stale = append(stale, rel)
			}
		}
	}
	sort.Strings(stale)
	return stale
}

func sortedKeys(m map[string][]byte) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
