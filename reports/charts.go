package reports

import (
	"encoding/json"
	"math"

	"github.com/go-echarts/go-echarts/v2/charts"
	"github.com/go-echarts/go-echarts/v2/opts"

	"github.com/pulse-survey/pulse/survey"
)

// Chart options are plain data (no JS functions), marshalled to JSON and
// put in a data attribute by html/template, which escapes them; one static
// script initialises the charts. Nothing goes into an inline script.

// dimensionColours are distinguishable for common colour blindness.
var dimensionColours = map[string]string{
	survey.DimPurpose:    "#1a56b0",
	survey.DimMastery:    "#b35c00",
	survey.DimAutonomy:   "#1d7a46",
	survey.DimEngagement: "#7b3fa0",
}

var bandColours = map[string]string{
	survey.DimPurpose:    "rgba(26,86,176,0.14)",
	survey.DimMastery:    "rgba(179,92,0,0.14)",
	survey.DimAutonomy:   "rgba(29,122,70,0.14)",
	survey.DimEngagement: "rgba(123,63,160,0.14)",
}

func round2(x float64) float64 { return math.Round(x*100) / 100 }

func chartJSON(c interface {
	Validate()
	JSON() map[string]interface{}
}) (string, error) {
	c.Validate()
	b, err := json.Marshal(c.JSON())
	return string(b), err
}

// TrendChart draws each dimension's mean per round with its 95% confidence
// band. Suppressed rounds are gaps, not zeros.
func TrendChart(trend []Point) (string, error) {
	line := charts.NewLine()
	line.SetGlobalOptions(
		charts.WithInitializationOpts(opts.Initialization{AssetsHost: "/static/vendor/echarts/"}),
		charts.WithAnimation(false),
		charts.WithTooltipOpts(opts.Tooltip{Show: opts.Bool(true), Trigger: "axis"}),
		charts.WithLegendOpts(opts.Legend{Show: opts.Bool(true), Top: "0", Data: legendNames()}),
		charts.WithGridOpts(opts.Grid{Left: "40", Right: "16", Top: "40", Bottom: "40"}),
		charts.WithYAxisOpts(opts.YAxis{Min: 1, Max: 5, SplitNumber: 4, Name: "mean (1-5)"}),
		charts.WithAriaOpts(&opts.Aria{Enabled: opts.Bool(true)}),
	)
	labels := make([]string, len(trend))
	for i, p := range trend {
		labels[i] = p.Round.Label
	}
	line.SetXAxis(labels)
	for _, dim := range survey.Dimensions() {
		mean := make([]opts.LineData, len(trend))
		lo := make([]opts.LineData, len(trend))
		band := make([]opts.LineData, len(trend))
		for i, p := range trend {
			s, ok := p.Scores[dim]
			if !p.Published || !ok {
				mean[i], lo[i], band[i] = opts.LineData{Value: "-"}, opts.LineData{Value: "-"}, opts.LineData{Value: "-"}
				continue
			}
			mean[i] = opts.LineData{Value: round2(s.Mean)}
			lo[i] = opts.LineData{Value: round2(s.Lo)}
			band[i] = opts.LineData{Value: round2(s.Hi - s.Lo)}
		}
		label := survey.DimensionLabel(dim)
		stack := "ci-" + dim
		line.AddSeries(label+" 95% low", lo,
			charts.WithLineChartOpts(opts.LineChart{Stack: stack, ShowSymbol: opts.Bool(false), ConnectNulls: opts.Bool(false)}),
			charts.WithLineStyleOpts(opts.LineStyle{Opacity: opts.Float(0)}),
			charts.WithSeriesAnimation(false))
		line.AddSeries(label+" 95% band", band,
			charts.WithLineChartOpts(opts.LineChart{Stack: stack, ShowSymbol: opts.Bool(false), ConnectNulls: opts.Bool(false)}),
			charts.WithLineStyleOpts(opts.LineStyle{Opacity: opts.Float(0)}),
			charts.WithAreaStyleOpts(opts.AreaStyle{Color: bandColours[dim]}),
			charts.WithSeriesAnimation(false))
		line.AddSeries(label, mean,
			charts.WithLineChartOpts(opts.LineChart{ConnectNulls: opts.Bool(false), ShowSymbol: opts.Bool(true)}),
			charts.WithLineStyleOpts(opts.LineStyle{Color: dimensionColours[dim], Width: 2}),
			charts.WithItemStyleOpts(opts.ItemStyle{Color: dimensionColours[dim]}),
			charts.WithSeriesAnimation(false))
	}
	return chartJSON(line)
}

func legendNames() []string {
	var out []string
	for _, d := range survey.Dimensions() {
		out = append(out, survey.DimensionLabel(d))
	}
	return out
}

// HeatmapChart shows the latest scores of child units by dimension.
// Suppressed children have no cells.
func HeatmapChart(children []ChildScores) (string, error) {
	hm := charts.NewHeatMap()
	var names []string
	for _, c := range children {
		names = append(names, c.Unit.Name)
	}
	var dims []string
	for _, d := range survey.Dimensions() {
		dims = append(dims, survey.DimensionLabel(d))
	}
	hm.SetGlobalOptions(
		charts.WithInitializationOpts(opts.Initialization{AssetsHost: "/static/vendor/echarts/"}),
		charts.WithAnimation(false),
		charts.WithTooltipOpts(opts.Tooltip{Show: opts.Bool(true)}),
		charts.WithGridOpts(opts.Grid{Left: "120", Right: "16", Top: "16", Bottom: "70"}),
		charts.WithXAxisOpts(opts.XAxis{Type: "category", Data: dims, SplitArea: &opts.SplitArea{Show: opts.Bool(true)}}),
		charts.WithYAxisOpts(opts.YAxis{Type: "category", Data: names, SplitArea: &opts.SplitArea{Show: opts.Bool(true)}}),
		charts.WithVisualMapOpts(opts.VisualMap{Min: 1, Max: 5, Calculable: opts.Bool(true), Orient: "horizontal",
			Left: "center", Bottom: "0", InRange: &opts.VisualMapInRange{Color: []string{"#b3261e", "#f4e3a1", "#1d6b34"}}}),
		charts.WithAriaOpts(&opts.Aria{Enabled: opts.Bool(true)}),
	)
	var data []opts.HeatMapData
	for y, c := range children {
		if !c.Published {
			continue
		}
		for x, d := range survey.Dimensions() {
			if s, ok := c.Scores[d]; ok {
				data = append(data, opts.HeatMapData{Value: [3]interface{}{x, y, round2(s.Mean)}})
			}
		}
	}
	hm.AddSeries("mean", data, charts.WithLabelOpts(opts.Label{Show: opts.Bool(true)}))
	return chartJSON(hm)
}
