package study

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gosrppo/gosrppo/internal/atomicfile"
	"github.com/gosrppo/gosrppo/internal/lockfile"
	"github.com/gosrppo/gosrppo/srppo"
)

// Stage-level sharding: several processes (a Slurm job array on a shared filesystem) run the
// stages of one study on one OUT. Every stage is claimed through OUT/stages/<key>.lock (an
// internal/lockfile lock: atomic create, owner, heartbeat, stale locks recovered), re-checked
// after the claim, and committed by writing OUT/stages/<key>.json atomically and last. A
// stage that fails writes OUT/stages/<key>.failed, which stops the other workers.

// Shard is one worker's share of the stages: the stages at positions p of the plan with
// p mod Of == Index are taken first, then any ready stage nobody has claimed (work stealing).
type Shard struct{ Index, Of int }

// ParseShard parses "I/N" with 0 ≤ I < N.
func ParseShard(v string) (Shard, error) {
	is, ns, ok := strings.Cut(v, "/")
	i, err1 := strconv.Atoi(is)
	n, err2 := strconv.Atoi(ns)
	if !ok || err1 != nil || err2 != nil || n < 1 || i < 0 || i >= n {
		return Shard{}, fmt.Errorf("-shard %s: want I/N with 0 ≤ I < N", v)
	}
	return Shard{Index: i, Of: n}, nil
}

func (sh Shard) String() string { return fmt.Sprintf("%d/%d", sh.Index, sh.Of) }

// pollInterval is how long a worker waits, plus up to half again of jitter, before looking
// again when every stage left is claimed or waits for its inputs.
var pollInterval = 2 * time.Second

// stageLockOptions: a heartbeat every 15 s; a lock of this host is stale as soon as its process
// is gone, another host's once this worker has seen its heartbeat stand still for 5 minutes
// (observed on this worker's clock, so clock skew between nodes cannot break a live claim, and
// well above the minute an NFS client may cache a file's attributes).
var stageLockOptions = lockfile.Options{Heartbeat: 15 * time.Second, StaleAfter: 5 * time.Minute, Observed: true}

// errClaimed is a stage another live worker holds (the worker loop moves on).
var errClaimed = errors.New("stage claimed by another worker")

// FailedSuffix marks a failed stage: OUT/stages/<key>.failed holds its error.
const FailedSuffix = ".failed"

func (s *Study) stagePath(key, ext string) string {
	return filepath.Join(s.ws.Dir, StagesDir, key+ext)
}

// failedSince is the error of a stage that failed during this invocation's lifetime (a failure
// left by an earlier invocation is retried).
func (s *Study) failedSince(key string) error {
	path := s.stagePath(key, FailedSuffix)
	info, err := os.Stat(path)
	if err != nil || info.ModTime().Before(s.started.Add(-time.Second)) {
		return nil
	}
	msg, _ := os.ReadFile(path)
	return fmt.Errorf("stage %s failed in another worker (%s): %s", key, path, strings.TrimSpace(string(msg)))
}

// claim takes the stage's lock. A live holder makes it wait (polling) until the stage is done,
// fails, or the lock goes stale — or, in the worker loop, return errClaimed. A nil lock and nil
// error mean the stage became done while waiting.
func (s *Study) claim(key string) (*lockfile.Lock, error) {
	opts := stageLockOptions
	opts.Command = s.ws.Command
	for {
		if err := s.failedSince(key); err != nil {
			return nil, err
		}
		l, err := lockfile.Acquire(s.stagePath(key, ".lock"), opts)
		if err == nil {
			return l, nil
		}
		var held *lockfile.HeldError
		if !errors.As(err, &held) {
			return nil, err
		}
		if s.tryClaim {
			return nil, errClaimed
		}
		if s.StageDone(key) {
			return nil, nil
		}
		if err := s.sleep(); err != nil {
			return nil, err
		}
	}
}

func (s *Study) sleep() error {
	d := pollInterval + time.Duration(rand.Int64N(int64(pollInterval)/2+1))
	select {
	case <-s.ctx.Done():
		return s.ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// writeFailed records a stage's error for the other workers.
func (s *Study) writeFailed(key string, err error) {
	if werr := atomicfile.WriteFile(s.stagePath(key, FailedSuffix), []byte(err.Error()+"\n")); werr != nil {
		s.logf("could not record the failure of %s: %v", key, werr)
	}
}

// runners maps every stage key of the plan to the call that computes (or loads) it.
func (s *Study) runners() (map[string]func() error, error) {
	if s.b.Sweep != nil {
		return s.sweepRunners(), nil
	}
	r := map[string]func() error{"t0": s.T0}
	drop := func(_ any, err error) error { return err }
	for _, n := range s.b.Ns {
		for seed := 1; seed <= s.b.Seeds; seed++ {
			sftDir := s.SFTDir(n, seed)
			r[fmt.Sprintf("sft-N%d-s%d", n, seed)] = func() error { return drop(s.sft(n, seed)) }
			r["eval-pt"] = func() error {
				return drop(s.evaluate("eval-pt", func() (*srppo.LM, error) { return s.pt, nil }))
			}
			key := fmt.Sprintf("eval-sft-N%d-s%d", n, seed)
			r[key] = func() error { return drop(s.evaluate(key, s.load(sftDir))) }
			keyLong := fmt.Sprintf("eval-sftlong-N%d-s%d", n, seed)
			r[keyLong] = func() error { return drop(s.evaluate(keyLong, s.load(filepath.Join(sftDir, srppo.SFTLongSubdir)))) }
			r[fmt.Sprintf("t3-N%d-s%d", n, seed)] = func() error { return drop(s.t3(n, seed)) }
			addPPO := func(name string, cfg srppo.PPOConfig, pool []srppo.PromptSource) {
				r["ppo-"+name] = func() error {
					_, _, err := s.ppoRun(name, sftDir, seed, cfg, pool)
					return err
				}
				r["eval-ppo-"+name] = func() error { return drop(s.evaluate("eval-ppo-"+name, s.load(s.PPODir(name)))) }
			}
			for m, cfg := range s.variants(n) {
				addPPO(runName(m, n, seed), cfg, s.pool)
			}
			if n == s.b.T2N && s.b.T4 {
				pools, err := s.t4Pools(n)
				if err != nil {
					return nil, err
				}
				for m, pool := range pools {
					if len(pool) > 0 {
						addPPO(t4RunName(m, n, seed), s.ppoConfig(srppo.PlaceEOS), pool)
					}
				}
			}
		}
	}
	return r, nil
}

// Work computes the stages of the study that sh gets: its own share first, then any ready
// stage no live worker has claimed, waiting (polling) while every stage left is claimed or
// waits for its inputs. It returns when every stage is done, or with the first error — its own
// or another worker's recorded failure. Work renders nothing; Reproduce is Work(0/1) and then
// the rendering, which then only loads cached stages.
func (s *Study) Work(sh Shard) error {
	run, err := s.runners()
	if err != nil {
		return err
	}
	var plan []Stage
	for _, st := range s.Plan() {
		if run[st.Key] != nil {
			plan = append(plan, st)
		}
	}
	defer s.updateInvocation()
	for {
		if err := s.ctx.Err(); err != nil {
			return err
		}
		left, own, free := 0, -1, -1
		for p, st := range plan {
			if s.StageDone(st.Key) {
				continue
			}
			left++
			if err := s.failedSince(st.Key); err != nil {
				return err
			}
			if !s.ready(st) || s.claimedLive(st.Key) {
				continue
			}
			if free < 0 {
				free = p
			}
			if own < 0 && p%sh.Of == sh.Index {
				own = p
			}
		}
		if left == 0 {
			return nil
		}
		pick := own
		if pick < 0 {
			pick = free
		}
		if pick < 0 {
			if err := s.sleep(); err != nil {
				return err
			}
			continue
		}
		s.tryClaim = true
		err := run[plan[pick].Key]()
		s.tryClaim = false
		if err != nil && !errors.Is(err, errClaimed) {
			return err
		}
		s.updateInvocation()
	}
}

// ready reports whether every input of st is done.
func (s *Study) ready(st Stage) bool {
	for _, in := range st.Inputs {
		if !s.StageDone(in) {
			return false
		}
	}
	return true
}

// claimedLive reports whether another worker holds a live lock on the stage (a stale lock does
// not count: claiming it recovers it).
func (s *Study) claimedLive(key string) bool {
	_, stale, err := lockfile.Inspect(s.stagePath(key, ".lock"), stageLockOptions)
	if errors.Is(err, fs.ErrNotExist) {
		return false
	}
	return err == nil && !stale
}

// withLock runs fn under the lock OUT/stages/<name>.lock, waiting for a live holder; fn
// re-checks whether its work is still to be done. It serialises the shared setup (generating
// the world) between the workers.
func (s *Study) withLock(name string, fn func() error) error {
	opts := stageLockOptions
	opts.Command = s.ws.Command
	for {
		l, err := lockfile.Acquire(s.stagePath(name, ".lock"), opts)
		if err == nil {
			defer l.Release()
			return fn()
		}
		var held *lockfile.HeldError
		if !errors.As(err, &held) {
			return err
		}
		if err := s.sleep(); err != nil {
			return err
		}
	}
}

// RunShard is one worker of a sharded study on ws: Open (the world and π_pt under locks), Work,
// and then a load of every stage through the calls the rendering makes — so that a worker
// started with other settings than the cached stages (another -iterations) fails as the
// rendering would. It writes no tables, RESULTS.md or figures.
func RunShard(ctx context.Context, ws Workspace, b Budget, sh Shard) error {
	s, err := Open(ctx, ws, b)
	if err != nil {
		return err
	}
	s.logf("shard %s: working on %s", sh, ws.Dir)
	if err := s.Work(sh); err != nil {
		return err
	}
	if b.Sweep != nil {
		if _, err := s.SweepTables(); err != nil {
			return err
		}
		s.logf("shard %s: every stage is done; render with the same command without -shard", sh)
		return nil
	}
	if err := s.T0(); err != nil {
		return err
	}
	for _, n := range b.Ns {
		if err := s.RunN(n); err != nil {
			return err
		}
	}
	s.logf("shard %s: every stage is done; render with the same command without -shard", sh)
	return nil
}

// LiveClaims lists the stage locks under OUT/stages that a live worker holds.
func LiveClaims(dir string) []string {
	locks, _ := filepath.Glob(filepath.Join(dir, StagesDir, "*.lock"))
	var live []string
	for _, l := range locks {
		if _, stale, err := lockfile.Inspect(l, stageLockOptions); err == nil && !stale {
			live = append(live, l)
		}
	}
	return live
}
