package srppo

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// settingsDiff compares two settings values field by field through their JSON form and names
// every field that differs with both values ("optim.lr: checkpoint 0.001, now 0.0005"); "" when
// they are equal.
func settingsDiff(stored, now any) string {
	a, b := flatJSON(stored), flatJSON(now)
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	var diffs []string
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		va, oka := a[k]
		vb, okb := b[k]
		if oka && okb && va == vb {
			continue
		}
		if !oka {
			va = "(absent)"
		}
		if !okb {
			vb = "(absent)"
		}
		diffs = append(diffs, fmt.Sprintf("%s: checkpoint %s, now %s", k, va, vb))
	}
	return strings.Join(diffs, "; ")
}

// flatJSON maps the dotted path of every leaf of v's JSON form to its JSON text.
func flatJSON(v any) map[string]string {
	raw, err := json.Marshal(v)
	if err != nil {
		return map[string]string{"": err.Error()}
	}
	var tree any
	if err := json.Unmarshal(raw, &tree); err != nil {
		return map[string]string{"": string(raw)}
	}
	out := map[string]string{}
	var walk func(prefix string, x any)
	walk = func(prefix string, x any) {
		if m, ok := x.(map[string]any); ok && len(m) > 0 {
			for k, v := range m {
				if prefix != "" {
					k = prefix + "." + k
				}
				walk(k, v)
			}
			return
		}
		leaf, _ := json.Marshal(x)
		out[prefix] = string(leaf)
	}
	walk("", tree)
	return out
}

// sequencesDigest fingerprints training data (tokens and loss starts, in order), so that a
// resumed run can tell that its data changed.
func sequencesDigest(seqs []Sequence) string {
	h := sha256.New()
	var buf []byte
	for _, s := range seqs {
		buf = binary.LittleEndian.AppendUint32(buf[:0], uint32(len(s.Tokens)))
		buf = binary.LittleEndian.AppendUint32(buf, uint32(s.LossFrom))
		for _, t := range s.Tokens {
			buf = binary.LittleEndian.AppendUint32(buf, uint32(t))
		}
		h.Write(buf)
	}
	return fmt.Sprintf("%x", h.Sum(nil)[:12])
}

// SettingsDiff lists the JSON fields in which two settings records differ ("field: checkpoint A,
// now B; …"), empty when they agree; resumable runs refuse to continue under changed settings.
func SettingsDiff(stored, now any) string { return settingsDiff(stored, now) }
