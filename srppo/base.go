package srppo

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path"
)

// baseModels holds the shipped pretrained base models, one directory per world preset.
//
//go:embed base
var baseModels embed.FS

// BaseModel loads the shipped pretrained base model π_pt of a world preset (e.g. "lean"), built by
// `srppo pretrain` with the command recorded in srppo/base/<preset>/PRETRAIN.md.
func BaseModel(preset string) (*LM, error) {
	dir := path.Join("base", preset)
	if _, err := fs.Stat(baseModels, path.Join(dir, ConfigFile)); err != nil {
		return nil, fmt.Errorf("no shipped base model for preset %q (pretrain one with `srppo pretrain`)", preset)
	}
	tmp, err := os.MkdirTemp("", "srppo-base-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	for _, name := range []string{ConfigFile, TokenizerFile, WeightsFile} {
		data, err := baseModels.ReadFile(path.Join(dir, name))
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(tmp+"/"+name, data, 0o644); err != nil {
			return nil, err
		}
	}
	return LoadModel(tmp, nil, nil)
}
