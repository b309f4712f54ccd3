package main

import (
	"math"
	"slices"
	"time"
)

// percentile returns the p-th percentile (0 < p <= 100) of sorted by the nearest-rank
// method: the smallest value that at least p% of the values do not exceed. It returns 0
// for no values.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// latencySummary is the distribution of the DATA→250 times.
type latencySummary struct {
	n                   int
	p50, p99, max, mean time.Duration
}

func summarize(lat []time.Duration) latencySummary {
	s := slices.Clone(lat)
	slices.Sort(s)
	out := latencySummary{n: len(s), p50: percentile(s, 50), p99: percentile(s, 99)}
	if len(s) == 0 {
		return out
	}
	out.max = s[len(s)-1]
	var sum time.Duration
	for _, d := range s {
		sum += d
	}
	out.mean = sum / time.Duration(len(s))
	return out
}

// rate is count per second over d; 0 when d is not positive.
func rate(count int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(count) / d.Seconds()
}
