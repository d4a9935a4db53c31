package srppo

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

// WeightsIndexFile is the index of a sharded checkpoint: which shard file holds each tensor.
const WeightsIndexFile = "model.safetensors.index.json"

// readModelWeights reads a checkpoint's tensors from path (model.safetensors) or, when that file
// does not exist, from the shards listed in model.safetensors.index.json beside it (as
// save_pretrained writes large models). Every tensor must be in the shard the index names, once.
func readModelWeights(path string) (map[string]Tensor, error) {
	if _, err := os.Stat(path); err == nil || !errors.Is(err, fs.ErrNotExist) {
		ts, _, err := ReadSafetensors(path)
		return ts, err
	}
	index := filepath.Join(filepath.Dir(path), WeightsIndexFile)
	data, err := os.ReadFile(index)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: neither it nor %s exists", path, WeightsIndexFile)
	} else if err != nil {
		return nil, err
	}
	var idx struct {
		WeightMap map[string]string `json:"weight_map"`
	}
	if err := json.Unmarshal(data, &idx); err != nil {
		return nil, fmt.Errorf("%s: %w", index, err)
	}
	if len(idx.WeightMap) == 0 {
		return nil, fmt.Errorf("%s: weight_map is empty", index)
	}
	byShard := map[string][]string{}
	for name, shard := range idx.WeightMap {
		if shard == "" || filepath.Base(shard) != shard {
			return nil, fmt.Errorf("%s: tensor %q: shard %q is not a file name in the checkpoint directory", index, name, shard)
		}
		byShard[shard] = append(byShard[shard], name)
	}
	shards := make([]string, 0, len(byShard))
	for s := range byShard {
		shards = append(shards, s)
	}
	sort.Strings(shards)
	out := map[string]Tensor{}
	for _, shard := range shards {
		shardPath := filepath.Join(filepath.Dir(path), shard)
		ts, _, err := ReadSafetensors(shardPath)
		if err != nil {
			return nil, err
		}
		for name, t := range ts {
			if idx.WeightMap[name] != shard {
				return nil, fmt.Errorf("%s: tensor %q is not listed for this shard in %s (listed: %q)", shardPath, name, WeightsIndexFile, idx.WeightMap[name])
			}
			out[name] = t
		}
		for _, name := range byShard[shard] {
			if _, ok := ts[name]; !ok {
				return nil, fmt.Errorf("%s: tensor %q, listed in %s, is missing", shardPath, name, WeightsIndexFile)
			}
		}
	}
	return out, nil
}

// shardFiles lists the shard files named by a model.safetensors.index.json, sorted.
func shardFiles(indexPath string) ([]string, error) {
	data, err := os.ReadFile(indexPath)
	if err != nil {
		return nil, err
	}
	var idx struct {
		WeightMap map[string]string `json:"weight_map"`
	}
	if err := json.Unmarshal(data, &idx); err != nil {
		return nil, fmt.Errorf("%s: %w", indexPath, err)
	}
	seen := map[string]bool{}
	var out []string
	for _, s := range idx.WeightMap {
		if !seen[s] && s != "" && filepath.Base(s) == s {
			seen[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: weight_map names no shard", indexPath)
	}
	return out, nil
}
