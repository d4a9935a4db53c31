package srppo

// Stepper runs single optimiser steps on host batches: the unit that Train loops over, exposed for
// benchmarks and custom training loops.
type Stepper struct{ tr *trainer }

// NewStepper compiles the training step of m with cfg's optimiser settings.
func NewStepper(m *LM, cfg TrainConfig) (*Stepper, error) {
	tr, err := newTrainer(m, cfg)
	if err != nil {
		return nil, err
	}
	return &Stepper{tr: tr}, nil
}

// Step runs one AdamW step on bt at learning rate lr and returns the mean loss per target token
// and the gradient norm before clipping.
func (s *Stepper) Step(bt *Batch, lr float64) (loss, gradNorm float64, err error) {
	return s.tr.runStep(bt, lr)
}
