package app

import (
	"fmt"
	"os"

	"github.com/rdbak/rdbak/internal/config"
	"github.com/rdbak/rdbak/internal/crypt"
)

// Recipients returns the public keys t's backups are encrypted to, reading
// its recipientsFile now (so a rotated file takes effect at the next
// backup); nil when t is not encrypted.
func Recipients(t *config.Target) (*crypt.Recipients, error) {
	e := t.Encryption
	if !e.Encrypts() {
		return nil, nil
	}
	keys, field := e.Recipients, "encryption.recipients"
	if e.RecipientsFile != "" {
		var err error
		if keys, err = crypt.RecipientsFileKeys(e.RecipientsFile); err != nil {
			return nil, fmt.Errorf("read encryption.recipientsFile of target %q: %w", t.Name, err)
		}
		field = "encryption.recipientsFile " + e.RecipientsFile
	}
	r, err := crypt.NewRecipients(keys)
	if err != nil {
		return nil, UsageError{Err: fmt.Errorf("%s of target %q: %w", field, t.Name, err)}
	}
	return r, nil
}

// Identities reads the identities that decrypt t's backups: the files
// given on the command line, then t's encryption.identityFile (t may be
// nil). Each is tried in turn, so after a key rotation give both. No files
// at all is not an error here: restore.CheckDecryptable says so when a
// backup needs one.
func Identities(t *config.Target, files []string) (*crypt.Identities, error) {
	if t != nil && t.Encryption.IdentityFile != "" {
		files = append(files[:len(files):len(files)], t.Encryption.IdentityFile)
	}
	ids, err := crypt.ReadIdentityFiles(files...)
	if err != nil {
		return nil, UsageError{Err: fmt.Errorf("read identity (--identity-file or encryption.identityFile): %w", err)}
	}
	return ids, nil
}

// Identities reads the identity files given on the command line and, with
// a config file, the identityFile of t (or of the target --target names,
// when t is nil; defaults.encryption for a name the config does not list).
func (r Request) Identities(t *config.Target, files []string) (*crypt.Identities, error) {
	if t == nil && r.Config != "" {
		f, err := r.LoadConfig()
		if err != nil {
			return nil, err
		}
		if t, err = f.Target(r.Target); err != nil {
			t = &config.Target{Encryption: f.Defaults.Encryption}
		}
	}
	return Identities(t, files)
}

// EncryptFlags are the command line's encryption, which replaces the
// target's encryption from the config.
type EncryptFlags struct {
	Recipients     []string // public keys
	RecipientsFile string
}

// Apply returns t with the flags' encryption, or t itself without them.
func (e *EncryptFlags) Apply(t *config.Target) (*config.Target, error) {
	if len(e.Recipients) == 0 && e.RecipientsFile == "" {
		return t, nil
	}
	if len(e.Recipients) > 0 && e.RecipientsFile != "" {
		return nil, usagef("give --encrypt-recipient or --encrypt-recipients-file, not both")
	}
	for i, k := range e.Recipients {
		if _, err := crypt.ParseRecipient(k); err != nil {
			if _, statErr := os.Stat(k); statErr == nil {
				return nil, usagef("--encrypt-recipient takes a public key, and %s is a file: use --encrypt-recipients-file", k)
			}
			return nil, usagef("--encrypt-recipient #%d: %w", i+1, err)
		}
	}
	tc := *t
	tc.Encryption = config.Encryption{Recipients: e.Recipients, RecipientsFile: e.RecipientsFile}
	return &tc, nil
}

// ImportRecipients returns what an import into --target is encrypted to:
// the flags, else the config target's encryption (defaults.encryption for a
// name the config does not list), as rdbak now would.
func (r Request) ImportRecipients(e *EncryptFlags) (*crypt.Recipients, error) {
	t := &config.Target{Name: r.Target}
	if r.Config != "" {
		f, err := r.LoadConfig()
		if err != nil {
			return nil, err
		}
		t.Encryption = f.Defaults.Encryption
		if ct, err := f.Target(r.Target); err == nil {
			t = ct
		}
	}
	t, err := e.Apply(t)
	if err != nil {
		return nil, err
	}
	return Recipients(t)
}
