package main

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// percentile returns the q-quantile (0 < q <= 1) of ds by the nearest-rank method.
func percentile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	sorted := slices.Clone(ds)
	slices.Sort(sorted)
	rank := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(rank, 0), len(sorted)-1)]
}

// repeated is one figure measured once per repeat.
type repeated []float64

func (r repeated) median() float64 {
	if len(r) == 0 {
		return math.NaN()
	}
	sorted := slices.Clone(r)
	slices.Sort(sorted)
	mid := len(sorted) / 2
	if len(sorted)%2 == 1 {
		return sorted[mid]
	}
	return (sorted[mid-1] + sorted[mid]) / 2
}

// format writes the median and, when the repeats differ, their range: "3.1 (2.9–3.4)".
func (r repeated) format(decimals int) string {
	if len(r) == 0 {
		return "–"
	}
	median := fmt.Sprintf("%.*f", decimals, r.median())
	lo, hi := slices.Min(r), slices.Max(r)
	spread := fmt.Sprintf(" (%.*f–%.*f)", decimals, lo, decimals, hi)
	if len(r) == 1 || spread == fmt.Sprintf(" (%.*f–%.*f)", decimals, lo, decimals, lo) {
		return median
	}
	return median + spread
}

// ratio formats r's median over base's: "×1.42".
func ratio(r, base repeated) string {
	if len(r) == 0 || len(base) == 0 || base.median() == 0 {
		return "–"
	}
	return fmt.Sprintf("×%.2f", r.median()/base.median())
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// rotated returns names rotated left by n, so that no strategy always runs first.
func rotated(names []string, n int) []string {
	if len(names) == 0 {
		return nil
	}
	n %= len(names)
	return append(slices.Clone(names[n:]), names[:n]...)
}
