package audit

import (
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Checkpoint is what a checkpoint record carries: an Ed25519 signature
// over the sequence number and hash of the record before it (which are
// also the checkpoint record's Seq-1 and Prev) and its time. Final marks
// the checkpoint written when a Recorder is closed: a log whose last line
// is not a final checkpoint was cut short, or is still being written.
type Checkpoint struct {
	Seq   uint64 `json:"seq"`
	Hash  string `json:"hash"`
	Final bool   `json:"final,omitzero"`
	// Key identifies the public key: KeyID.
	Key string `json:"key"`
	// Sig is the signature (base64) of SignedMessage.
	Sig string `json:"sig"`
}

// SignedMessage is the message a checkpoint signs.
func SignedMessage(c *Checkpoint, t time.Time) []byte {
	return []byte("castellan-audit-checkpoint/v1\nseq=" + strconv.FormatUint(c.Seq, 10) +
		"\nhash=" + c.Hash + "\nfinal=" + strconv.FormatBool(c.Final) +
		"\ntime=" + t.UTC().Format(time.RFC3339Nano) + "\n")
}

// KeyID returns the id of a public key: the first 16 hex digits of its
// SHA-256.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// ParsePrivateKey reads an Ed25519 private key: PEM ("PRIVATE KEY",
// PKCS #8, as `openssl genpkey -algorithm ed25519` writes), or base64 of
// the 32-byte seed or the 64-byte key.
func ParsePrivateKey(data []byte) (ed25519.PrivateKey, error) {
	if blk, _ := pem.Decode(data); blk != nil {
		k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parsing private key: %w", err)
		}
		ek, ok := k.(ed25519.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("parsing private key: a %T, not Ed25519", k)
		}
		return ek, nil
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(data)))
	if err != nil {
		return nil, errors.New("parsing private key: neither PEM nor base64")
	}
	switch len(raw) {
	case ed25519.SeedSize:
		return ed25519.NewKeyFromSeed(raw), nil
	case ed25519.PrivateKeySize:
		return ed25519.PrivateKey(raw), nil
	}
	return nil, fmt.Errorf("parsing private key: %d bytes, want %d (seed) or %d", len(raw), ed25519.SeedSize, ed25519.PrivateKeySize)
}

// ParsePublicKey reads an Ed25519 public key: PEM ("PUBLIC KEY", PKIX,
// as `openssl pkey -pubout` writes), base64 of its 32 bytes, or a private
// key (whose public half is taken).
func ParsePublicKey(data []byte) (ed25519.PublicKey, error) {
	if blk, _ := pem.Decode(data); blk != nil && blk.Type == "PUBLIC KEY" {
		k, err := x509.ParsePKIXPublicKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parsing public key: %w", err)
		}
		ek, ok := k.(ed25519.PublicKey)
		if !ok {
			return nil, fmt.Errorf("parsing public key: a %T, not Ed25519", k)
		}
		return ek, nil
	}
	if raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(data))); err == nil && len(raw) == ed25519.PublicKeySize {
		return ed25519.PublicKey(raw), nil
	}
	priv, err := ParsePrivateKey(data)
	if err != nil {
		return nil, errors.New("parsing public key: neither a PEM or base64 Ed25519 public key nor a private key")
	}
	return priv.Public().(ed25519.PublicKey), nil
}

// checkpoint returns the checkpoint record that follows the record with
// sequence number seq and hash hash, signed with key.
func checkpoint(key ed25519.PrivateKey, seq uint64, hash string, final bool, now time.Time) *Record {
	c := &Checkpoint{Seq: seq, Hash: hash, Final: final, Key: KeyID(key.Public().(ed25519.PublicKey))}
	c.Sig = base64.StdEncoding.EncodeToString(ed25519.Sign(key, SignedMessage(c, now)))
	return &Record{Seq: seq + 1, Prev: hash, Kind: KindCheckpoint, Time: now, Checkpoint: c}
}
