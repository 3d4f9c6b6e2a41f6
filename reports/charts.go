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

// Panel is one dimension's trend: a small chart with its own fitted axis,
// so that movement is visible, and the rounds without a result.
type Panel struct {
	Dimension, Label string
	JSON             string
	AxisMin, AxisMax float64
	Gaps             []Gap
}

// Gap is a round without a result for the unit, and why.
type Gap struct {
	Round, Reason string
}

// TrendPanels draws one small chart per dimension (small multiples): the
// unit's mean per round with its 95% confidence band, and, when compare is
// given, the group above as a dashed comparison line. Rounds without a
// result are gaps, never zeros, and are listed with their reason.
func TrendPanels(trend, compare []Point, compareName string) ([]Panel, error) {
	labels := make([]string, len(trend))
	for i, p := range trend {
		labels[i] = p.Round.Label
	}
	var panels []Panel
	for _, dim := range survey.Dimensions() {
		label := survey.DimensionLabel(dim)
		panel := Panel{Dimension: dim, Label: label}
		mean := make([]opts.LineData, len(trend))
		lo := make([]opts.LineData, len(trend))
		band := make([]opts.LineData, len(trend))
		var seen []float64
		for i, p := range trend {
			s, ok := p.Scores[dim]
			if !p.Published || !ok {
				mean[i], lo[i], band[i] = opts.LineData{Value: "-"}, opts.LineData{Value: "-"}, opts.LineData{Value: "-"}
				reason := p.Reason
				if reason == "" {
					reason = "not asked this round"
				}
				panel.Gaps = append(panel.Gaps, Gap{Round: p.Round.Label, Reason: reason})
				continue
			}
			mean[i] = opts.LineData{Value: round2(s.Mean)}
			lo[i] = opts.LineData{Value: round2(s.Lo)}
			band[i] = opts.LineData{Value: round2(s.Hi - s.Lo)}
			seen = append(seen, s.Lo, s.Hi)
		}
		var other []opts.LineData
		if len(compare) == len(trend) {
			other = make([]opts.LineData, len(trend))
			for i, p := range compare {
				if s, ok := p.Scores[dim]; ok && p.Published {
					other[i] = opts.LineData{Value: round2(s.Mean)}
					seen = append(seen, s.Mean)
				} else {
					other[i] = opts.LineData{Value: "-"}
				}
			}
		}
		panel.AxisMin, panel.AxisMax = fitAxis(seen)

		line := charts.NewLine()
		legend := []string{label}
		if other != nil {
			legend = append(legend, compareName)
		}
		line.SetGlobalOptions(
			charts.WithInitializationOpts(opts.Initialization{AssetsHost: "/static/vendor/echarts/"}),
			charts.WithAnimation(false),
			charts.WithTooltipOpts(opts.Tooltip{Show: opts.Bool(true), Trigger: "axis"}),
			charts.WithLegendOpts(opts.Legend{Show: opts.Bool(other != nil), Top: "0", Data: legend}),
			charts.WithGridOpts(opts.Grid{Left: "36", Right: "12", Top: "28", Bottom: "28"}),
			charts.WithYAxisOpts(opts.YAxis{Min: panel.AxisMin, Max: panel.AxisMax, SplitNumber: 4}),
			charts.WithAriaOpts(&opts.Aria{Enabled: opts.Bool(true)}),
		)
		line.SetXAxis(labels)
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
		if other != nil {
			line.AddSeries(compareName, other,
				charts.WithLineChartOpts(opts.LineChart{ConnectNulls: opts.Bool(false), ShowSymbol: opts.Bool(false)}),
				charts.WithLineStyleOpts(opts.LineStyle{Color: "#6b7280", Width: 1.5, Type: "dashed"}),
				charts.WithItemStyleOpts(opts.ItemStyle{Color: "#6b7280"}),
				charts.WithSeriesAnimation(false))
		}
		js, err := chartJSON(line)
		if err != nil {
			return nil, err
		}
		panel.JSON = js
		panels = append(panels, panel)
	}
	return panels, nil
}

// fitAxis is a 1-5 axis range fitted to the values, on half points, at
// least one point wide, so that small movements are visible.
func fitAxis(vs []float64) (lo, hi float64) {
	if len(vs) == 0 {
		return 1, 5
	}
	mn, mx := vs[0], vs[0]
	for _, v := range vs {
		mn, mx = math.Min(mn, v), math.Max(mx, v)
	}
	lo = math.Max(1, math.Floor(2*(mn-0.05))/2)
	hi = math.Min(5, math.Ceil(2*(mx+0.05))/2)
	for hi-lo < 1 {
		if lo > 1 {
			lo -= 0.5
		}
		if hi-lo < 1 && hi < 5 {
			hi += 0.5
		}
	}
	return lo, hi
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
