package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/gosrppo/gosrppo/srppo"
)

// memoryFlag is -memory-limit: the memory a run may use, checked against srppo.EstimateMemory
// before any model is loaded.
type memoryFlag struct{ limit *string }

func addMemoryFlag(fs *flag.FlagSet) memoryFlag {
	return memoryFlag{fs.String("memory-limit", "auto", "memory the run may use, e.g. `20GiB` (on a GPU backend give the device's memory); "+
		"auto: the available RAM on a CPU backend, no check on a GPU backend; off: no check. A run whose estimate exceeds it is refused before it starts")}
}

// bytes resolves the limit: ok is false when there is none to check against (and why, in note).
func (f memoryFlag) bytes() (limit int64, source string, err error) {
	v := strings.TrimSpace(*f.limit)
	switch strings.ToLower(v) {
	case "off", "0", "":
		return 0, "", nil
	case "auto":
		b := strings.ToLower(backendName())
		if strings.Contains(b, "cuda") || strings.Contains(b, "gpu") || strings.Contains(b, "tpu") {
			return 0, "", nil // the device's memory is not known here: -memory-limit gives it
		}
		avail, ok := srppo.AvailableMemory()
		if !ok {
			return 0, "", nil
		}
		return avail, "available RAM (MemAvailable)", nil
	}
	units := []struct {
		suffix string
		mult   float64
	}{{"gib", 1 << 30}, {"gb", 1e9}, {"g", 1 << 30}, {"mib", 1 << 20}, {"mb", 1e6}, {"m", 1 << 20}}
	lv := strings.ToLower(v)
	for _, u := range units {
		if strings.HasSuffix(lv, u.suffix) {
			x, err := strconv.ParseFloat(strings.TrimSpace(lv[:len(lv)-len(u.suffix)]), 64)
			if err != nil || x <= 0 {
				break
			}
			return int64(x * u.mult), "-memory-limit " + v, nil
		}
	}
	return 0, "", fmt.Errorf("-memory-limit %q: want a size such as 20GiB or 16000MB, auto or off", v)
}

// check refuses a run whose estimate exceeds the limit, naming both; it prints the estimate.
func (f memoryFlag) check(cfg srppo.Config, job srppo.MemoryJob, what string) error {
	limit, source, err := f.bytes()
	if err != nil {
		return err
	}
	est := srppo.EstimateMemory(cfg, job)
	if limit > 0 {
		if err := srppo.CheckMemory(est, limit, what+" (limit: "+source+")"); err != nil {
			return err
		}
	}
	fmt.Fprintf(os.Stderr, "%s: memory estimate %s\n", what, est)
	return nil
}

// config reads the config of the pretrained model of -model/-model-dir without loading its
// weights (a hub name is downloaded first, into the cache).
func (f pretrainedFlags) config() (srppo.Config, error) {
	dir := *f.dir
	if dir == "" {
		var err error
		if dir, err = srppo.DownloadPretrained(*f.name); err != nil {
			return srppo.Config{}, err
		}
	}
	return srppo.ReadModelConfig(dir, *f.context)
}

// weightBytes is MemoryJob.WeightBytes for models stored in bfloat16 or float32.
func weightBytes(bf16 bool) int {
	if bf16 {
		return 2
	}
	return 4
}
