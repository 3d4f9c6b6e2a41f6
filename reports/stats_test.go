package reports

import (
	"math"
	"testing"
)

// statsMoments builds Moments from raw values.
func statsMoments(xs ...float64) Moments {
	m := Moments{N: len(xs)}
	for _, x := range xs {
		m.Sum += x
		m.SumSq += x * x
	}
	return m
}

// statsTDensity is Student's t density, written independently of the
// package's implementation (only math.Lgamma is shared).
func statsTDensity(x, df float64) float64 {
	a, _ := math.Lgamma((df + 1) / 2)
	b, _ := math.Lgamma(df / 2)
	c := math.Exp(a-b) / math.Sqrt(df*math.Pi)
	return c * math.Pow(1+x*x/df, -(df+1)/2)
}

// statsSimpson integrates f over [a, b] with the composite Simpson rule on
// n (even) intervals.
func statsSimpson(f func(float64) float64, a, b float64, n int) float64 {
	h := (b - a) / float64(n)
	s := f(a) + f(b)
	for i := 1; i < n; i++ {
		w := 2.0
		if i%2 == 1 {
			w = 4
		}
		s += w * f(a+float64(i)*h)
	}
	return s * h / 3
}

// statsCDFSimpson is P(T <= t) by numerical integration of the density.
func statsCDFSimpson(t, df float64) float64 {
	in := statsSimpson(func(x float64) float64 { return statsTDensity(x, df) }, 0, math.Abs(t), 20000)
	if t < 0 {
		return 0.5 - in
	}
	return 0.5 + in
}

func TestMoments(t *testing.T) {
	tests := []struct {
		name             string
		m                Moments
		mean, vr, sd, se float64
	}{
		{"empty", Moments{}, 0, 0, 0, 0},
		{"one", statsMoments(4), 4, 0, 0, 0},
		{"two", statsMoments(2, 4), 3, 2, math.Sqrt2, 1},
		{"one to five", statsMoments(1, 2, 3, 4, 5), 3, 2.5, math.Sqrt(2.5), math.Sqrt(0.5)},
		{"constant", statsMoments(3, 3, 3, 3), 3, 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, c := range []struct {
				what      string
				got, want float64
			}{
				{"Mean", tt.m.Mean(), tt.mean},
				{"Var", tt.m.Var(), tt.vr},
				{"SD", tt.m.SD(), tt.sd},
				{"SE", tt.m.SE(), tt.se},
			} {
				if math.Abs(c.got-c.want) > 1e-12 {
					t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
				}
			}
		})
	}
}

func TestStudentTQuantileKnownValues(t *testing.T) {
	tests := []struct {
		p, df, want float64
	}{
		{0.975, 1, 12.706204736174698},
		{0.975, 2, 4.302652729749464},
		{0.975, 4, 2.7764451051977934},
		{0.975, 10, 2.2281388519862744},
		{0.975, 30, 2.0422724563012373},
		{0.975, 1000, 1.9623390808264078},
		{0.95, 5, 2.015048372669157},
		{0.995, 20, 2.845339709785},
		{0.025, 4, -2.7764451051977934},
		{0.975, math.Inf(1), 1.959963984540054},
		{0.975, 1e12, 1.959963984540054},
	}
	for _, tt := range tests {
		got := StudentTQuantile(tt.p, tt.df)
		if math.Abs(got-tt.want) > 1e-6 {
			t.Errorf("StudentTQuantile(%v, %v) = %.12g, want %.12g", tt.p, tt.df, got, tt.want)
		}
	}
}

func TestStudentTCDFClosedForms(t *testing.T) {
	closed := map[float64]func(x float64) float64{
		1: func(x float64) float64 { return 0.5 + math.Atan(x)/math.Pi },
		2: func(x float64) float64 { return 0.5 + x/(2*math.Sqrt(2+x*x)) },
		3: func(x float64) float64 {
			return 0.5 + (x/(math.Sqrt(3)*(1+x*x/3))+math.Atan(x/math.Sqrt(3)))/math.Pi
		},
		4: func(x float64) float64 {
			u := 1 + x*x/4
			return 0.5 + 3.0/8*x/math.Sqrt(u)*(1-x*x/(12*u))
		},
	}
	for df, f := range closed {
		for _, x := range []float64{-50, -7.5, -2, -1, -0.3, -1e-9, 0, 1e-9, 0.3, 1, 2, 7.5, 50} {
			got, want := StudentTCDF(x, df), f(x)
			if math.Abs(got-want) > 1e-12 {
				t.Errorf("StudentTCDF(%v, %v) = %.15g, want %.15g", x, df, got, want)
			}
		}
	}
}

func TestStudentTCDFAgainstIntegration(t *testing.T) {
	for _, df := range []float64{0.7, 2.5, 4.749, 7.3, 29, 120, 5000} {
		for _, x := range []float64{-4, -1.5, 0.2, 1, 2.1, 3.7} {
			got, want := StudentTCDF(x, df), statsCDFSimpson(x, df)
			if math.Abs(got-want) > 1e-9 {
				t.Errorf("StudentTCDF(%v, %v) = %.12g, Simpson %.12g", x, df, got, want)
			}
		}
	}
}

func TestStudentTCDFProperties(t *testing.T) {
	for _, df := range []float64{0.5, 1, 3, 10, 100, 1e6, 1e10, math.Inf(1)} {
		if got := StudentTCDF(0, df); got != 0.5 {
			t.Errorf("StudentTCDF(0, %v) = %v, want 0.5", df, got)
		}
		if got := StudentTCDF(math.Inf(1), df); got != 1 {
			t.Errorf("StudentTCDF(+Inf, %v) = %v, want 1", df, got)
		}
		if got := StudentTCDF(math.Inf(-1), df); got != 0 {
			t.Errorf("StudentTCDF(-Inf, %v) = %v, want 0", df, got)
		}
		prev := 0.0
		for x := -20.0; x <= 20; x += 0.25 {
			c := StudentTCDF(x, df)
			if s := StudentTCDF(-x, df); math.Abs(c+s-1) > 1e-14 {
				t.Errorf("df=%v: CDF(%v)+CDF(%v) = %v, want 1", df, x, -x, c+s)
			}
			if c < prev {
				t.Errorf("df=%v: CDF not monotone at %v", df, x)
			}
			prev = c
		}
		for _, p := range []float64{1e-10, 0.001, 0.025, 0.3, 0.5, 0.77, 0.975, 0.9999} {
			q := StudentTQuantile(p, df)
			if back := StudentTCDF(q, df); math.Abs(back-p) > 1e-12*math.Max(1, p/1e-3) && math.Abs(back-p)/p > 1e-9 {
				t.Errorf("df=%v: CDF(Quantile(%v)) = %v", df, p, back)
			}
		}
	}
	// Large df: the Cornish-Fisher expansion of the quantile,
	// t = z + (z^3+z)/(4 df) + (5z^5+16z^3+3z)/(96 df^2) + O(df^-3).
	z := 1.959963984540054
	for _, df := range []float64{1e4, 3e4, 1e6, 1e8, 5e8} {
		want := z + (z*z*z+z)/(4*df) + (5*math.Pow(z, 5)+16*z*z*z+3*z)/(96*df*df)
		if got := StudentTQuantile(0.975, df); math.Abs(got-want) > 1e-10 {
			t.Errorf("StudentTQuantile(0.975, %v) = %.15g, want %.15g", df, got, want)
		}
	}
	// Large df approaches the normal distribution.
	for _, x := range []float64{-3, -1, 0.5, 1.96, 4} {
		normal := 0.5 * math.Erfc(-x/math.Sqrt2)
		for _, df := range []float64{1e5, 1e8, 1e10} {
			if got := StudentTCDF(x, df); math.Abs(got-normal) > 20/df+1e-12 {
				t.Errorf("StudentTCDF(%v, %v) = %v, normal %v", x, df, got, normal)
			}
		}
	}
}

// TestStudentTLargeDFMethods checks that the power series used for large df
// agrees with the continued fraction (both lose some relative precision
// in the far tail: the series to 1 - I, the fraction to x near 1), and
// that the CDF is continuous where studentTUpper switches method.
func TestStudentTLargeDFMethods(t *testing.T) {
	for _, df := range []float64{1500, 2.5e4, 1e5} {
		for x := 0.1; x < 6; x += 0.3 {
			u := (x / math.Sqrt(df)) * (x / math.Sqrt(df))
			xb, yb := 1/(1+u), u/(1+u)
			cf := 0.5 * regIncBeta(df/2, 0.5, xb, yb)
			series := 0.5 * (1 - regIncBetaSeries(0.5, df/2, yb, xb))
			if math.Abs(cf-series) > 1e-9*cf+3e-15 {
				t.Errorf("df=%v t=%v: continued fraction %.15g, series %.15g", df, x, cf, series)
			}
		}
	}
	for _, df := range []float64{999, 1001, 1e6, 1e8} {
		a, b := StudentTCDF(5-1e-9, df), StudentTCDF(5+1e-9, df)
		if d := b - a; d < 0 || d > 1e-13 {
			t.Errorf("df=%v: CDF jumps by %v at t=5", df, d)
		}
	}
	a, b := StudentTCDF(1.5, 1000), StudentTCDF(1.5, math.Nextafter(1000, 2000))
	if math.Abs(a-b) > 1e-13 {
		t.Errorf("CDF(1.5) jumps by %v at df=1000", b-a)
	}
	// Above normalDF the normal is used; the true difference there is
	// pdf(t)(t^3+t)/(4 df), about 1.6e-10 at t = 1.5.
	a, b = StudentTCDF(1.5, normalDF), StudentTCDF(1.5, math.Nextafter(normalDF, 2*normalDF))
	if math.Abs(a-b) > 2e-10 {
		t.Errorf("CDF(1.5) jumps by %v at df=normalDF", b-a)
	}
}

func TestStudentTInvalid(t *testing.T) {
	nan := math.NaN()
	for _, v := range []float64{
		StudentTCDF(1, 0), StudentTCDF(1, -2), StudentTCDF(nan, 3), StudentTCDF(1, nan),
		StudentTQuantile(-0.1, 3), StudentTQuantile(1.1, 3), StudentTQuantile(0.5, 0), StudentTQuantile(nan, 3),
	} {
		if !math.IsNaN(v) {
			t.Errorf("got %v, want NaN", v)
		}
	}
	if q := StudentTQuantile(0, 3); !math.IsInf(q, -1) {
		t.Errorf("StudentTQuantile(0, 3) = %v, want -Inf", q)
	}
	if q := StudentTQuantile(1, 3); !math.IsInf(q, 1) {
		t.Errorf("StudentTQuantile(1, 3) = %v, want +Inf", q)
	}
	if q := StudentTQuantile(0.5, 3); q != 0 {
		t.Errorf("StudentTQuantile(0.5, 3) = %v, want 0", q)
	}
}

func TestCI95(t *testing.T) {
	// 1..5: mean 3, s^2 = 10/4 = 2.5, SE = sqrt(2.5/5) = sqrt(0.5),
	// t_{0.975,4} = 2.7764451052 from tables.
	lo, hi := CI95(statsMoments(1, 2, 3, 4, 5))
	h := 2.7764451051977934 * math.Sqrt(0.5)
	if math.Abs(lo-(3-h)) > 1e-9 || math.Abs(hi-(3+h)) > 1e-9 {
		t.Errorf("CI95(1..5) = [%v, %v], want [%v, %v]", lo, hi, 3-h, 3+h)
	}
	if math.Abs(lo-1.036756) > 1e-6 || math.Abs(hi-4.963244) > 1e-6 {
		t.Errorf("CI95(1..5) = [%v, %v], want about [1.036756, 4.963244]", lo, hi)
	}
	// {2, 4}: mean 3, s^2 = 2, SE = 1, t_{0.975,1} = 12.7062047362.
	lo, hi = CI95(statsMoments(2, 4))
	if math.Abs(lo-(3-12.706204736174698)) > 1e-9 || math.Abs(hi-(3+12.706204736174698)) > 1e-9 {
		t.Errorf("CI95(2,4) = [%v, %v]", lo, hi)
	}
	// Edge cases: N < 2 and zero variance collapse to the mean.
	for _, m := range []Moments{{}, statsMoments(4), statsMoments(3, 3, 3)} {
		lo, hi := CI95(m)
		if lo != m.Mean() || hi != m.Mean() {
			t.Errorf("CI95(%+v) = [%v, %v], want the mean %v twice", m, lo, hi, m.Mean())
		}
	}
}

func TestWelchTestWorkedExample(t *testing.T) {
	// a = 1,2,3,4,5: mean 3, s^2 = 5/2, s^2/n = 1/2.
	// b = 3,5,7,9:   mean 6, s^2 = 20/3, s^2/n = 5/3.
	// s^2/n sum = 13/6, T = (3-6)/sqrt(13/6).
	// DF = (13/6)^2 / ((1/2)^2/4 + (5/3)^2/3) = (169/36) / (427/432) = 2028/427.
	a, b := statsMoments(1, 2, 3, 4, 5), statsMoments(3, 5, 7, 9)
	w, ok := WelchTest(a, b)
	if !ok {
		t.Fatal("WelchTest not ok")
	}
	wantT := -3 / math.Sqrt(13.0/6)
	wantDF := 2028.0 / 427
	if math.Abs(w.T-wantT) > 1e-6 || math.Abs(w.DF-wantDF) > 1e-6 {
		t.Errorf("T, DF = %v, %v, want %v, %v", w.T, w.DF, wantT, wantDF)
	}
	// Two-sided p by Simpson integration of the density over [0, |T|].
	wantP := 1 - 2*statsSimpson(func(x float64) float64 { return statsTDensity(x, wantDF) }, 0, math.Abs(wantT), 20000)
	if math.Abs(w.P-wantP) > 1e-9 {
		t.Errorf("P = %.12g, Simpson %.12g", w.P, wantP)
	}
	if math.Abs(w.P-0.1001) > 5e-4 {
		t.Errorf("P = %v, want about 0.100", w.P)
	}
	if Significant(w, 0.05) || !Significant(w, 0.2) {
		t.Errorf("Significant(P=%v) wrong at 0.05 or 0.2", w.P)
	}
	// Swapping the samples flips T and keeps DF and P.
	w2, _ := WelchTest(b, a)
	if w2.T != -w.T || w2.DF != w.DF || w2.P != w.P {
		t.Errorf("swapped: %+v, want T=%v DF=%v P=%v", w2, -w.T, w.DF, w.P)
	}
}

func TestWelchTestEdgeCases(t *testing.T) {
	tests := []struct {
		name   string
		a, b   Moments
		ok     bool
		wantDF float64
	}{
		{"a empty", Moments{}, statsMoments(1, 2, 3), false, 0},
		{"a single", statsMoments(4), statsMoments(1, 2, 3), false, 0},
		{"b single", statsMoments(1, 2, 3), statsMoments(4), false, 0},
		{"both zero variance", statsMoments(3, 3, 3), statsMoments(4, 4), false, 0},
		{"both zero variance same mean", statsMoments(3, 3), statsMoments(3, 3, 3), false, 0},
		// One variance 0: DF is that of the other sample, n-1.
		{"a zero variance", statsMoments(4, 4, 4, 4), statsMoments(1, 2, 3), true, 2},
		{"identical", statsMoments(1, 2, 3), statsMoments(1, 2, 3), true, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, ok := WelchTest(tt.a, tt.b)
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v", ok, tt.ok)
			}
			if !ok {
				if Significant(w, 0.05) {
					t.Errorf("undefined test %+v reported significant", w)
				}
				return
			}
			if math.Abs(w.DF-tt.wantDF) > 1e-9 {
				t.Errorf("DF = %v, want %v", w.DF, tt.wantDF)
			}
			if w.P < 0 || w.P > 1 || math.IsNaN(w.P) {
				t.Errorf("P = %v out of [0, 1]", w.P)
			}
		})
	}
	w, _ := WelchTest(statsMoments(1, 2, 3), statsMoments(1, 2, 3))
	if w.T != 0 || w.P != 1 {
		t.Errorf("identical samples: %+v, want T=0 P=1", w)
	}
	// a zero variance: T = (4-2)/sqrt(1/3) = 2 sqrt(3), DF = 2,
	// two-sided p = 1 - T/sqrt(2+T^2) (closed form for 2 df) = 1 - sqrt(6/7).
	w, _ = WelchTest(statsMoments(4, 4, 4, 4), statsMoments(1, 2, 3))
	if math.Abs(w.T-2*math.Sqrt(3)) > 1e-12 || math.Abs(w.P-(1-math.Sqrt(6.0/7))) > 1e-12 {
		t.Errorf("a zero variance: %+v, want T=%v P=%v", w, 2*math.Sqrt(3), 1-math.Sqrt(6.0/7))
	}
}

func TestSignificant(t *testing.T) {
	tests := []struct {
		p, alpha float64
		want     bool
	}{
		{0.01, 0.05, true},
		{0.05, 0.05, false},
		{0.2, 0.05, false},
		{math.NaN(), 0.05, false},
	}
	for _, tt := range tests {
		if got := Significant(Welch{P: tt.p}, tt.alpha); got != tt.want {
			t.Errorf("Significant(P=%v, %v) = %v, want %v", tt.p, tt.alpha, got, tt.want)
		}
	}
}

func TestFavourableShare(t *testing.T) {
	tests := []struct {
		fav, total int
		want       float64
	}{
		{0, 0, 0},
		{3, 0, 0},
		{0, 4, 0},
		{3, 4, 0.75},
		{5, 5, 1},
	}
	for _, tt := range tests {
		if got := FavourableShare(tt.fav, tt.total); got != tt.want {
			t.Errorf("FavourableShare(%d, %d) = %v, want %v", tt.fav, tt.total, got, tt.want)
		}
	}
}
