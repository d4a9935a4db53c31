package srppo

import (
	"fmt"
	"os"
	"path/filepath"
)

// Checkpoint roles, recorded in config.json ("role"; "srppo_role" in a Hugging Face config) so
// that a command can refuse a model given in the wrong place — an SFT model as the base π_pt,
// a base as π_sft — instead of training on a meaningless reward.
const (
	RoleBase   = "base"       // π_pt: pretrained (srppo pretrain, or a hub GPT-2 family model)
	RoleSFT    = "sft"        // π_sft: fine-tuned on demonstrations (srppo sft)
	RolePolicy = "ppo-policy" // π_θ: a PPO run's policy (srppo ppo)
	RoleCritic = "critic"     // V_φ: a PPO run's critic (trunk and value head)
)

// roleNames describe each role with the command that writes it, for error messages.
var roleNames = map[string]string{
	RoleBase: "a base model (from srppo pretrain)", RoleSFT: "an SFT model (from srppo sft)",
	RolePolicy: "a PPO policy (from srppo ppo)", RoleCritic: "a PPO critic (from srppo ppo)",
}

// CheckRole verifies that m, loaded from dir for flag, has one of the roles wanted. A model
// that records no role (written before roles were recorded) is accepted; note, when non-nil,
// is told so.
func CheckRole(m *LM, flag, dir string, note func(string), want ...string) error {
	if m.Role == "" {
		if note != nil {
			note(fmt.Sprintf("%s %s records no role (written before checkpoints recorded one); taking it as %s", flag, dir, roleNames[want[0]]))
		}
		return nil
	}
	for _, w := range want {
		if m.Role == w {
			return nil
		}
	}
	got, ok := roleNames[m.Role]
	if !ok {
		got = fmt.Sprintf("a model of unknown role %q", m.Role)
	}
	return fmt.Errorf("%s %s is %s, but %s needs %s", flag, dir, got, flag, roleNames[want[0]])
}

// SameModel reports whether two model or run directories resolve to the same model directory.
func SameModel(a, b string) bool {
	da, err1 := modelDir(a)
	db, err2 := modelDir(b)
	if err1 != nil || err2 != nil {
		return false
	}
	ia, err1 := os.Stat(filepath.Join(da, ConfigFile))
	ib, err2 := os.Stat(filepath.Join(db, ConfigFile))
	return err1 == nil && err2 == nil && os.SameFile(ia, ib)
}
