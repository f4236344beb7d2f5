package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/mailverify/mailverify/diagnose"
	"github.com/mailverify/mailverify/egress"
	"github.com/mailverify/mailverify/verify"
)

// egressState is --egress-state FILE: the health of the pool's (egress,
// provider) pairs kept between runs, as the service keeps it in its
// bucket. A run reads it first, so that a back-off (a block, a throttle,
// a soft limit) holds across runs, and writes it back at the end, merged
// with what other runs wrote meanwhile; "mailverify doctor
// --egress-state FILE" reports the replies it holds. It is opt-in: a run
// without it keeps nothing.
type egressState struct {
	path  string
	store *egress.MemStore
}

// stateKeep is how long a record stays in the file: as long as doctor
// looks back and the service's bucket keeps one (the longest back-off is
// a day).
const stateKeep = diagnose.RecentWindow

// stateFile is the file's JSON.
type stateFile struct {
	Schema int            `json:"schema"` // 1
	Pairs  []egress.Entry `json:"pairs"`
}

func (s *egressState) register(fs *flag.FlagSet) {
	fs.StringVar(&s.path, "egress-state", "", "keep the egress pool's health in `file` between runs (back-off holds across runs; mailverify doctor --egress-state reads it)")
}

// load reads the file into a store (a missing file is an empty one) and
// gives it to v when v has a pool.
func (s *egressState) load(v *verify.Verifier) error {
	if s.path == "" {
		return nil
	}
	st, err := readState(s.path)
	if err != nil {
		return err
	}
	s.store = st
	if len(v.Egresses) > 0 {
		v.EgressStore = st
	}
	return nil
}

// readState reads a state file into a MemStore, dropping records older
// than stateKeep.
func readState(path string) (*egress.MemStore, error) {
	st := &egress.MemStore{}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return nil, err
	}
	var f stateFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("--egress-state %s: %v", path, err)
	}
	for _, e := range f.Pairs {
		if fresh(e.Record) {
			if _, err := st.Put(e.Key, e.Record, 0); err != nil {
				return nil, fmt.Errorf("--egress-state %s: %s twice", path, e.Key)
			}
		}
	}
	return st, nil
}

// fresh reports whether a record is worth keeping: changed or backed off
// within stateKeep.
func fresh(r egress.Record) bool {
	cut := time.Now().Add(-stateKeep)
	return r.Since.After(cut) || r.Until.After(cut)
}

// save merges the run's records into the file (per pair, the one changed
// last wins) and replaces it whole. Errors go to stderr: the verdicts are
// written already.
func (s *egressState) save(stderr io.Writer) {
	if s.store == nil {
		return
	}
	if err := s.write(); err != nil {
		fmt.Fprintf(stderr, "mailverify: --egress-state %s: %v\n", s.path, err)
	}
}

func (s *egressState) write() error {
	on, err := readState(s.path) // what other runs wrote meanwhile
	if err != nil {
		return err
	}
	mine, _ := s.store.List()
	for _, e := range mine {
		old, rev, _ := on.Get(e.Key)
		if rev == 0 || !old.Since.After(e.Record.Since) {
			if _, err := on.Put(e.Key, e.Record, rev); err != nil {
				return err
			}
		}
	}
	all, _ := on.List()
	f := stateFile{Schema: 1, Pairs: []egress.Entry{}}
	for _, e := range all {
		if fresh(e.Record) {
			f.Pairs = append(f.Pairs, e)
		}
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(s.path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(s.path), ".egress-state-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return err
	}
	// On disk before the rename: a crash leaves the old file or the new,
	// never an empty one that every later run would refuse.
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), s.path)
}
