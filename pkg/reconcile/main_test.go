package reconcile

import (
	"os"
	"testing"
	"time"
)

// TestMain fixes the quiet retries' delays at their base values, so that the package's tests read
// them exactly; TestStaleRetry_SpreadsEachDelayUpToHalfAsLongAgain checks the spread itself.
func TestMain(m *testing.M) {
	staleJitter = withoutJitter
	os.Exit(m.Run())
}

func withoutJitter(d time.Duration) time.Duration { return d }

// realStaleJitter is the package's own staleJitter, before TestMain replaces it.
var realStaleJitter = staleJitter
