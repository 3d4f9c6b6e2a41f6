package reports

import "math"

// Moments holds the sufficient statistics of a sample: its size, the sum of
// its values and the sum of their squares. A release stores these per cell,
// so every statistic a report shows is computed from released sums only,
// never from individual answers.
type Moments struct {
	N          int
	Sum, SumSq float64
}

// Mean returns the sample mean, or 0 for an empty sample.
func (m Moments) Mean() float64 {
	if m.N <= 0 {
		return 0
	}
	return m.Sum / float64(m.N)
}

// Var returns the unbiased sample variance (divisor N-1), or 0 when N < 2.
// It is computed from the sums, which is exact enough for bounded scales
// such as 1-5 answers; rounding can only push it below 0, and that is
// clamped to 0.
func (m Moments) Var() float64 {
	if m.N < 2 {
		return 0
	}
	n := float64(m.N)
	v := (m.SumSq - m.Sum*m.Sum/n) / (n - 1)
	if v < 0 || math.IsNaN(v) {
		return 0
	}
	return v
}

// SD returns the sample standard deviation (0 when N < 2).
func (m Moments) SD() float64 { return math.Sqrt(m.Var()) }

// SE returns the standard error of the mean, SD/sqrt(N) (0 when N < 2).
func (m Moments) SE() float64 {
	if m.N < 2 {
		return 0
	}
	return m.SD() / math.Sqrt(float64(m.N))
}

// normalDF is the number of degrees of freedom above which Student's t is
// replaced by the standard normal: the CDFs then differ by about
// pdf(t)(t^3+t)/(4 df), below 2e-10, and the beta continued fraction would
// lose about as many digits as df has.
const normalDF = 1e9

// StudentTCDF returns P(T <= t) for Student's t distribution with df
// degrees of freedom (df may be fractional, as in Welch's test). It
// returns NaN when df is not positive or either argument is NaN.
func StudentTCDF(t, df float64) float64 {
	if math.IsNaN(t) || math.IsNaN(df) || df <= 0 {
		return math.NaN()
	}
	if t == 0 {
		return 0.5
	}
	up := studentTUpper(math.Abs(t), df)
	if t > 0 {
		return 1 - up
	}
	return up
}

// studentTUpper returns P(T > t) for t >= 0. The upper tail is computed
// directly (not as 1 - CDF) so that small p-values keep their precision:
// P(T > t) = I_x(df/2, 1/2) / 2 with x = df/(df+t^2).
func studentTUpper(t, df float64) float64 {
	if math.IsInf(t, 1) {
		return 0
	}
	if df > normalDF {
		return 0.5 * math.Erfc(t/math.Sqrt2)
	}
	// x = df/(df+t^2) and 1-x = t^2/(df+t^2), written to avoid
	// cancellation when t is small or large relative to sqrt(df).
	x := 1 / (1 + (t/math.Sqrt(df))*(t/math.Sqrt(df)))
	y := 1 / (1 + (math.Sqrt(df)/t)*(math.Sqrt(df)/t))
	if df > 1000 && t < 5 {
		// For large df, x is within O(1/df) of 1 and the continued
		// fraction loses about log10(df) digits. The central probability
		// P(|T| < t) = I_y(1/2, df/2) has a power series of positive terms
		// that converges fast while y*df/2 (about t^2/2) is small; the
		// tail is then at least 2.8e-7, so 1 - I costs no real precision.
		return 0.5 * (1 - regIncBetaSeries(0.5, df/2, y, x))
	}
	return 0.5 * regIncBeta(df/2, 0.5, x, y)
}

// studentTPDF returns the density of Student's t with df degrees of freedom.
func studentTPDF(t, df float64) float64 {
	if df > normalDF {
		return math.Exp(-t*t/2) / math.Sqrt(2*math.Pi)
	}
	return math.Exp(-(df+1)/2*math.Log1p(t*t/df) - 0.5*math.Log(df) - logBeta(df/2, 0.5))
}

// regIncBeta returns the regularized incomplete beta function I_x(a, b)
// for a, b > 0 and x in [0, 1]; y must be 1-x (passed separately so
// callers can compute it without cancellation). It uses the continued
// fraction
//
//	I_x(a,b) = x^a (1-x)^b / (a B(a,b)) * 1/(1+ d1/(1+ d2/(1+ ...)))
//	d_{2m+1} = -(a+m)(a+b+m) x / ((a+2m)(a+2m+1))
//	d_{2m}   = m(b-m) x / ((a+2m-1)(a+2m))
//
// evaluated by the modified Lentz method, and the symmetry
// I_x(a,b) = 1 - I_{1-x}(b,a) where the fraction converges slowly
// (x > (a+1)/(a+b+2)).
func regIncBeta(a, b, x, y float64) float64 {
	switch {
	case x <= 0:
		return 0
	case y <= 0:
		return 1
	}
	if x > (a+1)/(a+b+2) {
		return 1 - regIncBeta(b, a, y, x)
	}
	// log x and log(1-x) from whichever of x, y is accurate: with large df
	// x is within 1e-9 of 1, and a*log(x) is then of order 1.
	lx, ly := math.Log(x), math.Log(y)
	if x > 0.5 {
		lx = math.Log1p(-y)
	} else {
		ly = math.Log1p(-x)
	}
	front := math.Exp(a*lx + b*ly - logBeta(a, b))
	return front * betaContFrac(a, b, x) / a
}

// regIncBetaSeries returns I_x(a, b) from the power series
//
//	I_x(a,b) = x^a (1-x)^b / (a B(a,b)) * sum_{m>=0} prod_{j<m} x(a+b+j)/(a+1+j)
//
// whose terms are all positive; y must be 1-x. It suits x*b of order 1.
func regIncBetaSeries(a, b, x, y float64) float64 {
	if x <= 0 {
		return 0
	}
	ly := math.Log1p(-x)
	if x > 0.5 {
		ly = math.Log(y)
	}
	front := math.Exp(a*math.Log(x) + b*ly - logBeta(a, b))
	sum, term := 1.0, 1.0
	for j := 0.0; j < 100000; j++ {
		term *= x * (a + b + j) / (a + 1 + j)
		sum += term
		if term < 1e-17*sum {
			break
		}
	}
	return math.Min(1, front*sum/a)
}

// logBeta returns log B(a, b) = lgamma(a) + lgamma(b) - lgamma(a+b). When
// one argument is large, lgamma(a+b) - lgamma(a) cancels (at df = 1e9 the
// terms are near 1e10, at df = 1500 near 4e3, costing 1e-13), so that
// difference is taken from Stirling's series instead, whose truncation
// error is below 1e-20 for arguments of at least 100.
func logBeta(a, b float64) float64 {
	big, small := a, b
	if small > big {
		big, small = small, big
	}
	ls, _ := math.Lgamma(small)
	if big < 100 {
		lb, _ := math.Lgamma(big)
		lab, _ := math.Lgamma(a + b)
		return ls + lb - lab
	}
	// lgamma(z) = (z-1/2)log z - z + log(2 pi)/2 + w(z), so
	// lgamma(big+small) - lgamma(big)
	//   = small*log(big) + (big+small-1/2)*log1p(small/big) - small
	//     + w(big+small) - w(big).
	stirling := func(z float64) float64 {
		z2 := z * z
		return 1/(12*z) - 1/(360*z*z2) + 1/(1260*z*z2*z2) - 1/(1680*z*z2*z2*z2)
	}
	diff := small*math.Log(big) + (big+small-0.5)*math.Log1p(small/big) - small +
		stirling(big+small) - stirling(big)
	return ls - diff
}

// betaContFrac evaluates the continued fraction of regIncBeta with the
// modified Lentz method.
func betaContFrac(a, b, x float64) float64 {
	const (
		tiny    = 1e-300
		eps     = 1e-16
		maxIter = 100000
	)
	c := 1.0
	d := 1 - (a+b)*x/(a+1)
	if math.Abs(d) < tiny {
		d = tiny
	}
	d = 1 / d
	h := d
	for m := 1; m <= maxIter; m++ {
		fm := float64(m)
		// Even step d_{2m}.
		num := fm * (b - fm) * x / ((a + 2*fm - 1) * (a + 2*fm))
		d = 1 + num*d
		if math.Abs(d) < tiny {
			d = tiny
		}
		c = 1 + num/c
		if math.Abs(c) < tiny {
			c = tiny
		}
		d = 1 / d
		h *= d * c
		// Odd step d_{2m+1}.
		num = -(a + fm) * (a + b + fm) * x / ((a + 2*fm) * (a + 2*fm + 1))
		d = 1 + num*d
		if math.Abs(d) < tiny {
			d = tiny
		}
		c = 1 + num/c
		if math.Abs(c) < tiny {
			c = tiny
		}
		d = 1 / d
		del := d * c
		h *= del
		if math.Abs(del-1) < eps {
			break
		}
	}
	return h
}

// StudentTQuantile returns the t such that StudentTCDF(t, df) = p. It
// returns -Inf for p = 0, +Inf for p = 1, and NaN for p outside [0, 1] or
// df not positive. The root is found by Newton's method on the upper tail,
// safeguarded by bisection, to full float64 precision.
func StudentTQuantile(p, df float64) float64 {
	switch {
	case math.IsNaN(p) || math.IsNaN(df) || df <= 0 || p < 0 || p > 1:
		return math.NaN()
	case p == 0:
		return math.Inf(-1)
	case p == 1:
		return math.Inf(1)
	case p == 0.5:
		return 0
	}
	if p < 0.5 {
		return -studentTUpperInv(p, df)
	}
	return studentTUpperInv(1-p, df)
}

// studentTUpperInv returns t >= 0 with P(T > t) = q, for 0 < q < 1/2.
func studentTUpperInv(q, df float64) float64 {
	f := func(t float64) float64 { return studentTUpper(t, df) - q }
	// Bracket the root: f is decreasing, f(0) = 1/2 - q > 0.
	lo, hi := 0.0, 1.0
	for f(hi) > 0 {
		lo, hi = hi, 2*hi
		if math.IsInf(hi, 1) {
			return math.MaxFloat64
		}
	}
	t := (lo + hi) / 2
	for i := 0; i < 500; i++ {
		ft := f(t)
		if ft == 0 {
			return t
		}
		if ft > 0 {
			lo = t
		} else {
			hi = t
		}
		// Newton step (dP(T>t)/dt = -pdf), kept inside the bracket.
		next := t + ft/studentTPDF(t, df)
		if !(next > lo && next < hi) {
			next = lo + (hi-lo)/2
		}
		if math.Abs(next-t) <= 1e-15*math.Max(1, math.Abs(t)) || hi-lo <= 1e-15*hi {
			return next
		}
		t = next
	}
	return t
}

// CI95 returns the 95% confidence interval of the mean, mean ± t·SE with t
// the 0.975 quantile of Student's t with N-1 degrees of freedom. For N < 2
// there is no interval and it returns (mean, mean).
func CI95(m Moments) (lo, hi float64) {
	mean := m.Mean()
	if m.N < 2 {
		return mean, mean
	}
	h := StudentTQuantile(0.975, float64(m.N-1)) * m.SE()
	return mean - h, mean + h
}

// Welch is the result of Welch's unequal-variances t-test: the statistic,
// the Welch–Satterthwaite degrees of freedom and the two-sided p-value.
type Welch struct {
	T, DF, P float64
}

// WelchTest compares the means of two samples without assuming equal
// variances. T is positive when a's mean is higher. It reports ok=false
// when either sample has fewer than 2 values or both variances are 0 (the
// test is then undefined); the Welch returned then has P = 1, so that
// Significant is false for it.
func WelchTest(a, b Moments) (Welch, bool) {
	if a.N < 2 || b.N < 2 {
		return Welch{P: 1}, false
	}
	va := a.Var() / float64(a.N)
	vb := b.Var() / float64(b.N)
	s := va + vb
	if !(s > 0) {
		return Welch{P: 1}, false
	}
	t := (a.Mean() - b.Mean()) / math.Sqrt(s)
	df := s * s / (va*va/float64(a.N-1) + vb*vb/float64(b.N-1))
	p := 2 * studentTUpper(math.Abs(t), df)
	if p > 1 {
		p = 1
	}
	return Welch{T: t, DF: df, P: p}, true
}

// Significant reports whether the test rejects equal means at level alpha
// (P < alpha). A NaN p-value is never significant.
func Significant(w Welch, alpha float64) bool {
	return w.P < alpha
}

// FavourableShare returns fav/total, the share of favourable answers (4 or
// 5 on the 1-5 scale), or 0 when total is not positive.
func FavourableShare(fav, total int) float64 {
	if total <= 0 {
		return 0
	}
	return float64(fav) / float64(total)
}
