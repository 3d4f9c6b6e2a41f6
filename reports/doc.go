// Package reports turns closed rounds into frozen releases (with minimum
// group sizes that survive differencing across the hierarchy, decided by
// package anonymity), computes statistics and trends from releases only,
// and builds chart options. It never writes survey tables.
package reports
