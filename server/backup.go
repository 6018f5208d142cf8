package server

// Backup and restore: GET /admin/v1/backup streams everything a server
// keeps (the policy versions and which is live, the API key records with
// their hashes, the facts at one revision) as NDJSON; POST
// /admin/v1/restore takes that stream back. The CLI compresses the stream
// and adds a checksum (castellan backup).

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"

	"github.com/castellan-authz/castellan/lang/term"
	"github.com/castellan-authz/castellan/store"
)

// backupFormat is the version of the backup stream.
const backupFormat = 1

// backupHeader is the first line of a backup.
type backupHeader struct {
	Format      int       `json:"castellan_backup"`
	Revision    uint64    `json:"revision"`
	LiveVersion int64     `json:"live_version"`
	Facts       int       `json:"facts"`
	CreatedAt   time.Time `json:"created_at"`
}

// backupPolicy is one policy version of a backup.
type backupPolicy struct {
	Version   int64        `json:"version"`
	Files     []policyFile `json:"files"`
	CreatedAt time.Time    `json:"created_at"`
	CreatedBy string       `json:"created_by"`
	Live      bool         `json:"live"`
	Source    string       `json:"source,omitempty"`
	Commit    string       `json:"commit,omitempty"`
	TestCount int          `json:"test_count,omitempty"`
}

// policyFile is one file of a backed-up policy.
type policyFile struct {
	Filename string `json:"filename"`
	Src      string `json:"src"`
}

// backupKey is one API key record of a backup: its hash, never a secret.
type backupKey struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Scope     string    `json:"scope"`
	Hash      string    `json:"hash"`
	CreatedAt time.Time `json:"created_at"`
	// Caller is the identity the key is bound to, if any.
	Caller string `json:"caller,omitempty"`
}

// backupRecord is a line of a backup's prelude: a policy or a key.
type backupRecord struct {
	Policy *backupPolicy `json:"policy,omitempty"`
	Key    *backupKey    `json:"key,omitempty"`
}

// handleBackup is GET /admin/v1/backup: the header, the policy versions
// (oldest first), the keys, then every fact at the header's revision.
func (s *Server) handleBackup(w http.ResponseWriter, r *http.Request) {
	snap, err := s.storedSnapshot(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	history, err := s.store.PolicyHistory(r.Context())
	if err != nil {
		writeError(w, r, err)
		return
	}
	keys, err := s.store.ListKeys(r.Context())
	if err != nil {
		writeError(w, r, err)
		return
	}
	slices.Reverse(history) // oldest first: a restore saves them in order
	out := newLineWriter(w)
	out.write(backupHeader{Format: backupFormat, Revision: snap.Revision(), LiveVersion: s.policies.Live().Version(),
		Facts: snap.Stats().Facts, CreatedAt: s.now().UTC()})
	for _, p := range history {
		bp := &backupPolicy{Version: p.Version, CreatedAt: p.CreatedAt, CreatedBy: p.CreatedBy, Live: p.Live,
			Source: p.Source, Commit: p.Commit, TestCount: p.TestCount}
		for _, f := range p.Files {
			bp.Files = append(bp.Files, policyFile{Filename: f.Filename, Src: f.Src})
		}
		out.write(backupRecord{Policy: bp})
	}
	for _, k := range keys {
		out.write(backupRecord{Key: &backupKey{ID: k.ID, Name: k.Name, Scope: k.Scope, Hash: hex.EncodeToString(k.Hash), CreatedAt: k.CreatedAt, Caller: k.Caller}})
	}
	writeFacts(out, snap, term.Pattern{AnyArity: true})
	out.flush()
}

// restoreSummary is the line a restore writes once the policies and keys
// are in, before the facts.
type restoreSummary struct {
	Policies    int   `json:"policies"`
	Keys        int   `json:"keys"`
	KeysSkipped int   `json:"keys_skipped"`
	LiveVersion int64 `json:"live_version"`
}

// handleRestore is POST /admin/v1/restore: a backup stream (see
// handleBackup) loaded into an empty store, or with force=true into any
// store (its facts are cleared first, the backup's policy versions are
// added as new versions and keys whose id exists are kept as they are).
func (s *Server) handleRestore(w http.ResponseWriter, r *http.Request) {
	lr := newLineReader(r.Body)
	head, err := readBackupHeader(lr)
	if err == nil {
		err = s.checkRestorable(r, r.URL.Query().Get("force") == "true")
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	ctx := r.Context()
	sum, err := s.restorePrelude(r, lr, head)
	if err != nil {
		writeError(w, r, err)
		return
	}
	out := newLineWriter(w)
	out.write(sum)
	l := &factLoader{st: s.store, batchSize: min(10_000, s.cfg.MaxBatchFacts), seen: s.seeRevision, out: out}
	l.run(ctx, lr)
}

// readBackupHeader reads and checks the first line of a backup.
func readBackupHeader(lr *lineReader) (backupHeader, error) {
	var head backupHeader
	b, err := lr.next()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return head, badRequest("restore: the body is empty (send a backup made by GET %s)", routeBackup)
		}
		return head, err
	}
	if err := decodeBytes(b, &head, false); err != nil || head.Format != backupFormat {
		return head, badRequest("restore: line 1 is not a backup header of format %d (send a backup made by GET %s)", backupFormat, routeBackup)
	}
	return head, nil
}

// checkRestorable refuses a store that holds facts or policies, unless
// force; with force it clears the facts.
func (s *Server) checkRestorable(r *http.Request, force bool) error {
	snap, err := s.store.Snapshot(r.Context(), store.Consistency{})
	if err != nil {
		return err
	}
	history, err := s.store.PolicyHistory(r.Context())
	if err != nil {
		return err
	}
	if n := snap.Stats().Facts; (n > 0 || len(history) > 0) && !force {
		return errorf(http.StatusConflict, "conflict",
			"restore: the store is not empty (%d facts, %d policy versions); restore into an empty store, or pass force=true to clear its facts and add the backup's policies as new versions", n, len(history))
	}
	if snap.Stats().Facts == 0 {
		return nil
	}
	rev, err := s.clearFacts(r.Context())
	s.seeRevision(rev)
	return err
}

// restorePrelude restores the policy and key lines that follow the header
// and activates the version that was live; it leaves lr at the first fact.
func (s *Server) restorePrelude(r *http.Request, lr *lineReader, head backupHeader) (restoreSummary, error) {
	ctx := r.Context()
	var sum restoreSummary
	var live int64
	for {
		b, err := lr.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return sum, err
		}
		if !bytes.HasPrefix(b, []byte(`{"policy"`)) && !bytes.HasPrefix(b, []byte(`{"key"`)) {
			lr.unread(b)
			break
		}
		var rec backupRecord
		if err := decodeBytes(b, &rec, true); err != nil {
			return sum, badRequest("restore: line %d: %s", lr.line, toAPIError(err).Message)
		}
		switch {
		case rec.Policy != nil:
			p := store.Policy{CreatedBy: rec.Policy.CreatedBy, Source: rec.Policy.Source, Commit: rec.Policy.Commit, TestCount: rec.Policy.TestCount}
			for _, f := range rec.Policy.Files {
				p.Files = append(p.Files, store.PolicyFile{Filename: f.Filename, Src: f.Src})
			}
			saved, err := s.store.SavePolicy(ctx, p)
			if err != nil {
				return sum, err
			}
			if rec.Policy.Version == head.LiveVersion {
				live = saved.Version
			}
			sum.Policies++
		case rec.Key != nil:
			hash, err := hex.DecodeString(rec.Key.Hash)
			if err != nil {
				return sum, badRequest("restore: line %d: key %s: hash is not hex", lr.line, rec.Key.ID)
			}
			err = s.store.CreateKey(ctx, store.Key{ID: rec.Key.ID, Name: rec.Key.Name, Scope: rec.Key.Scope, Hash: hash, CreatedAt: rec.Key.CreatedAt, Caller: rec.Key.Caller})
			switch {
			case errors.Is(err, store.ErrConflict):
				sum.KeysSkipped++
			case err != nil:
				return sum, err
			default:
				sum.Keys++
			}
		default:
			return sum, badRequest("restore: line %d: a record holds a policy or a key", lr.line)
		}
	}
	if live > 0 {
		p, err := s.policies.Activate(ctx, live)
		if err != nil {
			return sum, fmt.Errorf("restore: activating version %d: %w", live, err)
		}
		sum.LiveVersion = p.Version
	}
	return sum, nil
}
