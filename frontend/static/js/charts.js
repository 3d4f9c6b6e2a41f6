// Renders every [data-echarts-option] element as an ECharts chart.
//
// Chart options come from the server as JSON in a data attribute (escaped by html/template)
// rather than from go-echarts' inline <script>, which the CSP forbids and which a team name
// containing "</script>" could break out of. vendor/echarts/echarts.min.js must be loaded
// before this module as a classic script; it defines the global `echarts`.
//
// Failures are silent on purpose (survey pages must not log to the console): a chart that
// cannot be drawn gets a data-chart-error attribute, which tests and CSS can look for.

const charts = [];

function withDefaults(option) {
	// Describe the chart to screen readers (ECharts sets aria-label on the container).
	if (option.aria === undefined) option.aria = { enabled: true };
	// Draw tooltips on the canvas: HTML tooltips carry inline style attributes, which a
	// strict style-src blocks.
	const tips = Array.isArray(option.tooltip) ? option.tooltip : option.tooltip ? [option.tooltip] : [];
	for (const tip of tips) {
		if (tip && tip.renderMode === undefined) tip.renderMode = "richText";
	}
	if (option.animation === undefined && matchMedia("(prefers-reduced-motion: reduce)").matches) {
		option.animation = false;
	}
	return option;
}

function render(el) {
	try {
		const option = JSON.parse(el.dataset.echartsOption);
		if (option === null || typeof option !== "object") throw new TypeError("option is not an object");
		const chart = echarts.init(el, null, { renderer: "canvas" });
		chart.setOption(withDefaults(option));
		charts.push(chart);
	} catch {
		el.setAttribute("data-chart-error", "");
	}
}

function renderAll() {
	const els = document.querySelectorAll("[data-echarts-option]");
	if (typeof echarts === "undefined") {
		els.forEach((el) => el.setAttribute("data-chart-error", ""));
		return;
	}
	els.forEach(render);
}

let resizePending = false;
window.addEventListener("resize", () => {
	if (resizePending) return;
	resizePending = true;
	requestAnimationFrame(() => {
		resizePending = false;
		for (const chart of charts) chart.resize();
	});
});

if (document.readyState === "loading") {
	document.addEventListener("DOMContentLoaded", renderAll);
} else {
	renderAll();
}
