package main

// The dashboards are described here as plain values (a dashboard has rows, a row has panels, a
// panel has queries) and turned into Grafana's model with the foundation SDK's builders. The
// same values feed expressions.json, so each query is written once, with what the end-to-end
// test needs to know about it (does it return data on a healthy, fed pipeline?).

import (
	"fmt"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
	"github.com/grafana/grafana-foundation-sdk/go/units"
)

// The Prometheus data source every panel reads, chosen by the viewer (variable `datasource`).
const datasourceUID = "${datasource}"

type query struct {
	expr   string
	legend string
	// optional: legitimately empty on a healthy pipeline (canary off, process metrics not
	// exported); everything else returns series while the simulator feeds the pipeline.
	optional bool
}

type panelKind int

const (
	timeSeries panelKind = iota
	singleStat
)

type panel struct {
	kind        panelKind
	title       string
	description string
	unit        string
	queries     []query
	// width in grid columns (of 24); 0 means 8.
	width uint32
	// thresholds: one value at which the colour turns red, or two (orange, then red), for a
	// stat's background or a dashed line on a time series; nil for none.
	thresholds []float64
	// noValue is shown instead of "No data", for panels whose metrics may legitimately be absent.
	noValue string
}

type row struct {
	title  string
	panels []panel
}

type dashboardSpec struct {
	file        string // under ops/observability/dashboards/
	uid         string
	title       string
	description string
	// jobs offered by the `job` variable (the scrape jobs' names), the first one or all selected.
	jobs    []string
	allJobs bool
	rows    []row
}

func q(expr, legend string) query         { return query{expr: expr, legend: legend} }
func optionalQ(expr, legend string) query { return query{expr: expr, legend: legend, optional: true} }

func ds() common.DataSourceRef {
	return common.DataSourceRef{Type: cog.ToPtr("prometheus"), Uid: cog.ToPtr(datasourceUID)}
}

func thresholdSteps(values []float64) *dashboard.ThresholdsConfigBuilder {
	// One value: green below, red from it on. Two: green, orange, red.
	colours := []string{"red"}
	if len(values) > 1 {
		colours = []string{"orange", "red"}
	}
	steps := []dashboard.Threshold{{Value: nil, Color: "green"}}
	for i, v := range values {
		steps = append(steps, dashboard.Threshold{Value: cog.ToPtr(v), Color: colours[min(i, len(colours)-1)]})
	}
	return dashboard.NewThresholdsConfigBuilder().Mode(dashboard.ThresholdsModeAbsolute).Steps(steps)
}

func targets(p panel) []cog.Builder[variants.Dataquery] {
	out := make([]cog.Builder[variants.Dataquery], 0, len(p.queries))
	for i, query := range p.queries {
		out = append(out, prometheus.NewDataqueryBuilder().
			Datasource(ds()).
			RefId(string(rune('A'+i))).
			Expr(query.expr).
			LegendFormat(query.legend).
			Range())
	}
	return out
}

func buildPanel(p panel) (cog.Builder[dashboard.Panel], error) {
	if p.unit == "" {
		return nil, fmt.Errorf("panel %q has no unit: give it one (units.Seconds, units.Short, units.BytesIEC, ...)", p.title)
	}
	width := p.width
	if width == 0 {
		width = 8
	}
	switch p.kind {
	case singleStat:
		b := stat.NewPanelBuilder().
			Title(p.title).Description(p.description).Datasource(ds()).
			Unit(p.unit).Height(5).Span(width).
			Targets(targets(p)).
			ColorMode(common.BigValueColorModeBackground).
			GraphMode(common.BigValueGraphModeNone).
			Orientation(common.VizOrientationAuto).
			ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"}))
		if p.thresholds != nil {
			b = b.Thresholds(thresholdSteps(p.thresholds))
		}
		if p.noValue != "" {
			b = b.NoValue(p.noValue)
		}
		return b, nil
	default:
		b := timeseries.NewPanelBuilder().
			Title(p.title).Description(p.description).Datasource(ds()).
			Unit(p.unit).Height(8).Span(width).Min(0).
			Targets(targets(p)).
			FillOpacity(10).
			ShowPoints(common.VisibilityModeNever).
			Legend(common.NewVizLegendOptionsBuilder().
				DisplayMode(common.LegendDisplayModeList).
				Placement(common.LegendPlacementBottom).
				ShowLegend(true)).
			Tooltip(common.NewVizTooltipOptionsBuilder().
				Mode(common.TooltipDisplayModeMulti).
				Sort(common.SortOrderDescending))
		if p.thresholds != nil {
			b = b.Thresholds(thresholdSteps(p.thresholds)).
				ThresholdsStyle(common.NewGraphThresholdsStyleConfigBuilder().Mode(common.GraphThresholdsStyleModeDashed))
		}
		if p.noValue != "" {
			b = b.NoValue(p.noValue)
		}
		return b, nil
	}
}

func customVariable(name, label, description string, values []string, all bool, allValue string) *dashboard.CustomVariableBuilder {
	joined := ""
	for i, v := range values {
		if i > 0 {
			joined += ","
		}
		joined += v
	}
	current := values[0]
	currentValue := values[0]
	if all {
		current, currentValue = "All", "$__all"
	}
	b := dashboard.NewCustomVariableBuilder(name).
		Label(label).
		Description(description).
		Values(dashboard.StringOrMap{String: cog.ToPtr(joined)}).
		Multi(true).
		IncludeAll(true).
		AllowCustomValue(true).
		Current(dashboard.VariableOption{
			Text:  dashboard.StringOrArrayOfString{String: cog.ToPtr(current)},
			Value: dashboard.StringOrArrayOfString{String: cog.ToPtr(currentValue)},
		})
	if allValue != "" {
		b = b.AllValue(allValue)
	}
	return b
}

// buildDashboard turns a spec into Grafana's dashboard model.
func buildDashboard(spec dashboardSpec) (dashboard.Dashboard, error) {
	b := dashboard.NewDashboardBuilder(spec.title).
		Uid(spec.uid).
		Description(spec.description).
		Tags([]string{"ioc", "generated"}).
		Editable().
		Refresh("1m").
		Time("now-6h", "now").
		Timezone(common.TimeZoneBrowser).
		Tooltip(dashboard.DashboardCursorSyncCrosshair).
		Link(dashboard.NewDashboardLinkBuilder("IOC dashboards").
			Type(dashboard.DashboardLinkTypeDashboards).
			Tags([]string{"ioc"}).
			AsDropdown(true).
			IncludeVars(true).
			KeepTime(true)).
		WithVariable(dashboard.NewDatasourceVariableBuilder("datasource").
			Label("Prometheus").
			Description("The Prometheus that scrapes ioc-ingest, ioc-processor and ioc-api").
			Type("prometheus")).
		WithVariable(customVariable("source", "Source",
			"Event source: portal (dossiers), edoc (e-documents), training (digital-skills platforms)",
			[]string{"portal", "edoc", "training"}, true, ".*")).
		WithVariable(customVariable("job", "Job",
			"Scrape job names of the services (change here if your Prometheus names them differently)",
			spec.jobs, spec.allJobs, ""))
	for _, r := range spec.rows {
		b = b.WithRow(dashboard.NewRowBuilder(r.title))
		for _, p := range r.panels {
			pb, err := buildPanel(p)
			if err != nil {
				return dashboard.Dashboard{}, fmt.Errorf("dashboard %s: %w", spec.file, err)
			}
			b = b.WithPanel(pb)
		}
	}
	d, err := b.Build()
	if err != nil {
		return dashboard.Dashboard{}, fmt.Errorf("dashboard %s: the foundation SDK refused it: %w", spec.file, err)
	}
	return d, nil
}

// Units used by the panels (names from the foundation SDK, values as Grafana knows them).
var (
	unitSeconds        = units.Seconds
	unitShort          = units.Short
	unitBytes          = units.BytesIEC
	unitBytesPerSecond = units.BytesPerSecondSI
	unitPerSecond      = units.CountsPerSecond
	unitRequestsPerSec = units.RequestsPerSecond
	unitRatio          = units.PercentUnit
)
