package srppo

import (
	"fmt"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/dtypes/bfloat16"
	"github.com/gomlx/gomlx/core/tensors"
)

// StoreBFloat16 keeps the model's weights in bfloat16, 2 bytes each instead of 4, rounded to the
// nearest bfloat16 (ties to even); the graphs widen them to float32 where they are read, so every
// computation stays in float32. It is meant for models that are not trained: π_sft and π_pt
// during PPO (the policy and critic, cloned from a bf16 π_sft, start as float32 copies of the
// same values, so the first KL is still zero) and a model under evaluation. Train refuses a
// bf16 model. Checkpoints loaded from bf16 files lose nothing: their values are bf16 already.
func (m *LM) StoreBFloat16() error {
	params, err := m.Params()
	if err != nil {
		return err
	}
	m.bf16 = true
	m.score, m.sampler_ = scorer{}, nil // compiled for float32 variables
	return m.SetParams(params)
}

// BFloat16 reports whether the weights are stored in bfloat16 (StoreBFloat16).
func (m *LM) BFloat16() bool { return m.bf16 }

// paramTensor is the stored form of a parameter: float32, or bfloat16 after StoreBFloat16.
func (m *LM) paramTensor(data []float32, shape []int) *tensors.Tensor {
	if !m.bf16 {
		return tensors.FromFlatDataAndDimensions(append([]float32(nil), data...), shape...)
	}
	half := make([]bfloat16.BFloat16, len(data))
	for i, v := range data {
		half[i] = bfloat16.FromFloat32(v)
	}
	return tensors.FromFlatDataAndDimensions(half, shape...)
}

// paramData copies a stored parameter as float32.
func paramData(t *tensors.Tensor) ([]float32, error) {
	switch t.DType() {
	case dtypes.Float32:
		return tensors.CopyFlatData[float32](t)
	case dtypes.BFloat16:
		half, err := tensors.CopyFlatData[bfloat16.BFloat16](t)
		if err != nil {
			return nil, err
		}
		out := make([]float32, len(half))
		for i, h := range half {
			out[i] = h.Float32()
		}
		return out, nil
	}
	return nil, fmt.Errorf("parameter stored as %s", t.DType())
}
