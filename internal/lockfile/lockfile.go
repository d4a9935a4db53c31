// Package lockfile gives a process exclusive ownership of a directory (or any resource named by a
// path) through a lock file that works on a local disk and on a shared network filesystem where
// several hosts run jobs (NFS, Lustre: a Slurm array writing one directory tree):
//
//   - the lock file is created atomically (O_CREAT|O_EXCL), so of two writers exactly one wins;
//   - it holds its owner — host, pid, the pid's start time and the lock's start time — so a refused
//     writer can say who holds it;
//   - while held, a goroutine refreshes its modification time (the heartbeat);
//   - a lock is stale, and is taken over, when its owner is on this host and its process is gone
//     (or the pid now belongs to another process), or when its owner is on another host and the
//     heartbeat is older than StaleAfter — process liveness cannot be seen across hosts (or, with
//     Options.Observed, when this process has seen the heartbeat stand still for StaleAfter);
//   - Release removes it.
//
// Breaking a stale lock is itself serialised by a short-lived second lock (path + ".break"), so two
// processes that both find the same stale lock cannot both take it.
package lockfile

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Owner identifies a lock's holder; it is the content of the lock file (JSON).
type Owner struct {
	Host string `json:"host"`
	PID  int    `json:"pid"`
	// ProcStart is the process's start time as the OS reports it (Linux: clock ticks since boot),
	// so a pid reused by another process is not mistaken for the holder; "" where unknown.
	ProcStart string    `json:"proc_start,omitempty"`
	Started   time.Time `json:"started"` // when the lock was taken
	Command   string    `json:"command,omitempty"`
}

// same reports whether o and p describe the same holder.
func (o Owner) same(p Owner) bool {
	return o.Host == p.Host && o.PID == p.PID && o.ProcStart == p.ProcStart && o.Started.Equal(p.Started)
}

func (o Owner) String() string {
	s := fmt.Sprintf("pid %d on host %s since %s", o.PID, o.Host, o.Started.Format(time.RFC3339))
	if o.Command != "" {
		s += " (" + o.Command + ")"
	}
	return s
}

// Options tune a lock; the zero value gives the defaults.
type Options struct {
	// Heartbeat is how often the holder refreshes the lock's mtime (default 10 s).
	Heartbeat time.Duration
	// StaleAfter is the heartbeat age after which a lock held from another host counts as
	// abandoned (default 2 min; keep it well above Heartbeat and the filesystem's clock skew).
	StaleAfter time.Duration
	// Command describes the holder in the lock file (e.g. "srppo pretrain").
	Command string
	// Observed judges another host's lock by observation instead of by its mtime's age: it is
	// stale once this process has seen its heartbeat (mtime and content) unchanged for
	// StaleAfter of its own clock. Clock skew between hosts cannot make a live lock look stale,
	// but a lock is never stale at first sight: for workers that poll (a sharded study), not for
	// a command that refuses at once.
	Observed bool
}

func (o Options) withDefaults() Options {
	if o.Heartbeat <= 0 {
		o.Heartbeat = 10 * time.Second
	}
	if o.StaleAfter <= 0 {
		o.StaleAfter = 2 * time.Minute
	}
	return o
}

// HeldError is returned by Acquire when another live owner holds the lock.
type HeldError struct {
	Path  string
	Owner Owner
}

func (e *HeldError) Error() string {
	return fmt.Sprintf("%s is locked by %s: another process is writing there; wait for it to finish, or use another output directory", e.Path, e.Owner)
}

// Lock is a held lock.
type Lock struct {
	path  string
	owner Owner
	stop  chan struct{}
	done  chan struct{}
	mu    sync.Mutex
	lost  error
	once  sync.Once
}

// Path is the lock file's path.
func (l *Lock) Path() string { return l.path }

// Owner is what the lock file says about this holder.
func (l *Lock) Owner() Owner { return l.owner }

// Acquire takes the lock at path (creating its directory), recovering a stale one, or returns a
// *HeldError naming the live holder. It never waits for a live holder.
func Acquire(path string, opts Options) (*Lock, error) {
	opts = opts.withDefaults()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	host, _ := os.Hostname()
	me := Owner{Host: host, PID: os.Getpid(), ProcStart: procStart(os.Getpid()), Started: time.Now().UTC().Truncate(time.Second), Command: opts.Command}
	content, err := json.Marshal(me)
	if err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		err := create(path, content)
		if err == nil {
			l := &Lock{path: path, owner: me, stop: make(chan struct{}), done: make(chan struct{})}
			go l.heartbeat(opts.Heartbeat, content)
			return l, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, err
		}
		holder, stale, err := inspect(path, host, opts)
		if errors.Is(err, fs.ErrNotExist) && attempt < 5 {
			continue // released meanwhile
		}
		if err != nil {
			return nil, err
		}
		if !stale || attempt >= 5 {
			return nil, &HeldError{Path: path, Owner: holder}
		}
		if err := breakStale(path, holder, host, opts); err != nil {
			return nil, err
		}
	}
}

// create writes content to a new file at path, failing with fs.ErrExist when one is there. The
// content is written to a private temporary file first and then hard-linked into place, so the
// lock file never exists half-written (link, like O_EXCL, is atomic on NFS too).
func create(path string, content []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".new-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(content); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fs.ErrExist
		}
		// Filesystems without hard links: fall back to O_EXCL (the content is tiny).
		f, err2 := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err2 != nil {
			return err2
		}
		_, err2 = f.Write(content)
		if cerr := f.Close(); err2 == nil {
			err2 = cerr
		}
		return err2
	}
	return nil
}

// Inspect reads the lock at path and says who holds it and whether it is stale under opts (the
// rules of Acquire), without taking it: a scheduler uses it to tell a live claim from an
// abandoned one. A missing lock is an fs.ErrNotExist error.
func Inspect(path string, opts Options) (Owner, bool, error) {
	host, _ := os.Hostname()
	return inspect(path, host, opts.withDefaults())
}

// inspect reads the lock at path and says whether it is stale (see the package doc).
func inspect(path, host string, opts Options) (Owner, bool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Owner{}, false, err
	}
	info, err := os.Stat(path)
	if err != nil {
		return Owner{}, false, err
	}
	var o Owner
	if err := json.Unmarshal(data, &o); err != nil || o.PID <= 0 {
		// Unreadable content: a writer died between create and write (O_EXCL fallback), or it is
		// not our file. Only age can tell.
		return Owner{Host: "?", Started: info.ModTime()}, silent(path, info, data, opts), nil
	}
	if o.Host == host {
		alive, known := pidAlive(o.PID)
		if known {
			if alive && o.ProcStart != "" {
				if ps := procStart(o.PID); ps != "" && ps != o.ProcStart {
					alive = false // the pid was reused by another process
				}
			}
			return o, !alive, nil
		}
	}
	return o, silent(path, info, data, opts), nil
}

// observation is what this process last saw of a lock held from elsewhere, and since when (on
// its own monotonic clock).
type observation struct {
	mtime   time.Time
	content string
	since   time.Time
}

var observations sync.Map // lock path → observation

// silent reports whether the heartbeat of a lock whose holder's liveness cannot be checked has
// stopped: its mtime is older than StaleAfter by this host's clock, or — with Options.Observed —
// this process has seen its mtime and content unchanged for StaleAfter on its own clock.
func silent(path string, info fs.FileInfo, content []byte, opts Options) bool {
	if !opts.Observed {
		return time.Since(info.ModTime()) > opts.StaleAfter
	}
	now := time.Now()
	seen := observation{mtime: info.ModTime(), content: string(content), since: now}
	if v, ok := observations.Load(path); ok {
		if old := v.(observation); old.mtime.Equal(seen.mtime) && old.content == seen.content {
			return now.Sub(old.since) > opts.StaleAfter
		}
	}
	observations.Store(path, seen)
	return false
}

// breakStale removes the stale lock at path, under the path+".break" lock so that of several
// processes that found it stale only one removes it (and none removes a fresh lock taken since).
func breakStale(path string, stale Owner, host string, opts Options) error {
	brk := path + ".break"
	host2, _ := os.Hostname()
	content, _ := json.Marshal(Owner{Host: host2, PID: os.Getpid(), ProcStart: procStart(os.Getpid()), Started: time.Now().UTC()})
	if err := create(brk, content); err != nil {
		if !errors.Is(err, fs.ErrExist) {
			return err
		}
		// Someone else is breaking it; a break lock left by a crash is removed once it is old
		// (breaking takes milliseconds).
		if info, err := os.Stat(brk); err == nil && time.Since(info.ModTime()) > 10*time.Second {
			os.Remove(brk)
		}
		time.Sleep(50 * time.Millisecond)
		return nil
	}
	defer os.Remove(brk)
	// Re-check under the break lock: the lock may have been released and retaken meanwhile.
	o, isStale, err := inspect(path, host, opts)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if !isStale || !o.same(stale) {
		return nil // Acquire's next attempt reports the new holder
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// heartbeat refreshes the lock's mtime until Release; if the lock file disappears or changes
// owner (another host judged it stale), the loss is recorded for Err.
func (l *Lock) heartbeat(every time.Duration, content []byte) {
	defer close(l.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			data, err := os.ReadFile(l.path)
			if err != nil || string(data) != string(content) {
				l.mu.Lock()
				if l.lost == nil {
					l.lost = fmt.Errorf("lock %s was lost (removed or taken over by another process)", l.path)
				}
				l.mu.Unlock()
				continue
			}
			now := time.Now()
			_ = os.Chtimes(l.path, now, now)
		}
	}
}

// Err reports whether the lock was lost since Acquire (nil while it is held). A holder doing long
// work on a shared filesystem checks it before committing results.
func (l *Lock) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lost
}

// Release stops the heartbeat and removes the lock file if it is still this holder's. It is safe
// to call more than once.
func (l *Lock) Release() error {
	var err error
	l.once.Do(func() {
		close(l.stop)
		<-l.done
		data, rerr := os.ReadFile(l.path)
		if rerr != nil {
			if !errors.Is(rerr, fs.ErrNotExist) {
				err = rerr
			}
			return
		}
		var o Owner
		if json.Unmarshal(data, &o) == nil && o.same(l.owner) {
			err = os.Remove(l.path)
		}
	})
	return err
}

// DirLockName is the lock file a command keeps in the output directory it writes.
const DirLockName = ".srppo.lock"

// LockDir takes the lock of an output directory (dir/.srppo.lock, creating dir) for a command,
// then — now that no other writer can be there — removes the leftovers of atomic writes that a
// killed run interrupted (see IsTempName) anywhere under dir, returning their paths.
func LockDir(dir, command string) (*Lock, []string, error) {
	l, err := Acquire(filepath.Join(dir, DirLockName), Options{Command: command})
	if err != nil {
		return nil, nil, err
	}
	removed, err := CleanLeftovers(dir)
	if err != nil {
		l.Release()
		return nil, nil, err
	}
	return l, removed, nil
}

// CleanLeftovers removes the leftovers of atomic writes that a killed run interrupted (see
// IsTempName) anywhere under dir, returning their paths. Only the holder of dir's lock calls it,
// and only when no other process can be writing under dir.
func CleanLeftovers(dir string) ([]string, error) {
	var removed []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || path == dir {
			return err
		}
		if IsTempName(d.Name()) {
			if err := os.RemoveAll(path); err != nil {
				return err
			}
			removed = append(removed, path)
			if d.IsDir() {
				return filepath.SkipDir
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cleaning leftovers in %s: %w", dir, err)
	}
	return removed, nil
}

// IsTempName reports whether a file name is a leftover of an interrupted atomic write: "X.tmp-N"
// (checkpoint directories, srppo's writeDirAtomic), ".X.tmpN" (files, datasets.WriteFileAtomic)
// and ".X.new-N" (this package's lock files).
func IsTempName(name string) bool {
	if strings.Contains(name, ".tmp-") {
		return true
	}
	return strings.HasPrefix(name, ".") && (strings.Contains(name, ".tmp") || strings.Contains(name, ".new-"))
}
