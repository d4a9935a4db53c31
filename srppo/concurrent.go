package srppo

import (
	"slices"
	"sync"
)

// distinctModels reports whether no model appears twice (a model's scoring graph is compiled
// lazily, once, so the same model must not be scored from two goroutines).
func distinctModels(models []*LM) bool {
	for i, m := range models {
		if slices.Contains(models[:i], m) {
			return false
		}
	}
	return true
}

// sideBySide lets concurrently run its calls in goroutines (tests switch it off to compare).
var sideBySide = true

// concurrently runs the calls, in goroutines when parallel is true, and returns the first error
// in call order. The calls must touch disjoint state: independent graphs (different models'
// scoring, the policy's and the critic's update steps) then run side by side — on the Go
// backend each graph's ops mostly form one chain, so two graphs at once keep two cores busy
// where one graph alone leaves one mostly idle. Each graph computes what it computes alone.
// The calls must not share a *tensors.Tensor argument either: handing one tensor to two graph
// calls at once races in its transfer to the backend.
func concurrently(parallel bool, calls ...func() error) error {
	if !parallel || !sideBySide || len(calls) < 2 {
		for _, call := range calls {
			if err := call(); err != nil {
				return err
			}
		}
		return nil
	}
	errs := make([]error, len(calls))
	var wg sync.WaitGroup
	for i, call := range calls {
		wg.Go(func() { errs[i] = call() })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
